'use strict';
// A small order service with a leak, for trying leaktrail:
//
//   node examples/leaky-service.js OUT_DIR
//
// Each request creates an Order and an onStatus listener on a shared EventEmitter. Orders
// are cached in `orderCache` for lookups, and nothing ever evicts them; the listener is
// never removed either. Writes OUT_DIR/before.heapsnapshot after 500 requests,
// OUT_DIR/middle.heapsnapshot after 1500 and OUT_DIR/after.heapsnapshot after 2500, then
// exits: two for `leaktrail diff`, three for `leaktrail leaks`.

const { EventEmitter } = require('events');
const fs = require('fs');
const path = require('path');
const v8 = require('v8');

class Order {
  constructor(id, customer, items) {
    this.id = id;
    this.customer = customer;
    this.items = items;
    this.createdAt = Date.now();
    this.status = 'new';
  }
}

const statusBus = new EventEmitter();
statusBus.setMaxListeners(0);
const orderCache = new Map();

function handleRequest(i) {
  const items = Array.from({ length: 3 }, (_, k) => ({ sku: `SKU-${(i * 7 + k) % 997}`, qty: 1 + (k % 3) }));
  const order = new Order(`ord-${i}`, `customer-${i % 50}`, items);
  orderCache.set(order.id, order); // BUG: never evicted
  statusBus.on('status', function onStatus(update) {
    if (update.id === order.id) order.status = update.status;
  }); // BUG: never removed
  statusBus.emit('status', { id: order.id, status: 'paid' });
}

const out = process.argv[2] || 'examples/out';
fs.mkdirSync(out, { recursive: true, mode: 0o700 });
for (let i = 0; i < 2500; i++) {
  handleRequest(i);
  if (i + 1 === 500) v8.writeHeapSnapshot(path.join(out, 'before.heapsnapshot'));
  if (i + 1 === 1500) v8.writeHeapSnapshot(path.join(out, 'middle.heapsnapshot'));
}
v8.writeHeapSnapshot(path.join(out, 'after.heapsnapshot'));
const names = ['before', 'middle', 'after'].map((n) => path.join(out, `${n}.heapsnapshot`));
console.log(`wrote ${names.join(', ')}`);
