'use strict';
// describe/it from the runner that loaded the file, looked up at each call: Jest, Vitest
// (globals: true) and Mocha define them as globals (Mocha anew for every file, so they are
// not kept); `node --test` has them in node:test.
const g = globalThis;
const runnerGlobals = typeof g.describe === 'function' && typeof g.it === 'function';
const nodeTest = runnerGlobals ? null : require('node:test');
module.exports = {
  describe: (...args) => (nodeTest ? nodeTest.describe : g.describe)(...args),
  it: (...args) => (nodeTest ? nodeTest.it : g.it)(...args),
};
