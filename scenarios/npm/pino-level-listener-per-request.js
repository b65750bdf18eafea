'use strict';
// A listener on the pino logger added per request and never removed (leaks).
//
// A pino logger is an EventEmitter: it emits 'level-change' when someone turns debug
// logging on or off at run time (an admin endpoint, a SIGUSR2 handler). A request-scoped
// helper caches "is debug on?" for its request and, to stay right if the level changes
// mid-request, subscribes with `logger.on('level-change', onLevelChange)`, but nothing
// removes the listener when the request ends. pino's logger lives for the whole process,
// so its `_events['level-change']` array gains one closure per request, and each closure
// keeps its RequestScope (the request's id, route, user and timings). Node warns once
// (MaxListenersExceededWarning, on stderr) and the heap grows for ever.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).
// pino-level-listener-removed-clean.js is the same helper removing its listener.

const pino = require('pino');
const { Writable } = require('stream');
const { setTimeout: sleep } = require('timers/promises');

const sink = new Writable({ write(_chunk, _encoding, callback) { callback(); } });
const logger = pino({ level: 'info', base: { service: 'catalog-api' } }, sink);

class RequestScope {
  constructor(i) {
    this.requestId = `req-${((i * 2654435761) >>> 0).toString(16)}-${i}`;
    this.route = ['/products/:id', '/search', '/cart'][i % 3];
    this.userId = `u-${(i * 7919) % 100000}`;
    this.startedAt = Date.now();
    this.debug = logger.isLevelEnabled('debug');
    // BUG: one listener per request on the process-wide logger, never removed.
    const scope = this;
    logger.on('level-change', function onLevelChange(label) {
      scope.debug = label === 'debug' || label === 'trace';
    });
  }
}

// GET /products/:id
async function handle(i) {
  const scope = new RequestScope(i);
  if (scope.debug) logger.debug({ requestId: scope.requestId }, 'request start');
  await sleep(1); // SELECT * FROM products WHERE id = $1
  logger.info({ requestId: scope.requestId, route: scope.route, ms: Date.now() - scope.startedAt }, 'request done');
  return 200;
}

module.exports = { step: (i) => handle(i) };
