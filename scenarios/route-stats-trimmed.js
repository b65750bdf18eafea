'use strict';
// The same per-route latency samples as route-stats.js, trimmed to the last 100 per route
// (no leak). Six arrays under identifier keys that fill in the first 600 requests and
// then replace their oldest sample with each new one: what a percentile endpoint should
// keep. A look-alike of route-stats: the same objects, made at the same pace, in the same
// places; only the trim differs.

const { setTimeout: sleep } = require('timers/promises');

const ROUTES = ['login', 'logout', 'search', 'checkout', 'profile', 'cart'];
const KEEP = 100;
const stats = {}; // route -> the last KEEP { ms, at, ok }

function record(route, ms) {
  const list = stats[route] || (stats[route] = []);
  list.push({ ms, at: Date.now(), ok: ms < 50 });
  if (list.length > KEEP) list.shift();
}

module.exports = {
  step: async (i) => {
    await sleep(1); // the request itself
    const rows = [];
    for (let k = 0; k < 40; k++) rows.push({ k, v: `row-${k}` });
    const body = JSON.stringify(rows);
    record(ROUTES[i % ROUTES.length], body.length % 97);
  },
};
