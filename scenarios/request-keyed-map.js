'use strict';
// Request metadata in a Map keyed by the request object (leaks).
//
// Middleware keeps per-request metadata (start time, user) in `requestMeta`, a Map keyed
// by the request object, meant to be a WeakMap or deleted when the response finishes;
// the delete is in an error path only. Each request object (~300 B with its headers and
// URL) stays alive as a key, with its metadata as the value. A leak through a key, not a
// value: the retainer of the request is the Map's table.

class IncomingRequest {
  constructor(i) {
    this.url = `/api/items/${i}?expand=owner`;
    this.method = i % 5 === 0 ? 'POST' : 'GET';
    this.headers = { accept: 'application/json', 'x-request-id': `r${i.toString(36)}` };
  }
}

const { setTimeout: sleep } = require('timers/promises');

const requestMeta = new Map(); // BUG: should be a WeakMap, or delete on finish

module.exports = {
  step: async (i) => {
    await sleep(1); // the request itself
    const req = new IncomingRequest(i);
    requestMeta.set(req, { start: Date.now(), user: `u${i % 100}` });
    return JSON.stringify({ ok: true, url: req.url }).length;
  },
};
