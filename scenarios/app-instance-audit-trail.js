'use strict';
// An order API on a small framework whose app instance is one plain object with many
// fields, as Fastify's is; a handler keeps an audit trail on it (leaks).
//
// `createApp()` returns an object literal with two dozen fields of every kind (route
// table, hook lists, options, counters, methods, a logger) and `decorate(name, value)`,
// which hangs more on it, as plugins do. The order handler pushes `{ at, id, headers,
// body }` onto `app.auditTrail`, decorated at start-up, and nothing ever ships or trims
// it: ~1.5 KB a request.
//
// The instance has as many keys as a dictionary, but they are the fields of one object,
// named by code, holding values of different kinds: the culprit must say `auditTrail`
// of the app, not "`app[key]`", which reads as one of many keys.
//
// Standard library only.

const { setTimeout: sleep } = require('timers/promises');

function createApp(options) {
  const app = {
    options,
    routes: new Map(),
    onRequest: [],
    preHandler: [],
    onSend: [],
    onError: [],
    plugins: [],
    decorators: new Set(),
    prefix: '',
    version: '1.4.2',
    started: Date.now(),
    requests: 0,
    errors: 0,
    closing: false,
    logger: { level: 'warn', warn: () => {}, info: () => {}, child: () => app.logger },
    genReqId: (() => { let n = 0; return () => `req-${++n}`; })(),
    contentTypeParsers: new Map([['application/json', (s) => JSON.parse(s)]]),
    schemaCompilers: { body: new Map(), querystring: new Map() },
    get: (path, handler) => app.route('GET', path, handler),
    post: (path, handler) => app.route('POST', path, handler),
    route(method, path, handler) { app.routes.set(`${method} ${path}`, handler); return app; },
    decorate(name, value) { app.decorators.add(name); app[name] = value; return app; },
    hasDecorator: (name) => app.decorators.has(name),
    async inject({ method, url, headers, payload }) {
      app.requests++;
      const handler = app.routes.get(`${method} ${url.split('?')[0]}`);
      const request = { id: app.genReqId(), method, url, headers: { ...headers }, body: payload && app.contentTypeParsers.get('application/json')(payload) };
      for (const hook of app.onRequest) hook(request);
      const reply = { statusCode: 200, code(c) { this.statusCode = c; return this; } };
      const body = await handler.call(app, request, reply);
      return { statusCode: reply.statusCode, body: JSON.stringify(body) };
    },
  };
  return app;
}

const app = createApp({ trustProxy: true, bodyLimit: 1 << 20 });
app.decorate('auditTrail', []);
app.decorate('config', { currency: 'EUR', vat: 0.19 });
app.decorate('metrics', { orders: 0 });
app.onRequest.push((request) => { request.receivedAt = Date.now(); });

app.get('/health', async () => ({ status: 'ok' }));
app.post('/orders', async function (request, reply) {
  // BUG: the audit trail lives on the app instance and is never shipped or trimmed.
  this.auditTrail.push({ at: Date.now(), id: request.id, headers: request.headers, body: request.body });
  this.metrics.orders++;
  await sleep(0);
  reply.code(201);
  return { lines: request.body.lines.length };
});

const SKUS = ['SKU-1001', 'SKU-1002', 'SKU-2040', 'SKU-3310', 'SKU-4100', 'SKU-5005'];

async function step(i) {
  if (i % 4 === 3) return app.inject({ method: 'GET', url: '/health', headers: {} });
  const lines = Array.from({ length: 4 + (i % 5) }, (_, k) => ({ sku: SKUS[(i + k) % SKUS.length], qty: 1 + ((i * 7 + k) % 9) }));
  return app.inject({
    method: 'POST',
    url: '/orders',
    headers: { 'content-type': 'application/json', 'user-agent': 'checkout-web/5.2', 'x-request-id': `r-${i}`, authorization: `Bearer tok_${(i * 2654435761 % 2 ** 32).toString(36)}` },
    payload: JSON.stringify({ customerId: `cus_${(i % 900).toString(36)}`, currency: 'EUR', lines }),
  });
}

module.exports = { step };
