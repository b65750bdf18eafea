'use strict';
// A subscription to a process-wide rxjs BehaviorSubject taken per request and never
// unsubscribed (leaks).
//
// A service keeps its feature flags in a BehaviorSubject (`flags$`), pushed by an admin
// endpoint or a config watcher. A request handler wants the current flags and to follow
// changes while it runs, so it subscribes with `flags$.subscribe(...)`, but nothing calls
// `unsubscribe()` when the response is sent. The subject lives for the whole process and
// keeps every subscriber in its `observers` array: one SafeSubscriber per request, each
// holding the handler's closure and, through it, its RequestContext (the request's id,
// user, headers and the flags it saw). No warning; the heap grows for ever.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).
// rxjs-subscription-unsubscribed-clean.js is the same handler unsubscribing.

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
  // BUG: subscribed for the request, never unsubscribed.
  flags$.subscribe((flags) => {
    ctx.flags = flags;
  });
  await sleep(1); // SELECT * FROM carts WHERE user_id = $1
  if (i % 500 === 0) flags$.next({ ...flags$.getValue(), newCheckout: !flags$.getValue().newCheckout });
  return ctx.flags.newCheckout ? 201 : 200;
}

module.exports = { step: (i) => handle(i) };
