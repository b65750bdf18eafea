'use strict';
// The closure that keeps the previous value alive through a shared context (leaks).
//
// A config reloader replaces `current` with a fresh Config on every request (it is cheap
// to rebuild). The function that builds it creates two closures in the same scope: `log`,
// which the Config keeps as its `describe` method, and `unusedRollback`, which mentions
// `previous` and is never called. V8 gives closures of one scope one shared context, so
// `describe` keeps `previous` alive, whose `describe` keeps the one before it: a chain of
// every Config ever built (each with a ~2 KB rendered template), one link per request.
// The classic "replaceThing" leak (Meteor, 2013), still there in Node 20.

const { setTimeout: sleep } = require('timers/promises');

let current = null;

class Config {
  constructor(i, describe) {
    this.version = i;
    this.rendered = `<config version="${i}">` + 'k=v;'.repeat(500) + '</config>';
    this.describe = describe;
  }
}

function reload(i) {
  const previous = current;
  const unusedRollback = function () {
    if (previous) return previous.version;
    return -1;
  };
  void unusedRollback;
  current = new Config(i, function describe() {
    return `config v${i}`;
  });
}

module.exports = {
  step: async (i) => {
    reload(i);
    if (current.describe().length === 0) throw new Error('unreachable');
    await sleep(1); // the request itself
  },
};
