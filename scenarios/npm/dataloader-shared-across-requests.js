'use strict';
// A DataLoader created once for the whole process instead of once per request (leaks).
//
// DataLoader batches and caches loads "for the lifetime of a request": its cache is a Map
// from key to the Promise of the loaded value, and it never evicts. A service that builds
// its loaders at start-up (a module-level `new DataLoader(...)`) rather than in each
// request's context caches every user it has ever loaded, with the whole row, for as
// long as it runs; and it serves stale rows. The DataLoader README warns about this;
// services still do it, because it works in development.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).
// dataloader-per-request-clean.js builds a loader per request.

const { setTimeout: sleep } = require('timers/promises');
const DataLoader = require('dataloader');

class UserRow {
  constructor(id) {
    this.id = id;
    this.email = `user${id}@example.com`;
    this.displayName = `User ${id}`;
    this.preferences = { locale: ['en-GB', 'de-DE', 'fr-FR'][id % 3], theme: id % 2 ? 'dark' : 'light' };
    this.roles = id % 11 === 0 ? ['admin', 'member'] : ['member'];
  }
}

// The database: one round trip for a batch of ids.
async function usersByIds(ids) {
  await new Promise((resolve) => setImmediate(resolve));
  return ids.map((id) => new UserRow(id));
}

// BUG: one loader for the process; its cache grows with every distinct id ever loaded.
const users = new DataLoader(usersByIds);

async function handle(i) {
  // A request for a comment thread: its author and the users who replied.
  const ids = [i * 3, i * 3 + 1, i * 3 + 2];
  const rows = await users.loadMany(ids);
  return rows.length;
}

async function step(i) {
  await sleep(1); // the request's own I/O
  return handle(i);
}

module.exports = { step };
