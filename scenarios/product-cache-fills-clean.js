'use strict';
// Product-detail API with an unbounded but naturally bounded cache that takes a while to
// warm up (no leak).
//
// The shop has exactly 2,000 products. GET /api/products/:sku loads a ProductDetail (~1 KB:
// title, bullet points, attributes, price tiers) from the database on a miss and caches it in
// `details`, a Map with no eviction, which is fine here because the key space is the catalog
// itself. Most traffic comes from price-comparison crawlers that sweep the catalog in their
// own (scrambled) order, so every product is first requested within the first 2,000 requests
// and from then on every request is a hit.
//
// No leak: memory grows by ~1 KB per request for the first two thirds of a 3000-request run,
// then is flat for the last third. A run this short cannot see the plateau is final, so an
// honest verdict is "no leak" or "inconclusive", never "leak".

const { setTimeout: sleep } = require('timers/promises');

const CATALOG_SIZE = 2000;
const STRIDE = 7919; // coprime with CATALOG_SIZE: the crawl visits every SKU once per 2000 requests
const MATERIALS = ['cotton', 'wool', 'recycled polyester', 'leather', 'linen', 'bamboo', 'steel'];
const COLORS = ['black', 'white', 'navy', 'olive', 'sand', 'burgundy', 'grey', 'teal'];

class ProductDetail {
  constructor(n) {
    this.sku = `SKU-${String(100000 + n)}`;
    this.title = `${COLORS[n % COLORS.length]} ${MATERIALS[n % MATERIALS.length]} item no. ${n}`;
    this.bullets = [
      `Made from ${MATERIALS[(n * 3) % MATERIALS.length]} sourced from certified suppliers (lot ${n * 13}).`,
      `Machine washable at ${30 + (n % 3) * 10} degrees; do not tumble dry item ${n}.`,
      `Ships within ${1 + (n % 4)} business days from warehouse ${['FRA', 'AMS', 'WAW'][n % 3]}.`,
    ];
    this.attributes = { color: COLORS[n % COLORS.length], material: MATERIALS[n % MATERIALS.length], weightGrams: 150 + (n % 900), sizeChart: `sc-${n % 40}` };
    this.priceTiers = [{ minQty: 1, cents: 1999 + n }, { minQty: 10, cents: 1799 + n }, { minQty: 50, cents: 1599 + n }];
    this.loadedAt = Date.now();
  }
}

const details = new Map(); // bounded by the catalog (2,000 keys)
const stats = { hits: 0, misses: 0 };

async function loadDetail(n) {
  await sleep(1); // SELECT ... FROM products JOIN prices ... WHERE sku = $1
  return new ProductDetail(n);
}

// GET /api/products/:sku
async function handleProduct(i) {
  const n = (i * STRIDE) % CATALOG_SIZE;
  const sku = `SKU-${String(100000 + n)}`;
  let detail = details.get(sku);
  if (detail) {
    stats.hits++;
    await sleep(1); // stock level from the inventory service
  } else {
    stats.misses++;
    detail = await loadDetail(n);
    details.set(sku, detail);
  }
  return JSON.stringify({ sku: detail.sku, title: detail.title, price: detail.priceTiers[0].cents });
}

module.exports = { step: (i) => handleProduct(i) };
