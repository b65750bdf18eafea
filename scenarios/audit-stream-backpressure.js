'use strict';
// Audit log written to a stream whose reader has stalled, ignoring backpressure (leaks).
//
// Each request writes one JSON line to an audit stream (a PassThrough standing for a pipe
// to a log shipper). The shipper reads a few lines and then stops reading, as one does
// when its own destination is down. `write()` returns false once the stream's buffers pass
// their highWaterMark, and the caller should wait for 'drain'.
//
// BUG: the return value is ignored. Every later line is queued in the stream's writable
// state (`buffered`, one entry with the chunk and its callback per write) and stays there,
// because the stalled reader never drains it. Nothing in the application keeps the lines:
// only the stream does.

const { setTimeout: sleep } = require('timers/promises');
const { PassThrough } = require('stream');

const audit = new PassThrough();
let shipped = 0;
audit.on('data', () => {
  shipped += 1;
  if (shipped === 20) audit.pause(); // the shipper stalls
});

async function step(i) {
  await sleep(1); // the request's own I/O
  const entry = {
    at: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    actor: `user-${i % 311}`,
    action: ['login', 'export', 'update', 'delete'][i % 4],
    resource: `/accounts/${i}/settings`,
    requestId: `req-${i.toString(36)}-${(i * 2654435761 >>> 0).toString(16)}`,
    userAgent: `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.${i % 9000}.0 Safari/537.36`,
    changes: { before: { plan: 'team', seats: i % 40, notes: 'n'.repeat(200) }, after: { plan: 'business', seats: (i % 40) + 1, notes: 'm'.repeat(200) } },
  };
  audit.write(`${JSON.stringify(entry)}\n`); // BUG: false is ignored; nothing waits for 'drain'
  return shipped;
}

module.exports = { step };
