//! What a trace is given ([`TraceConfig`]) and gives back ([`TraceRun`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::files::FileSpan;
use crate::lane::LaneRule;
use crate::model::{ProcessRecord, RssPoint};
use crate::threads::ThreadRecord;

/// What to run and how to watch it.
#[derive(Clone, Debug)]
pub struct TraceConfig {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Time between samples of the tree.
    pub interval: Duration,
    /// Snapshot every Node process that runs tests ([`crate::roles`]) each time it has
    /// lived this much longer; `None`: no snapshots (and `NODE_OPTIONS` is left alone).
    pub snapshot_every: Option<Duration>,
    /// Let the workers trace's preload hooks snapshot themselves between test files
    /// ([`crate::boundaries`]) rather than by signal on the clock (which others keep).
    pub snapshot_at_files: bool,
    /// With `snapshot_at_files`: how much a worker's heap must grow after its last snapshot
    /// before the next one, bytes.
    pub snapshot_growth: u64,
    /// With `snapshot_at_files`: the share of a worker's time since its first file its
    /// snapshots may take; a growth snapshot that would exceed it is skipped.
    pub snapshot_budget: Option<f64>,
    /// Snapshot the processes that only coordinate a test run too (npm, the runners' main
    /// processes).
    pub snapshot_coordinators: bool,
    /// Where lane directories go; must exist, and should be private (0700).
    pub out_dir: PathBuf,
    /// How processes are grouped into lanes.
    pub lane_rule: LaneRule,
    /// How long the processes left when the command exits get between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// Load trace's preload into every Node process (`NODE_OPTIONS=--require`), so that the
    /// workers of Jest, Vitest and Mocha report which files they ran ([`crate::hooks`]).
    pub file_hooks: bool,
    /// `--no-raw-snapshots`: the workers stream their snapshots into censuses taken here
    /// and no snapshot file is written ([`crate::streamed`]); `None`: snapshot files.
    pub stream_census: Option<leaktrail_harness::CensusWorker>,
    /// With the preload: the test workers run V8's sampling heap profiler from their first
    /// file and, after a file that grew them by `snapshot_growth`, say where the memory
    /// they kept was allocated ([`crate::allocations`]).
    pub allocation_sampling: bool,
}

/// How the command ended.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CommandExit {
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// The status a shell would report: the code, or 128 + the signal.
    pub status: i32,
}

/// Everything a trace collected.
#[derive(Clone, Debug, Serialize)]
pub struct TraceRun {
    /// The command.
    pub command: Vec<String>,
    /// How it ended.
    pub exit: CommandExit,
    /// When it started, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// Seconds from its start until trace stopped.
    pub wall_seconds: f64,
    /// Seconds between samples.
    pub interval_seconds: f64,
    /// Seconds between snapshots of a process, when snapshots were taken.
    pub snapshot_every_seconds: Option<f64>,
    /// The processes that only coordinate a test run were snapshotted too, on request.
    pub snapshot_coordinators: bool,
    /// `--no-raw-snapshots`: snapshots were streamed into censuses, never written.
    pub snapshots_streamed: bool,
    /// Trace's preload was loaded (it tells test workers from coordinators).
    pub file_hooks: bool,
    /// The lane rule, as given.
    pub lane_rule: String,
    /// Every process seen, in order of first sight.
    pub processes: Vec<ProcessRecord>,
    /// RSS of the whole tree at each sample.
    pub tree_rss: Vec<RssPoint>,
    /// Test files named in TAP on stdout.
    pub tap_files: Vec<FileSpan>,
    /// Test files the runners' workers reported through the preload, with their PID.
    pub worker_files: Vec<FileSpan>,
    /// Worker threads that ran test files, each a lane of its own ([`crate::threads`]).
    pub threads: Vec<ThreadRecord>,
    /// Signals leaktrail received and passed on to the command's process group.
    pub signals_forwarded: Vec<i32>,
    /// Time spent reading `/proc` and settling snapshot files, seconds.
    pub sampling_seconds: f64,
    /// What the snapshots cost, when taken.
    pub snapshot_cost: Option<crate::boundaries::SnapshotCost>,
    /// Where grown workers' kept memory was allocated, one entry per read of a worker's
    /// sampling heap profile ([`crate::allocations`]), in the order they were read.
    pub allocations: Vec<crate::allocations::KeptAllocations>,
    /// What went wrong along the way without stopping the trace.
    pub warnings: Vec<String>,
}

/// A trace that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The command could not be started.
    #[error("cannot start `{command}`: {error}")]
    Spawn {
        /// The command.
        command: String,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// The snapshot directory could not be prepared.
    #[error("{path}: cannot create the snapshot directory: {error}")]
    SnapshotDir {
        /// The output directory.
        path: PathBuf,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
}
