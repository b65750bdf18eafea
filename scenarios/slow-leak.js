'use strict';
// Price-feed gateway that forgets to unsubscribe disconnected clients (leaks, slowly).
//
// Each request is a short-lived client (a polling widget) that subscribes to a ticker topic
// on the process-wide SubscriptionRegistry, receives one price update, and goes away. Every
// request also does the usual work of such an endpoint: it builds ~20 KB of quote objects,
// sorts and serialises them, and drops all of it when the response is sent.
//
// BUG: the disconnect path never calls registry.unsubscribe(), so `registry.subscriptions`
// (an Array on a long-lived object) keeps one small Subscription per request: a token, the
// topic, a timestamp, ~160 bytes with its id string, the boxed timestamp and its share of
// the array's backing store. That is under 1% of what each request allocates and frees
// (~23 KB), so the signal is weak next to the churn: after a forced GC it shows as a slope
// of ~160 B per request, a few hundred KB after a few thousand requests, inside V8's own
// ±256 KB steps; without a forced GC the heap swings by far more than the leak. Mirrors
// slow production leaks that take days to reach an OOM.

const crypto = require('crypto');
const { setTimeout: sleep } = require('timers/promises');

const TOPICS = ['EURUSD', 'GBPUSD', 'USDJPY', 'BTCUSD', 'ETHUSD', 'XAUUSD', 'AAPL', 'MSFT'];

class Subscription {
  constructor(id, topic) {
    this.id = id;
    this.topic = topic;
    this.since = Date.now();
  }
}

class SubscriptionRegistry {
  constructor() {
    this.subscriptions = [];
    this.published = 0;
  }

  subscribe(topic) {
    // A resume token as the id (64 hex digits, one flat string). Not crypto.randomUUID():
    // Node builds a UUID by concatenating hex pairs: a rope of string nodes, ~480 bytes kept.
    const sub = new Subscription(crypto.randomBytes(32).toString('hex'), topic);
    this.subscriptions.push(sub);
    return sub;
  }

  unsubscribe(sub) {
    const at = this.subscriptions.indexOf(sub);
    if (at >= 0) this.subscriptions.splice(at, 1);
  }
}

const registry = new SubscriptionRegistry();

// Per-request garbage: ~20 KB of quotes, sorted and serialised, none of it kept.
function buildSnapshot(topic, i) {
  const quotes = [];
  for (let k = 0; k < 80; k++) {
    quotes.push({ topic, seq: i * 80 + k, bid: 1 + ((i + k) % 997) / 1000, ask: 1.001 + ((i + k) % 991) / 1000, venue: `v${k % 7}` });
  }
  quotes.sort((a, b) => b.bid - a.bid);
  return JSON.stringify(quotes.slice(0, 40));
}

// GET /prices/:topic (long-poll widget)
async function handlePoll(i) {
  const topic = TOPICS[i % TOPICS.length];
  const sub = registry.subscribe(topic);
  const body = buildSnapshot(topic, i);
  await sleep(1); // wait for the next tick from the upstream feed
  registry.published++;
  // BUG: the client disconnects after one update; registry.unsubscribe(sub) is never called.
  return body.length + sub.id.length;
}

module.exports = { step: (i) => handlePoll(i) };
