'use strict';
// A session store shared by the tests: every session opened is kept in a Map keyed by its
// id and subscribes a listener to a process-wide event bus (`process` itself), and nothing
// ever closes them. The listeners keep the sessions alive for as long as the process lives,
// whatever the runner does with its module registry: the leak of sessions.test.js.
const sessions = new Map();

function openSession(id) {
  const session = {
    id,
    opened: Date.now(),
    // About 100 KiB of state per session.
    history: Array.from({ length: 96 }, (_, i) => `${id}:${i}:` + 'h'.repeat(1000)),
  };
  sessions.set(id, session);
  process.on('other-suite:shutdown', () => {
    session.closed = true;
  });
  return session;
}

module.exports = { openSession, count: () => sessions.size };
