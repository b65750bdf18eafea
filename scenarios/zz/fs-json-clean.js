'use strict';
const fs = require('fs/promises');
const os = require('os');
const path = require('path');
let file;
async function setup() {
  file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'fsjson-')), 'data.json');
  await fs.writeFile(file, JSON.stringify({ items: Array.from({ length: 200 }, (_, k) => ({ k, name: 'item' + k, tags: ['a', 'b'] })) }));
}
async function handle(i) {
  const data = JSON.parse(await fs.readFile(file, 'utf8'));
  const out = data.items.filter((x) => x.k % 7 === i % 7).map((x) => ({ ...x, at: new Date().toISOString() }));
  return JSON.stringify(out).length;
}
async function teardown() { await fs.rm(path.dirname(file), { recursive: true, force: true }); }
module.exports = { setup, step: handle, teardown };
