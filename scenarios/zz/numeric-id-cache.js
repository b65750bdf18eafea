'use strict';
// profile cache in a plain object keyed by numeric user ids, never evicted
const { setTimeout: sleep } = require('timers/promises');
const profileCache = {};
let nextUser = 100000;
async function handle(i) {
  await sleep(1);
  const id = nextUser++;
  profileCache[id] = { id, name: 'user' + id, email: `u${id}@example.com`, roles: ['r' + (i % 5)], seen: Date.now() };
}
module.exports = { step: handle };
