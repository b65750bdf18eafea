'use strict';
// A DataLoader built in each request's context, as DataLoader intends (clean).
//
// The same loads as dataloader-shared-across-requests.js, but every request builds its own
// loader, so its cache lives as long as the request: loads within a request are batched
// and deduplicated, and the cache is garbage when the response is sent.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

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

async function usersByIds(ids) {
  await new Promise((resolve) => setImmediate(resolve));
  return ids.map((id) => new UserRow(id));
}

async function handle(i) {
  const users = new DataLoader(usersByIds);
  const ids = [i * 3, i * 3 + 1, i * 3 + 2];
  const rows = await users.loadMany(ids);
  return rows.length;
}

async function step(i) {
  await sleep(1); // the request's own I/O
  return handle(i);
}

module.exports = { step };
