// ESM; leaks through an ES module cache (lib/cache.mjs) keyed by ids that is never evicted:
// 3 x 1000 pages of ~10 KB.
import assert from 'node:assert';
import harness from '../lib/harness.js';
import { render, size } from '../lib/cache.mjs';

const { describe, it } = harness;

describe('page cache', () => {
  describe('render', () => {
    for (let t = 0; t < 3; t++) {
      it(`renders batch ${t}`, async () => {
        for (let i = 0; i < 1000; i++) render(`page-${t}-${i}`);
        await new Promise((r) => setTimeout(r, 50));
        assert.ok(size() >= 500);
      });
    }
  });
});
