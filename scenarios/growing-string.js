'use strict';
// Audit trail kept as one ever-growing string (leaks).
//
// An admin API appends one line per request to an in-memory audit log, `audit.log += line`,
// so that a (rarely used) GET /admin/audit can return the whole log as text. The author
// meant to ship it to a log collector and truncate it "later".
//
// BUG: the log is never shipped, rotated or truncated. No object accumulates: the only
// thing that grows is the string held by the AuditTrail's `log` property, ~185 bytes per
// request. V8 does not copy the string on `+=`: each append makes a ConsString (a rope node,
// `(concatenated string)` in snapshots, 32 bytes) whose halves are the old log and the new
// line (a flat `(string)` of ~130 characters, as Array.prototype.join makes it), so the log
// is a deep left-leaning tree of small nodes, one per request, until something flattens it
// into one large sequential string (nothing here does). Counts of application objects stay
// flat; only string bytes and the count of string nodes grow.

const { setTimeout: sleep } = require('timers/promises');

const ACTIONS = ['user.invite', 'user.role.change', 'apikey.create', 'apikey.revoke', 'billing.plan.change', 'sso.config.update'];

class AuditTrail {
  constructor(service) {
    this.service = service;
    this.log = '';
    this.lines = 0;
    this.startedAt = new Date().toISOString();
  }

  append(line) {
    this.log += line; // BUG: never truncated or shipped
    this.lines++;
  }
}

const audit = new AuditTrail('admin-api');

// POST /admin/... : does the change, then writes the audit line.
async function handleAdminRequest(i) {
  const actor = `admin${i % 17}@corp.example.com`;
  const action = ACTIONS[i % ACTIONS.length];
  await sleep(1); // the change itself, against the database
  const at = new Date(1_720_000_000_000 + i * 1337).toISOString();
  // The formatter joins the fields, so each line is one flat string of ~130 characters.
  const line = [
    at,
    `actor=${actor}`,
    `action=${action}`,
    `target=org_${(i * 2654435761 >>> 0).toString(36)}`,
    `ip=10.8.${(i >> 8) & 255}.${i & 255}`,
    'result=ok',
    `req=${i}\n`,
  ].join(' ');
  audit.append(line);
  return audit.lines;
}

module.exports = { step: (i) => handleAdminRequest(i) };
