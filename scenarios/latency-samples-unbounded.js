'use strict';
// Per-route latency samples kept as raw numbers, never trimmed (leaks).
//
// A service records how long each request took, per route, so that a /metrics handler can
// compute percentiles on demand. Each request runs ~60 timed spans (middleware, queries,
// template parts) and pushes every span's duration to its route's `samples` array.
//
// BUG: the arrays are never trimmed, windowed or turned into a histogram. No object
// accumulates: a number pushed to an array of numbers is stored unboxed in the array's
// backing store (a FixedDoubleArray, `(object elements)` in snapshots), which V8 replaces
// with one 1.5× as large whenever it fills. What grows is one backing store per route,
// ~480 bytes of numbers per request between them (more with the slack of each 1.5× store); the count of every class stays flat. Two routes
// hold one array each, at the same path shape, so only their holders tell them apart.

const { setTimeout: sleep } = require('timers/promises');

class RouteTimings {
  constructor(route) {
    this.route = route;
    this.samples = []; // BUG: unbounded
    this.requests = 0;
  }
}

const timings = {
  '/api/orders': new RouteTimings('/api/orders'),
  '/api/users': new RouteTimings('/api/users'),
};

async function handle(i) {
  const t0 = performance.now();
  await sleep(1); // the request's own work
  const route = timings[i % 2 ? '/api/orders' : '/api/users'];
  for (let span = 0; span < 60; span++) {
    route.samples.push(performance.now() - t0 + span * 0.013 + Math.random());
  }
  route.requests++;
}

module.exports = { step: (i) => handle(i) };
