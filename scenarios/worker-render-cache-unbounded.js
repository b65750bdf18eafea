'use strict';
// A request handler offloads rendering to one long-lived worker thread, which keeps every
// rendered document in a module-level cache inside the worker (leaks, in the worker's own
// heap).
//
// A worker thread is a V8 isolate of its own: the main thread's heap stays flat, its
// snapshots hold none of the documents, and the growth shows in RSS only, among the
// snapshots' own residue. Worker pools (piscina, a hand-rolled pool) leak this way when a
// task module keeps a cache at its top level.
//
// worker-render-cache-bounded-clean.js keeps the last 200 documents only.
const { Worker } = require('worker_threads');

const WORKER = `
const { parentPort } = require('worker_threads');
const rendered = new Map(); // BUG: never evicted
parentPort.on('message', (m) => {
  const doc = { id: m.id, html: '<div class="card">' + 'x'.repeat(1500) + m.id + '</div>', at: Date.now() };
  rendered.set('doc-' + m.id, doc);
  parentPort.postMessage(doc.html.length);
});
`;

let worker;
let pending = null;

async function setup() {
  worker = new Worker(WORKER, { eval: true });
  worker.on('message', (n) => { const p = pending; pending = null; if (p) p(n); });
  await new Promise((r) => setTimeout(r, 50));
}

// GET /cards/:id: the data from the database (1 ms), the rendering from the worker.
async function step(i) {
  await new Promise((r) => setTimeout(r, 1));
  return new Promise((resolve) => { pending = resolve; worker.postMessage({ id: i }); });
}

async function teardown() { await worker.terminate(); }

module.exports = { setup, step, teardown };
