'use strict';
// Clean look-alike: allocates about 400 MB of short-lived garbage and keeps none of it.
const assert = require('node:assert');
const { describe, it } = require('../lib/harness');

function churn(rounds) {
  let total = 0;
  for (let r = 0; r < rounds; r++) {
    const rows = [];
    for (let i = 0; i < 20000; i++) rows.push({ i, text: 'g'.repeat(200) + i });
    total += rows.length;
  }
  return total;
}

describe('garbage', () => {
  // OTHER_SUITE_FAIL=1: one failing test, to compare the runner's exit status alone and
  // under trace.
  if (process.env.OTHER_SUITE_FAIL) it('fails on request', () => assert.fail('OTHER_SUITE_FAIL'));
  describe('churn', () => {
    for (let t = 0; t < 4; t++) {
      it(`round ${t}`, async () => {
        assert.strictEqual(churn(20), 400000);
        await new Promise((r) => setImmediate(r));
      });
    }
  });
});
