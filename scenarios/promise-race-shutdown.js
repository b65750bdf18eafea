'use strict';
// Job worker that races every job against a process-wide shutdown promise (leaks).
//
// To stop promptly on SIGTERM, each job is raced against a promise that settles at
// shutdown: `Promise.race([run(job), shutdown.then(abort)])`. The shutdown promise never
// settles while the service runs, and `shutdown.then(...)` registers a reaction on it for
// every job: V8 keeps the reaction (a PromiseReaction with the derived Promise and the
// `abort` closure, whose context holds the Job) in the shutdown promise's reaction list
// until it settles. The job finishes in a millisecond and the race resolves, but nothing
// can unregister a `then`, so every job ever run stays reachable from `shutdown`.
// nodejs/node#17469 and many user reports are this shape.

const { setTimeout: sleep } = require('timers/promises');

class Job {
  constructor(i) {
    this.id = `job-${((i * 2654435761) >>> 0).toString(16)}-${i}`;
    this.queue = ['emails', 'thumbnails', 'invoices'][i % 3];
    this.attempts = 0;
    this.payload = { tenant: `t-${i % 50}`, items: [i, i + 1, i + 2] };
  }
}

let stop;
const shutdown = new Promise((resolve) => {
  stop = resolve;
});
process.once('SIGTERM', () => stop());

async function run(job) {
  job.attempts += 1;
  await sleep(1); // the job's own work
  return job.payload.items.length;
}

async function step(i) {
  const job = new Job(i);
  // BUG: each race adds a reaction to `shutdown`, which never settles while the service runs.
  return Promise.race([
    run(job),
    shutdown.then(function abort() {
      throw new Error(`shutting down: ${job.id} abandoned`);
    }),
  ]);
}

module.exports = { step };
