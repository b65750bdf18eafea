'use strict';
// Processed message ids kept in a Set of numbers for de-duplication, never pruned (leaks;
// not in the manifest: see below).
//
// A queue consumer skips messages it has already handled by remembering every message id
// (an integer) in a module-level Set. Each request handles a batch of 40 messages.
//
// BUG: the Set is never pruned (no TTL, no window of recent ids). No object accumulates:
// a small integer in a Set is stored in the Set's hash table itself, and a heap snapshot
// shows no node or edge for it. The table grows only when it doubles its capacity: after
// ~205, 410, 819 and 1,638 requests (+1.3 MiB the last time), then not before ~3,276. So
// over 3,000 requests the heap rises in steps and is flat for the last 1,400: from the
// bytes alone it looks like a cache that filled. `run` must not call it clean. Its honest
// answer at 3,000 iterations is "inconclusive, run it longer", naming the Set that grew in
// steps; the manifest, whose leaks must exit 1, does not list it.

const { setTimeout: sleep } = require('timers/promises');

const processed = new Set();
let nextId = 1_000_000;

async function consume() {
  await sleep(1); // the batch's own work
  for (let k = 0; k < 40; k++) {
    const id = nextId++;
    if (processed.has(id)) continue; // a redelivery: skipped
    processed.add(id); // BUG: never pruned
  }
}

module.exports = { step: () => consume() };
