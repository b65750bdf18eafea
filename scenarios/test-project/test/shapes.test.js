'use strict';
const assert = require('node:assert');
const { describe, it } = require('../lib/harness');

class Circle {
  constructor(r) { this.r = r; }
  area() { return Math.PI * this.r * this.r; }
}

describe('shapes', () => {
  it('computes areas', () => {
    const total = Array.from({ length: 50000 }, (_, i) => new Circle(i % 3)).reduce((a, c) => a + c.area(), 0);
    assert.ok(total > 0);
  });
});
