#!/usr/bin/env node
'use strict';
// watch-minutes: what `leaktrail watch` + `trend` say in the first minutes of a service.
//
// For each service (scenarios run `--forever` as a service would), starts
// `leaktrail watch --sample-every 2s --snapshot-every 20s` on it for MINUTES minutes and, at
// the end of every minute, asks `leaktrail trend --store … --format json`: the assessment,
// the culprit named (the first of `culprits`, else the first leaking class) and the time to
// OOM. The truth is measured from the watched service's own growth: it runs under
// `--expose-gc` with a probe that reads its heap after a full GC every 5 s (into a file);
// its time to OOM is (heap limit − heap now) / slope, the slope fitted by least squares
// over the probe's readings. (Runs 1–4 measured a second, unwatched copy instead: it
// grows faster than the watched one, which pauses for every snapshot and shares the
// cores with its census, so the ratio measured the watching, not the estimate.)
//
// Usage: node tools/bench/watch-minutes.js [--minutes 4] [--only NAME] [--leaktrail BIN]
// (from the repository root, after `cargo build` and `cd scenarios/npm && npm ci`).
// Prints a table per service and a summary line; exits 1 when a target is missed.

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const SCENARIOS = path.join(ROOT, 'scenarios');

// A session store in a plain object, a misused npm cache, an event log, and two clean
// services (one on npm libraries, one with a bounded cache); what each should be called
// comes from scenarios/manifest.json (a culprit is any of its `culprit_classes`).
const SERVICE_FILES = [
  'dictionary-cache.js',
  'npm/leaky-lru-misuse.js',
  'event-store-unbounded.js',
  'npm/clean-npm-service.js',
  'lru-cache-bounded.js',
];
const MANIFEST = JSON.parse(fs.readFileSync(path.join(SCENARIOS, 'manifest.json'), 'utf8'));
const SERVICES = SERVICE_FILES.map((file) => {
  const entry = MANIFEST.find((e) => e.file === file);
  if (!entry) throw new Error(`${file} is not in scenarios/manifest.json`);
  return { name: file, file, leaks: entry.leaks, culprits: entry.culprit_classes || [] };
});

function parseArgs(argv) {
  const opts = { minutes: 4, only: null, leaktrail: path.join(ROOT, 'target', 'debug', 'leaktrail') };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => argv[++i];
    if (flag === '--minutes') opts.minutes = Number(value());
    else if (flag === '--only') opts.only = value();
    else if (flag === '--leaktrail') opts.leaktrail = path.resolve(value());
    else {
      console.error(`unknown flag ${flag}`);
      process.exit(2);
    }
  }
  if (!(opts.minutes >= 1)) {
    console.error('--minutes needs a number of at least 1');
    process.exit(2);
  }
  return opts;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The probe the watched service runs with: its heap after a full GC every 5 s, as JSON
// lines appended to the file LEAKTRAIL_PROBE_OUT names.
const PROBE = `
const v8 = require('v8');
const fs = require('fs');
const out = process.env.LEAKTRAIL_PROBE_OUT;
const t0 = Date.now();
setInterval(() => {
  global.gc();
  const h = v8.getHeapStatistics();
  fs.appendFileSync(out, JSON.stringify({ t: (Date.now() - t0) / 1000, used: h.used_heap_size, limit: h.heap_size_limit }) + '\\n');
}, 5000).unref();
`;

function leastSquares(points) {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : 0;
}

function fmtDuration(s) {
  if (s == null || !Number.isFinite(s)) return '-';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

async function watchService(svc, opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaktrail-minutes-'));
  const store = path.join(dir, 'store');
  const probeFile = path.join(dir, 'probe.js');
  fs.writeFileSync(probeFile, PROBE);
  const runner = path.join(SCENARIOS, 'runner.js');
  const script = path.join(SCENARIOS, svc.file);
  const seconds = opts.minutes * 60;
  const probeOut = path.join(dir, 'probe.jsonl');
  const watch = spawn(
    opts.leaktrail,
    ['watch', '--store', store, '--quiet', '--sample-every', '2s', '--snapshot-every', '20s',
      '--duration', `${seconds + 5}s`, '--', 'node', '--expose-gc', '-r', probeFile, runner, script,
      '--forever'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LEAKTRAIL_PROBE_OUT: probeOut } },
  );
  let watchErr = '';
  watch.stderr.on('data', (d) => { watchErr += d; });
  const readTruth = () => {
    let text = '';
    try {
      text = fs.readFileSync(probeOut, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  };
  const rows = [];
  const start = Date.now();
  for (let m = 1; m <= opts.minutes; m++) {
    await sleep(Math.max(0, start + m * 60_000 - Date.now()));
    let report = null;
    try {
      const out = execFileSync(opts.leaktrail, ['trend', '--store', store, '--format', 'json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      report = JSON.parse(out).targets[0];
    } catch (e) {
      // trend exits 1 when leaking: its output is the report all the same.
      if (e.stdout && e.stdout.length) report = JSON.parse(e.stdout).targets[0];
    }
    const culprit = report && report.culprits && report.culprits[0]
      ? report.culprits[0].cluster.class
      : (report && report.classes.find((c) => c.assessment === 'leaking') || {}).class || null;
    const tto = report && report.time_to_oom ? report.time_to_oom.seconds : null;
    const live = readTruth();
    let truthTto = null;
    if (live.length >= 3) {
      const slope = leastSquares(live.map((p) => [p.t, p.used]));
      const last = live[live.length - 1];
      truthTto = slope > 0 ? (last.limit - last.used) / slope : null;
    }
    rows.push({
      minute: m,
      assessment: report ? report.overall : '(no report)',
      snapshots: report ? report.snapshots : 0,
      culprit,
      tto,
      truthTto,
    });
  }
  await new Promise((r) => watch.on('close', r));
  fs.rmSync(dir, { recursive: true, force: true });
  return { rows, watchErr };
}

function judge(svc, rows) {
  const by3 = rows.filter((r) => r.minute >= 3);
  if (svc.leaks) {
    const named = by3.every((r) => r.assessment === 'leaking' && svc.culprits.includes(r.culprit));
    const tto = by3.every((r) => r.tto != null && r.truthTto != null
      && Math.abs(r.tto / r.truthTto - 1) <= 0.3);
    return { ok: named && tto, why: `${named ? '' : 'not leaking with its culprit by 3 min; '}${tto ? '' : 'time to OOM off by more than 30 %'}` };
  }
  const stable = by3.every((r) => r.assessment === 'stable');
  const never = rows.every((r) => r.assessment !== 'leaking' && r.culprit == null);
  return { ok: stable && never, why: `${stable ? '' : 'not stable by 3 min; '}${never ? '' : 'called leaking or given a culprit'}` };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const services = SERVICES.filter((s) => !opts.only || s.name.includes(opts.only));
  let missed = 0;
  for (const svc of services) {
    const { rows, watchErr } = await watchService(svc, opts);
    console.log(`\n${svc.name} (${svc.leaks ? `leaks; culprit one of ${svc.culprits.join(', ')}` : 'clean'})`);
    console.log('min | assessment | snapshots | culprit named | time to OOM | truth | ratio');
    for (const r of rows) {
      const ratio = r.tto != null && r.truthTto ? (r.tto / r.truthTto).toFixed(2) : '-';
      console.log(`${r.minute} | ${r.assessment} | ${r.snapshots} | ${r.culprit || '-'} | ${fmtDuration(r.tto)} | ${fmtDuration(r.truthTto)} | ${ratio}`);
    }
    const { ok, why } = judge(svc, rows);
    console.log(ok ? 'target met' : `target missed: ${why}`);
    if (!ok) {
      missed++;
      if (watchErr.trim()) console.log(`watch stderr: ${watchErr.trim().split('\n').slice(-3).join(' | ')}`);
    }
  }
  console.log(`\n${services.length - missed} of ${services.length} services met the target.`);
  process.exit(missed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
