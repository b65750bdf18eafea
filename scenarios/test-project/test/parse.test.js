'use strict';
const assert = require('node:assert');
const { describe, it } = require('../lib/harness');

describe('JSON round trips', () => {
  it('keeps a large document', async () => {
    const doc = { items: Array.from({ length: 20000 }, (_, i) => ({ i, name: `item ${i}` })) };
    const back = JSON.parse(JSON.stringify(doc));
    assert.strictEqual(back.items.length, 20000);
    await new Promise((r) => setTimeout(r, 200));
  });
});
