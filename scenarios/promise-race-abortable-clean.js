'use strict';
// Job worker that lets every job stop at shutdown through an AbortSignal (no leak).
//
// The same worker as promise-race-shutdown.js, stopping promptly on SIGTERM, but each job
// is raced against an abort of its own: `events.once(signal, 'abort')` with the per-job
// `signal` option, whose listener on the process-wide AbortSignal is removed when the job
// ends (the race's loser is aborted). The shutdown signal holds only the jobs in flight
// (one here, as the runner awaits each step); the heap is flat once the JIT has warmed up.

const { once } = require('events');
const { setTimeout: sleep } = require('timers/promises');

class Job {
  constructor(i) {
    this.id = `job-${((i * 2654435761) >>> 0).toString(16)}-${i}`;
    this.queue = ['emails', 'thumbnails', 'invoices'][i % 3];
    this.attempts = 0;
    this.payload = { tenant: `t-${i % 50}`, items: [i, i + 1, i + 2] };
  }
}

const shutdown = new AbortController();
process.once('SIGTERM', () => shutdown.abort());

async function run(job) {
  job.attempts += 1;
  await sleep(1); // the job's own work
  return job.payload.items.length;
}

async function step(i) {
  const job = new Job(i);
  const done = new AbortController();
  try {
    return await Promise.race([
      run(job),
      once(shutdown.signal, 'abort', { signal: done.signal }).then(() => {
        throw new Error(`shutting down: ${job.id} abandoned`);
      }),
    ]);
  } finally {
    // Removes this job's listener from the shutdown signal (its `once` rejects, unheard).
    done.abort();
  }
}

module.exports = { step };
