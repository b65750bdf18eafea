'use strict';
// A prom-client counter labelled with the raw request path (leaks).
//
// The service counts its requests with prom-client, the usual Prometheus client for Node,
// and labels the counter with `path: req.url`, the raw path with its ids and query string,
// instead of the route template. Every distinct label set is a new series that the
// counter keeps for ever (prom-client stores them in a plain object keyed by the joined
// label values, `hashMap`), so every product page and every search adds one: unbounded
// cardinality, the leak a metrics library is most often blamed for. /metrics grows with
// it; nothing errors.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).
// prom-client-route-labels-clean.js labels with the route template instead.

const client = require('prom-client');
const { setTimeout: sleep } = require('timers/promises');

const registry = new client.Registry();
const requests = new client.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests by method, path and status',
  labelNames: ['method', 'path', 'status'],
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
  const id = (i * 2654435761) >>> 0;
  // Links from a newsletter: campaign parameters on every URL.
  const path = route === '/search'
    ? `/search?q=item-${id}&page=1&sort=price_asc&utm_source=newsletter&utm_campaign=winter-sale`
    : `/products/${id}?ref=home-carousel&utm_source=newsletter&utm_campaign=winter-sale`;
  const started = process.hrtime.bigint();
  await sleep(1); // SELECT … WHERE id = $1
  const status = i % 97 === 0 ? '404' : '200';
  // BUG: the raw path as a label: one new series per distinct URL.
  requests.inc({ method: 'GET', path, status });
  latency.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
  if (i % 1000 === 0) await registry.metrics(); // a scrape
  return Number(status);
}

module.exports = { step: (i) => handle(i) };
