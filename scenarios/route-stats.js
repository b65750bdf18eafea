'use strict';
// Per-route latency samples under identifier keys, never trimmed (leaks, slowly).
//
// A request timer keeps `{ ms, at, ok }` per request in `stats.login`, `stats.search`, …
// (a plain object of arrays whose keys are route names that read like identifiers) for
// a percentile endpoint that was meant to keep the last minute; the trim was never
// written. One small plain object a request, ~70 B with its array slot: a slow leak of
// no class of its own, a third of the default byte floor, spread over six arrays. The
// handler also builds and drops a ~2 KB report per request.

const { setTimeout: sleep } = require('timers/promises');

const ROUTES = ['login', 'logout', 'search', 'checkout', 'profile', 'cart'];
const stats = {}; // route -> [{ ms, at, ok }]; BUG: never trimmed

function record(route, ms) {
  (stats[route] || (stats[route] = [])).push({ ms, at: Date.now(), ok: ms < 50 });
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
