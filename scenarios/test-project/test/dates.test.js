'use strict';
const assert = require('node:assert');
const { describe, it } = require('../lib/harness');

describe('dates', () => {
  it('formats ISO dates', () => assert.strictEqual(new Date(Date.UTC(2026, 11, 6)).toISOString(), '2026-12-06T00:00:00.000Z'));
  it('adds days', () => {
    const d = new Date(Date.UTC(2026, 0, 31));
    d.setUTCDate(d.getUTCDate() + 1);
    assert.strictEqual(d.getUTCMonth(), 1);
  });
});
