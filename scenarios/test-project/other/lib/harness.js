'use strict';
// describe/it/beforeEach/afterEach from the runner that loaded the file (Jest, Vitest with
// globals, Mocha define globals; `node --test` has them in node:test), looked up at each
// call, so that one file runs under all four.
const g = globalThis;
const runnerGlobals = typeof g.describe === 'function' && typeof g.it === 'function';
const nodeTest = runnerGlobals ? null : require('node:test');
const pick = (name) => (nodeTest ? nodeTest[name] : g[name]);
module.exports = {
  describe: (...args) => pick('describe')(...args),
  it: (...args) => pick('it')(...args),
  beforeEach: (...args) => pick('beforeEach')(...args),
  afterEach: (...args) => pick('afterEach')(...args),
};
