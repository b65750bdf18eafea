'use strict';
// Audit log written to a stream whose reader keeps up, waiting for 'drain' when told to
// (clean).
//
// The same audit lines as audit-stream-backpressure.js, written to a PassThrough read by a
// shipper that processes each line on a later turn. When `write()` returns false the step
// waits for 'drain', so the stream's buffers never hold more than their highWaterMark.

const { setTimeout: sleep } = require('timers/promises');
const { PassThrough } = require('stream');
const { once } = require('events');

const audit = new PassThrough();
let shipped = 0;
audit.on('data', (chunk) => {
  shipped += chunk.length > 0 ? 1 : 0;
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
  if (!audit.write(`${JSON.stringify(entry)}\n`)) await once(audit, 'drain');
  return shipped;
}

module.exports = { step };
