'use strict';
// A protocol trace kept as a Buffer grown with Buffer.concat and rotated at 64 KiB (clean).
//
// The twin of wire-log-buffer-concat.js: the same frames appended the same way, but when
// the log passes 64 KiB it is cut to its newest 16 KiB, as a debug dump of "the last
// frames" needs. The Buffer at `buf` saws up and down; external memory stays bounded.

const { setTimeout: sleep } = require('timers/promises');

const LIMIT = 64 * 1024;
const KEEP = 16 * 1024;

class WireLog {
  constructor(peer) {
    this.peer = peer;
    this.buf = Buffer.alloc(0);
    this.frames = 0;
  }

  append(frame) {
    this.buf = Buffer.concat([this.buf, frame]);
    if (this.buf.length > LIMIT) this.buf = Buffer.from(this.buf.subarray(this.buf.length - KEEP));
    this.frames++;
  }
}

const wire = new WireLog('kv-primary:6379');

async function forward(i) {
  await sleep(1);
  const payload = `v${(i * 2654435761) >>> 0}`.padEnd(280, '.');
  const frame = Buffer.from(`${Date.now()} > PUT key=session:${i} len=${payload.length} ${payload}\n`);
  wire.append(frame);
}

module.exports = { step: (i) => forward(i) };
