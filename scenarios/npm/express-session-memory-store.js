'use strict';
// An Express 5 service with express-session's default MemoryStore, hit by clients that
// never send the session cookie back (leaks).
//
// The service counts page views per visitor in `req.session`. Its traffic comes from
// clients that keep no cookies — health checks, monitors, bots, server-to-server calls —
// so every request starts a new session, and the default MemoryStore keeps each one as
// a JSON string in its `sessions` object, a plain object keyed by session id. Sessions have
// no maxAge, so nothing ever expires them. (express-session warns about exactly this at
// start-up: "MemoryStore is not designed for a production environment, as it will leak
// memory".) Real HTTP over loopback, one keep-alive connection, real Express routing.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).
// express-session-cookie-kept-clean.js is the same service whose client sends its cookie.

const http = require('http');
const express = require('express');
const session = require('express-session');

let server;
let agent;
let port;

function app() {
  const a = express();
  a.use(session({ secret: 'leaktrail-scenario', resave: false, saveUninitialized: false }));
  a.get('/products/:id', (req, res) => {
    req.session.views = (req.session.views || 0) + 1;
    req.session.lastProduct = req.params.id;
    req.session.seenAt = new Date().toISOString();
    res.json({ id: req.params.id, name: `Product ${req.params.id}`, price: 1999, views: req.session.views });
  });
  return a;
}

function get(path, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, cookie: res.headers['set-cookie'], body }));
    });
    req.on('error', reject);
  });
}

async function setup() {
  // express-session's MemoryStore warning goes to stderr once; the scenario is that warning.
  server = app().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = server.address().port;
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
}

async function step(i) {
  // BUG (the traffic's, and the store's): no cookie is sent, so each request is a new session.
  const res = await get(`/products/${(i * 7919) % 5000}`, { accept: 'application/json' });
  return res.status;
}

async function teardown() {
  agent.destroy();
  await new Promise((resolve) => server.close(resolve));
}

module.exports = { setup, step, teardown };
