'use strict';
// The same work as sessions.test.js, with the teardown that closes the sessions.
const test = require('node:test');
const assert = require('node:assert');

const openSessions = new Map();

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
    openSessions.clear();
  });
}
