'use strict';
// Tracing middleware of a hot in-process RPC path whose cleanup uses the wrong key (leaks).
//
// A service answers small cached RPCs in ~20-50 µs each (no I/O, no await: a route match, a
// JSON parse, a cache read, a serialisation), tens of thousands per second. A tracing
// middleware records a RequestTrace per call in a Map keyed by the call number, so that
// slow calls can be looked up while they run, and deletes the entry when the call ends.
//
// BUG: the entry is set under the numeric call id but deleted under its string form
// (`traces.delete(String(id))`, the id as it arrives in the response header), and a Map
// compares keys with SameValueZero: 42 !== '42', so nothing is ever deleted. `traces` keeps
// one RequestTrace (route, method, timings, a few tags, ~280 bytes with its strings and its
// share of the Map's hash table) per call. Because the steps are short the leak is fast in
// time (~10 MB/s at ~40,000 calls/s) but small per iteration: a harness that samples every
// iteration spends far more time sampling than the workload does working.
// fast-loop-clean.js does the same work and keeps a bounded ring instead.

const crypto = require('crypto');

const ROUTES = [
  { re: /^\/rpc\/price\/([A-Z]{3,6})$/, name: 'price.get' },
  { re: /^\/rpc\/fx\/([A-Z]{3})([A-Z]{3})$/, name: 'fx.rate' },
  { re: /^\/rpc\/stock\/(\d+)$/, name: 'stock.level' },
];
const PATHS = ['/rpc/price/ACME', '/rpc/fx/EURUSD', '/rpc/stock/40211', '/rpc/price/GLOBEX', '/rpc/fx/GBPJPY'];
const TIERS = Array.from({ length: 120 }, (_, k) => ({ minQty: k * 25, discount: Math.round(k * 0.37 * 100) / 100 }));
const CACHE = new Map([
  ['price.get', { price: 101.25, currency: 'EUR', tiers: TIERS }],
  ['fx.rate', { rate: 1.0843, tiers: TIERS.slice(0, 60) }],
  ['stock.level', { level: 17, warehouse: 'FRA-2', tiers: TIERS.slice(0, 90) }],
]);

class RequestTrace {
  constructor(id, route, method, arg) {
    this.id = id;
    this.route = route;
    this.method = method;
    this.arg = arg;
    this.startedAt = process.hrtime.bigint();
    this.endedAt = 0n;
    this.status = 0;
    this.tags = { peer: `10.4.${id & 255}.${(id >> 8) & 255}`, shard: id % 16 };
  }
}

const traces = new Map(); // call id -> RequestTrace; BUG: never shrinks (see header)

function handle(id) {
  const path = PATHS[id % PATHS.length];
  const body = JSON.parse(`{"id":${id},"path":"${path}","deadlineMs":50,"client":"edge-${id % 8}"}`);
  let route = null;
  let arg = null;
  for (const r of ROUTES) {
    const m = r.re.exec(body.path);
    if (m) { route = r.name; arg = m.slice(1).join(''); break; }
  }
  const trace = new RequestTrace(id, route, 'POST', arg);
  traces.set(id, trace);
  const result = JSON.stringify({ id: body.id, route, arg, ...CACHE.get(route) });
  const etag = crypto.createHash('sha1').update(result).digest('base64');
  trace.status = 200;
  trace.endedAt = process.hrtime.bigint();
  traces.delete(String(id)); // BUG: the key was the number id, this is its string form
  return result.length + etag.length;
}

module.exports = { step: (i) => handle(i) };
