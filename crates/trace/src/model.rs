//! What a trace records of each process: its RSS timeline and what it was seen doing. The
//! modules that read a run (baseline, files, boundaries) import these types from here, and
//! the tracer that fills them in does too, so that none of them imports the tracer.

use serde::Serialize;

use crate::roles::Role;
use crate::snapshots::SnapshotFile;
use crate::streamed::StreamedCensus;

/// One point of a process's RSS line.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct RssPoint {
    /// Seconds from the command's start.
    pub t: f64,
    /// Resident set size, bytes.
    pub rss: u64,
    /// What the process was doing, when `/proc` was read (not for the tree's sum or RSS
    /// a worker reported itself): it tells a start-up stalled for a CPU from one that is
    /// over ([`crate::baseline`]).
    #[serde(skip)]
    pub cpu: Option<CpuState>,
}

/// A process's CPU state at a sample, from `/proc/PID/stat`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuState {
    /// CPU time used so far, user and system, seconds.
    pub seconds: f64,
    /// Running, runnable (waiting for a CPU) or in uninterruptible I/O; not sleeping.
    pub busy: bool,
}

/// One process of the tree, from its first sample to its end.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessRecord {
    /// The process id.
    pub pid: i32,
    /// Its parent when first seen.
    pub ppid: i32,
    /// Its command line (as it was after its last `exec`).
    pub command: Vec<String>,
    /// Its lane.
    pub lane: String,
    /// True for Node processes (by executable or program name).
    pub node: bool,
    /// The test file, for a process `node --test` started to run one.
    pub test_file: Option<String>,
    /// What it does in a test run, when a runner's process ([`crate::roles`]).
    pub role: Option<Role>,
    /// Why it was not snapshotted when it was due (it runs no tests); null otherwise.
    pub snapshots_skipped: Option<String>,
    /// When it started, seconds from the command's start (from `/proc`, to 10 ms).
    pub start: f64,
    /// When it was first sampled.
    pub first_seen: f64,
    /// When it was first seen gone (within one interval of its real end); null when it
    /// was still running as trace stopped.
    pub end: Option<f64>,
    /// It was still running when the command exited (and was then stopped by trace).
    pub outlived_command: bool,
    /// No sample of `/proc` saw it: it is known from the test files it reported.
    pub unsampled: bool,
    /// RSS over its life, one point per interval.
    pub samples: Vec<RssPoint>,
    /// The highest RSS sampled, bytes.
    pub peak_rss: u64,
    /// Heap snapshots collected, earliest first.
    pub snapshots: Vec<SnapshotFile>,
    /// With `--no-raw-snapshots`: the censuses of the snapshots it streamed, earliest
    /// first (no file was written).
    pub censuses: Vec<StreamedCensus>,
    /// What happened to its snapshots, when something did (no handler, lost, discarded).
    pub notes: Vec<String>,
    #[serde(skip)]
    pub(crate) start_ticks: u64,
    /// When the next snapshot is due, seconds from the command's start.
    #[serde(skip)]
    pub(crate) next_snapshot: f64,
    /// When the snapshot being written was asked for.
    #[serde(skip)]
    pub(crate) pending: Option<f64>,
}

impl ProcessRecord {
    /// A process first seen at `start` (seconds from the command's start) with no sample
    /// yet, as the tracer records it; for building a run outside a trace (tests, tools),
    /// whose other fields are public.
    pub fn seen(
        pid: i32,
        ppid: i32,
        command: Vec<String>,
        lane: &str,
        start: f64,
    ) -> ProcessRecord {
        ProcessRecord {
            pid,
            ppid,
            command,
            lane: lane.to_owned(),
            node: false,
            test_file: None,
            role: None,
            snapshots_skipped: None,
            start,
            first_seen: start,
            end: None,
            outlived_command: false,
            unsampled: false,
            samples: Vec::new(),
            peak_rss: 0,
            snapshots: Vec::new(),
            censuses: Vec::new(),
            notes: Vec::new(),
            start_ticks: 0,
            next_snapshot: f64::INFINITY,
            pending: None,
        }
    }
}
