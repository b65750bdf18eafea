'use strict';
// An invoice service formats each customer's dates and amounts in the customer's own
// locale and time zone, and caches the Intl formatters it builds (leaks, mostly in native
// memory).
//
// Building an Intl.DateTimeFormat or NumberFormat costs ~50 µs (ICU loads its patterns), so
// the service caches them. BUG: the cache key is the customer id, not the locale and the
// options, so it keeps two formatters per customer ever seen. Each JS formatter object is
// small (~100 bytes in the V8 heap); the ICU formatter behind it is ~10-30 KB of native
// memory the heap does not count: RSS grows tens of times as fast as the heap.
//
// intl-formatters-by-locale-clean.js keys the same cache by locale, zone and currency.

const LOCALES = ['en-US', 'de-DE', 'fr-FR', 'ja-JP', 'pt-BR', 'en-GB', 'es-MX', 'nl-NL'];
const ZONES = ['America/New_York', 'Europe/Berlin', 'Europe/Paris', 'Asia/Tokyo', 'America/Sao_Paulo'];
const CURRENCIES = ['USD', 'EUR', 'JPY', 'BRL', 'GBP', 'MXN'];

const formatters = new Map(); // BUG: keyed by customer, never evicted

function formattersFor(customer) {
  let f = formatters.get(customer.id);
  if (!f) {
    f = {
      date: new Intl.DateTimeFormat(customer.locale, { dateStyle: 'long', timeStyle: 'short', timeZone: customer.zone }),
      money: new Intl.NumberFormat(customer.locale, { style: 'currency', currency: customer.currency }),
    };
    formatters.set(customer.id, f);
  }
  return f;
}

// POST /invoices/:n/render: a new customer's invoice each time (a growing customer base).
function step(i) {
  const customer = {
    id: `cus_${i}`,
    locale: LOCALES[i % LOCALES.length],
    zone: ZONES[i % ZONES.length],
    currency: CURRENCIES[i % CURRENCIES.length],
  };
  const f = formattersFor(customer);
  const lines = [];
  for (let k = 0; k < 5; k++) {
    lines.push(`${f.date.format(new Date(1700000000000 + i * 86400000 + k))}  ${f.money.format(i * 3.17 + k)}`);
  }
  return lines.join('\n').length;
}

module.exports = { step };
