'use strict';
// Session tracker that keys sessions by a token cut out of each request's raw body (leaks).
//
// Every request arrives as a Buffer (here a ~6 KiB JSON body, as from a socket) and is
// decoded once with `toString()`. The handler cuts the session token out of the text with
// `slice` and counts requests per token in a Map. V8 makes a substring of 13 or
// more characters a *sliced string*: a 20-byte header that points into its parent, and
// the parent — the whole decoded body — stays alive as long as the slice does.
//
// (A plain object would not keep it: V8 copies a property name into its string table.)
//
// BUG: tokens are unique per session and the counter map is never pruned, so every
// 40-character key keeps its request's whole 6 KiB body. The keys look tiny in the code
// and in a shallow view of the heap; what they retain is the body they were cut from.

const { setTimeout: sleep } = require('timers/promises');
const crypto = require('crypto');

const FILLER = 'x'.repeat(5800);
const seenTokens = new Map();

function requestBody(i) {
  const token = crypto.createHash('sha1').update(`session-${i}`).digest('hex');
  return Buffer.from(JSON.stringify({ token, user: `u${i % 997}`, event: 'page_view', blob: `${FILLER}${i}` }));
}

async function step(i) {
  await sleep(1); // the request's own I/O
  const text = requestBody(i).toString('utf8');
  const at = text.indexOf('"token":"') + 9;
  const token = text.slice(at, at + 40); // BUG: a slice of the whole body
  seenTokens.set(token, (seenTokens.get(token) || 0) + 1);
  return seenTokens.size;
}

module.exports = { step };
