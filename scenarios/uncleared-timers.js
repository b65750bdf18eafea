'use strict';
// Webhook sender whose per-delivery retry timer is never cleared (leaks).
//
// Each delivery is sent to the customer's endpoint. In case the acknowledgement never comes,
// the sender arms a give-up-and-retry timer first: setTimeout(retryLater, 1 hour), whose
// closure holds the delivery's PendingRetry (target URL, headers, the signed payload).
//
// BUG: the success path forgets clearTimeout(). The acknowledgement arrives within a
// millisecond, but the timer stays armed for an hour, and with it the closure and its
// PendingRetry. Nothing in the application keeps the timers: they are held only by Node's
// timer machinery, one Timeout per delivery in the linked list of the 1-hour TimersList
// (`_idleNext`/`_idlePrev`), each with `_onTimeout` -> retryLater -> its context ->
// PendingRetry. Every delivery adds ~800 bytes (Timeout, closure, context, PendingRetry
// and its strings) that only the timer holds.
// When an hour is up a timer fires and frees its delivery, but the stale retry re-sends it
// (a duplicate webhook) and arms another uncleared timer, so the number of live timers
// grows hour after hour instead of levelling off at one hour of traffic.

const crypto = require('crypto');
const { setTimeout: sleep } = require('timers/promises');

const RETRY_AFTER_MS = 60 * 60 * 1000;
const EVENTS = ['invoice.paid', 'invoice.finalized', 'customer.updated', 'subscription.renewed'];

class PendingRetry {
  constructor(id, url, event, body) {
    this.id = id;
    this.url = url;
    this.event = event;
    this.body = body;
    this.signature = crypto.createHmac('sha256', 'whsec_test').update(body).digest('hex');
    this.headers = { 'content-type': 'application/json', 'x-webhook-id': id, 'x-webhook-event': event };
    this.attempt = 1;
    this.firstTriedAt = Date.now();
  }
}

let retriesFired = 0;

async function post(retry) {
  await sleep(1); // POST retry.url; the endpoint answers 200
  return 200;
}

// Delivers one webhook event.
async function deliver(i) {
  const id = `wh_${(0x5a0000 + i).toString(16)}`;
  const event = EVENTS[i % EVENTS.length];
  const body = JSON.stringify({
    id,
    type: event,
    created: 1_720_000_000 + i,
    data: { object: { id: `in_${(i * 2654435761 >>> 0).toString(36)}`, amount_paid: (i % 90) * 100 + 900, currency: 'eur' } },
  });
  const retry = new PendingRetry(id, `https://hooks.customer-${i % 40}.example.com/billing`, event, body);
  setTimeout(function retryLater() {
    retriesFired++;
    retry.attempt++;
    deliver(i); // give up on the ack and send again
  }, RETRY_AFTER_MS);
  // BUG: the handle is dropped; nothing calls clearTimeout() once the endpoint acknowledges.
  const status = await post(retry);
  return status;
}

module.exports = { step: (i) => deliver(i) };
