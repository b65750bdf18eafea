'use strict';
// Requests parked on a rate limiter whose refill never runs (leaks).
//
// Each request builds a RequestContext and awaits `limiter.acquire()` before calling the
// upstream. The limiter hands out tokens from a bucket and parks callers in `waiting`
// when it is empty; a refill timer was meant to drain the queue. BUG: the refill is
// scheduled with `setTimeout(..., refillMs)` only when the limiter is constructed, so after
// the first refill no token ever comes back: every request after the first 50 waits
// forever. Nothing throws and nothing times out: each parked request keeps its promise,
// the async function's suspended frame and its RequestContext (~1 KB) alive, reached
// through the limiter's `waiting` array of resolve functions.

const crypto = require('crypto');
const { setTimeout: sleep } = require('timers/promises');

class TokenBucketLimiter {
  constructor(capacity, refillMs) {
    this.tokens = capacity;
    this.capacity = capacity;
    this.waiting = [];
    setTimeout(() => this.refill(), refillMs).unref(); // BUG: once, not setInterval
  }
  refill() {
    this.tokens = this.capacity;
    while (this.tokens > 0 && this.waiting.length > 0) {
      this.tokens--;
      this.waiting.shift()();
    }
  }
  acquire() {
    if (this.tokens > 0) {
      this.tokens--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

class RequestContext {
  constructor(i) {
    this.requestId = crypto.randomUUID();
    this.path = `/api/v2/accounts/${i % 9973}/statements?page=${i % 17}`;
    this.headers = { 'user-agent': `svc-client/${i % 7}.0`, accept: 'application/json', 'x-trace': crypto.randomBytes(16).toString('hex') };
    this.startedAt = Date.now();
    this.body = JSON.stringify({ account: i % 9973, from: '2026-01-01', to: '2026-12-31', format: 'pdf', note: 'x'.repeat(200) + i });
  }
}

const limiter = new TokenBucketLimiter(50, 10);

async function handle(i) {
  const ctx = new RequestContext(i);
  await limiter.acquire();
  return { status: 200, id: ctx.requestId, took: Date.now() - ctx.startedAt };
}

module.exports = {
  step: (i) => {
    // Fire and forget, as an HTTP server does: the response is written when it resolves.
    handle(i).catch(() => {});
    return sleep(1); // the next request
  },
};
