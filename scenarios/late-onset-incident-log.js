'use strict';
// Checkout API whose incident log starts leaking only once its upstream degrades (leaks,
// late).
//
// Each request prices a cart through the tax service. A CircuitBreaker counts upstream
// failures; while it is closed nothing is kept per request. Around request 1200 the tax
// service starts failing (a bad deploy upstream), the breaker opens and stays open, and
// every request is answered from the fallback path, which records an IncidentContext
// (~2 KB: request headers, the cart, the upstream error body) for the on-call report.
//
// BUG: `incidents` is an Array on the long-lived IncidentLog that is only ever pushed to;
// the "flush to the incident tracker" that was supposed to drain it was never wired up.
// Memory is flat for the first ~40 % of a 3000-request run, then grows linearly by ~2 KB
// per request.

const crypto = require('crypto');
const { setTimeout: sleep } = require('timers/promises');

const UPSTREAM_BREAKS_AT = 1200;
const FAILURE_THRESHOLD = 5;
const SKUS = ['SKU-1001', 'SKU-1002', 'SKU-2040', 'SKU-3300', 'SKU-4100', 'SKU-5120', 'SKU-7777'];
const REGIONS = ['DE-BE', 'DE-BY', 'FR-IDF', 'NL-NH', 'PL-MZ', 'US-CA', 'US-NY'];
const ENVOY_TRACE = [
  'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  'retry policy: 5xx,reset,connect-failure; retries exhausted; per_try_timeout=250ms',
  'cluster=tax-service-v2 outlier_detection=ejected healthy_hosts=0 total_hosts=6',
  'last_error=TLS handshake failed: certificate verify failed (certificate has expired)',
  'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  'route=/v2/quote vhost=tax.internal rq_timeout=2000ms host_rewrite=tax-service.svc',
  'retry policy: 5xx,reset,connect-failure; retries exhausted; per_try_timeout=250ms',
  'cluster=tax-service-v2 circuit_breakers.default.max_pending_requests=1024 overflowed',
];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'shop-android/4.12.0 (Pixel 8; Android 14)',
];

class CircuitBreaker {
  constructor(threshold) {
    this.threshold = threshold;
    this.failures = 0;
    this.state = 'closed';
    this.openedAt = 0;
  }
  recordFailure() {
    if (++this.failures >= this.threshold && this.state === 'closed') {
      this.state = 'open';
      this.openedAt = Date.now();
    }
  }
  recordSuccess() {
    this.failures = 0;
  }
  allows() {
    return this.state === 'closed';
  }
}

class IncidentContext {
  constructor(requestId, headers, cart, upstreamError) {
    this.requestId = requestId;
    this.at = new Date().toISOString();
    this.headers = headers;
    this.cart = cart;
    this.upstreamStatus = upstreamError.status;
    this.upstreamBody = upstreamError.body;
    this.breaker = 'open';
  }
}

class IncidentLog {
  constructor() {
    this.incidents = []; // BUG: never drained
    this.total = 0;
  }
  record(ctx) {
    this.incidents.push(ctx);
    this.total++;
  }
}

const breaker = new CircuitBreaker(FAILURE_THRESHOLD);
const incidentLog = new IncidentLog();
let served = 0;

async function callTaxService(cart, i) {
  await sleep(1); // POST https://tax.internal/v2/quote
  if (i >= UPSTREAM_BREAKS_AT) {
    const err = new Error('tax service unavailable');
    err.status = 503;
    err.body = `<html><head><title>503 Service Unavailable</title></head><body><h1>upstream connect error</h1>` +
      `<p>trace=${crypto.randomBytes(16).toString('hex')} request=${cart.id}</p>` +
      `<pre>${ENVOY_TRACE.map((line, k) => `${line} attempt=${k} upstream=10.4.${k}.${i & 255}:8443`).join('\n')}</pre></body></html>`;
    throw err;
  }
  return cart.lines.reduce((sum, l) => sum + l.qty * l.price * 0.19, 0);
}

function buildCart(i) {
  const lines = [];
  for (let k = 0; k < 3 + (i % 4); k++) lines.push({ sku: SKUS[(i + k) % SKUS.length], qty: 1 + ((i * k) % 3), price: 9.99 + k * 5 });
  return { id: `cart_${i.toString(36)}_${crypto.randomBytes(3).toString('hex')}`, region: REGIONS[i % REGIONS.length], lines };
}

// POST /api/checkout/quote
async function handleQuote(i) {
  const requestId = `req-${crypto.randomBytes(8).toString('hex')}`;
  const headers = {
    'x-request-id': requestId,
    'user-agent': AGENTS[i % AGENTS.length],
    'accept-language': 'de-DE,de;q=0.9,en;q=0.8',
    cookie: `sid=${crypto.randomBytes(18).toString('base64')}; cart=${i}`,
    'x-forwarded-for': `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`,
  };
  const cart = buildCart(i);
  let tax;
  if (breaker.allows()) {
    try {
      tax = await callTaxService(cart, i);
      breaker.recordSuccess();
    } catch (err) {
      breaker.recordFailure();
      incidentLog.record(new IncidentContext(requestId, headers, cart, err));
      tax = 0;
    }
  } else {
    // Open breaker: probe the upstream anyway (half-open never succeeds) and record the incident.
    try {
      tax = await callTaxService(cart, i);
    } catch (err) {
      incidentLog.record(new IncidentContext(requestId, headers, cart, err));
      tax = cart.lines.length * 1.5; // flat-rate estimate
    }
  }
  served++;
  return JSON.stringify({ cart: cart.id, tax, estimated: !breaker.allows() });
}

module.exports = { step: (i) => handleQuote(i) };
