'use strict';
// A test file that leaks, for `leaktrail trace` (see docs/trace.md):
//
//   leaktrail trace --interval 200ms -- node --test examples/node-test/
//
// Every test opens sessions in a module-level registry and the teardown forgets to close
// them, so the file's process grows with each test; clean.test.js does the same work and
// cleans up.
const test = require('node:test');
const assert = require('node:assert');

const openSessions = new Map(); // BUG: sessions are added by every test, never removed

function openSession(id) {
  const session = { id, log: [] };
  openSessions.set(id, session);
  return session;
}

for (let t = 0; t < 40; t++) {
  test(`session round ${t}`, async () => {
    for (let i = 0; i < 20; i++) {
      const s = openSession(`${t}-${i}`);
      for (let k = 0; k < 200; k++) s.log.push({ k, at: Date.now(), note: `${s.id}/${k}` });
      assert.strictEqual(s.log.length, 200);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
}
