'use strict';
// Session store that expires each session with its own jittered timer and clears it on
// logout (clean).
//
// The same logins as session-expiry-timers.js, but logout calls `clearTimeout`, which
// takes the timer (and with it the session) out of Node's timer lists at once. Timers of
// the few sessions still open are the only ones armed.

const { setTimeout: sleep } = require('timers/promises');
const crypto = require('crypto');

const TTL_MS = 30 * 60 * 1000;
const sessions = new Map();

class Session {
  constructor(i) {
    this.id = crypto.randomBytes(12).toString('hex');
    this.user = `user-${i % 5000}`;
    this.roles = ['reader', i % 7 === 0 ? 'admin' : 'member'];
    this.csrf = crypto.randomBytes(16).toString('base64url');
    this.createdAt = Date.now();
  }
}

function login(i) {
  const session = new Session(i);
  sessions.set(session.id, session);
  const jitter = Math.floor(Math.random() * 60_000);
  session.timer = setTimeout(function expire() {
    sessions.delete(session.id);
  }, TTL_MS + jitter);
  return session;
}

function logout(session) {
  clearTimeout(session.timer);
  sessions.delete(session.id);
}

async function step(i) {
  await sleep(1); // the request's own I/O
  const session = login(i);
  logout(session);
  return sessions.size;
}

module.exports = { step };
