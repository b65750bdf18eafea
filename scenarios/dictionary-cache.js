'use strict';
// Session cache in a plain object, keyed by a unique id, never evicted (leaks).
//
// A login endpoint creates a session per request and caches it in a module-level plain
// object (`sessions`, made with Object.create(null) so no prototype keys get in the way),
// keyed by the session id `sess-<counter>-<random>`. Lookups by id are fast and the code
// "works".
//
// BUG: nothing ever deletes a session: no TTL, no logout hook, no size cap. The ids never
// repeat, so every request adds one key to the object and one SessionRecord (user id, IP,
// user agent, a CSRF token, a fingerprint, a small roles array, ~0.9 KB with its strings)
// that stays reachable as long as the process lives. V8 keeps such an object in dictionary
// mode (a hash table of properties; Object.create(null) starts there, a `{}` gets there
// after ~20 keys added this way), so the growth sits in a plain object rather than in a Map
// or an Array, and each record is reached through an edge named after its own unique key:
// what a detector that only follows collections, or groups paths by edge names, misses.

const crypto = require('crypto');
const { setTimeout: sleep } = require('timers/promises');

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
];
const ROLES = [['viewer'], ['viewer', 'editor'], ['viewer', 'editor', 'billing'], ['admin']];

class SessionRecord {
  constructor(id, userId, ip, userAgent, i) {
    this.id = id;
    this.userId = userId;
    this.ip = ip;
    this.userAgent = `${userAgent} session/${i}`; // a per-request copy, as parsed from the headers
    this.csrfToken = crypto.randomBytes(48).toString('base64url');
    this.roles = ROLES[i % ROLES.length].map((r) => `${r}:${userId}`);
    this.createdAt = Date.now();
    this.lastSeenAt = this.createdAt;
    this.fingerprint = crypto.createHash('sha256').update(`${ip}|${this.userAgent}`).digest('hex');
    this.prefs = { locale: 'en-GB', timezone: 'Europe/Berlin', theme: i % 2 ? 'dark' : 'light' };
    this.flash = `Welcome back, user ${userId}! Your last login was from ${ip}.`;
  }
}

let counter = 0;
const sessions = Object.create(null); // BUG: grows forever, nothing ever deletes a key

// POST /login
async function login(i) {
  const userId = 1000 + ((i * 2654435761) >>> 0) % 50_000;
  const id = `sess-${++counter}-${crypto.randomBytes(6).toString('hex')}`;
  await sleep(1); // password check against the user store
  const record = new SessionRecord(id, userId, `10.20.${(i >> 8) & 255}.${i & 255}`, AGENTS[i % AGENTS.length], i);
  sessions[id] = record;
  return JSON.stringify({ session: id, csrf: record.csrfToken, roles: record.roles });
}

// GET /api/me with the cookie of a recent session: a hit.
function whoAmI(id) {
  const record = sessions[id];
  if (!record) return '{"error":"unauthorized"}';
  record.lastSeenAt = Date.now();
  return JSON.stringify({ userId: record.userId, roles: record.roles });
}

module.exports = {
  async step(i) {
    const body = JSON.parse(await login(i));
    whoAmI(body.session);
  },
};
