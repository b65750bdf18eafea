'use strict';
// Job runner that starts a worker thread per batch and never terminates it (leaks threads).
//
// A report service offloads CPU-heavy rendering to worker_threads. For every 100th request
// (one batch) the WorkerPool starts a new Worker whose code waits for jobs on its message
// port, and keeps it in `pool.workers` so that it can post jobs to it.
//
// BUG: the pool only ever grows. It never reuses an idle worker, never calls
// worker.terminate(), and a worker blocked on its message port never exits by itself (the
// parentPort listener keeps its event loop alive). Each Worker is a whole V8 isolate with
// its own heap, Node environment and OS thread: ~7 MB of RSS and one thread per batch,
// while the main thread's JS heap grows only by the Worker and MessagePort wrappers and
// their listeners (~20 KB per worker). So the growth shows in RSS and in the thread count, not in
// heapUsed; a snapshot of the main thread names `Worker` objects held by `workers`.

const { Worker } = require('worker_threads');
const { setTimeout: sleep } = require('timers/promises');

const BATCH = 100;

// The worker: wait for jobs forever.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
parentPort.on('message', (job) => {
  parentPort.postMessage({ id: job.id, worker: workerData.name, pages: job.rows * 2 });
});
`;

class WorkerPool {
  constructor() {
    this.workers = [];
    this.started = 0;
  }

  spawn() {
    const name = `render-${++this.started}`;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { name },
      // A small heap per worker, as such pools are usually configured; it bounds the
      // worker's JS heap, not the isolate and thread that come with it.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
    });
    worker.unref(); // the pool should not keep the process alive (it does not stop the leak)
    this.workers.push(worker); // BUG: never removed, never terminated
    return worker;
  }
}

const pool = new WorkerPool();

// POST /reports: a new batch gets a fresh worker, instead of reusing an idle one.
async function handleReport(i) {
  if (i % BATCH === 0) pool.spawn();
  await sleep(1); // query the rows of the report
}

module.exports = { step: (i) => handleReport(i) };
