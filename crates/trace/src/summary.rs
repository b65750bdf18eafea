//! The end-of-run summary: per lane and PID, growth, slope, heap diff and verdict; per
//! file, attributed growth; the `--fail-on-growth` gate and the exit status.
//!
//! Its parts: `heap` (what a worker's snapshots or censuses say) and `threads` (what a
//! worker thread's own heap says).

mod heap;
mod threads;

pub(crate) use heap::ReferenceKey;
use heap::{census_growth, heap_growth_of, References};
#[cfg(test)]
use heap::{pair, pair_words};
pub use heap::{CensusGrowth, HeapGrowth};
use threads::summarise_thread;
pub use threads::{
    growth_label, HeapBaseline, ThreadGrowth, ThreadSummary, ThreadVerdict, THREAD_HEAP_GROWTH,
};

use serde::Serialize;

use leaktrail_analysis::units::{agree, plural_s};
use leaktrail_stats::{theil_sen, SlopeEstimate};

use crate::baseline::{Baseline, DEFAULT_SETTLE_SECONDS};
use crate::files::{attribute, FileAttribution, FileSpan};
use crate::model::ProcessRecord;
use crate::reporter::ReporterError;
use crate::threads::ThreadRecord;
use crate::tracer::{CommandExit, TraceRun};

/// A slope needs at least this many samples.
pub const MIN_SLOPE_SAMPLES: usize = 5;

/// How to summarise.
#[derive(Clone, Debug)]
pub struct SummaryOptions {
    /// Classes kept per heap diff.
    pub top: usize,
    /// `--fail-on-growth`: fail when a process's RSS rose by more than this after its
    /// start-up (peak minus baseline, [`Baseline`]), or a worker thread's own heap kept
    /// more after a full GC over its files, bytes.
    pub fail_on_growth: Option<u64>,
    /// `--settle`: how long a process's start-up lasts at most, seconds ([`Baseline`]).
    pub settle_seconds: f64,
    /// Where lanes and reports are kept; `None` when snapshots went to a temporary
    /// directory that is removed after the summary.
    pub out_dir: Option<String>,
}

impl Default for SummaryOptions {
    fn default() -> SummaryOptions {
        SummaryOptions {
            top: 0,
            fail_on_growth: None,
            settle_seconds: DEFAULT_SETTLE_SECONDS,
            out_dir: None,
        }
    }
}

/// One process with what its samples and snapshots say.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessSummary {
    /// The record.
    #[serde(flatten)]
    pub process: ProcessRecord,
    /// First RSS sample, bytes.
    pub first_rss: u64,
    /// Last RSS sample, bytes.
    pub last_rss: u64,
    /// The RSS growth is counted from, once start-up is over; null with one sample or
    /// when start-up never levelled off before the process ended.
    pub baseline: Option<Baseline>,
    /// The highest RSS from the baseline on minus the baseline, bytes; null without one.
    pub growth: Option<i64>,
    /// Last RSS minus the baseline, bytes; null without one.
    pub net_growth: Option<i64>,
    /// Theil–Sen slope of RSS over time, bytes per second, with its 95 % interval; null
    /// with fewer than [`MIN_SLOPE_SAMPLES`] samples.
    pub slope: Option<SlopeEstimate>,
    /// Earliest vs latest heap snapshot, with two or more.
    pub heap: Option<HeapGrowth>,
    /// Why there is no heap diff despite two snapshots.
    pub heap_error: Option<String>,
    /// With `--no-raw-snapshots`: earliest vs latest census of its streamed snapshots.
    pub census_heap: Option<CensusGrowth>,
    /// Its worker threads that ran test files, each a lane of its own with its own heap.
    pub threads: Vec<ThreadSummary>,
}

/// The processes of one lane.
#[derive(Clone, Debug, Serialize)]
pub struct LaneSummary {
    /// The lane (its directory name).
    pub lane: String,
    /// The highest RSS of any of its processes, bytes.
    pub peak_rss: u64,
    /// Its processes, in order of start.
    pub processes: Vec<ProcessSummary>,
}

/// The `--fail-on-growth` check.
#[derive(Clone, Debug, Serialize)]
pub struct GrowthGate {
    /// The limit, bytes.
    pub limit: u64,
    /// PIDs whose RSS grew by more.
    pub exceeded: Vec<i32>,
    /// Worker thread lanes whose own heap grew more after start-up, counted from its
    /// baseline by the rule processes' RSS is ([`ThreadRecord::heap_growth_after_startup`]):
    /// RSS is per process and cannot show a thread's growth.
    pub exceeded_threads: Vec<String>,
    /// True when it made trace fail (the command itself succeeded).
    pub failed: bool,
}

/// The trace report.
#[derive(Clone, Debug, Serialize)]
pub struct TraceReport {
    /// The command.
    pub command: Vec<String>,
    /// How it ended.
    pub exit: CommandExit,
    /// What trace exits with: the command's status; else 1 when `--fail-on-growth` was
    /// exceeded; else 2 when `--files-from` could not be read; else 0.
    pub exit_status: i32,
    /// When it started, ms since the Unix epoch.
    pub started_unix_ms: u64,
    /// Seconds it ran.
    pub wall_seconds: f64,
    /// Seconds between samples.
    pub interval_seconds: f64,
    /// Seconds between snapshots of one process, when taken.
    pub snapshot_every_seconds: Option<f64>,
    /// What the snapshots cost, when taken ([`crate::boundaries`]).
    pub snapshot_cost: Option<crate::boundaries::SnapshotCost>,
    /// Where the memory grown test workers kept was allocated, by V8's sampling heap
    /// profiler: one entry per worker and file after which it had grown by
    /// `--snapshot-growth` ([`crate::allocations`]).
    pub allocations: Vec<crate::allocations::KeptAllocations>,
    /// The settle time: how long a process's start-up lasts at most, seconds.
    pub settle_seconds: f64,
    /// The lane rule.
    pub lane_rule: String,
    /// Where lanes and reports are kept; null when nothing was kept.
    pub out_dir: Option<String>,
    /// Processes seen.
    pub process_count: usize,
    /// Worker threads that ran test files, each a lane of its own (under its process).
    pub thread_count: usize,
    /// Highest RSS of the whole tree, bytes.
    pub peak_tree_rss: u64,
    /// Per lane, in order of their first process.
    pub lanes: Vec<LaneSummary>,
    /// Test files and their attributed growth.
    pub files: Vec<FileAttribution>,
    /// The `--fail-on-growth` check, when asked for.
    pub fail_on_growth: Option<GrowthGate>,
    /// Signals passed on to the command.
    pub signals_forwarded: Vec<i32>,
    /// Time spent sampling, seconds.
    pub sampling_seconds: f64,
    /// What this trace could not see: files not tied to the process that ran them,
    /// processes no sample saw ([`crate::unseen`]).
    pub unseen: Vec<String>,
    /// What this trace did not measure.
    pub not_measured: Vec<String>,
    /// What went wrong along the way.
    pub warnings: Vec<String>,
}

fn summarise(p: ProcessRecord, top: usize, settle: f64, refs: &References) -> ProcessSummary {
    let first_rss = p.samples.first().map_or(0, |s| s.rss);
    let last_rss = p.samples.last().map_or(0, |s| s.rss);
    let slope = (p.samples.len() >= MIN_SLOPE_SAMPLES).then(|| {
        let (x, y): (Vec<f64>, Vec<f64>) = p.samples.iter().map(|s| (s.t, s.rss as f64)).unzip();
        theil_sen(&x, &y, 0.05)
    });
    // Only a process that runs test files in its main thread has a reference to be
    // diffed against: the reference is a fresh worker of its runner.
    let key = p
        .role
        .as_ref()
        .filter(|r| r.runs_tests && !r.in_threads)
        .map(|r| ReferenceKey::process(&r.runner, &p));
    let (heap, heap_error) = match heap_growth_of(&p.snapshots, refs.snapshot(key.as_ref()), top) {
        Ok(h) => (h, None),
        Err(e) => (None, Some(e)),
    };
    let census_heap = census_growth(&p.censuses, refs.census(key.as_ref()), top);
    let baseline = p.baseline(settle);
    ProcessSummary {
        growth: baseline.map(|b| b.growth(&p.samples)),
        net_growth: baseline.map(|b| b.net_growth(&p.samples)),
        baseline,
        first_rss,
        last_rss,
        slope,
        heap,
        heap_error,
        census_heap,
        threads: Vec::new(),
        process: p,
    }
}

impl TraceReport {
    /// Summarises a run. `reporter` is the `--files-from` result, when one was given.
    pub fn build(
        run: TraceRun,
        reporter: Option<Result<Vec<FileSpan>, ReporterError>>,
        options: &SummaryOptions,
    ) -> TraceReport {
        let mut warnings = run.warnings.clone();
        let mut spans = run.worker_files.clone();
        spans.extend(run.tap_files.iter().cloned());
        let mut reporter_failed = false;
        match reporter {
            Some(Ok(files)) => spans.extend(files),
            Some(Err(e)) => {
                reporter_failed = true;
                warnings.push(format!("--files-from: {e}"));
            }
            None => {}
        }
        let settle = options.settle_seconds;
        let files = attribute(spans, &run.processes, &run.tree_rss, settle);
        let not_measured = not_measured(&run, &files, settle);
        let unseen = crate::unseen::unseen(&run, &files);
        let gate = options.fail_on_growth.map(|limit| {
            let exceeded: Vec<i32> = run
                .processes
                .iter()
                .filter(|p| p.growth(settle).is_some_and(|g| g > limit as i64))
                .map(|p| p.pid)
                .collect();
            let exceeded_threads: Vec<String> = run
                .threads
                .iter()
                // Its own heap from its baseline after start-up, by the rule processes'
                // RSS is measured by: from its first file's start, the modules that file
                // imports counted as growth.
                .filter(|t| {
                    t.heap_growth_after_startup(settle)
                        .is_some_and(|g| g > limit as i64)
                })
                .map(|t| format!("thread {} of PID {}", t.thread, t.pid))
                .collect();
            GrowthGate {
                limit,
                failed: (!exceeded.is_empty() || !exceeded_threads.is_empty())
                    && run.exit.status == 0,
                exceeded,
                exceeded_threads,
            }
        });
        let exit_status = if run.exit.status != 0 {
            run.exit.status
        } else if gate.as_ref().is_some_and(|g| g.failed) {
            1
        } else if reporter_failed {
            2
        } else {
            0
        };
        let mut lanes: Vec<LaneSummary> = Vec::new();
        let process_count = run.processes.len();
        let thread_count = run.threads.len();
        let refs = References::of(&run.processes, &run.threads);
        let mut threads: Vec<Option<ThreadRecord>> = run.threads.into_iter().map(Some).collect();
        let mut processes = run.processes;
        processes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pid.cmp(&b.pid)));
        // Each thread goes under the process with its PID that ran at its start (the
        // latest with its PID when none did: a PID is not reused while its process runs).
        let owner: Vec<Option<usize>> = threads
            .iter()
            .flatten()
            .map(|t| {
                processes
                    .iter()
                    .rposition(|p| {
                        p.pid == t.pid
                            && p.start <= t.start + run.interval_seconds
                            && p.end.is_none_or(|e| e + run.interval_seconds >= t.start)
                    })
                    .or_else(|| processes.iter().rposition(|p| p.pid == t.pid))
            })
            .collect();
        let mut orphans = 0;
        for (i, p) in processes.into_iter().enumerate() {
            let mut s = summarise(p, options.top, settle, &refs);
            for (slot, o) in threads.iter_mut().zip(&owner) {
                if *o == Some(i) {
                    if let Some(t) = slot.take() {
                        s.threads
                            .push(summarise_thread(t, options.top, settle, &refs));
                    }
                }
            }
            match lanes.iter_mut().find(|l| l.lane == s.process.lane) {
                Some(l) => {
                    l.peak_rss = l.peak_rss.max(s.process.peak_rss);
                    l.processes.push(s);
                }
                None => lanes.push(LaneSummary {
                    lane: s.process.lane.clone(),
                    peak_rss: s.process.peak_rss,
                    processes: vec![s],
                }),
            }
        }
        for t in threads.iter().flatten() {
            orphans += 1;
            warnings.push(format!(
                "thread {} of PID {} ran test files but its process was never seen: its lane is left out",
                t.thread, t.pid
            ));
        }
        TraceReport {
            thread_count: thread_count - orphans,
            command: run.command,
            exit: run.exit,
            exit_status,
            started_unix_ms: run.started_unix_ms,
            wall_seconds: run.wall_seconds,
            interval_seconds: run.interval_seconds,
            snapshot_every_seconds: run.snapshot_every_seconds,
            snapshot_cost: run.snapshot_cost,
            allocations: run.allocations,
            settle_seconds: settle,
            lane_rule: run.lane_rule,
            out_dir: options.out_dir.clone(),
            process_count,
            peak_tree_rss: run.tree_rss.iter().map(|p| p.rss).max().unwrap_or(0),
            lanes,
            files,
            fail_on_growth: gate,
            signals_forwarded: run.signals_forwarded,
            sampling_seconds: run.sampling_seconds,
            unseen,
            not_measured,
            warnings,
        }
    }

    /// Every process, lane by lane.
    pub fn processes(&self) -> impl Iterator<Item = &ProcessSummary> {
        self.lanes.iter().flat_map(|l| l.processes.iter())
    }

    /// Every worker thread lane, process by process.
    pub fn threads(&self) -> impl Iterator<Item = &ThreadSummary> {
        self.processes().flat_map(|p| p.threads.iter())
    }
}

/// What the run could not see, in plain sentences.
fn not_measured(run: &TraceRun, files: &[FileAttribution], settle: f64) -> Vec<String> {
    let mut out = Vec::new();
    let interval = run.interval_seconds;
    match run.snapshot_every_seconds {
        None if !run.allocations.is_empty() => out.push(
            "Heap contents: snapshots are off (--snapshot-every not given), so there is no heap diff or module-graph/runtime verdict; where the grown workers' kept memory was allocated comes from V8's sampling heap profiler (sections above), which names allocation sites, not retainers."
                .to_owned(),
        ),
        None => out.push(
            "Heap contents: snapshots are off (--snapshot-every not given), so there is no heap diff or module-graph/runtime verdict; RSS only."
                .to_owned(),
        ),
        Some(every) => {
            out.extend(crate::unseen::snapshot_scope(run));
            let files_mode = run.snapshot_cost.as_ref().is_some_and(|c| c.mode == "files");
            // At file boundaries the test workers are said apart: lazily snapshotted, most
            // have none by design ([`crate::lazy`]).
            let lazy = files_mode.then(|| crate::lazy::lazy(run, files));
            let few: Vec<String> = run
                .processes
                .iter()
                .filter(|p| p.node && p.snapshots.len() + p.censuses.len() < 2 && p.snapshots_skipped.is_none())
                // One whose snapshot trace's busy pipes cost it is said below, as trace's.
                .filter(|p| !p.notes.iter().any(|n| crate::boundaries::is_pipe_note(n)))
                .filter(|p| !lazy.as_ref().is_some_and(|l| l.covers(p.pid)))
                .map(|p| {
                    let n = p.snapshots.len() + p.censuses.len();
                    format!("{} ({n} snapshot{})", p.pid, plural_s(n))
                })
                .collect();
            if let Some(l) = &lazy {
                out.extend(l.sentences());
            }
            if !few.is_empty() {
                let how = if files_mode {
                    format!("a Node process the preload does not hook is snapshotted once it has run {every} s and again {every} s after each snapshot is written; none after it exits")
                } else {
                    format!("a process is snapshotted once it has run {every} s and again {every} s after each snapshot is written; not after it exits")
                };
                out.push(format!(
                    "Heap diff: Node PIDs with fewer than two snapshots ({how}): {}.",
                    few.join(", ")
                ));
            }
            // The snapshots a worker skipped, for --snapshot-budget or because trace's pipes
            // were busy: the notes are JSON only.
            for p in &run.processes {
                for n in &p.notes {
                    if crate::boundaries::is_budget_note(n) {
                        out.push(format!("Heap diff, --snapshot-budget: PID {}: {n}.", p.pid));
                    } else if crate::boundaries::is_pipe_note(n) {
                        out.push(format!("Heap diff, snapshot skipped: PID {}: {n}.", p.pid));
                    }
                }
            }
            if run.snapshots_streamed {
                out.push("Snapshots streamed (--no-raw-snapshots): no snapshot file was written; each test worker's (and worker thread's) snapshots went down a private pipe into a census process and only their censuses are kept, so heap diffs and verdicts come from censuses (classes below a census's cut-off are not compared). Processes trace's preload does not hook are not snapshotted: their signal snapshots would be files.".to_owned());
            }
            out.push("RSS with snapshots on includes the memory V8 takes to build each snapshot: growth figures are higher than without --snapshot-every.".to_owned());
            let others = run.processes.iter().filter(|p| !p.node).count();
            if others > 0 {
                out.push(format!(
                    "Heap contents of the {others} non-Node process{}: RSS only.",
                    agree(others, "", "es")
                ));
            }
        }
    }
    let once = run.processes.iter().filter(|p| p.samples.len() < 2).count();
    out.push(format!(
        "Processes shorter than the {interval} s interval may have been missed entirely{}.",
        if once > 0 {
            format!("; {once} were sampled only once (no growth figure)")
        } else {
            String::new()
        }
    ));
    let unsettled: Vec<String> = run
        .processes
        .iter()
        .filter(|p| p.samples.len() >= 2 && p.baseline(settle).is_none())
        .map(|p| p.pid.to_string())
        .collect();
    if !unsettled.is_empty() {
        out.push(format!(
            "Growth of PIDs {}: each ended before the {settle} s settle time with its RSS rising at every sample, so its start-up and any growth cannot be told apart (no growth figure, not checked by --fail-on-growth; its peak is reported).",
            unsettled.join(", ")
        ));
    }
    if !run.threads.is_empty() {
        out.push(
            "Worker threads: each that ran test files is a lane of its own with its own heap (sampled inside the thread every interval and after a full GC at each file boundary), snapshots and verdict; RSS is per process, so a thread lane has no RSS of its own and a file run in a thread gets its whole process's RSS growth.".to_owned(),
        );
    } else if files.iter().any(|f| f.thread.is_some_and(|t| t > 0)) {
        out.push(
            "Worker threads share their process's PID and RSS (and a signal snapshot holds only the main thread's heap): a file run in a thread has its own heap figure (heap kept), but its RSS growth is the whole process's.".to_owned(),
        );
    } else {
        out.push(
            "Worker threads share their process's PID and RSS (and a signal snapshot holds only the main thread's heap): they are not separated."
                .to_owned(),
        );
    }
    if files.iter().any(|f| f.span.worker.is_some()) {
        out.push("Heap kept per file is measured after a full garbage collection that trace's preload runs in the worker at the file's start and end.".to_owned());
    }
    out.push("RSS counts shared pages (the Node binary, shared libraries) in every process that maps them; the tree total overstates memory use.".to_owned());
    if files.is_empty() {
        out.push(
            "Test files: none named (no file subtests in TAP on stdout, no node --test file processes, no --files-from)."
                .to_owned(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_growth_snapshot_pairs_with_the_reference() {
        // (name, a reference baseline itself)
        let is_ref = |s: &(&str, bool)| s.1;
        let reference = ("ref", true);
        let with = Some((&reference, "PID 41"));
        let grew = [("after leaky", false)];
        let (a, b, who) = pair(&grew, is_ref, with).expect("a pair");
        assert_eq!(
            (a.0, b.0, who.as_deref()),
            ("ref", "after leaky", Some("PID 41"))
        );
        // Its own two: its own pair, however a reference exists.
        let own = [("before a", true), ("after leaky", false)];
        let (a, b, who) = pair(&own, is_ref, with).expect("a pair");
        assert_eq!((a.0, b.0, who), ("before a", "after leaky", None));
        // Two growth snapshots, none from before: the first already holds the growth that
        // triggered it, so the diff runs from the reference to the latest.
        let grew_twice = [("after leaky", false), ("after slow", false)];
        let (a, b, who) = pair(&grew_twice, is_ref, with).expect("a pair");
        assert_eq!(
            (a.0, b.0, who.as_deref()),
            ("ref", "after slow", Some("PID 41"))
        );
        // Without a reference, its own two.
        let (a, b, who) = pair(&grew_twice, is_ref, None).expect("a pair");
        assert_eq!((a.0, b.0, who), ("after leaky", "after slow", None));
        // The reference alone, or a growth snapshot without one: no diff.
        assert!(pair(&[reference], is_ref, with).is_none());
        assert!(pair(&grew, is_ref, None).is_none());
        assert!(pair(&[] as &[(&str, bool)], is_ref, with).is_none());
        assert_eq!(
            pair_words(Some("PID 41"), "snapshot"),
            "its runner's reference baseline (PID 41, a fresh worker before its first file: it had no snapshot of its own before it grew) and its snapshot"
        );
    }

    const MIB: u64 = 1 << 20;

    /// Thread `thread` of PID 7, its own heap (MiB) every 0.25 s from 1.0 s.
    fn thread_with(thread: u32, mib: &[u64]) -> ThreadRecord {
        let heap_samples: Vec<crate::threads::HeapPoint> = mib
            .iter()
            .enumerate()
            .map(|(i, m)| crate::threads::HeapPoint {
                t: 1.0 + 0.25 * i as f64,
                heap: m * MIB,
                // The first and last are a file's start and end, after a full GC.
                after_gc: i == 0 || i + 1 == mib.len(),
            })
            .collect();
        ThreadRecord {
            pid: 7,
            thread,
            lane: format!("vitest.thread-{thread}"),
            runner: "vitest".to_owned(),
            files: vec!["/w/a.test.js".to_owned()],
            start: 1.0,
            end: heap_samples.last().map_or(1.0, |p| p.t),
            peak_heap: mib.iter().max().map_or(0, |m| m * MIB),
            heap_samples,
            snapshots: Vec::new(),
            censuses: Vec::new(),
        }
    }

    #[test]
    fn fail_on_growth_counts_a_threads_heap_from_after_its_start_up() {
        // Thread 2 imports 30 MiB of modules as its file starts, then stays flat for
        // 3 s: start-up, not growth, as it would be in a process's RSS. Thread 3 keeps
        // rising long after its start-up: a leak.
        let flat = thread_with(
            2,
            &[5, 20, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35],
        );
        let leaking = thread_with(
            3,
            &[5, 20, 35, 35, 35, 35, 35, 35, 35, 45, 55, 65, 75, 85, 95],
        );
        assert_eq!(flat.heap_kept(), Some(30 * MIB as i64));
        let run = TraceRun {
            command: Vec::new(),
            exit: CommandExit::default(),
            started_unix_ms: 0,
            wall_seconds: 5.0,
            interval_seconds: 0.25,
            snapshot_every_seconds: None,
            snapshot_coordinators: false,
            snapshots_streamed: false,
            file_hooks: true,
            lane_rule: "script".to_owned(),
            processes: Vec::new(),
            tree_rss: Vec::new(),
            tap_files: Vec::new(),
            worker_files: Vec::new(),
            threads: vec![flat, leaking],
            signals_forwarded: Vec::new(),
            sampling_seconds: 0.0,
            snapshot_cost: None,
            allocations: Vec::new(),
            warnings: Vec::new(),
        };
        let options = SummaryOptions {
            fail_on_growth: Some(20 * MIB),
            ..SummaryOptions::default()
        };
        let report = TraceReport::build(run, None, &options);
        let gate = report.fail_on_growth.as_ref().expect("gate");
        assert_eq!(gate.exceeded_threads, ["thread 3 of PID 7"]);
        assert!(gate.failed);
    }
}
