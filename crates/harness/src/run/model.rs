//! What a run is given ([`RunConfig`]) and what it gives back ([`RunResult`]).

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

use leaktrail_analysis::SnapshotCensus;
use leaktrail_inspector::InspectorError;
use leaktrail_sampler::MemoryReading;

use super::{EndSnapshot, PssMode, SnapshotPlan};
use crate::census_worker::CensusWorker;
use crate::profile::{ProfileRequest, RecordedProfiles};

/// How to run and sample.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Iteration lines on stdout (first capture group: the number); `None` samples by time.
    pub iteration_pattern: Option<Regex>,
    /// Stop after this many iterations.
    pub iterations: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Time between samples when sampling by time.
    pub interval: Duration,
    /// Add `--inspect=127.0.0.1:0` to `NODE_OPTIONS` and sample the V8 heap.
    pub inspect: bool,
    /// Without `inspect`: note a Node process found in the tree, which the run then saw
    /// only the RSS of ([`RunResult::uninspected_node`]). Off when RSS alone was asked for.
    pub note_uninspected_node: bool,
    /// How long to wait for Node's inspector URL.
    pub inspector_timeout: Duration,
    /// When to take heap snapshots (needs the inspector).
    pub snapshots: SnapshotPlan,
    /// Where snapshots go.
    pub snapshot_dir: Option<PathBuf>,
    /// Zero-disk snapshots: with a worker, no snapshot is ever written (by leaktrail or by
    /// the workload); each is streamed over the inspector into its census, which is all
    /// that is kept ([`RunSnapshot::census`]), and `snapshot_dir` is not used.
    pub census_worker: Option<CensusWorker>,
    /// Keep sampling time below this share of the elapsed time (0.05 = 5 %) by skipping
    /// sample points; `None` samples at every point.
    pub max_overhead: Option<f64>,
    /// Read the heap V8 leaves after its own major GCs between the forced samples (see
    /// [`CheapPoint`]).
    pub major_gc_points: bool,
    /// Take a heap snapshot at the end of the run, here (for `--expect-freed`; with a
    /// [`RunConfig::census_worker`], only its census is taken, and the path is unused).
    pub end_snapshot: Option<PathBuf>,
    /// When to read PSS (slow on large processes).
    pub pss: PssMode,
    /// CPU and allocation profiles to record over the inspector.
    pub profiles: Option<ProfileRequest>,
    /// When sampling by iteration, end the run with a fault after this long without a new
    /// iteration; `None` scales the wait to the pace seen: a minute for the first line, then ten
    /// times the longest gap between iterations, at least ten seconds.
    pub stall_timeout: Option<Duration>,
}

/// One sample.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Sample {
    /// Seconds since the start.
    pub t: f64,
    /// The workload's iteration count when the heap was measured, when sampling by
    /// iteration (interpolated between the lines around that moment: see `label`).
    pub iteration: Option<u64>,
    /// The process tree's memory: V8's heap after a full GC (Node only) and the tree's
    /// RSS, anonymous RSS, threads, and PSS on the samples where it was read (it is slow).
    #[serde(flatten)]
    pub memory: MemoryReading,
    /// Processes in the tree.
    pub processes: usize,
    /// True for the first sample after a heap snapshot: RSS then holds what V8 allocated
    /// to build the snapshot, a step that is leaktrail's, not the workload's.
    pub after_snapshot: bool,
}

/// How a point was measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    /// After a full GC leaktrail forced (a [`Sample`]).
    #[default]
    Forced,
    /// After a major GC V8 ran by itself, read without a GC of leaktrail's (a
    /// [`CheapPoint`]).
    MajorGc,
}

/// A point read without a forced GC: the heap as V8 left it after one of its own major
/// GCs (the GC watcher: see the `gc` module), between the forced samples. It costs the
/// workload no GC and no request, only the reading.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheapPoint {
    /// Seconds since the start, when the GC ended.
    pub t: f64,
    /// The workload's iteration count when the GC ended, when sampling by iteration
    /// (interpolated between the lines around that moment).
    pub iteration: Option<u64>,
    /// How it was measured ([`PointKind::MajorGc`]).
    pub kind: PointKind,
    /// V8 heap in use right after the GC, bytes.
    pub heap_used: u64,
    /// V8 heap reserved, bytes.
    pub heap_total: u64,
    /// External memory (`v8.getHeapStatistics().external_memory`), bytes.
    pub external: u64,
}

/// A heap snapshot taken during a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunSnapshot {
    /// The file; for a zero-disk snapshot, only its name (`#2`): there is no file.
    pub path: PathBuf,
    /// The census of a zero-disk snapshot ([`RunConfig::census_worker`]).
    #[serde(skip)]
    pub census: Option<Box<SnapshotCensus>>,
    /// The iteration the workload was at when it was taken, when sampling by iteration
    /// (labelled as samples are: see `run::label`).
    pub iteration: Option<u64>,
    /// The index of that sample.
    pub sample: usize,
    /// Its number among the snapshots the run took, from 1 (0: the one at the end).
    #[serde(skip)]
    pub number: u64,
    /// Seconds since the start.
    pub t: f64,
}

/// How the workload ended.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ExitInfo {
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// True when leaktrail stopped it (the iteration or time bound was reached).
    pub stopped_by_harness: bool,
}

/// Everything a run collected.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunResult {
    /// The samples, in order.
    pub samples: Vec<Sample>,
    /// The points read after V8's own major GCs, in order (see [`CheapPoint`]).
    pub cheap_points: Vec<CheapPoint>,
    /// What reading them cost the workload (part of `sampling_seconds`), seconds.
    pub cheap_seconds: f64,
    /// How the workload ended.
    pub exit: ExitInfo,
    /// The last lines it wrote on stderr.
    pub stderr_tail: Vec<String>,
    /// The last lines it wrote on stdout.
    pub stdout_tail: Vec<String>,
    /// The stop signal (SIGINT, SIGTERM, SIGHUP) that ended the run early, if one did:
    /// the workload's tree was stopped and what was measured until then is kept.
    pub interrupted: Option<i32>,
    /// The inspector it was sampled through.
    pub inspector_url: Option<String>,
    /// Heap snapshots kept, in order (a doubling schedule removes older ones).
    pub snapshots: Vec<RunSnapshot>,
    /// Wall time of the run, seconds.
    pub wall_seconds: f64,
    /// Time spent in sampling calls (GC, heap usage, /proc), seconds.
    pub sampling_seconds: f64,
    /// Time spent taking snapshots, seconds.
    pub snapshot_seconds: f64,
    /// What went wrong during the run (the inspector dropped), if anything; the samples
    /// collected until then are kept.
    pub fault: Option<String>,
    /// The highest iteration the workload reported (sampled or not).
    pub last_iteration: Option<u64>,
    /// Sample points skipped to keep within the overhead budget.
    pub skipped_samples: u64,
    /// Samples taken past the overhead budget for the minimum density of points (see
    /// `label::MIN_DENSITY`).
    pub density_points: u64,
    /// Samples the minimum density would have taken past the budget, that a point read
    /// after V8's own major GC stood in for.
    pub density_stood_in: u64,
    /// Time spent reading PSS (part of `sampling_seconds`), seconds.
    pub pss_seconds: f64,
    /// The estimated after-effect of samples beyond their pauses (not part of
    /// `sampling_seconds`), seconds: see the `aftermath` module.
    pub aftermath_seconds: f64,
    /// The overhead budget the run kept to (share of wall time), if any.
    pub overhead_budget: Option<f64>,
    /// The heap snapshot taken at the end, when asked for.
    pub end_snapshot: Option<EndSnapshot>,
    /// Snapshots not taken because the workload had no room for V8 to build them in, each
    /// with why ([`crate::SnapshotShortfall`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots_skipped: Vec<String>,
    /// CPU and allocation profiles written (`--cpu-profile`, `--alloc-profile`).
    pub profiles: RecordedProfiles,
    /// A Node process of the tree that leaktrail did not start as Node (the command wraps
    /// it: `sh -c`, a script), so the run saw its RSS only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uninspected_node: Option<UninspectedNode>,
    /// The live heaps of the workload's worker threads, read at each heap snapshot: each
    /// is a V8 isolate of its own, outside the main thread's heap and snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub worker_heaps: Vec<WorkerHeaps>,
}

/// The worker threads' live heaps at one point of the run (after a full GC in each).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WorkerHeaps {
    /// The iteration the workload was at, when sampling by iteration.
    pub iteration: Option<u64>,
    /// Seconds since the start.
    pub t: f64,
    /// The heap of each worker thread that answered, bytes.
    pub heaps: Vec<u64>,
    /// A heap snapshot of each of them, in the same order, when they were taken (a few
    /// small workers, snapshots into files); empty otherwise. Kept for the last
    /// snapshots only, as the main thread's are.
    pub snapshots: Vec<PathBuf>,
}

/// A Node process the run found in the workload's tree without an inspector of its own.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UninspectedNode {
    /// Its PID.
    pub pid: i32,
    /// Its command line.
    pub command: String,
}

/// A run that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The command could not be started.
    #[error("cannot start `{command}`: {error}")]
    Spawn {
        /// The command.
        command: String,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// Node's inspector did not appear.
    #[error("`{command}` printed no \"Debugger listening on ws://…\" line within {seconds} s (is it a Node program? --no-inspector samples RSS only)")]
    NoInspector {
        /// The command.
        command: String,
        /// How long we waited.
        seconds: u64,
    },
    /// The inspector failed.
    #[error("inspector of `{command}`: {error}")]
    Inspector {
        /// The command.
        command: String,
        /// The cause, said in the message (not also a `source()`).
        error: InspectorError,
    },
}
