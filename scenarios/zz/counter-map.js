'use strict';
// per-user request counters in a Map keyed by numeric id: never pruned
const { setTimeout: sleep } = require('timers/promises');
const counters = new Map();
let next = 1;
async function handle(i) {
  await sleep(1);
  for (let k = 0; k < 10; k++) { const u = next++; counters.set(u, (counters.get(u) || 0) + 1); }
}
module.exports = { step: handle };
