'use strict';
const assert = require('node:assert');
const { describe, it } = require('../lib/harness');
const sum = require('../lib/sum');

describe('sum', () => {
  it('adds', () => assert.strictEqual(sum([1, 2, 3]), 6));
  it('is zero for nothing', () => assert.strictEqual(sum([]), 0));
  it('adds many', () => assert.strictEqual(sum(Array.from({ length: 100000 }, () => 1)), 100000));
});
