//! `leaktrail-bench --watch`: zero-disk `watch --no-raw-snapshots` against the file-based
//! `watch` on one Node service with a heap of `--heap-mb` MB, both measured in the same
//! run, their runs interleaved (file, zero-disk, then zero-disk, file, …).
//!
//! The service (written by this benchmark into a temporary folder) builds its heap of
//! small records, then idles with a timer that allocates a little; it measures its own
//! event-loop stalls of 50 ms or more once its heap is built (the pause each snapshot
//! costs it) into a file. Each run is `leaktrail watch --snapshot-every 20s` for
//! `--watch-seconds`; the first snapshot, taken while the service still builds its heap,
//! is left out of the figures. A snapshot's pause is one of the service's longest stalls,
//! as many as the snapshots measured. While it runs, `/proc` is read every 20 ms for:
//! - the watcher's own peak RSS (`VmHWM`) and CPU time (its census children apart);
//! - each census process (`leaktrail census`, a child of the watcher): its CPU time, its
//!   peak RSS and how long it lived (for zero-disk it lives while V8 streams the snapshot);
//! - the service's peak RSS (a zero-disk snapshot that the watcher reads slowly stays
//!   queued in Node's inspector).
//!
//! From the watcher's own log: the time from asking for a snapshot to its census stored.
//! Figures read from `/proc` are as of the last read before a process ended (within 20 ms).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The service the watcher watches: `BENCH_HEAP_MB` MB of records, then idle; its stalls
/// of 50 ms or more after the build go to `BENCH_STALLS` as JSON lines.
const SERVICE: &str = r#"
'use strict';
const fs = require('fs');
const target = Number(process.env.BENCH_HEAP_MB) * 1e6;
const stalls = process.env.BENCH_STALLS;
// Global: the service's data lives as long as the service.
const records = (globalThis.records = []);
let i = 0;
while (process.memoryUsage().heapUsed < target) {
  for (let k = 0; k < 10000; k++, i++) {
    records.push({ id: i, name: 'user-' + i, email: 'user' + i + '@example.com', tags: ['a' + (i % 7), 'b'], score: i * 1.5 });
  }
}
let last = Date.now();
setInterval(() => {
  const now = Date.now();
  if (now - last >= 50) fs.appendFileSync(stalls, JSON.stringify({ t: now, ms: now - last }) + '\n');
  last = now;
}, 10);
// A little garbage, as a service makes between requests.
setInterval(() => { const junk = []; for (let k = 0; k < 1000; k++) junk.push({ k }); }, 100);
"#;

/// What `--watch` needs from the command line.
pub struct WatchBench<'a> {
    /// The leaktrail binary.
    pub leaktrail: &'a Path,
    /// The service's heap, MB.
    pub heap_mb: u32,
    /// How long each watch runs.
    pub seconds: u64,
    /// Runs of each mode.
    pub runs: usize,
}

/// One census process, as last read from `/proc`.
#[derive(Clone, Copy, Default)]
struct CensusProc {
    first_seen: Option<Instant>,
    last_seen: Option<Instant>,
    cpu: f64,
    hwm: u64,
}

/// One run of `watch`.
#[derive(Default)]
struct WatchRun {
    /// Seconds from asking for a snapshot to its census stored, per snapshot (the watcher's log).
    analysed_in: Vec<f64>,
    censuses: Vec<CensusProc>,
    watcher_hwm: u64,
    watcher_cpu: f64,
    target_hwm: u64,
    /// The service's stalls, ms.
    stalls: Vec<f64>,
    /// Raw snapshot files' bytes, per snapshot (the store's record).
    file_sizes: Vec<u64>,
}

/// Runs the benchmark and prints its table.
pub fn run(b: &WatchBench<'_>) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("leaktrail-bench-watch-")
        .tempdir()?;
    let service = dir.path().join("service.js");
    std::fs::write(&service, SERVICE)?;
    let modes = [("file", false), ("zero-disk", true)];
    let mut all: Vec<Vec<WatchRun>> = vec![Vec::new(), Vec::new()];
    for r in 0..b.runs.max(1) {
        for k in 0..2 {
            // Alternate which mode goes first, so neither always runs on a warm cache.
            let k = if r % 2 == 0 { k } else { 1 - k };
            let (name, zero_disk) = modes[k];
            eprintln!("run {} of {name} watch…", r + 1);
            let run_dir = dir.path().join(format!("{name}-{r}"));
            std::fs::create_dir_all(&run_dir)?;
            all[k].push(watch_once(b, &service, &run_dir, zero_disk)?);
            // The raw files of the file-based run are not needed any more.
            let _ = std::fs::remove_dir_all(&run_dir);
        }
    }
    println!(
        "zero-disk watch benchmark — service heap {} MB, {} runs of {} s each per mode, \
         interleaved; medians over the snapshots after each run's first",
        b.heap_mb, b.runs, b.seconds
    );
    println!();
    println!("| mode | snapshots | raw file | snapshot → census stored | census CPU | census lived | census peak RSS | watcher peak RSS | watcher CPU | service pause | census past the pause | service peak RSS |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for ((name, _), runs) in modes.iter().zip(&all) {
        let row = Row::of(runs);
        println!(
            "| {name} | {} | {:.0} MB | {:.2} s | {:.2} s | {:.2} s | {} | {} | {:.2} s | {:.2} s (max {:.2}) | {:.2} s | {} |",
            row.snapshots,
            row.file_mb,
            row.analysed_in,
            row.census_cpu,
            row.census_lived,
            mib(row.census_hwm),
            mib(row.watcher_hwm),
            row.watcher_cpu,
            row.pause / 1e3,
            row.pause_max / 1e3,
            row.analysed_in - row.pause / 1e3,
            mib(row.target_hwm),
        );
        rows.push(row);
    }
    let (f, z) = (&rows[0], &rows[1]);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    println!();
    println!(
        "zero-disk / file: snapshot → census {:.2}×, census past the pause {:.2}×, census CPU {:.2}×, \
         census peak RSS {:.2}×, watcher peak RSS {:.2}×, watcher CPU {:.2}×, service pause {:.2}×, \
         service peak RSS {:.2}×",
        ratio(z.analysed_in, f.analysed_in),
        ratio(z.analysed_in - z.pause / 1e3, f.analysed_in - f.pause / 1e3),
        ratio(z.census_cpu, f.census_cpu),
        ratio(z.census_hwm as f64, f.census_hwm as f64),
        ratio(z.watcher_hwm as f64, f.watcher_hwm as f64),
        ratio(z.watcher_cpu, f.watcher_cpu),
        ratio(z.pause, f.pause),
        ratio(z.target_hwm as f64, f.target_hwm as f64),
    );
    Ok(())
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
}

/// A mode's figures: medians over its runs' snapshots (the first of each run left out),
/// the largest peaks.
struct Row {
    snapshots: usize,
    file_mb: f64,
    analysed_in: f64,
    census_cpu: f64,
    census_lived: f64,
    census_hwm: u64,
    watcher_hwm: u64,
    watcher_cpu: f64,
    pause: f64,
    pause_max: f64,
    target_hwm: u64,
}

impl Row {
    fn of(runs: &[WatchRun]) -> Row {
        let later = |v: &[f64]| v.iter().skip(1).copied().collect::<Vec<_>>();
        let mut analysed = Vec::new();
        let (mut cpu, mut lived, mut sizes, mut stalls) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut census_hwm = 0;
        for r in runs {
            analysed.extend(later(&r.analysed_in));
            for c in r.censuses.iter().skip(1) {
                cpu.push(c.cpu);
                if let (Some(a), Some(b)) = (c.first_seen, c.last_seen) {
                    lived.push(b.duration_since(a).as_secs_f64());
                }
                census_hwm = census_hwm.max(c.hwm);
            }
            sizes.extend(r.file_sizes.iter().skip(1).map(|&s| s as f64 / 1e6));
            // The service's longest stalls, one per snapshot measured: a snapshot pauses
            // it for seconds, its own timers and GCs for milliseconds.
            let mut longest = r.stalls.clone();
            longest.sort_by(|a, b| b.total_cmp(a));
            stalls.extend(
                longest
                    .into_iter()
                    .take(r.analysed_in.len().saturating_sub(1)),
            );
        }
        Row {
            snapshots: analysed.len(),
            file_mb: median(&sizes),
            analysed_in: median(&analysed),
            census_cpu: median(&cpu),
            census_lived: median(&lived),
            census_hwm,
            watcher_hwm: runs.iter().map(|r| r.watcher_hwm).max().unwrap_or(0),
            watcher_cpu: median(&runs.iter().map(|r| r.watcher_cpu).collect::<Vec<_>>()),
            pause: median(&stalls),
            pause_max: stalls.iter().copied().fold(0.0, f64::max),
            target_hwm: runs.iter().map(|r| r.target_hwm).max().unwrap_or(0),
        }
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One `watch` of the service, in `dir` (its store and the service's stalls).
fn watch_once(b: &WatchBench<'_>, service: &Path, dir: &Path, zero_disk: bool) -> Result<WatchRun> {
    let store = dir.join("store");
    let stalls = dir.join("stalls.jsonl");
    let mut cmd = Command::new(b.leaktrail);
    cmd.args(["watch", "--store"])
        .arg(&store)
        .args(["--sample-every", "2s", "--snapshot-every", "20s"])
        .args(["--duration", &format!("{}s", b.seconds)]);
    if zero_disk {
        cmd.arg("--no-raw-snapshots");
    }
    cmd.arg("--")
        .arg("node")
        .arg(service)
        .env("BENCH_HEAP_MB", b.heap_mb.to_string())
        .env("BENCH_STALLS", &stalls)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("{cmd:?}"))?;
    let watcher = child.id() as i32;
    let stderr = child.stderr.take().context("the watcher's stderr")?;
    let log = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(|l| l.ok())
            .collect::<Vec<String>>()
    });
    let mut out = WatchRun::default();
    let mut censuses: std::collections::BTreeMap<i32, CensusProc> = Default::default();
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("{cmd:?} exited with {status}");
            }
            break;
        }
        let now = Instant::now();
        if let Some((hwm, cpu)) = proc_figures(watcher) {
            out.watcher_hwm = hwm;
            out.watcher_cpu = cpu;
        }
        for pid in children(watcher) {
            let Some(first) = cmdline(pid) else { continue };
            let Some((hwm, cpu)) = proc_figures(pid) else {
                continue;
            };
            if first.get(1).is_some_and(|a| a == "census") {
                let c = censuses.entry(pid).or_default();
                c.first_seen.get_or_insert(now);
                c.last_seen = Some(now);
                c.hwm = hwm;
                c.cpu = cpu;
            } else {
                out.target_hwm = out.target_hwm.max(hwm);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = log.join().unwrap_or_default();
    // "leaktrail watch: snapshot FILE (REASON) analysed in 1.2 s"
    out.analysed_in = lines
        .iter()
        .filter_map(|l| {
            let rest = l.split(" analysed in ").nth(1)?;
            rest.trim_end_matches(" s").parse().ok()
        })
        .collect();
    out.censuses = censuses.into_values().collect();
    out.stalls = std::fs::read_to_string(&stalls)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["ms"].as_f64())
        .collect();
    out.file_sizes = stored_file_sizes(&store)?;
    if out.analysed_in.len() < 2 {
        bail!(
            "the watch stored {} snapshots; its log: {}",
            out.analysed_in.len(),
            lines.join(" | ")
        );
    }
    Ok(out)
}

/// The raw file size of each snapshot the store holds, in order (a zero-disk snapshot's
/// is the bytes streamed).
fn stored_file_sizes(store: &Path) -> Result<Vec<u64>> {
    let db = rusqlite::Connection::open_with_flags(
        store.join(leaktrail_store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let mut q = db.prepare("SELECT file_size FROM snapshots ORDER BY t")?;
    let sizes = q
        .query_map([], |r| r.get::<_, i64>(0))?
        .map(|s| s.map(|s| s.max(0) as u64))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sizes)
}

/// The children of every thread of `pid` (census processes are started from its threads).
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in tasks.flatten() {
        let text = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    out
}

fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// Peak RSS (bytes) and CPU time (user + system, seconds; its children apart) of `pid`.
fn proc_figures(pid: i32) -> Option<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse::<u64>()
        .ok()?
        * 1024;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces and parentheses).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name and state.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((hwm, ticks / hz.max(1.0)))
}
