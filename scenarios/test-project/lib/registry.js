'use strict';
// An audit registry that keeps every entry it is given, for ever: the leak of leaky.test.js.
// Its flush timer, never cleared, holds the array for as long as the process lives, so that
// the entries outlive the test file in every runner, Jest's per-file module registry
// included (the real-world way a module leaks across the files of a Jest worker).
const entries = [];
const flush = setInterval(() => {
  if (process.env.AUDIT_REPORT) console.log(`audit entries: ${entries.length}`);
}, 60000);
flush.unref();
module.exports = {
  register(entry) {
    entries.push(entry);
    return entries.length;
  },
  size: () => entries.length,
};
