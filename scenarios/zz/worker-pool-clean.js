'use strict';
const { Worker } = require('worker_threads');
const { setTimeout: sleep } = require('timers/promises');
const src = `const { parentPort } = require('worker_threads'); parentPort.on('message', (m) => { let s = 0; for (let i = 0; i < 2000; i++) s += Math.sqrt(i * m.n); parentPort.postMessage({ id: m.id, s, pad: 'y'.repeat(500) }); });`;
let pool; const pending = new Map(); let nextId = 0;
async function setup() {
  pool = [0, 1].map(() => { const w = new Worker(src, { eval: true }); w.on('message', (m) => { const r = pending.get(m.id); pending.delete(m.id); r(m); }); return w; });
}
async function handle(i) {
  const id = nextId++;
  const p = new Promise((res) => pending.set(id, res));
  pool[i % 2].postMessage({ id, n: i, payload: 'z'.repeat(300) });
  await p;
}
async function teardown() { await Promise.all(pool.map((w) => w.terminate())); }
module.exports = { setup, step: handle, teardown };
