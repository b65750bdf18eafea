'use strict';
// Outgoing calls that listen for the service's shutdown signal and stop listening when
// they finish (clean).
//
// The same calls as abort-signal-listeners.js, but each removes its 'abort' listener in a
// `finally` block, so the shutdown signal only ever holds the listeners of calls in flight.

const { setTimeout: sleep } = require('timers/promises');
const shutdown = new AbortController();
process.once('SIGTERM', () => shutdown.abort());

class OutgoingCall {
  constructor(i) {
    this.url = `https://inventory.internal/items/${i}`;
    this.startedAt = Date.now();
    this.headers = { accept: 'application/json', 'x-request-id': `r-${i.toString(36)}` };
    this.response = null;
  }
}

async function call(i) {
  const outgoing = new OutgoingCall(i);
  const cancel = () => {
    outgoing.response = { cancelled: true };
  };
  shutdown.signal.addEventListener('abort', cancel);
  try {
    await new Promise((resolve) => setImmediate(resolve)); // the call's I/O
    outgoing.response = { status: 200, body: { id: i, stock: i % 17 } };
    return outgoing.response.status;
  } finally {
    shutdown.signal.removeEventListener('abort', cancel);
  }
}

async function step(i) {
  await sleep(1); // the request's own I/O
  return call(i);
}

module.exports = { step };
