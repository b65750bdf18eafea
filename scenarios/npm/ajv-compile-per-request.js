'use strict';
// Webhook receiver that builds its JSON schema per request and compiles it with ajv
// (leaks).
//
// Each tenant configures which fields its webhook events must carry. The handler builds
// the schema from that config on every request (`{ ...baseSchema, required: [...] }`, a
// new object each time) and calls `ajv.compile(schema)`, trusting ajv's documented cache
// to make repeated compiles cheap. ajv does cache compiled schemas, but in a Map keyed by
// the schema *object* (`ajv._cache`, by identity, not by content): every request's schema
// is a new key, so every request compiles again and its SchemaEnv (the schema, the
// generated validate function and its source, ~25 KB) stays in the cache for the life of
// the Ajv instance. A well-known ajv pitfall (its docs: "compile schemas once, or use
// addSchema/getSchema"); the growth is half code, generated with `new Function`.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

const Ajv = require('ajv');
const { setTimeout: sleep } = require('timers/promises');

const baseSchema = {
  type: 'object',
  properties: {
    event: { enum: ['order.created', 'order.paid', 'order.shipped', 'order.refunded'] },
    orderId: { type: 'string', pattern: '^ord_[0-9a-z]+$' },
    amount: { type: 'integer', minimum: 0 },
    currency: { enum: ['EUR', 'USD', 'GBP'] },
    occurredAt: { type: 'string', maxLength: 40 },
    metadata: { type: 'object', additionalProperties: { type: 'string', maxLength: 200 } },
  },
  additionalProperties: false,
};

const TENANTS = [
  { id: 'acme', required: ['event', 'orderId', 'amount'] },
  { id: 'north', required: ['event', 'orderId', 'currency', 'occurredAt'] },
  { id: 'bloom', required: ['event', 'orderId'] },
];

const ajv = new Ajv({ allErrors: true });

// POST /webhooks/:tenant
async function handle(i) {
  const tenant = TENANTS[i % TENANTS.length];
  // BUG: a new schema object per request, compiled per request (see the header).
  const validate = ajv.compile({ ...baseSchema, required: tenant.required });
  const payload = JSON.parse(JSON.stringify({
    event: ['order.created', 'order.paid', 'order.shipped'][i % 3],
    orderId: `ord_${i.toString(36)}`,
    amount: 1999 + (i % 500),
    currency: 'EUR',
    occurredAt: '2026-12-07T03:00:00Z',
    metadata: { channel: i % 2 ? 'web' : 'app' },
  }));
  const ok = validate(payload);
  await sleep(1); // enqueue the event for the order service
  return ok ? 202 : 422;
}

module.exports = { step: (i) => handle(i) };
