'use strict';
// Twin of intl-formatter-per-user.js (no leak): the same invoices for a growing customer
// base, with the Intl formatters cached by what makes them differ — locale, time zone and
// currency — so the cache holds at most 8 × 5 × 6 pairs however many customers come.

const LOCALES = ['en-US', 'de-DE', 'fr-FR', 'ja-JP', 'pt-BR', 'en-GB', 'es-MX', 'nl-NL'];
const ZONES = ['America/New_York', 'Europe/Berlin', 'Europe/Paris', 'Asia/Tokyo', 'America/Sao_Paulo'];
const CURRENCIES = ['USD', 'EUR', 'JPY', 'BRL', 'GBP', 'MXN'];

const formatters = new Map(); // bounded: one entry per locale, zone and currency

function formattersFor(customer) {
  const key = `${customer.locale}|${customer.zone}|${customer.currency}`;
  let f = formatters.get(key);
  if (!f) {
    f = {
      date: new Intl.DateTimeFormat(customer.locale, { dateStyle: 'long', timeStyle: 'short', timeZone: customer.zone }),
      money: new Intl.NumberFormat(customer.locale, { style: 'currency', currency: customer.currency }),
    };
    formatters.set(key, f);
  }
  return f;
}

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
