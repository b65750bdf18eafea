'use strict';
// A listener on the pino logger added per request and removed when it ends (no leak).
//
// The same request-scoped helper as pino-level-listener-per-request.js, subscribing to
// the logger's 'level-change' events for the life of its request, but `finish()` removes
// the listener when the response is sent: the logger holds only the listeners of requests
// in flight (one here, as the runner awaits each step). Node never warns and the heap is
// flat once the JIT has warmed up.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

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
    const scope = this;
    this.onLevelChange = function onLevelChange(label) {
      scope.debug = label === 'debug' || label === 'trace';
    };
    logger.on('level-change', this.onLevelChange);
  }

  finish() {
    logger.removeListener('level-change', this.onLevelChange);
  }
}

// GET /products/:id
async function handle(i) {
  const scope = new RequestScope(i);
  try {
    if (scope.debug) logger.debug({ requestId: scope.requestId }, 'request start');
    await sleep(1); // SELECT * FROM products WHERE id = $1
    logger.info({ requestId: scope.requestId, route: scope.route, ms: Date.now() - scope.startedAt }, 'request done');
    return 200;
  } finally {
    scope.finish();
  }
}

module.exports = { step: (i) => handle(i) };
