//! What a store holds, row by row: targets, incarnations, samples, snapshots and the
//! census rows written with a snapshot.

use serde::{Deserialize, Serialize};

use leaktrail_analysis::{Family, SnapshotCensus, SnapshotInfo};
use leaktrail_sampler::MemoryReading;

/// A row id of `targets`.
pub type TargetId = i64;
/// A row id of `incarnations`.
pub type IncarnationId = i64;
/// A row id of `snapshots`.
pub type SnapshotId = i64;

/// A watched service.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Target {
    /// Row id.
    pub id: TargetId,
    /// Its name (unique in the store).
    pub name: String,
    /// The command line, when leaktrail started it.
    pub command: Option<String>,
    /// When it was first watched, ms since the epoch.
    pub created_at: i64,
}

/// One lifetime of a target's process.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Incarnation {
    /// Row id.
    pub id: IncarnationId,
    /// The target.
    pub target_id: TargetId,
    /// Its process id.
    pub pid: i64,
    /// Start, ms since the epoch.
    pub started_at: i64,
    /// End, when it ended.
    pub ended_at: Option<i64>,
    /// Exit code, when it exited.
    pub exit_code: Option<i64>,
    /// Signal that killed it.
    pub signal: Option<i64>,
    /// How it ended; `None` while running or if the watcher died.
    pub end_reason: Option<EndReason>,
    /// The V8 heap limit (`heap_size_limit`), bytes.
    pub heap_limit: Option<i64>,
    /// The cgroup memory limit, bytes.
    pub memory_limit: Option<i64>,
}

/// How an incarnation ended.
#[derive(Clone, Debug, PartialEq)]
pub struct IncarnationEnd {
    /// When, ms since the epoch.
    pub ended_at: i64,
    /// Exit code.
    pub exit_code: Option<i64>,
    /// Killing signal.
    pub signal: Option<i64>,
    /// Why.
    pub reason: EndReason,
}

/// Why an incarnation ended, as the store's `end_reason` column spells it
/// ([`EndReason::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EndReason {
    /// V8 ran out of heap (its report is on the command's stderr).
    #[serde(rename = "v8-heap-oom")]
    V8HeapOom,
    /// The OOM killer ended it (SIGKILL with the cgroup's or machine's count up).
    #[serde(rename = "oom-kill")]
    OomKill,
    /// Another signal ended it.
    #[serde(rename = "signal")]
    Signal,
    /// It exited.
    #[serde(rename = "exited")]
    Exited,
    /// The watcher stopped the command it started.
    #[serde(rename = "stopped")]
    Stopped,
    /// The watcher left a running process it did not start.
    #[serde(rename = "detached")]
    Detached,
}

impl EndReason {
    /// Every reason.
    pub const ALL: [EndReason; 6] = [
        EndReason::V8HeapOom,
        EndReason::OomKill,
        EndReason::Signal,
        EndReason::Exited,
        EndReason::Stopped,
        EndReason::Detached,
    ];

    /// The word the store, the events and the reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::V8HeapOom => "v8-heap-oom",
            EndReason::OomKill => "oom-kill",
            EndReason::Signal => "signal",
            EndReason::Exited => "exited",
            EndReason::Stopped => "stopped",
            EndReason::Detached => "detached",
        }
    }

    /// Whether the watcher ended it (stopped or detached), not the process itself: no
    /// restart follows, and re-running `watch` is not a crash.
    pub fn by_the_watcher(self) -> bool {
        matches!(self, EndReason::Stopped | EndReason::Detached)
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EndReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EndReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown end reason {s:?}"))
    }
}

impl rusqlite::ToSql for EndReason {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for EndReason {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: String| rusqlite::types::FromSqlError::Other(e.into()))
    }
}

/// One memory sample.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct SampleRecord {
    /// The incarnation sampled.
    pub incarnation_id: IncarnationId,
    /// When, ms since the epoch.
    pub t: i64,
    /// The process tree's memory (or the process's alone, with `--process-only`); the
    /// heap fields for Node targets, outside snapshots.
    #[serde(flatten)]
    pub memory: MemoryReading,
    /// Taken while a heap snapshot was being built: V8 allocates to serialize it, so RSS
    /// jumps for reasons of the watcher's own; the RSS verdict leaves such samples out.
    #[serde(default)]
    pub in_snapshot: bool,
}

/// One snapshot of the index.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SnapshotRecord {
    /// Row id.
    pub id: SnapshotId,
    /// The incarnation it was taken of.
    pub incarnation_id: IncarnationId,
    /// When, ms since the epoch.
    pub t: i64,
    /// File name under `snapshots/`.
    pub file: String,
    /// File size, bytes.
    pub file_size: i64,
    /// When the raw file was deleted under the disk budget (the census stays).
    pub file_deleted_at: Option<i64>,
    /// Nodes.
    pub node_count: i64,
    /// Edges.
    pub edge_count: i64,
    /// Sum of self sizes, bytes.
    pub total_self_size: i64,
    /// Why it was taken: `schedule`, `growth`, `first`, `manual`.
    pub reason: String,
}

impl SnapshotRecord {
    /// A census holding only what this index row says (the facts; no families, classes or
    /// collections yet).
    pub fn facts_only(&self) -> SnapshotCensus {
        SnapshotCensus {
            info: SnapshotInfo {
                path: self.file.clone(),
                file_size: self.file_size as u64,
                node_count: self.node_count as u64,
                edge_count: self.edge_count as u64,
                total_self_size: self.total_self_size as u64,
            },
            families: Vec::new(),
            classes: Vec::new(),
            collections: Vec::new(),
            max_node_id: None,
            leaks: None,
            places: Vec::new(),
        }
    }
}

/// One class row of a stored census, borrowed from the query that read it.
#[derive(Clone, Copy, Debug)]
pub struct ClassRowRef<'a> {
    /// The snapshot whose census it is.
    pub snapshot: SnapshotId,
    /// Class name.
    pub class: &'a str,
    /// The class's growth family.
    pub family: Family,
    /// Objects.
    pub count: u64,
    /// Their self size, bytes.
    pub self_size: u64,
    /// Their retained size, bytes, when the census kept it.
    pub retained_size: Option<u64>,
}

/// One collection row of a stored census, borrowed from the query that read it.
#[derive(Clone, Copy, Debug)]
pub struct CollectionRowRef<'a> {
    /// The snapshot whose census it is.
    pub snapshot: SnapshotId,
    /// V8 node id.
    pub id: u32,
    /// Its kind (`Map`, `Array`, …).
    pub kind: &'a str,
    /// Entries.
    pub entries: u64,
    /// Retained size, bytes.
    pub retained_size: u64,
    /// Retainer path from a GC root.
    pub path: &'a str,
    /// The path's shape; `None` in rows written before shapes were recorded.
    pub shape: Option<&'a str>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
