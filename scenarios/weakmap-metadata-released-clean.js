'use strict';
// Per-connection metadata in a WeakMap, released with the connection (no leak).
//
// The twin of weakmap-metadata-of-kept-sockets.js: the same connection and metadata a
// request, in a WeakMap; the list of open connections drops a connection when it closes,
// so the key dies and the WeakMap drops its value with it. Only the last 50 connections are
// open at any time.

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
  openConnections.push(conn);
  await sleep(1); // the upstream answers
  connectionMeta.get(conn).bytes[i % 12] += 512;
  if (openConnections.length > 50) {
    const closed = openConnections.shift();
    closed.closed = true;
  }
}

module.exports = { step };
