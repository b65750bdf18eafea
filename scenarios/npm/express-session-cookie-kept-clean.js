'use strict';
// An Express 5 service with express-session's default MemoryStore, hit by a client that
// sends its session cookie back (clean).
//
// The same service as express-session-memory-store.js; the client keeps the cookie of its
// first response and sends it with every request, as a browser does, so the store holds
// one session that is read and rewritten on each request. The heap is flat once Express,
// the session middleware and the JIT have warmed up.
//
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

const http = require('http');
const express = require('express');
const session = require('express-session');

let server;
let agent;
let port;
let cookie;

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
  server = app().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = server.address().port;
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
}

async function step(i) {
  const headers = { accept: 'application/json' };
  if (cookie) headers.cookie = cookie;
  const res = await get(`/products/${(i * 7919) % 5000}`, headers);
  if (!cookie && res.cookie) cookie = res.cookie[0].split(';')[0];
  return res.status;
}

async function teardown() {
  agent.destroy();
  await new Promise((resolve) => server.close(resolve));
}

module.exports = { setup, step, teardown };
