'use strict';
// Order-quote service on popular npm libraries, used the way their docs say (no leak).
//
// Each request is a POST /quotes body: validated with ajv (the schema compiled once, at
// start-up), priced, with the customer's price list looked up in an lru-cache capped at
// `max: 500` entries (a fifth of the traffic from 100 hot customers, the rest spread over
// 20,000), dates formatted with dayjs, lines grouped and summed with lodash. Every library
// keeps only bounded state: ajv its one compiled validator, the LRU its 500 PriceList
// entries, dayjs and lodash nothing per call. Memory rises while the cache fills (the first
// ~650 requests) and is flat afterwards.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).
// leaky-lru-misuse.js is the same service with the cache misconfigured.

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

async function loadPriceList(customerId, n) {
  await sleep(1); // SELECT ... FROM price_lists WHERE customer_id = $1
  return new PriceList(customerId, n);
}

// POST /quotes
async function handleQuote(i) {
  const n = i % 5 === 0 ? (i * 7) % HOT_CUSTOMERS : HOT_CUSTOMERS + ((i * 2654435761) >>> 0) % ALL_CUSTOMERS;
  const customerId = `cus_${n.toString(36)}`;
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
  return JSON.stringify({
    status: 200,
    customer: _.pick(prices, ['customerId', 'tier']),
    families: _.mapValues(byFamily, (ls) => _.sumBy(ls, 'total')),
    total: _.round(_.sumBy(lines, 'total'), 2),
    quotedAt: dayjs(body.requestedAt).format('YYYY-MM-DD HH:mm'),
    validUntil: dayjs(body.requestedAt).add(14, 'day').format('YYYY-MM-DD'),
  });
}

module.exports = { step: (i) => handleQuote(i) };
