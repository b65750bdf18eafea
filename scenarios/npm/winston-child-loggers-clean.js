'use strict';
// A checkout service logging through one shared winston logger (no leak).
//
// The logger is created once at start-up: JSON format with timestamps, one Stream
// transport into a sink that discards the bytes (standing in for stdout shipped to a log
// collector). Each request gets a child logger, `logger.child({ requestId, route, userId })`,
// and logs two lines ("request start" at info, "request done" with timings). Child loggers
// are plain wrappers that die with the request; the transport list never changes, so
// winston keeps only bounded state. Memory is flat once the format pipeline is warm.
//
// winston-transport-per-request.js adds a per-request audit transport and never removes it.

const winston = require('winston');
const { Writable } = require('stream');
const { setTimeout: sleep } = require('timers/promises');

const devNull = new Writable({ write(_chunk, _encoding, callback) { callback(); } });

const logger = winston.createLogger({
  level: 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
  defaultMeta: { service: 'checkout-api' },
  transports: [new winston.transports.Stream({ stream: devNull })],
});

const ROUTES = ['/cart', '/checkout', '/products/:id', '/orders/:id'];

async function handle(i) {
  const log = logger.child({ requestId: `req-${((i * 2654435761) >>> 0).toString(16)}-${i}`, route: ROUTES[i % 4], userId: `u-${(i * 7919) % 100000}` });
  const startedAt = Date.now();
  log.info('request start', { method: i % 4 === 1 ? 'POST' : 'GET', ip: `10.0.${i % 250}.${(i * 7) % 250}` });
  await sleep(1); // SELECT ... FROM carts WHERE user_id = $1
  log.info('request done', { status: i % 17 === 0 ? 404 : 200, ms: Date.now() - startedAt, items: i % 9 });
  return 200;
}

module.exports = { step: (i) => handle(i) };
