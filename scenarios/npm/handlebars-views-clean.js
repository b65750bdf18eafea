'use strict';
// Notification e-mails rendered with handlebars the way its docs say (no leak).
//
// Twelve views, two partials and three helpers, registered once at start-up; branding
// and the unsubscribe link are data. Each request renders one view. What grows at first
// is handlebars' and V8's own, and it is all bounded: `Handlebars.compile` is lazy, so a
// view's JavaScript is generated (`new Function`) on its first render, a partial on its
// first use, and the views are picked with a skewed mix, so the rarest ones are first
// rendered only after a few hundred requests (a real service's password-reset mail); then
// the JIT optimises the hot render paths. Memory rises in steps for the first ~1000
// requests, then stays flat.
//
// The leaking look-alike is handlebars-template-per-request.js.
// Needs `npm ci` in this folder (the versions are pinned in package-lock.json).

const Handlebars = require('handlebars');
const { setTimeout: sleep } = require('timers/promises');

const TENANTS = [
  { id: 'acme', brand: 'ACME Outdoor', colour: '#d2491e' },
  { id: 'north', brand: 'Northwind Traders', colour: '#1e6fd2' },
  { id: 'bloom', brand: 'Bloom & Co', colour: '#3a9a4b' },
];

const hbs = Handlebars.create();
hbs.registerHelper('money', (cents, currency) => `${(cents / 100).toFixed(2)} ${currency}`);
hbs.registerHelper('upper', (s) => String(s).toUpperCase());
hbs.registerHelper('plural', (n, one, many) => (n === 1 ? one : many));
hbs.registerPartial('header', '<div style="border-top:4px solid {{tenant.colour}}"><h1>{{tenant.brand}}</h1>');
hbs.registerPartial('footer', '<footer>{{tenant.brand}} &middot; <a href="https://mail.example.com/u/{{token}}">unsubscribe</a></footer></div>');

const KINDS = ['order-shipped', 'order-confirmed', 'invoice', 'refund', 'review-request', 'back-in-stock',
  'cart-reminder', 'welcome', 'password-reset', 'email-change', 'account-closed', 'data-export'];
const views = Object.fromEntries(KINDS.map((kind, k) => [kind, hbs.compile(
  `{{> header}}<h2>{{upper "${kind.replace('-', ' ')}"}}</h2><p>Hi {{customer.firstName}},</p>`
  + `{{#if order}}<p>Order {{order.number}}: {{order.lines.length}} {{plural order.lines.length "item" "items"}}</p><table>`
  + '{{#each order.lines}}<tr><td>{{qty}} &times; {{title}}</td><td>{{money cents ../currency}}</td></tr>{{/each}}</table>'
  + `<p>Total {{money order.totalCents currency}}</p>{{/if}}<p>${'template text '.repeat(1 + k)}</p>{{> footer}}`,
)]));

// Skewed like real traffic: view k is picked about twice as often as view k + 1, so the
// last views are first rendered only after some hundreds of requests.
function kindFor(i) {
  const r = ((i * 2654435761) >>> 0) / 2 ** 32;
  const k = Math.min(KINDS.length - 1, Math.floor(-Math.log2(1 - r)));
  return KINDS[k];
}

// POST /notifications/:kind
async function handle(i) {
  await sleep(1); // load the order and the customer
  const tenant = TENANTS[i % TENANTS.length];
  const kind = kindFor(i);
  const html = views[kind]({
    tenant,
    token: `${(i * 2654435761 >>> 0).toString(16)}${i.toString(36)}`,
    customer: { firstName: ['Ada', 'Grace', 'Linus', 'Barbara'][i % 4] },
    currency: 'EUR',
    order: kind.startsWith('order') || kind === 'invoice' || kind === 'refund' ? {
      number: `SO-${100000 + i}`,
      totalCents: 1999 + (i % 5000),
      lines: [{ qty: 1 + (i % 3), title: 'Trail shoes', cents: 8900 }, { qty: 2, title: 'Socks', cents: 950 }].slice(0, 1 + (i % 2)),
    } : null,
  });
  return html.length;
}

module.exports = { step: (i) => handle(i) };
