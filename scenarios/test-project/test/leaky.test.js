'use strict';
// Leaks: every test registers 20 000 audit entries (about 12 MB) in a module-level array
// that is never emptied (lib/registry.js); four tests keep about 50 MB of heap.
const assert = require('node:assert');
const { describe, it } = require('../lib/harness');
const registry = require('../lib/registry');

function audit(batch) {
  for (let i = 0; i < 20000; i++) {
    registry.register({
      batch,
      id: `${batch}-${i}`,
      at: Date.now(),
      payload: 'x'.repeat(1000) + i,
      tags: ['audit', 'leaky', String(i % 7)],
    });
  }
}

describe('audit registry', () => {
  for (let batch = 0; batch < 4; batch++) {
    it(`registers batch ${batch}`, async () => {
      audit(batch);
      assert.strictEqual(registry.size(), (batch + 1) * 20000);
      await new Promise((r) => setTimeout(r, 150));
    });
  }
});
