// ESM, clean: nested describe/it with async tests that keep nothing.
import assert from 'node:assert';
import harness from '../lib/harness.js';

const { describe, it } = harness;

describe('outer', () => {
  describe('middle', () => {
    describe('inner', () => {
      for (let t = 0; t < 5; t++) {
        it(`waits ${t}`, async () => {
          const xs = await Promise.all(Array.from({ length: 100 }, (_, i) => Promise.resolve(i)));
          assert.strictEqual(xs.length, 100);
          await new Promise((r) => setTimeout(r, 20));
        });
      }
    });
  });
});
