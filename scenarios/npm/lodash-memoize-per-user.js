'use strict';
// lodash `_.memoize` over a per-user lookup, keyed by an id that keeps changing (leaks).
//
// A feature-gate service answers "may this user do X?" from the user's entitlements: the
// plan's bundles flattened into a sorted feature list and its limits scaled by the seat
// count, all computed with lodash. Someone wrapped the computation in `_.memoize` "so we
// compute it once per user". `_.memoize` keeps every result for ever: its cache is a
// lodash MapCache (`memoized.cache`) that nothing clears, and it has no size bound (only
// lodash's internal memoizeCapped has one). String keys land in the MapCache's `string`
// Hash, whose `__data__` is an `Object.create(null)` dictionary keyed by the user id: a
// cache in a plain object, inside a library. Most requests come from a user seen for the
// first time (sign-ups, guest sessions, ids minted per login), so one Entitlements with its
// feature array and limits object stays per request.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).
// lodash-memoize-bounded-clean.js is the same memoize over a bounded key set.

const _ = require('lodash');
const { setTimeout: sleep } = require('timers/promises');

const BUNDLES = {
  core: ['projects.read', 'projects.write', 'comments', 'search'],
  reports: ['reports.view', 'reports.export', 'dashboards'],
  admin: ['users.invite', 'users.remove', 'audit.read', 'sso'],
  api: ['api.read', 'api.write', 'webhooks'],
};
const PLANS = [
  { name: 'free', bundles: ['core'], limits: { projects: 3, storageMb: 500, apiPerMin: 0 } },
  { name: 'team', bundles: ['core', 'reports'], limits: { projects: 50, storageMb: 20_000, apiPerMin: 60 } },
  { name: 'business', bundles: ['core', 'reports', 'api'], limits: { projects: 500, storageMb: 200_000, apiPerMin: 600 } },
  { name: 'enterprise', bundles: ['core', 'reports', 'api', 'admin'], limits: { projects: 5000, storageMb: 2_000_000, apiPerMin: 6000 } },
];

class Entitlements {
  constructor(userId, plan, seats) {
    this.userId = userId;
    this.plan = plan.name;
    this.features = _.sortBy(_.uniq(_.flatMap(plan.bundles, (b) => BUNDLES[b])));
    this.limits = _.mapValues(plan.limits, (v) => v * Math.max(1, Math.ceil(seats / 10)));
    this.computedAt = Date.now();
  }
}

// SELECT plan, seats FROM accounts JOIN users ... (the row, as the ORM returns it)
function computeEntitlements(userId) {
  const n = parseInt(userId.slice(-4), 36) || 0;
  return new Entitlements(userId, PLANS[n % PLANS.length], 1 + (n % 40));
}

// BUG: memoized by user id, never cleared, no bound (see the header).
const entitlementsFor = _.memoize(computeEntitlements);

const ACTIONS = ['reports.export', 'api.write', 'sso', 'comments', 'projects.write'];

// GET /gate?action=...
async function handle(i) {
  // A fifth of the requests come from 50 regular users, the rest from ids seen once.
  const userId = i % 5 === 0 ? `usr_hot_${(i % 50).toString(36).padStart(4, '0')}` : `usr_${((i * 2654435761) >>> 0).toString(36)}_${i.toString(36).padStart(4, '0')}`;
  const ent = entitlementsFor(userId);
  const action = ACTIONS[i % ACTIONS.length];
  const allowed = _.sortedIndexOf(ent.features, action) !== -1;
  await sleep(1); // write the audit line
  return allowed ? 200 : 403;
}

module.exports = { step: (i) => handle(i) };
