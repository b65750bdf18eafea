'use strict';
// BFF that creates a keep-alive http.Agent per request and never destroys it (leaks).
//
// Each request to the backend-for-frontend fetches the user's feature flags from the flags
// service (a local HTTP server here, started in setup(), keepAliveTimeout 60 s). The client
// helper was "optimised" to use keep-alive, but builds `new http.Agent({ keepAlive: true })`
// inside the per-request function. After the response is consumed the socket goes back to
// that agent's `freeSockets` pool, where nothing will ever reuse it, and the server holds its
// end open for 60 s.
//
// BUG: the agent is never destroyed (agent.destroy()) and never shared, so every request
// leaves one idle client socket (a net.Socket with its TCP handle, parser-free but with
// its timers, listeners and the Agent with its pools) plus the server's own socket and
// HTTP parser state, for the whole run: JS heap and native memory/file descriptors grow
// with each request.

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

function fetchFlags(userId) {
  // BUG: a fresh keep-alive agent per call; its idle socket is parked in agent.freeSockets.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
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
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  },
};
