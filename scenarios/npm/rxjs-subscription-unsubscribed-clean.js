'use strict';
// A subscription to a process-wide rxjs BehaviorSubject taken per request and unsubscribed
// when the request ends (no leak).
//
// The same handler as rxjs-subscription-per-request.js, following the service's feature
// flags while it runs, but it keeps the Subscription and calls `unsubscribe()` in a
// `finally` when the response is sent: the subject holds only the subscribers of requests
// in flight (one here, as the runner awaits each step). rxjs is loaded and its operators
// warm up as in the leaking twin; the heap is flat once the JIT has.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

const { BehaviorSubject } = require('rxjs');
const { setTimeout: sleep } = require('timers/promises');

const flags$ = new BehaviorSubject({ newCheckout: false, searchV2: true });

class RequestContext {
  constructor(i) {
    this.requestId = `req-${((i * 2654435761) >>> 0).toString(16)}-${i}`;
    this.userId = `u-${(i * 7919) % 100000}`;
    this.headers = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', accept: 'application/json' };
    this.startedAt = Date.now();
    this.flags = null;
  }
}

// GET /checkout
async function handle(i) {
  const ctx = new RequestContext(i);
  const subscription = flags$.subscribe((flags) => {
    ctx.flags = flags;
  });
  try {
    await sleep(1); // SELECT * FROM carts WHERE user_id = $1
    if (i % 500 === 0) flags$.next({ ...flags$.getValue(), newCheckout: !flags$.getValue().newCheckout });
    return ctx.flags.newCheckout ? 201 : 200;
  } finally {
    subscription.unsubscribe();
  }
}

module.exports = { step: (i) => handle(i) };
