'use strict';
// A BFF that keeps a clone of every fetch() response "for later retry inspection" (leaks).
//
// setup() starts a local `http` inventory service on 127.0.0.1 (it answers
// GET /inventory/:sku with ~2 KB of JSON: stock per warehouse, price tiers); teardown()
// closes it. Each step is one incoming request whose handler calls the service with the
// global `fetch()` (undici under the hood, keep-alive pool), pushes `{ at, sku, response:
// res.clone() }` onto `retryLog`, then reads the original body with `await res.json()`.
// `retryLog` is never drained: each entry keeps an unconsumed clone, with its tee'd body
// stream, reader and controller (~10 KB a request).
//
// The clone's streams are held twice: by the entry, and by undici's FinalizationRegistry
// for response bodies. No entry dominates them, so they are clusters of their own under
// holders deep in undici ("`body` of Object"), larger than the entries' own; the place the
// program keeps them is `retryLog`, which the culprit must name first.
//
// fetch-inventory-clean.js is the same service without the log.

const http = require('http');

let server;
let base;
const retryLog = []; // BUG: never drained; holds an unconsumed clone of every response

function inventory(sku, n) {
  return {
    sku,
    name: `Product ${sku}`,
    updatedAt: new Date(1_720_000_000_000 + n * 1000).toISOString(),
    warehouses: Array.from({ length: 12 }, (_, k) => ({ id: `wh-${k}`, city: ['Berlin', 'Lyon', 'Leeds', 'Utrecht'][k % 4], onHand: (n * 31 + k * 7) % 500, reserved: (n + k) % 20, eta: k % 3 === 0 ? null : `2024-07-${10 + (k % 18)}` })),
    priceTiers: [{ min: 1, price: 19.99 }, { min: 10, price: 17.49 }, { min: 100, price: 14.99 }],
  };
}

async function setup() {
  server = http.createServer((req, res) => {
    const m = /^\/inventory\/(SKU-\d+)$/.exec(req.url);
    if (!m) { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"error":"not found"}'); return; }
    const body = JSON.stringify(inventory(m[1], Number(m[1].slice(4))));
    setTimeout(() => { // the service's own database lookup
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-served-by': 'inventory-7f9c' });
      res.end(body);
    }, 1);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
}

// GET /products/:sku/availability
async function step(i) {
  const sku = i % 25 === 24 ? 'unknown' : `SKU-${1000 + ((i * 7919) % 4000)}`;
  const res = await fetch(`${base}/inventory/${sku}`, { headers: { accept: 'application/json', 'x-request-id': `req-${i}` } });
  retryLog.push({ at: Date.now(), sku, response: res.clone() });
  const data = await res.json();
  if (!res.ok) return JSON.stringify({ status: 502, upstream: res.status, error: data.error });
  const available = data.warehouses.reduce((s, w) => s + w.onHand - w.reserved, 0);
  return JSON.stringify({ status: 200, sku: data.sku, available, from: data.priceTiers[0].price });
}

async function teardown() {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

module.exports = { setup, step, teardown };
