'use strict';
// BFF that shares one keep-alive http.Agent for all calls to the flags service (no leak).
//
// Same service as keepalive-agent-per-request.js: each request to the backend-for-frontend
// fetches the user's feature flags from the flags service (a local HTTP server here,
// started in setup(), keepAliveTimeout 60 s). Here the client uses one module-level
// `new http.Agent({ keepAlive: true, maxSockets: 4 })`: after the response is consumed the
// socket goes back to the agent's `freeSockets` pool and the next request takes it again.
// Requests are sequential, so one socket (two with the server's end) is open for the whole
// run; nothing grows per request.

const http = require('http');

const FLAGS = {
  'checkout.new-address-form': true,
  'search.semantic-ranking': false,
  'pdp.video-gallery': true,
  'cart.save-for-later': true,
  'account.passkeys': false,
};

let server;
let port;
let served = 0;

function startFlagsService() {
  server = http.createServer((req, res) => {
    const user = new URL(req.url, 'http://flags.local').searchParams.get('user');
    const body = JSON.stringify({ user, flags: FLAGS, rev: 4711 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 61_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    port = server.address().port;
    resolve();
  }));
}

// One agent for the process: idle sockets are reused by the next call.
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function fetchFlags(userId) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/v1/flags?user=${userId}`, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

// GET /bff/home
async function handleHome(i) {
  const userId = `u${(i * 2654435761) >>> 0}`;
  const { flags } = await fetchFlags(userId);
  served++;
  return JSON.stringify({ userId, widgets: Object.keys(flags).filter((k) => flags[k]) });
}

module.exports = {
  setup: startFlagsService,
  step: (i) => handleHome(i),
  async teardown() {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  },
};
