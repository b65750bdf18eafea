'use strict';
// Outgoing calls that each listen for the service's shutdown signal and never stop
// listening (leaks).
//
// The service owns one AbortController that aborts at shutdown. Every outgoing call adds
// an 'abort' listener to its signal so that the call can be cancelled, as code wiring
// fetch or a client library to a shutdown signal does.
//
// BUG: the listener is never removed when the call finishes (no `removeEventListener`, no
// `{ once: true }` — which would not help either, since the signal never fires). An
// AbortSignal is an EventTarget, not an EventEmitter: its listeners are kept in Node's own
// per-type linked list of Listener records, not in `_events`, and each listener's closure
// holds its finished call. Node warns once (MaxListenersExceededWarning on the
// EventTarget), and memory grows with every call ever made.

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
  shutdown.signal.addEventListener('abort', function cancel() {
    outgoing.response = { cancelled: true };
  });
  await new Promise((resolve) => setImmediate(resolve)); // the call's I/O
  outgoing.response = { status: 200, body: { id: i, stock: i % 17 } };
  return outgoing.response.status;
}

async function step(i) {
  await sleep(1); // the request's own I/O
  return call(i);
}

module.exports = { step };
