'use strict';
// A prom-client counter labelled with the route template (no leak).
//
// The same service as prom-client-label-per-path.js, counting its requests with
// prom-client, but labelled with the route template (`/products/:id`), as Prometheus's
// naming guide asks: a fixed set of series (two routes, two statuses) that the counter
// creates once and then only increments. prom-client, its registry and a scrape every
// 1,000 requests warm up as in the leaking twin; the heap is flat once the JIT has.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

const client = require('prom-client');
const { setTimeout: sleep } = require('timers/promises');

const registry = new client.Registry();
const requests = new client.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests by method, route and status',
  labelNames: ['method', 'route', 'status'],
  registers: [registry],
});
const latency = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request latency by route',
  labelNames: ['route'],
  buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1],
  registers: [registry],
});

const routes = ['/products/:id', '/search'];

// GET /products/:id or /search?q=…
async function handle(i) {
  const route = routes[i % 2];
  const started = process.hrtime.bigint();
  await sleep(1); // SELECT … WHERE id = $1
  const status = i % 97 === 0 ? '404' : '200';
  requests.inc({ method: 'GET', route, status });
  latency.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
  if (i % 1000 === 0) await registry.metrics(); // a scrape
  return Number(status);
}

module.exports = { step: (i) => handle(i) };
