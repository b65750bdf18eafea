'use strict';
// Twin of worker-render-cache-unbounded: the render worker keeps a bounded cache (the
// last 200 documents), evicting the oldest (no leak).
const { Worker } = require('worker_threads');

const WORKER = `
const { parentPort } = require('worker_threads');
const rendered = new Map(); // bounded: the last 200
parentPort.on('message', (m) => {
  const parts = [];
  for (let k = 0; k < 20; k++) parts.push('<li data-k="' + k + '">' + (m.id * 31 + k).toString(36) + '</li>');
  const doc = { id: m.id, html: '<ul>' + parts.join('') + '</ul>', at: Date.now() };
  rendered.set('doc-' + m.id, doc);
  if (rendered.size > 200) rendered.delete(rendered.keys().next().value);
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
