'use strict';
const assert = require('node:assert');
const { describe, it } = require('../lib/harness');

describe('strings', () => {
  it('pads', () => assert.strictEqual('7'.padStart(3, '0'), '007'));
  it('splits and joins', () => {
    const words = 'lorem ipsum dolor sit amet '.repeat(10000).trim().split(' ');
    assert.strictEqual(words.join(' ').length, 'lorem ipsum dolor sit amet '.repeat(10000).length - 1);
  });
});
