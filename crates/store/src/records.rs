//! What a store holds, row by row: targets, incarnations, samples, snapshots and the
//! census rows written with a snapshot.

use serde::{Deserialize, Serialize};

use leaktrail_analysis::{Family, SnapshotCensus, SnapshotInfo};

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
    /// How it ended: `exited`, `signal`, `oom-kill`, `v8-heap-oom`, `stopped` (by the
    /// watcher), `detached` (left running); `None` while running or if the watcher died.
    pub end_reason: Option<String>,
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
    /// `exited`, `signal`, `oom-kill`, `v8-heap-oom`, `stopped` or `detached`.
    pub reason: String,
}

/// One memory sample.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct SampleRecord {
    /// The incarnation sampled.
    pub incarnation_id: IncarnationId,
    /// When, ms since the epoch.
    pub t: i64,
    /// RSS of the process tree, bytes.
    pub rss: i64,
    /// Anonymous RSS, bytes.
    pub anon: Option<i64>,
    /// PSS, bytes (read only now and then: it is slow).
    pub pss: Option<i64>,
    /// Threads of the tree.
    pub threads: i64,
    /// V8 heap in use, bytes (Node only).
    pub heap_used: Option<i64>,
    /// V8 heap reserved, bytes.
    pub heap_total: Option<i64>,
    /// `process.memoryUsage().external`, bytes.
    pub external: Option<i64>,
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
