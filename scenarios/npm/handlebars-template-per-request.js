'use strict';
// Notification e-mails rendered with handlebars, each template compiled per request and
// cached under a key that varies (leaks).
//
// The service renders an order-shipped e-mail per request. A change for white-label
// tenants put the tenant's branding into the template *source* (a string concatenation
// of the header, the body and a footer carrying the recipient's unsubscribe link) instead
// of passing it as data, and the compiled template is memoised by its source so that
// "each template is compiled only once": `templateCache[source] ||= new CachedTemplate(
// Handlebars.compile(source))`. The unsubscribe token is unique per recipient, so every
// request's source is new: nothing is ever read back, and every entry stays, with its
// source string (~700 B), handlebars' parsed AST and environment, and the JavaScript
// handlebars generates with `new Function` on the first render (a Script, a
// SharedFunctionInfo and bytecode per template). Heap and compiled code both grow; the
// CachedTemplate (ours, with a hit counter for the cache's metrics) is what holds them.
//
// The look-alike handlebars-views-clean.js compiles a fixed set of views once.
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

const Handlebars = require('handlebars');
const { setTimeout: sleep } = require('timers/promises');

const TENANTS = [
  { id: 'acme', brand: 'ACME Outdoor', colour: '#d2491e' },
  { id: 'north', brand: 'Northwind Traders', colour: '#1e6fd2' },
  { id: 'bloom', brand: 'Bloom & Co', colour: '#3a9a4b' },
];

const BODY = `
<h2>Your order {{order.number}} is on its way</h2>
<p>Hi {{customer.firstName}}, {{#if order.express}}your express parcel{{else}}your parcel{{/if}}
left our warehouse on {{order.shippedOn}} with {{carrier}}.</p>
<table>
{{#each order.lines}}<tr><td>{{qty}} &times; {{title}}</td><td>{{price}}</td></tr>
{{/each}}</table>
<p>Total: <b>{{order.total}}</b></p>`;

class CachedTemplate {
  constructor(source, render) {
    this.source = source;
    this.render = render;
    this.compiledAt = Date.now();
    this.hits = 0;
  }
}

// BUG: keyed by the whole source, which carries a per-recipient token (see the header).
const templateCache = Object.create(null);

function templateFor(tenant, unsubscribeToken) {
  const source = `<div style="border-top:4px solid ${tenant.colour}"><h1>${tenant.brand}</h1>${BODY}`
    + `<footer>${tenant.brand} &middot; <a href="https://mail.example.com/u/${unsubscribeToken}">unsubscribe</a></footer></div>`;
  let entry = templateCache[source];
  if (!entry) {
    entry = new CachedTemplate(source, Handlebars.compile(source));
    templateCache[source] = entry;
  }
  entry.hits += 1;
  return entry.render;
}

// POST /notifications/order-shipped
async function handle(i) {
  await sleep(1); // load the order
  const tenant = TENANTS[i % TENANTS.length];
  const unsubscribeToken = `${(i * 2654435761 >>> 0).toString(16)}${i.toString(36)}`;
  const render = templateFor(tenant, unsubscribeToken);
  const html = render({
    customer: { firstName: ['Ada', 'Grace', 'Linus', 'Barbara'][i % 4] },
    carrier: i % 2 ? 'DHL' : 'UPS',
    order: {
      number: `SO-${100000 + i}`,
      express: i % 3 === 0,
      shippedOn: '2026-12-07',
      total: `${(19.99 + (i % 50)).toFixed(2)} EUR`,
      lines: [{ qty: 1 + (i % 3), title: 'Trail shoes', price: '89.00' }, { qty: 2, title: 'Socks', price: '9.50' }],
    },
  });
  return html.length;
}

module.exports = { step: (i) => handle(i) };
