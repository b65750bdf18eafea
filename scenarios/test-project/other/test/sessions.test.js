'use strict';
// Leaks through a shared library module: beforeEach opens a session (lib/sessions.js) that
// registers a listener on `process` and is never closed; 4 x 3 x 50 sessions of ~100 KiB.
const assert = require('node:assert');
const { describe, it, beforeEach } = require('../lib/harness');
const { openSession, count } = require('../lib/sessions');

let n = 0;
describe('sessions', () => {
  for (const area of ['billing', 'search', 'profile', 'admin']) {
    describe(area, () => {
      let opened;
      beforeEach(() => {
        opened = [];
        for (let i = 0; i < 50; i++) opened.push(openSession(`${area}-${n++}`));
      });
      for (let t = 0; t < 3; t++) {
        it(`serves request ${t}`, async () => {
          await new Promise((r) => setTimeout(r, 50));
          assert.ok(opened.every((s) => !s.closed));
          assert.ok(count() >= opened.length);
        });
      }
    });
  }
});
