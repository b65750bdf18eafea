'use strict';
// Slow and clean: three tests of 0.9 s each that allocate garbage and keep nothing.
const assert = require('node:assert');
const { describe, it } = require('../lib/harness');

describe('report generator', () => {
  for (let i = 0; i < 3; i++) {
    it(`renders report ${i}`, async () => {
      let rows = 0;
      for (let k = 0; k < 9; k++) {
        const page = Array.from({ length: 5000 }, (_, j) => ({ j, line: `row ${j} of page ${k}` }));
        rows += page.length;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.strictEqual(rows, 45000);
    });
  }
});
