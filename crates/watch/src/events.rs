//! What the watcher tells its caller: events as it goes, a summary at the end, and the
//! errors that stop it.

use std::time::Duration;

use leaktrail_store::{IncarnationEnd, IncarnationId, SampleRecord, StoreError};

/// What the watcher reports as it goes (for a status line or a log).
#[derive(Clone, Debug)]
pub enum WatchEvent {
    /// A process is being watched.
    Started {
        /// Its PID.
        pid: i32,
        /// The incarnation's row id.
        incarnation: IncarnationId,
        /// Whether the V8 heap is sampled.
        inspector: bool,
    },
    /// A sample was stored.
    Sample(SampleRecord),
    /// A snapshot's census was stored.
    Snapshot {
        /// File name under `snapshots/`.
        file: String,
        /// Why it was taken.
        reason: String,
        /// Seconds to take and analyse it.
        seconds: f64,
    },
    /// A raw snapshot file was deleted under the budget.
    FileDeleted(String),
    /// Something failed that the watcher survives.
    Warning(String),
    /// The process ended.
    Ended(IncarnationEnd),
    /// The command will be started again.
    Restarting {
        /// After this long.
        after: Duration,
    },
}

/// Why the watcher stopped, and what it stored.
#[derive(Clone, Debug, Default)]
pub struct WatchSummary {
    /// The target's name.
    pub target: String,
    /// Incarnations watched.
    pub incarnations: u64,
    /// Samples stored.
    pub samples: u64,
    /// Snapshot censuses stored.
    pub snapshots: u64,
    /// How the last incarnation ended.
    pub last_end: Option<IncarnationEnd>,
}

/// What stops the watcher.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command could not be started.
    #[error("cannot start `{command}`: {error}")]
    Spawn {
        /// The command line.
        command: String,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// No such process.
    #[error("no process {0} (or it is not readable by this user)")]
    NoProcess(i32),
}
