'use strict';
// Per-connection metadata in a WeakMap whose keys are kept alive elsewhere (leaks).
//
// A proxy tags each upstream connection with metadata (timings, a label, counters) in a
// WeakMap, `connectionMeta`, so that the metadata "goes away with the connection". But the
// connections themselves are pushed to `openConnections` for a health check and never
// removed when they close, so every key stays alive and with it its value: the metadata
// (~250 B a request with its array and string) outgrows the small connection objects.
//
// What a tool grouping retainer paths by edge names misses: V8 writes the edge from a key
// to its WeakMap value with the ids of the key, the value and the table in its name
// ("part of key (Connection @123) -> value (ConnectionMeta @456) pair in WeakMap (table
// @789)"), a different name for every entry.

const { setTimeout: sleep } = require('timers/promises');

class Connection {
  constructor(id) {
    this.id = id;
    this.closed = false;
  }
}

class ConnectionMeta {
  constructor(id) {
    this.label = `upstream-${id}-${(id * 7919) % 10007}`;
    this.openedAt = Date.now();
    this.bytes = new Array(12).fill(0);
    this.retries = 0;
  }
}

const connectionMeta = new WeakMap();
const openConnections = [];

async function step(i) {
  const conn = new Connection(i);
  connectionMeta.set(conn, new ConnectionMeta(i));
  openConnections.push(conn); // BUG: never removed once closed
  await sleep(1); // the upstream answers
  connectionMeta.get(conn).bytes[i % 12] += 512;
  conn.closed = true;
}

module.exports = { step };
