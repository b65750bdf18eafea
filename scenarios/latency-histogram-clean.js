'use strict';
// Per-route latency kept in fixed-size histograms and a ring of recent samples (clean).
//
// The twin of latency-samples-unbounded.js: the same ~60 timed spans per request, but each
// duration lands in one of 64 log-spaced buckets and in a ring of the last 4,096 samples
// (a Float64Array), so memory is fixed after the first request. Each request still makes
// garbage: the span list and a short summary object per request.

const { setTimeout: sleep } = require('timers/promises');

class RouteHistogram {
  constructor(route) {
    this.route = route;
    this.buckets = new Float64Array(64);
    this.recent = new Float64Array(4096);
    this.next = 0;
    this.requests = 0;
  }

  record(ms) {
    const bucket = Math.min(63, Math.max(0, Math.floor(Math.log2(1 + ms * 1000) * 3)));
    this.buckets[bucket]++;
    this.recent[this.next] = ms;
    this.next = (this.next + 1) & 4095;
  }
}

const timings = {
  '/api/orders': new RouteHistogram('/api/orders'),
  '/api/users': new RouteHistogram('/api/users'),
};

async function handle(i) {
  const t0 = performance.now();
  await sleep(1);
  const route = timings[i % 2 ? '/api/orders' : '/api/users'];
  const spans = [];
  for (let span = 0; span < 60; span++) spans.push(performance.now() - t0 + span * 0.013 + Math.random());
  for (const ms of spans) route.record(ms);
  route.requests++;
  return { route: route.route, spans: spans.length, worst: Math.max(...spans) };
}

module.exports = { step: (i) => handle(i) };
