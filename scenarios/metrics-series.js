'use strict';
// In-process metrics that keep every point (leaks).
//
// A request timer records `[timestamp, millis, status, requestId]` per request into a
// per-route series in a plain object of arrays (`series['/login']`, …), meant to be
// scraped and reset every minute; the reset was lost in a refactor. Every request appends
// one small array, ~130 B with its id string: a slow leak (half the default byte floor)
// of plain arrays, no class of its own, held under six keys that are data.

const { setTimeout: sleep } = require('timers/promises');

const routes = ['/login', '/search', '/cart', '/checkout', '/orders/:id', '/health'];
const series = {}; // route -> [[t, ms, status], ...]; BUG: never reset

function record(route, ms, status, requestId) {
  (series[route] || (series[route] = [])).push([Date.now(), ms, status, requestId]);
}

module.exports = {
  step: async (i) => {
    const route = routes[i % routes.length];
    const ms = 3 + ((i * 7919) % 97) / 10;
    await sleep(1); // the request itself
    record(route, ms, i % 50 === 0 ? 500 : 200, `req-${i.toString(36)}-${(i * 2654435761 >>> 0).toString(16)}`);
  },
};
