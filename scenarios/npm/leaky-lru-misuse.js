'use strict';
// The order-quote service of clean-npm-service.js with lru-cache misconfigured (leaks).
//
// Same libraries, same work per request (ajv validation, dayjs dates, lodash sums). A later
// change added idempotency: a client retrying POST /quotes with the same Idempotency-Key
// must get the same quote back, so every computed QuoteResult is cached for ten minutes in
// `quoteCache`, an lru-cache created as `new LRUCache({ ttl: 10 * 60 * 1000 })`.
//
// BUG: no `max` (nor `maxSize`, nor `ttlAutopurge`). The author took the TTL for a bound,
// but lru-cache only drops an expired entry when that key is read again or purgeStale() is
// called, and idempotency keys are unique per request: nobody ever reads a key twice, so
// every QuoteResult (its lines, totals and formatted dates, ~2 KB) stays, in the cache's
// key and value arrays and its key Map. lru-cache itself warns once, on stderr:
// "TTL caching without ttlAutopurge, max, or maxSize can result in unbounded memory
// consumption" (LRU_CACHE_UNBOUNDED), and the warning is as easy to miss as it is in
// production logs. The PriceList cache beside it (max: 500) stays bounded.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

const Ajv = require('ajv');
const { LRUCache } = require('lru-cache');
const dayjs = require('dayjs');
const _ = require('lodash');
const { setTimeout: sleep } = require('timers/promises');

const HOT_CUSTOMERS = 100;
const ALL_CUSTOMERS = 20_000;
const SKUS = ['SKU-1001', 'SKU-1002', 'SKU-2040', 'SKU-3310', 'SKU-4100', 'SKU-5005', 'SKU-6120', 'SKU-7777'];

const orderSchema = {
  type: 'object',
  required: ['customerId', 'currency', 'lines', 'requestedAt'],
  additionalProperties: false,
  properties: {
    customerId: { type: 'string', pattern: '^cus_[0-9a-z]+$' },
    currency: { enum: ['EUR', 'USD', 'GBP'] },
    requestedAt: { type: 'integer', minimum: 0 },
    coupon: { type: 'string', maxLength: 32 },
    lines: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: {
        type: 'object',
        required: ['sku', 'qty'],
        additionalProperties: false,
        properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1, maximum: 1000 } },
      },
    },
  },
};

class QuoteResult {
  constructor(idempotencyKey, customerId, lines, families, total, quotedAt, validUntil) {
    this.idempotencyKey = idempotencyKey;
    this.customerId = customerId;
    this.lines = lines;
    this.families = families;
    this.total = total;
    this.quotedAt = quotedAt;
    this.validUntil = validUntil;
  }
}

class PriceList {
  constructor(customerId, n) {
    this.customerId = customerId;
    this.tier = ['list', 'silver', 'gold', 'partner'][n % 4];
    this.discount = (n % 4) * 0.05;
    this.prices = Object.fromEntries(SKUS.map((sku, k) => [sku, 10 + ((n + k * 7) % 90) + 0.99]));
    this.loadedAt = Date.now();
  }
}

const ajv = new Ajv({ allErrors: true });
const validateOrder = ajv.compile(orderSchema); // once, at start-up
const priceLists = new LRUCache({ max: 500 }); // bounded: evicts the least recently used
// BUG: a TTL alone does not bound an lru-cache (see the header).
const quoteCache = new LRUCache({ ttl: 10 * 60 * 1000 });

async function loadPriceList(customerId, n) {
  await sleep(1); // SELECT ... FROM price_lists WHERE customer_id = $1
  return new PriceList(customerId, n);
}

// POST /quotes
async function handleQuote(i) {
  const n = i % 5 === 0 ? (i * 7) % HOT_CUSTOMERS : HOT_CUSTOMERS + ((i * 2654435761) >>> 0) % ALL_CUSTOMERS;
  const customerId = `cus_${n.toString(36)}`;
  const idempotencyKey = `idem_${i.toString(36)}_${((i * 40503) >>> 0).toString(16)}`; // the request header
  const cached = quoteCache.get(idempotencyKey); // a retry: never happens with these keys
  if (cached) return JSON.stringify(cached);
  const body = JSON.parse(JSON.stringify({
    customerId,
    currency: ['EUR', 'USD', 'GBP'][i % 3],
    requestedAt: 1_720_000_000_000 + i * 60_000,
    lines: SKUS.slice(0, 1 + (i % SKUS.length)).map((sku, k) => ({ sku, qty: 1 + ((i + k) % 12) })),
  }));
  if (!validateOrder(body)) return JSON.stringify({ status: 422, errors: validateOrder.errors });

  let prices = priceLists.get(customerId);
  if (!prices) {
    prices = await loadPriceList(customerId, n);
    priceLists.set(customerId, prices);
  } else {
    await sleep(1); // stock check against the warehouse service
  }

  const lines = body.lines.map((l) => ({ ...l, unit: prices.prices[l.sku], total: _.round(l.qty * prices.prices[l.sku] * (1 - prices.discount), 2) }));
  const byFamily = _.groupBy(lines, (l) => l.sku.slice(0, 5));
  const quote = new QuoteResult(
    idempotencyKey,
    customerId,
    lines,
    _.mapValues(byFamily, (ls) => _.sumBy(ls, 'total')),
    _.round(_.sumBy(lines, 'total'), 2),
    dayjs(body.requestedAt).format('YYYY-MM-DD HH:mm'),
    dayjs(body.requestedAt).add(14, 'day').format('YYYY-MM-DD'),
  );
  quoteCache.set(idempotencyKey, quote);
  return JSON.stringify({ status: 200, customer: _.pick(prices, ['customerId', 'tier']), ...quote });
}

module.exports = { step: (i) => handleQuote(i) };
