'use strict';
// Request-scoped keys made with Symbol() (clean).
//
// The twin of symbol-for-request-keys.js: the same per-request key and context, but the
// symbol is a plain `Symbol(description)`, unregistered, collected with the context once
// the request is done. Plugins get the key from the context object, not from the registry.

const { setTimeout: sleep } = require('timers/promises');

async function handle(i) {
  const requestId = `${Date.now().toString(36)}-${i}-${(i * 2654435761 >>> 0).toString(16)}`;
  const key = Symbol(`trace:${requestId}`);
  const context = { [key]: { route: '/api/orders', started: Date.now() } };
  await sleep(1);
  return context[key].route.length;
}

module.exports = { step: (i) => handle(i) };
