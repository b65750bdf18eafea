'use strict';
// What V8 takes to build a heap snapshot of a process, as a multiple of its heap: fills a
// heap with KIND objects, writes a snapshot with v8.writeHeapSnapshot, and prints the
// peak resident memory during it (VmHWM) less the resident memory before, and what stays
// resident afterwards. watch's snapshot guard (SNAPSHOT_NEED_FACTOR in
// crates/watch/src/incarnation/snapshot.rs) is set from these figures.
//
//   node tools/bench/snapshot-memory.js small 400000   # { i, s } objects
//   node tools/bench/snapshot-memory.js mixed 200000   # objects with strings, an array, a nested object
//   node tools/bench/snapshot-memory.js bigstr 50000   # 1,000-character strings
//   node tools/bench/snapshot-memory.js numarr 5000    # Float64Arrays (their data outside the heap)
//
// The snapshot is written to a private temporary directory and deleted.
const fs = require('fs');
const os = require('os');
const path = require('path');

const [kind = 'small', count = '400000'] = process.argv.slice(2);
const n = Number(count);
const kinds = {
  small: (i) => ({ i, s: 'order-' + i }),
  mixed: (i) => ({ id: i, name: `user-${i}`, tags: ['a', 'b', String(i % 7)], meta: { created: Date.now(), n: i } }),
  bigstr: (i) => ({ i, s: 'x'.repeat(1000) + i }),
  numarr: (i) => new Float64Array(1000).fill(i),
};
if (!kinds[kind] || !(n > 0)) {
  console.error(`usage: snapshot-memory.js ${Object.keys(kinds).join('|')} COUNT`);
  process.exit(2);
}
globalThis.keep = [];
for (let i = 0; i < n; i++) keep.push(kinds[kind](i));

const mib = (k) => {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return Number(status.match(new RegExp(`${k}:\\s+(\\d+)`))[1]) / 1024;
};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaktrail-snapshot-memory-'));
const file = path.join(dir, 'x.heapsnapshot');
const heap = process.memoryUsage().heapUsed / 2 ** 20;
const before = mib('VmRSS');
require('v8').writeHeapSnapshot(file);
const after = mib('VmRSS');
const peak = mib('VmHWM') - before;
const size = fs.statSync(file).size / 2 ** 20;
fs.rmSync(dir, { recursive: true, force: true });
console.log(
  `${kind} × ${n}: heap ${heap.toFixed(1)} MiB, snapshot ${size.toFixed(0)} MiB; ` +
    `building it took ${peak.toFixed(0)} MiB more (${(peak / heap).toFixed(1)} × the heap, ` +
    `${(peak / size).toFixed(1)} × the file); ${(after - before).toFixed(0)} MiB stayed resident`,
);
