'use strict';
// leaktrail trace: ties each test file to the process and thread that ran it.
//
// Loaded into every Node process of a traced command through NODE_OPTIONS (--require),
// it does nothing unless the process is a test runner's worker it knows, and never throws
// into it. At the start and end of each test file it appends one JSON line to the file
// named by LEAKTRAIL_TRACE_EVENTS: runner, event (start/end), file, pid, parent pid, thread
// id, time (ms since the Unix epoch), heap used and RSS, measured after a full garbage
// collection so that heap growth is what the file kept, and the command line (so that a
// worker that lived between two of trace's samples of /proc is still known).
//
// - Jest: the worker's per-file entry (jest-runner's testWorker `worker`), and in band the
//   runner's test-file-start/success/failure events.
// - Vitest (forks and threads pools): the worker's `run` request and its
//   `testfileFinished` answer; in a request of several files, each file's `onQueued`.
// - Mocha --parallel: the worker's `run(file)` (workerpool); serially, the main process's
//   Runner, by the file of each suite, hook and test it begins.
// - node --test: each file runs in a process of its own (NODE_TEST_CONTEXT set): its start
//   is this preload's load, its end the process's exit; a file process that lived between
//   two of trace's samples is still reported.
//
// It also says, once, what the process is as soon as it knows, so that trace (which reads
// the file while the command runs) snapshots only the processes that run tests: a 'role'
// line, role 'worker' (it runs test files: a runner's worker, or Jest in band) or
// 'coordinator' (a runner's main process, which only schedules: Jest's parent, Vitest's
// main process, Mocha's --parallel main process).
//
// A worker thread (Vitest's threads pool) is a V8 isolate of its own, with its own heap,
// which neither trace's samples of /proc (RSS is per process) nor a signal snapshot (the
// main thread's heap) can see. So in a worker thread that runs test files the preload also
// samples that thread's own heap (v8.getHeapStatistics, every LEAKTRAIL_HEAP_SAMPLE_MS) in
// 'heap' lines, and writes that thread's own snapshots at file boundaries like a worker
// process: trace makes each such thread a lane of its own.
//
// With LEAKTRAIL_ALLOC_SAMPLING_BYTES set (trace's default), a worker (or worker thread)
// also runs V8's sampling heap profiler from its first file and, after a file that grew
// its heap, writes an 'allocations' line: where the memory it kept was allocated, by site
// (see allocStart below), for a fraction of a heap snapshot's cost.
//
// With LEAKTRAIL_SNAPSHOT_DIR set (trace --snapshot-every, at file boundaries), a worker
// (its main thread, or a worker thread) also writes heap snapshots itself — of its own
// isolate — between files, so that no snapshot pauses a test, and lazily: after a file
// once its heap (after a full GC) has grown by LEAKTRAIL_SNAPSHOT_GROWTH_BYTES since its
// first file's start (then since its last snapshot) and LEAKTRAIL_SNAPSHOT_EVERY_MS has
// passed since its last growth snapshot — a worker that does not grow has nothing for a
// heap diff to explain, and a snapshot's cost grows with the heap. Before a first file
// only one fresh worker per runner (and kind: process or thread) is snapshotted, the
// reference baseline a growing worker without a snapshot of its own before is diffed
// against. Each is written
// under a temporary name and renamed to Node's own signal-snapshot name in that directory
// (trace collects those), and a 'snapshot' line says when it began and how long it took.
// With LEAKTRAIL_SNAPSHOT_BUDGET, a growth snapshot that would cost more than that share
// of the worker's time is skipped, with a 'snapshot-skipped' line. With
// LEAKTRAIL_SNAPSHOT_FIFOS instead (trace --no-raw-snapshots), no file is written: the
// snapshot goes down one of trace's named pipes in that directory, claimed by renaming it,
// into a census process (see crates/trace/src/streamed.rs); when none is free for
// LEAKTRAIL_SNAPSHOT_PIPE_WAIT_MS the snapshot is skipped, with a 'snapshot-skipped' line.
(() => {
  const out = process.env.LEAKTRAIL_TRACE_EVENTS;
  if (!out) return;
  const fs = require('fs');
  const Module = require('module');
  const wt = require('worker_threads');
  const { openSync, writeSync } = fs;
  const memoryUsage = process.memoryUsage.bind(process);
  const now = () => performance.timeOrigin + performance.now();
  const tid = wt.threadId;
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  let fd = null;
  let gc = null;
  let startHeap = null; // heap used after a full GC at this thread's first file's start

  function collect() {
    if (gc === null) {
      try {
        require('v8').setFlagsFromString('--expose-gc');
        gc = require('vm').runInNewContext('gc');
      } catch {
        gc = false;
      }
    }
    if (gc) gc();
  }

  // One role line per (runner, role) and thread: a worker may load its hooks twice.
  const marked = new Set();
  function mark(runner, role) {
    try {
      const key = runner + ' ' + role;
      if (marked.has(key)) return;
      marked.add(key);
      const line = JSON.stringify({
        runner, event: 'role', role, pid: process.pid, ppid: process.ppid, tid, t: now(), argv,
      });
      if (fd === null) fd = openSync(out, 'a');
      writeSync(fd, line + '\n');
    } catch {
      // Never break the test run.
    }
  }

  // The heap used by this thread's isolate: in a worker thread its own heap, not the
  // main thread's.
  function ownHeap() {
    return require('v8').getHeapStatistics().used_heap_size;
  }

  // A worker thread's own heap over time, every LEAKTRAIL_HEAP_SAMPLE_MS: trace's samples of
  // /proc give only the process's RSS. No GC first (that would slow the tests); the file
  // boundaries' points are after one. Unref'd: it never keeps the thread alive.
  let sampling = false;
  function sampleThreadHeap(runner) {
    try {
      const every = Number(process.env.LEAKTRAIL_HEAP_SAMPLE_MS) || 0;
      if (sampling || wt.isMainThread || every <= 0) return;
      sampling = true;
      const timer = setInterval(() => {
        try {
          say({ runner, event: 'heap', heap: ownHeap() });
        } catch {
          // Never break the test run.
        }
      }, every);
      if (timer && typeof timer.unref === 'function') timer.unref();
    } catch {
      // Never break the test run.
    }
  }

  // Returns the heap used after a full GC, or null.
  function emit(runner, event, file) {
    try {
      if (typeof file !== 'string' || file === '') return null;
      collect();
      const m = memoryUsage();
      const heap = ownHeap();
      if (event === 'start' && startHeap === null) startHeap = heap;
      const line = JSON.stringify({
        runner, event, file, pid: process.pid, ppid: process.ppid, tid, t: now(),
        heap, rss: m.rss, argv,
      });
      if (fd === null) fd = openSync(out, 'a');
      writeSync(fd, line + '\n');
      return heap;
    } catch {
      // Never break the test run.
      return null;
    }
  }

  // Heap snapshots at file boundaries, of this thread's own isolate: the main thread's in a
  // worker process, a worker thread's own heap in a thread (v8.writeHeapSnapshot writes
  // the heap of the isolate it is called in). Each thread keeps its own state below: the
  // preload runs once per isolate.
  const snapDir = process.env.LEAKTRAIL_SNAPSHOT_DIR;
  // trace --no-raw-snapshots: no file; the snapshot goes down one of trace's named pipes
  // into its census process (a pipe holds no data on disk).
  const fifoDir = process.env.LEAKTRAIL_SNAPSHOT_FIFOS;
  // Claims a free pipe by renaming it to `name` (one writer wins a rename). While all are
  // busy (other workers' snapshots streaming into their censuses) it waits, but at most
  // LEAKTRAIL_SNAPSHOT_PIPE_WAIT_MS: past that the wait costs the tests more than the
  // snapshot is worth. Returns { pipe } or { why, waited, pipes } (no pipe: it is skipped).
  function claimPipe(name) {
    const path = require('path');
    const to = path.join(fifoDir, name);
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const began = Date.now();
    const wait = Number(process.env.LEAKTRAIL_SNAPSHOT_PIPE_WAIT_MS) || 10000;
    let pipes = 0;
    for (;;) {
      let names = [];
      try {
        names = fs.readdirSync(fifoDir);
      } catch {
        // Trace's directory of pipes is gone: trace is ending.
        return { why: 'pipes-gone', waited: Date.now() - began, pipes: 0 };
      }
      pipes = names.filter((n) => n.endsWith('.fifo')).length;
      for (const f of names.filter((n) => /^free-\d+\.fifo$/.test(n))) {
        try {
          fs.renameSync(path.join(fifoDir, f), to);
          return { pipe: to, waited: Date.now() - began };
        } catch {
          // Another writer took it.
        }
      }
      if (Date.now() - began >= wait) return { why: 'pipes-busy', waited: Date.now() - began, pipes };
      Atomics.wait(nap, 0, 0, 20);
    }
  }
  const snapEvery = Number(process.env.LEAKTRAIL_SNAPSHOT_EVERY_MS) || 0;
  const snapGrowth = Number(process.env.LEAKTRAIL_SNAPSHOT_GROWTH_BYTES) || 16 * 1024 * 1024;
  let snapped = false; // this thread has written a snapshot
  let lastHeap = 0; // heap used right after this thread's last snapshot
  let lastGrowth = null; // when its last growth snapshot was written
  let snapSeq = 0;
  // LEAKTRAIL_SNAPSHOT_BUDGET: a growth snapshot is skipped (and said so) when the time
  // this thread would then have spent writing snapshots exceeds this fraction of the
  // time since its first file began; its cost is estimated per byte of heap from its own
  // last snapshot, or else from the runner's reference baseline (below).
  const snapBudget = Number(process.env.LEAKTRAIL_SNAPSHOT_BUDGET) || 0;
  let firstFile = null; // when its first file began
  // The runner process this worker answers to: a worker process's parent (Jest's parent,
  // Vitest's or Mocha's main process, node --test's), a worker thread's own process
  // (Vitest threads), or the process itself when it runs the files in band (Jest).
  let inBand = false;
  function coordinator() {
    return wt.isMainThread && !inBand ? process.ppid : process.pid;
  }
  let spentMs = 0;
  let msPerByte = 0;
  function say(fields) {
    const line = JSON.stringify(Object.assign({
      pid: process.pid, ppid: process.ppid, tid, t: now(), argv,
    }, fields));
    if (fd === null) fd = openSync(out, 'a');
    writeSync(fd, line + '\n');
  }
  // The reference baseline: a worker's heap before its first file is the runner's start-up
  // (the same code in every fresh worker of that runner, process or thread), so one fresh
  // worker per runner and kind snapshots it — the first to claim this file — rather than
  // every worker: with a fork or thread per file that was one snapshot per file, for
  // workers that mostly never grow. A worker that grows without a snapshot of its own
  // before is diffed against it. The claim file then holds the snapshot's cost per byte of
  // heap, for the budget of workers that have written none yet.
  // Keyed by the coordinator too — the runner process this worker answers to — so that two
  // runs of one runner in one trace (`npm test` running Jest twice, two Vitest projects)
  // each take their own: their start-up need not be the same.
  function referenceClaim(runner) {
    const kind = wt.isMainThread ? 'process' : 'thread';
    const name = `.leaktrail-reference-${String(runner).replace(/[^A-Za-z0-9]+/g, '-')}-${kind}-${coordinator()}`;
    return require('path').join(snapDir || fifoDir, name);
  }
  function claimReference(runner) {
    try {
      fs.closeSync(fs.openSync(referenceClaim(runner), 'wx', 0o600));
      return true;
    } catch {
      return false; // another worker of this runner claimed it
    }
  }
  // A reference that could not be taken (no free pipe, a failed write) gives its claim
  // back, so that the runner's next fresh worker takes it instead: otherwise every worker
  // that grows without a snapshot of its own before would have nothing to be diffed against.
  function releaseReference(runner) {
    try {
      fs.unlinkSync(referenceClaim(runner));
    } catch {
      // Gone already.
    }
  }
  // The rate is written to a file of its own and renamed over the claim: a reader never
  // sees it half written.
  function publishRate(runner, rate) {
    const claim = referenceClaim(runner);
    const tmp = `${claim}.${process.pid}.${tid}.tmp`;
    fs.writeFileSync(tmp, String(rate), { mode: 0o600 });
    fs.renameSync(tmp, claim);
  }
  function referenceRate(runner) {
    try {
      return Number(fs.readFileSync(referenceClaim(runner), 'utf8')) || 0;
    } catch {
      return 0;
    }
  }
  // Until a snapshot has been timed (the reference may still be writing), the budget
  // estimates V8's pace as 20 MB of heap a second: measured here, a 105 MiB heap took 6 to
  // 20 s on a loaded two-core machine. Without an estimate the budget would not apply to
  // the workers that grow first, and whether it did would depend on timing.
  const DEFAULT_MS_PER_BYTE = 1000 / (20 * 1000 * 1000);
  // Snapshots are lazy: a worker is snapshotted after a file only once its heap after a
  // full GC has grown by LEAKTRAIL_SNAPSHOT_GROWTH_BYTES — from its first file's start
  // while it has no snapshot, else from its last snapshot — and
  // LEAKTRAIL_SNAPSHOT_EVERY_MS has passed since its last growth snapshot: a worker that
  // does not grow has nothing for a heap diff to explain, and a snapshot's cost grows with
  // the heap. Before its first file only the runner's reference baseline is taken.
  // `heap`: the heap used after the file, after a full GC (emit's answer).
  function snapshot(runner, at, file, heap) {
    let reference = false;
    try {
      if (!snapDir && !fifoDir) return;
      if (at === 'before') {
        if (firstFile !== null) return;
        firstFile = now();
        if (!claimReference(runner)) return;
        reference = true;
      } else {
        const base = snapped ? lastHeap : startHeap;
        if (typeof heap !== 'number' || base === null || heap - base < snapGrowth ||
            (lastGrowth !== null && now() - lastGrowth < snapEvery)) {
          return;
        }
        const rate = msPerByte || referenceRate(runner) || DEFAULT_MS_PER_BYTE;
        if (snapBudget > 0 && firstFile !== null) {
          const estimate = rate * heap;
          const allowed = snapBudget * (now() - firstFile);
          if (spentMs + estimate > allowed) {
            say({ runner, event: 'snapshot-skipped', reason: 'budget', at, file, heap,
                  estimate_ms: estimate, spent_ms: spentMs, allowed_ms: allowed });
            return;
          }
        }
      }
      const path = require('path');
      const d = new Date();
      const two = (n) => String(n).padStart(2, '0');
      const date = `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}`;
      const time = `${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`;
      // Numbered above Node's own signal snapshots (001, 002…) so that names never clash.
      snapSeq += 1;
      let name;
      let began;
      if (fifoDir) {
        name = `busy.${process.pid}.${tid}.${1000 + snapSeq}.fifo`;
        const claimed = claimPipe(name);
        if (!claimed.pipe) {
          if (reference) releaseReference(runner);
          say({ runner, event: 'snapshot-skipped', reason: claimed.why, at, file,
                heap: typeof heap === 'number' ? heap : ownHeap(), waited_ms: claimed.waited,
                pipes: claimed.pipes });
          return;
        }
        began = now();
        // Blocks until trace's reader has the whole snapshot: the same pause as a file.
        require('v8').writeHeapSnapshot(claimed.pipe);
      } else {
        name = `Heap.${date}.${time}.${process.pid}.${tid}.${1000 + snapSeq}.heapsnapshot`;
        // The thread id too: threads of one process write into the same directory.
        const partial = path.join(snapDir, `.leaktrail-${process.pid}-${tid}-${snapSeq}.partial`);
        began = now();
        require('v8').writeHeapSnapshot(partial);
        // Complete before trace can see it under a name it collects.
        fs.renameSync(partial, path.join(snapDir, name));
      }
      const done = now();
      snapped = true;
      if (at === 'after') lastGrowth = done;
      lastHeap = ownHeap();
      spentMs += done - began;
      if (lastHeap > 0) msPerByte = (done - began) / lastHeap;
      if (reference) {
        try {
          publishRate(runner, msPerByte);
        } catch {
          // The others then estimate their budget with the default pace.
        }
      }
      say({ runner, event: 'snapshot', at, file, name, t: began, ms: done - began, heap: lastHeap,
            reference, coordinator: coordinator() });
    } catch {
      // Never break the test run; a reference that failed is another worker's to take.
      if (reference) releaseReference(runner);
    }
  }

  // Where the memory a grown worker kept was allocated, without a heap snapshot: V8's
  // sampling heap profiler (HeapProfiler.startSampling through an in-process inspector
  // session of this thread's own isolate) samples an allocation about every
  // LEAKTRAIL_ALLOC_SAMPLING_BYTES bytes with its JavaScript stack and drops the sample
  // when the object is collected, so after a full GC its samples are the memory still
  // live, by allocation stack. It runs from this thread's first file's start. After a file
  // that grew the heap (after a full GC) by LEAKTRAIL_ALLOC_GROWTH_BYTES since the first
  // file's start (then since the last read), the profile is read and the samples taken
  // since the last read (ordinals above it) are summed by allocation site — the first
  // frame in the project's own code, not node_modules or Node's — into an 'allocations'
  // line. Measured on the leaking file of scenarios/test-project: ~0.1–0.2 s to read
  // ~1,500 samples against 9 s for a snapshot of the same heap; the profiler's own cost
  // while the tests run is a few per cent. A full snapshot stays behind --snapshot-every.
  const allocEvery = Number(process.env.LEAKTRAIL_ALLOC_SAMPLING_BYTES) || 0;
  const allocGrowth = Number(process.env.LEAKTRAIL_ALLOC_GROWTH_BYTES) || 16 * 1024 * 1024;
  let allocSession = null; // null: not started; false: could not start
  let allocOrdinal = 0; // the highest sample ordinal of the last read
  let allocHeap = null; // heap after a full GC at the last read
  let allocSince = null; // the file after which the last read was
  // Inspector calls of an in-process session answer synchronously.
  function inspect(method, params) {
    let error = null;
    let result = null;
    allocSession.post(method, params || {}, (e, r) => {
      error = e;
      result = r;
    });
    if (error) throw error;
    return result;
  }
  function allocStart(runner) {
    if (allocEvery <= 0 || allocSession !== null) return;
    try {
      const inspector = require('inspector');
      allocSession = new inspector.Session();
      allocSession.connect();
      inspect('HeapProfiler.startSampling', { samplingInterval: allocEvery });
    } catch (e) {
      allocSession = false;
      try {
        say({ runner, event: 'allocations-off', reason: String((e && e.message) || e) });
      } catch {
        // Never break the test run.
      }
    }
  }
  // Project code, not a dependency's or Node's own: where a leak is fixed.
  // This preload's own frames (its Module._load wrapper is on every require's stack) are
  // skipped too: the site is the code that called it.
  const ownCode = (url) => url !== '' && url !== __filename && !/[\\/]node_modules[\\/]|^node:/.test(url);
  function allocRead(runner, file, heap) {
    try {
      if (!allocSession || typeof heap !== 'number') return;
      const base = allocHeap !== null ? allocHeap : startHeap;
      if (base === null || heap - base < allocGrowth) return;
      const began = now();
      const profile = inspect('HeapProfiler.getSamplingProfile').profile;
      const parent = new Map();
      const nodes = new Map();
      const walk = [[profile.head, null]];
      while (walk.length > 0) {
        const [n, p] = walk.pop();
        nodes.set(n.id, n);
        parent.set(n.id, p);
        for (const c of n.children) walk.push([c, n.id]);
      }
      const sites = new Map();
      let bytes = 0;
      let count = 0;
      let top = allocOrdinal;
      for (const s of profile.samples) {
        if (s.ordinal > top) top = s.ordinal;
        if (s.ordinal <= allocOrdinal) continue;
        bytes += s.size;
        count += 1;
        // From the allocating frame outwards: the first frame of the project's own code,
        // else the first function of a script V8 did not name, else the allocating frame
        // with a script, else none. V8 names no script for code some loaders compile (Mocha
        // imports its test files: their functions come with an empty URL, line -1 and a
        // script id), and Node's and the dependencies' frames always carry theirs, so such
        // a function is the runner's test code — without this rule the site was Mocha's
        // callFn. Builtins (script id 0) are not.
        let site = null;
        let unnamed = null;
        let leaf = null;
        for (let id = s.nodeId; id !== null && id !== undefined; id = parent.get(id)) {
          const n = nodes.get(id);
          if (!n) break;
          const f = n.callFrame;
          if (f.url && leaf === null) leaf = f;
          if (!f.url && unnamed === null && f.functionName && f.scriptId && f.scriptId !== '0') unnamed = f;
          if (ownCode(f.url)) {
            site = f;
            break;
          }
        }
        const f = site || unnamed || leaf;
        const key = f ? `${f.functionName}\0${f.url}\0${f.lineNumber}\0${f.columnNumber}\0${f.url ? '' : f.scriptId}` : '';
        let e = sites.get(key);
        if (!e) {
          e = f
            ? { function: f.functionName, url: f.url, line: f.url ? f.lineNumber + 1 : 0, column: f.url ? f.columnNumber + 1 : 0, bytes: 0, samples: 0 }
            : { function: '', url: '', line: 0, column: 0, bytes: 0, samples: 0 };
          if (f && !f.url) e.unnamed_script = true;
          // Not written out: which script, for its source map (mapSites).
          if (f && f.url) Object.defineProperty(e, 'scriptId', { value: f.scriptId });
          sites.set(key, e);
        }
        e.bytes += s.size;
        e.samples += 1;
      }
      const ranked = [...sites.values()].sort((a, b) => b.bytes - a.bytes).slice(0, 10);
      mapSites(ranked);
      say({ runner, event: 'allocations', file, heap, base_heap: base, since: allocSince,
            sampled_bytes: bytes, samples: count, sites: ranked, t: began, ms: now() - began });
      allocOrdinal = top;
      allocHeap = heap;
      allocSince = file;
    } catch {
      // Never break the test run.
    }
  }
  // A site's line is where V8 saw its function begin, in the code V8 ran: for a file a
  // runner transformed first (Vitest's module runner for ES modules and TypeScript,
  // babel-jest for Jest) that is not the file's own line (two or more off, in
  // scenarios/test-project/other). Both runners leave an inline source map in the code
  // they run, which V8 keeps as the script's sourceMapURL: the debugger gives it for each
  // script it knows (Debugger.enable reports every script already parsed, here at a read
  // only, and is disabled again at once), and the site's position is mapped back through
  // it to the line in its own file. A site of a script without an inline map (Node
  // loaded it as it is) keeps V8's line.
  const base64vlq = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  // The original [line, column] (0-based) of generated position (line, column) in a source
  // map's `mappings`, and the index of its source; null when the map does not cover it.
  function mapPosition(mappings, line, column) {
    let gLine = 0;
    let src = 0;
    let oLine = 0;
    let oCol = 0;
    let found = null;
    for (const group of mappings.split(';')) {
      let gCol = 0;
      if (gLine > line) break;
      for (const seg of group.split(',')) {
        if (seg === '') continue;
        const fields = [];
        let value = 0;
        let shift = 0;
        for (const ch of seg) {
          const digit = base64vlq.indexOf(ch);
          if (digit < 0) return null;
          value += (digit & 31) << shift;
          if (digit & 32) {
            shift += 5;
          } else {
            fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
            value = 0;
            shift = 0;
          }
        }
        gCol += fields[0];
        if (fields.length < 4) continue;
        src += fields[1];
        oLine += fields[2];
        oCol += fields[3];
        // The last segment at or before the position on its line.
        if (gLine === line && gCol <= column) found = [oLine, oCol, src];
        // A function V8 saw begin on this line but before the first mapped column (a
        // runner's wrapper on the first line) still maps to this line's first segment.
        if (gLine === line && found === null) found = [oLine, oCol, src];
      }
      gLine += 1;
    }
    return found;
  }
  function mapSites(ranked) {
    const wanted = new Set(ranked.filter((e) => e.scriptId && e.line > 0).map((e) => e.scriptId));
    if (wanted.size === 0) return;
    const maps = new Map();
    const onParsed = (m) => {
      const p = m && m.params;
      if (p && wanted.has(p.scriptId) && typeof p.sourceMapURL === 'string' &&
          p.sourceMapURL.startsWith('data:application/json')) {
        maps.set(p.scriptId, p.sourceMapURL);
      }
    };
    try {
      allocSession.on('Debugger.scriptParsed', onParsed);
      inspect('Debugger.enable');
    } catch {
      // No source maps: V8's lines stay.
    } finally {
      allocSession.removeListener('Debugger.scriptParsed', onParsed);
      try {
        inspect('Debugger.disable');
      } catch {
        // Never break the test run.
      }
    }
    for (const e of ranked) {
      try {
        const url = maps.get(e.scriptId);
        if (!url) continue;
        const comma = url.indexOf(',');
        const data = url.slice(comma + 1);
        const json = /;base64,/.test(url.slice(0, comma + 1))
          ? Buffer.from(data, 'base64').toString('utf8')
          : decodeURIComponent(data);
        const map = JSON.parse(json);
        if (typeof map.mappings !== 'string') continue;
        const at = mapPosition(map.mappings, e.line - 1, e.column - 1);
        if (!at) continue;
        // Only back into the same file: a map into other sources (a bundle) would move the
        // site to a file its url does not name.
        const source = String((map.sources || [])[at[2]] || '');
        const name = (u) => String(u).split(/[\\/]/).pop();
        if (source !== '' && name(source) !== name(e.url)) continue;
        e.line = at[0] + 1;
        e.column = at[1] + 1;
        e.source_mapped = true;
      } catch {
        // A map that does not parse: V8's line stays.
      }
    }
  }

  // At a file boundary: the allocation profile (started before the first file, read after
  // a file that grew the heap), then the snapshot, when asked for.
  function boundary(runner, at, file, heap) {
    if (at === 'before') allocStart(runner);
    else allocRead(runner, file, heap);
    snapshot(runner, at, file, heap);
  }

  const PATCHED = Symbol.for('leaktrail.patched');
  const once = (obj) => {
    if (!obj || obj[PATCHED]) return false;
    try {
      Object.defineProperty(obj, PATCHED, { value: true });
    } catch {
      return false;
    }
    return true;
  };

  // Jest.
  function patchJestWorker(exports) {
    if (typeof exports.worker !== 'function' || !once(exports)) return;
    mark('jest', 'worker');
    const worker = exports.worker;
    exports.worker = async function leaktrailJestWorker(args) {
      const file = args && args.path;
      boundary('jest', 'before', file);
      emit('jest', 'start', file);
      try {
        return await worker.apply(this, arguments);
      } finally {
        boundary('jest', 'after', file, emit('jest', 'end', file));
      }
    };
  }
  function patchJestRunner(exports) {
    const proto = exports && exports.default && exports.default.prototype;
    if (!proto || typeof proto.runTests !== 'function' || !once(proto)) return;
    const runTests = proto.runTests;
    proto.runTests = function leaktrailRunTests(tests, watcher, options) {
      if (!(options && options.serial) || typeof this.on !== 'function') {
        return runTests.apply(this, arguments);
      }
      // In band: this process runs the files itself.
      inBand = true;
      mark('jest', 'worker');
      const path = (args) => args && args[0] && args[0].path;
      const offs = [
        this.on('test-file-start', (args) => {
          boundary('jest', 'before', path(args));
          emit('jest', 'start', path(args));
        }),
        this.on('test-file-success', (args) => {
          boundary('jest', 'after', path(args), emit('jest', 'end', path(args)));
        }),
        this.on('test-file-failure', (args) => {
          boundary('jest', 'after', path(args), emit('jest', 'end', path(args)));
        }),
      ];
      const off = () => offs.forEach((f) => typeof f === 'function' && f());
      return Promise.resolve(runTests.apply(this, arguments)).finally(off);
    };
  }

  // Mocha --parallel: workerpool.worker({ run }) in mocha/lib/nodejs/worker.cjs.
  let mochaWorker = false;
  function patchWorkerpool(exports) {
    if (typeof exports.worker !== 'function' || !once(exports)) return;
    mochaWorker = true;
    mark('mocha', 'worker');
    const worker = exports.worker;
    exports.worker = function leaktrailWorkerpool(methods, ...rest) {
      if (methods && typeof methods.run === 'function') {
        const run = methods.run;
        methods = Object.assign({}, methods, {
          run: async function leaktrailMochaRun(file, ...args) {
            boundary('mocha', 'before', file);
            emit('mocha', 'start', file);
            try {
              return await run.call(this, file, ...args);
            } finally {
              boundary('mocha', 'after', file, emit('mocha', 'end', file));
            }
          },
        });
      }
      return worker.call(this, methods, ...rest);
    };
  }

  // Mocha serial (its default, no --parallel): the main process loads every file and runs
  // their suites itself, one file after another, through its Runner. A file's start is the
  // first suite, hook or test of that file the Runner begins (each carries its file); its
  // end, the next file's start or the run's end. The files' top-level code ran when Mocha
  // loaded them all, before the first file began: what a file allocates at load time is
  // not in its window. Not in a --parallel worker (it reports its file itself, above) nor
  // in the --parallel main process, whose Runner subclass only replays its workers' events.
  function patchMochaRunner(Runner) {
    const proto = typeof Runner === 'function' && Runner.prototype;
    if (!proto || typeof proto.run !== 'function' || !once(proto)) return;
    const run = proto.run;
    proto.run = function leaktrailMochaRun() {
      try {
        if (this.constructor === Runner && !mochaWorker && typeof this.on === 'function') {
          inBand = true;
          mark('mocha', 'coordinator');
          mark('mocha', 'worker');
          let current = null;
          const finish = () => {
            if (current === null) return;
            const file = current;
            current = null;
            boundary('mocha', 'after', file, emit('mocha', 'end', file));
          };
          const begin = (runnable) => {
            try {
              const file = runnable && runnable.file;
              if (typeof file !== 'string' || file === '' || file === current) return;
              finish();
              current = file;
              boundary('mocha', 'before', file);
              emit('mocha', 'start', file);
            } catch {
              // Never break the test run.
            }
          };
          this.on('suite', begin);
          this.on('hook', begin);
          this.on('test', begin);
          this.once('end', () => {
            try {
              finish();
            } catch {
              // Never break the test run.
            }
          });
        }
      } catch {
        // Never break the test run.
      }
      return run.apply(this, arguments);
    };
  }

  const load = Module._load;
  Module._load = function leaktrailLoad(request, parent) {
    const exports = load.apply(this, arguments);
    try {
      const from = (parent && parent.filename) || '';
      if (typeof request === 'string' && exports && typeof exports === 'object') {
        if (/[\\/]jest-runner[\\/]build[\\/]testWorker(\.js)?$/.test(request)) patchJestWorker(exports);
        else if (request === 'jest-runner' || /[\\/]jest-runner[\\/]build[\\/]index(\.js)?$/.test(request)) patchJestRunner(exports);
        else if (request === 'workerpool' && /[\\/]mocha[\\/]lib[\\/]nodejs[\\/]worker\.c?js$/.test(from)) patchWorkerpool(exports);
      } else if (typeof request === 'string' && typeof exports === 'function' &&
                 /(^|[\\/])mocha\.c?js$/.test(request) && exports.Runner) {
        // Mocha's main module (mocha/lib/mocha.cjs; mocha.js before 12), whose Runner runs
        // the files in series.
        patchMochaRunner(exports.Runner);
      } else if (typeof request === 'string' && /[\\/]parallel-buffered-runner\.c?js$/.test(request) &&
                 /[\\/]mocha[\\/]lib[\\/]/.test(from)) {
        // Mocha's main process schedules files only with --parallel (serially it runs
        // them itself, and stays unmarked). The module exports a class.
        mark('mocha', 'coordinator');
      }
    } catch {
      // Never break the test run.
    }
    return exports;
  };

  // Vitest: requests and answers between the pool and its worker. A run request names the
  // files the worker is to run, one after another, and is answered once, when the last has
  // finished: one file per request in Vitest's usual modes, but every file of the worker in
  // one request without isolation and one worker (`--no-isolate --maxWorkers=1`,
  // `--no-file-parallelism`). There each file starts when the worker queues it (its
  // `onQueued` call to the main process, sent as it begins collecting that file) and ends
  // when the next is queued or the request is answered: without that, every file of the
  // request shared one window, and each was charged what all of them kept.
  let running = [];
  let batch = false; // the request names more than one file
  let current = null; // in a batch, the file running now
  const seen = new WeakSet(); // a message reaches every listener: count it once
  function vitestIn(msg) {
    if (!msg || msg.__vitest_worker_request__ !== true || msg.type !== 'run') return;
    if (typeof msg === 'object') {
      if (seen.has(msg)) return;
      seen.add(msg);
    }
    const files = ((msg.context && msg.context.files) || [])
      .map((f) => (typeof f === 'string' ? f : f && f.filepath))
      .filter((f) => typeof f === 'string');
    running = files;
    batch = files.length > 1;
    current = null;
    if (batch) return;
    if (files.length > 0) boundary('vitest', 'before', files[0]);
    for (const f of files) emit('vitest', 'start', f);
  }
  function vitestFileEnd() {
    if (current === null) return null;
    const file = current;
    current = null;
    const heap = emit('vitest', 'end', file);
    boundary('vitest', 'after', file, heap);
    return heap;
  }
  function vitestOut(msg) {
    if (!msg) return;
    if (batch && msg.m === 'onQueued' && Array.isArray(msg.a)) {
      const file = msg.a[0] && msg.a[0].filepath;
      if (typeof file !== 'string' || file === current) return;
      vitestFileEnd();
      current = file;
      boundary('vitest', 'before', file);
      emit('vitest', 'start', file);
      return;
    }
    if (msg.__vitest_worker_response__ !== true || msg.type !== 'testfileFinished') return;
    if (batch) {
      vitestFileEnd();
      batch = false;
      running = [];
      return;
    }
    let heap = null;
    for (const f of running) heap = emit('vitest', 'end', f);
    if (running.length > 0) boundary('vitest', 'after', running[running.length - 1], heap);
    running = [];
  }
  // Wraps the 'message' listeners registered on `target` (no listener of its own, which
  // would keep the channel open) and the function that answers.
  function peek(target, postName) {
    const wrapped = new WeakMap();
    const on = target.on;
    const off = target.off;
    target.on = target.addListener = function (event, cb) {
      if (event !== 'message' || typeof cb !== 'function') return on.apply(this, arguments);
      let w = wrapped.get(cb);
      if (!w) {
        w = function (msg, ...rest) {
          try { vitestIn(msg); } catch { /* never break the run */ }
          return cb.call(this, msg, ...rest);
        };
        wrapped.set(cb, w);
      }
      return on.call(this, event, w);
    };
    target.off = target.removeListener = function (event, cb) {
      return off.call(this, event, (event === 'message' && wrapped.get(cb)) || cb);
    };
    const post = target[postName];
    target[postName] = function (msg, ...rest) {
      try { vitestOut(msg); } catch { /* never break the run */ }
      return post.call(this, msg, ...rest);
    };
  }
  try {
    const script = process.argv[1] || '';
    if (wt.isMainThread && typeof process.send === 'function' &&
        /[\\/]vitest[\\/]dist[\\/]workers[\\/](forks|vmForks)\.js$/.test(script)) {
      mark('vitest', 'worker');
      peek(process, 'send');
    } else if (!wt.isMainThread && wt.parentPort && process.env.VITEST === 'true') {
      mark('vitest', 'worker');
      sampleThreadHeap('vitest');
      peek(wt.parentPort, 'postMessage');
    } else if (wt.isMainThread && script) {
      // The runners' command-line entry points (through node_modules/.bin links too).
      let real = script;
      try { real = fs.realpathSync(script); } catch { /* as given */ }
      if (/[\\/]jest(-cli)?[\\/]bin[\\/]jest(\.js)?$/.test(real)) mark('jest', 'coordinator');
      else if (/[\\/]vitest[\\/]vitest\.mjs$/.test(real)) mark('vitest', 'coordinator');
    }
  } catch {
    // Never break the test run.
  }

  // node --test: this process runs one file, its script.
  try {
    if (wt.isMainThread && process.env.NODE_TEST_CONTEXT && process.argv[1]) {
      const file = require('path').resolve(process.argv[1]);
      mark('node --test', 'worker');
      boundary('node --test', 'before', file);
      emit('node --test', 'start', file);
      process.once('exit', () => {
        boundary('node --test', 'after', file, emit('node --test', 'end', file));
      });
    }
  } catch {
    // Never break the test run.
  }
})();
