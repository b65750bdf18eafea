'use strict';
// A protocol trace kept as one Buffer grown with Buffer.concat (leaks).
//
// A key-value proxy records every frame it forwards in a "wire log" so that a debug
// endpoint can dump the last session as raw bytes. Each frame is appended with
// `this.buf = Buffer.concat([this.buf, frame])`.
//
// BUG: the log is never rotated or cut. No object accumulates: each append allocates a new
// Buffer (and ArrayBuffer) one frame longer and drops the old one, so object counts stay
// flat and no object lives from one snapshot to the next. What grows is the one Buffer held
// at `buf` of the WireLog: external memory (its backing store, outside the V8 heap), ~350
// bytes per request.

const { setTimeout: sleep } = require('timers/promises');

class WireLog {
  constructor(peer) {
    this.peer = peer;
    this.buf = Buffer.alloc(0);
    this.frames = 0;
  }

  append(frame) {
    this.buf = Buffer.concat([this.buf, frame]); // BUG: never rotated
    this.frames++;
  }
}

const wire = new WireLog('kv-primary:6379');

async function forward(i) {
  await sleep(1); // the round trip to the backend
  const payload = `v${(i * 2654435761) >>> 0}`.padEnd(280, '.');
  const frame = Buffer.from(`${Date.now()} > PUT key=session:${i} len=${payload.length} ${payload}\n`);
  wire.append(frame);
}

module.exports = { step: (i) => forward(i) };
