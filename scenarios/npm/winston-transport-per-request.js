'use strict';
// A checkout service that adds a winston transport per request and never removes it (leaks).
//
// Same logger as winston-child-loggers-clean.js (one shared logger, JSON format, a Stream
// transport into a discarding sink). For an audit requirement, each request on a
// money-moving route (/checkout, /orders/:id: half the traffic) adds its own transport,
// `logger.add(new winston.transports.Stream({ stream: devNull, format: auditFormat(ctx) }))`,
// whose format stamps the request's audit context (ids, user, route, client headers) on
// every line, and then forgets about it: nobody calls `logger.remove(transport)`. The
// logger lives for the whole process, so it pipes into one more transport per audited
// request; each transport (a Writable with its stream state, pipe listeners, its format
// closure and the request's AuditContext) stays reachable from the logger for ever. Node
// warns once (MaxListenersExceededWarning) on stderr. Every line goes to every transport,
// so the run slows as it goes (a 3,000-request run takes ~10 s).
//
// winston-child-loggers-clean.js is the same service without the per-request transport.

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
const AUDITED = new Set(['/checkout', '/orders/:id']); // the routes that move money

class AuditContext {
  constructor(i) {
    this.requestId = `req-${((i * 2654435761) >>> 0).toString(16)}-${i}`;
    this.userId = `u-${(i * 7919) % 100000}`;
    this.route = ROUTES[i % 4];
    this.clientHeaders = {
      'user-agent': `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 checkout-web/4.${i % 10}`,
      'accept-language': 'de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7',
      'x-forwarded-for': `10.${i % 250}.${(i * 7) % 250}.${(i * 13) % 250}`,
      cookie: `sid=${((i * 40503) >>> 0).toString(36)}; consent=analytics; ab=${i % 7}`,
    };
    this.startedAt = Date.now();
  }
}

const auditFormat = (ctx) => winston.format((info) => {
  if (info.requestId !== ctx.requestId) return false; // only this request's lines
  info.audit = { userId: ctx.userId, route: ctx.route, client: ctx.clientHeaders };
  return info;
})();

async function handle(i) {
  const ctx = new AuditContext(i);
  // BUG: one transport per audited request on the process-wide logger, never logger.remove()d.
  if (AUDITED.has(ctx.route)) logger.add(new winston.transports.Stream({ stream: devNull, level: 'info', format: winston.format.combine(auditFormat(ctx), winston.format.json()) }));
  const log = logger.child({ requestId: ctx.requestId, route: ctx.route, userId: ctx.userId });
  log.info('request start', { method: i % 4 === 1 ? 'POST' : 'GET', ip: ctx.clientHeaders['x-forwarded-for'] });
  await sleep(1); // SELECT ... FROM carts WHERE user_id = $1
  log.info('request done', { status: i % 17 === 0 ? 404 : 200, ms: Date.now() - ctx.startedAt, items: i % 9 });
  return 200;
}

module.exports = { step: (i) => handle(i) };
