'use strict';
// pino child loggers created per session and kept in a module-level map (leaks).
//
// An API logs with pino, and every log line of a request should carry the session it
// belongs to. Rather than calling `logger.child({ sessionId })` in each request (cheap,
// and garbage once the request is done), someone memoised the child loggers "so we do
// not build one per request": `sessionLoggers.set(sessionId, logger.child(...))`, in a Map
// that nothing ever deletes from. Sessions come and go (most clients open a new one), so
// the Map gains one pino child per new session, for ever. A pino child is an object made
// by `Object.create(parent)` holding its bindings as a pre-serialised JSON string, its
// own serializers, formatters and level state (~1 KB with the bindings string): no class
// of ours, the culprit is pino's own object, held through `sessionLoggers`.
//
// Log lines go to an in-process sink standing in for a log shipper, not to stdout (the
// runner's stdout carries only its own lines); the sink keeps nothing.
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

const pino = require('pino');
const { Writable } = require('stream');
const { setTimeout: sleep } = require('timers/promises');

let shipped = 0;
const sink = new Writable({
  write(chunk, _encoding, callback) {
    shipped += chunk.length; // a log shipper would batch and send it
    callback();
  },
});

const logger = pino({ level: 'info', base: { service: 'orders-api' } }, sink);

// BUG: one child per session, never deleted (see the header).
const sessionLoggers = new Map();

function loggerFor(sessionId, userAgent) {
  let log = sessionLoggers.get(sessionId);
  if (!log) {
    log = logger.child({ sessionId, userAgent });
    sessionLoggers.set(sessionId, log);
  }
  return log;
}

// GET /orders/:id
async function handle(i) {
  // A fifth of the requests come from 50 long-lived sessions, the rest open a new one.
  const sessionId = i % 5 === 0 ? `s-hot-${i % 50}` : `s-${((i * 2654435761) >>> 0).toString(16)}-${i.toString(36)}`;
  const log = loggerFor(sessionId, ['curl/8.5', 'Mozilla/5.0 (X11; Linux x86_64)', 'okhttp/4.12'][i % 3]);
  log.info({ route: '/orders/:id', orderId: 100000 + i }, 'request start');
  await sleep(1); // SELECT * FROM orders WHERE id = $1
  log.info({ status: 200, bytes: 512 + (i % 300) }, 'request done');
  return shipped;
}

module.exports = { step: (i) => handle(i) };
