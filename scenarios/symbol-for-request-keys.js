'use strict';
// Request-scoped keys made with Symbol.for (leaks).
//
// A tracing middleware tags each request's context with a symbol key so that plugins can
// find "their" request data: `Symbol.for(\`trace:${requestId}\`)`. The author wanted a
// symbol that any module can recreate from the id, and `Symbol.for` does that.
//
// BUG: `Symbol.for` puts the symbol in V8's global symbol registry, which never forgets a
// key: one symbol and one interned description string (~70 bytes) per request, for the
// life of the process. No object of the program holds them — the context the symbol was
// used on is garbage after the request — so the growth sits under V8's own roots (the
// string table and the registry), a slow leak of a few hundred bytes an iteration that
// only the object counts show.

const { setTimeout: sleep } = require('timers/promises');

async function handle(i) {
  const requestId = `${Date.now().toString(36)}-${i}-${(i * 2654435761 >>> 0).toString(16)}`;
  const key = Symbol.for(`trace:${requestId}`); // BUG: registered for ever
  const context = { [key]: { route: '/api/orders', started: Date.now() } };
  await sleep(1);
  return context[key].route.length;
}

module.exports = { step: (i) => handle(i) };
