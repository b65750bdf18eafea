'use strict';
// Session tracker that keys a bounded map by a token cut out of each request's raw body
// (clean).
//
// The same requests as sliced-string-keys.js (a ~6 KiB JSON body decoded from a Buffer),
// but the tracker keeps only the last 500 sessions, and parses the body so the token is a
// string of its own rather than a slice of the body. Memory levels off at 500 entries
// after a few hundred requests; everything else is garbage.

const { setTimeout: sleep } = require('timers/promises');
const crypto = require('crypto');

const FILLER = 'x'.repeat(5800);
const LIMIT = 500;
const recent = new Map();

function requestBody(i) {
  const token = crypto.createHash('sha1').update(`session-${i}`).digest('hex');
  return Buffer.from(JSON.stringify({ token, user: `u${i % 997}`, event: 'page_view', blob: `${FILLER}${i}` }));
}

async function step(i) {
  await sleep(1); // the request's own I/O
  const { token } = JSON.parse(requestBody(i).toString('utf8'));
  recent.delete(token);
  recent.set(token, (recent.get(token) || 0) + 1);
  if (recent.size > LIMIT) recent.delete(recent.keys().next().value);
  return recent.size;
}

module.exports = { step };
