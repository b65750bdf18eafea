'use strict';
// Session store that expires each session with its own jittered timer, never cleared on
// logout (leaks).
//
// Each login arms `setTimeout(expire, ttl)` with a 30-minute TTL plus up to a minute of
// jitter (so expiries do not all fire at once), and the logout that follows a moment later
// deletes the session from the store but forgets `clearTimeout`.
//
// BUG: the timer's closure holds the Session until the TTL is up. Node groups timers by
// their duration in milliseconds: with jitter nearly every timer has a duration of its
// own, so each gets its own TimersList, kept in Node's `timerListMap` (a plain object keyed
// by the duration) and in its priority queue. Nothing in the application holds the
// sessions any more; Node's timer bookkeeping holds every one for half an hour.

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
  sessions.delete(session.id); // BUG: the expiry timer stays armed with the session
}

async function step(i) {
  await sleep(1); // the request's own I/O
  const session = login(i);
  logout(session);
  return sessions.size;
}

module.exports = { step };
