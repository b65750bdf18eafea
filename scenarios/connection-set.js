'use strict';
// Connection tracking in a Set, removed by the wrong key (leaks).
//
// A WebSocket-style gateway adds each Connection to `active` (a Set) on open so that
// shutdown can close them all. On close it calls `active.delete(conn.id)` — the id, not
// the object — which finds nothing and returns false, unchecked. Every connection ever
// opened stays in the Set with its buffers of recent messages (~1.5 KB each).

const crypto = require('crypto');
const { setTimeout: sleep } = require('timers/promises');

class Connection {
  constructor(i) {
    this.id = `conn-${i}-${crypto.randomBytes(4).toString('hex')}`;
    this.remote = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${40000 + (i % 20000)}`;
    this.openedAt = Date.now();
    this.recent = [];
    this.closed = false;
  }
  receive(text) {
    this.recent.push({ at: Date.now(), text });
    if (this.recent.length > 4) this.recent.shift();
  }
}

const active = new Set();

function open(i) {
  const conn = new Connection(i);
  active.add(conn);
  return conn;
}

function close(conn) {
  conn.closed = true;
  active.delete(conn.id); // BUG: the Set holds the object, not its id
}

module.exports = {
  step: async (i) => {
    const conn = open(i);
    for (let k = 0; k < 4; k++) conn.receive(`{"op":"tick","seq":${k},"payload":"${'p'.repeat(200)}${i}"}`);
    await sleep(1); // the connection's life
    close(conn);
  },
};
