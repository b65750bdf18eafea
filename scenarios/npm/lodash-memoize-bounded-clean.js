'use strict';
// lodash `_.memoize` over a bounded key set, with real lodash work per request (no leak).
//
// The same feature-gate service keyed by tenant, not by user: 200 tenants, a fifth of
// them busy. `_.memoize` keeps one TenantPolicy per tenant for ever, which is bounded
// (there are 200), and every request then does real lodash work on its order lines
// (groupBy, sumBy, orderBy, chunk, pick). The heap rises while the rarer tenants are
// first seen (the last after some hundreds of requests) and while V8 compiles and
// optimises lodash's functions, then is flat: growth that stops, no leak.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).
// lodash-memoize-per-user.js is the same memoize keyed by an id that keeps changing.

const _ = require('lodash');
const { setTimeout: sleep } = require('timers/promises');

const TENANTS = 200;
const HOT = 40;
const SKUS = ['SKU-1001', 'SKU-1002', 'SKU-2040', 'SKU-3310', 'SKU-4100', 'SKU-5005', 'SKU-6120', 'SKU-7777'];

class TenantPolicy {
  constructor(tenantId, n) {
    this.tenantId = tenantId;
    this.region = ['eu-west', 'us-east', 'ap-south'][n % 3];
    this.discounts = _.fromPairs(SKUS.map((sku, k) => [sku, ((n + k) % 5) * 0.05]));
    this.maxLines = 5 + (n % 20);
  }
}

// SELECT ... FROM tenants WHERE id = $1 (memoized: tenants change by deploy, not by request)
const policyFor = _.memoize((tenantId) => new TenantPolicy(tenantId, parseInt(tenantId.slice(4), 10)));

// POST /orders/price
async function handle(i) {
  // 80 % from 40 busy tenants; the rest walk all 200, the rarest first seen after some
  // hundreds of requests.
  const n = i % 5 === 0 ? ((i / 5) * 7919) % TENANTS : (i * 31) % HOT;
  const policy = policyFor(`ten_${n}`);
  const lines = _.times(1 + (i % 12), (k) => ({ sku: SKUS[(i + k * 3) % SKUS.length], qty: 1 + ((i * k) % 7), unit: 10 + ((i + k) % 90) }));
  const bySku = _.groupBy(_.take(lines, policy.maxLines), 'sku');
  const totals = _.orderBy(
    _.map(bySku, (ls, sku) => ({ sku, qty: _.sumBy(ls, 'qty'), net: _.round(_.sumBy(ls, (l) => l.qty * l.unit) * (1 - policy.discounts[sku]), 2) })),
    ['net', 'sku'],
    ['desc', 'asc'],
  );
  const pages = _.chunk(totals, 3).map((p) => _.map(p, (t) => _.pick(t, ['sku', 'net'])));
  await sleep(1); // price the lines against the ledger
  return JSON.stringify({ tenant: policy.tenantId, region: policy.region, pages });
}

module.exports = { step: (i) => handle(i) };
