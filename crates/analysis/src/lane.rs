//! Lanes: a directory of snapshots from several processes, paired per PID into the
//! earliest and the latest snapshot.
//!
//! File names understood, in this order:
//! - Node's default `Heap.<yyyymmdd>.<hhmmss>.<pid>.<tid>.<seq>.heapsnapshot`
//!   (`--heapsnapshot-signal`, `--heapsnapshot-near-heap-limit`, `v8.writeHeapSnapshot()`);
//! - `<pid>-<seq>.heapsnapshot` (what `leaktrail trace` writes);
//! - anything else ending in `.heapsnapshot`: no PID is known, so these files form one
//!   group ordered by modification time.
//!
//! [`SnapshotName`] is the one parser of these names; `trend DIR` groups by it too.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

/// Why a lane directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LaneError {
    /// The directory cannot be listed.
    #[error("{path}: cannot read directory: {error}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// No `.heapsnapshot` file in it.
    #[error("{0}: no .heapsnapshot files in this directory")]
    Empty(PathBuf),
    /// `--pid` names a process without snapshots.
    #[error("{path}: no snapshots of PID {pid} (found PIDs: {found})")]
    NoSuchPid {
        /// The directory.
        path: PathBuf,
        /// The PID asked for.
        pid: u32,
        /// The PIDs present.
        found: String,
    },
}

/// One snapshot file and what its name says.
#[derive(Clone, Debug, Serialize)]
pub struct LaneSnapshot {
    /// The file.
    pub path: PathBuf,
    /// The PID from the name, if any.
    pub pid: Option<u32>,
    /// Ordering key from the name (date, time, sequence), if any.
    #[serde(skip)]
    key: Option<(u64, u64, u64)>,
    #[serde(skip)]
    mtime: SystemTime,
}

/// The snapshots of one process, earliest first.
#[derive(Clone, Debug, Serialize)]
pub struct Lane {
    /// The PID, or `None` for files whose names carry none.
    pub pid: Option<u32>,
    /// Every snapshot of the process, earliest first.
    pub snapshots: Vec<LaneSnapshot>,
}

impl Lane {
    /// The earliest and latest snapshot, when there are at least two.
    pub fn pair(&self) -> Option<(&Path, &Path)> {
        match (self.snapshots.first(), self.snapshots.last()) {
            (Some(a), Some(b)) if self.snapshots.len() >= 2 => Some((&a.path, &b.path)),
            _ => None,
        }
    }
}

/// What a snapshot file's name says: the one parser of snapshot names, for `diff
/// --lane-dir`, `trend DIR` and `trace`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotName {
    /// Node's `Heap.<yyyymmdd>.<hhmmss>.<pid>.<tid>.<seq>.heapsnapshot`.
    Node {
        /// The date, `yyyymmdd`.
        date: u64,
        /// The time of day, `hhmmss`, as the writer's clock gave it.
        time: u64,
        /// The process.
        pid: u32,
        /// The thread (0: the main thread).
        thread: u32,
        /// Node's count of snapshots in the process.
        seq: u64,
    },
    /// `<prefix>-<n>.heapsnapshot`: `leaktrail trace`'s `<pid>-<seq>`, the scenario
    /// runner's `<scenario>-<iteration>`.
    Numbered {
        /// What comes before the last `-`.
        prefix: String,
        /// The number after it.
        n: u64,
    },
}

impl SnapshotName {
    /// Parses a file name ending in `.heapsnapshot`; `None` for any other name.
    pub fn parse(file_name: &str) -> Option<SnapshotName> {
        let stem = file_name.strip_suffix(".heapsnapshot")?;
        if let Some(rest) = stem.strip_prefix("Heap.") {
            let parts: Vec<&str> = rest.split('.').collect();
            let [date, time, pid, thread, seq] = parts.as_slice() else {
                return None;
            };
            return Some(SnapshotName::Node {
                date: date.parse().ok()?,
                time: time.parse().ok()?,
                pid: pid.parse().ok()?,
                thread: thread.parse().ok()?,
                seq: seq.parse().ok()?,
            });
        }
        let (prefix, n) = stem.rsplit_once('-')?;
        if prefix.is_empty() {
            return None;
        }
        Some(SnapshotName::Numbered {
            prefix: prefix.to_owned(),
            n: n.parse().ok()?,
        })
    }

    /// The process that wrote it: Node's PID, or a numbered name's prefix when it is a
    /// PID (`4242-7`).
    pub fn pid(&self) -> Option<u32> {
        match self {
            SnapshotName::Node { pid, .. } => Some(*pid),
            SnapshotName::Numbered { prefix, .. } => prefix.parse().ok(),
        }
    }

    /// The thread that wrote it (0, the main thread, for names that do not say).
    pub fn thread(&self) -> u32 {
        match self {
            SnapshotName::Node { thread, .. } => *thread,
            SnapshotName::Numbered { .. } => 0,
        }
    }

    /// The order of one writer's snapshots: (date, time, sequence) or (0, 0, n).
    pub fn key(&self) -> (u64, u64, u64) {
        match self {
            SnapshotName::Node {
                date, time, seq, ..
            } => (*date, *time, *seq),
            SnapshotName::Numbered { n, .. } => (0, 0, *n),
        }
    }
}

/// Finds the lanes in `dir`, optionally only the one of `pid`. Lanes are sorted by PID,
/// the PID-less group last.
pub fn discover(dir: &Path, pid: Option<u32>) -> Result<Vec<Lane>, LaneError> {
    let io = |error| LaneError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(".heapsnapshot") || !entry.file_type().map_err(io)?.is_file() {
            continue;
        }
        let mtime = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let parsed = SnapshotName::parse(name);
        let pid = parsed.as_ref().and_then(SnapshotName::pid);
        files.push(LaneSnapshot {
            path: entry.path(),
            pid,
            key: parsed.filter(|_| pid.is_some()).map(|p| p.key()),
            mtime,
        });
    }
    if files.is_empty() {
        return Err(LaneError::Empty(dir.to_path_buf()));
    }
    files.sort_by(|a, b| {
        let pid_order = match (a.pid, b.pid) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        pid_order
            .then_with(|| a.key.cmp(&b.key))
            .then_with(|| a.mtime.cmp(&b.mtime))
            .then_with(|| a.path.cmp(&b.path))
    });
    let mut lanes: Vec<Lane> = Vec::new();
    for f in files {
        match lanes.last_mut() {
            Some(l) if l.pid == f.pid => l.snapshots.push(f),
            _ => lanes.push(Lane {
                pid: f.pid,
                snapshots: vec![f],
            }),
        }
    }
    if let Some(p) = pid {
        let found = lanes
            .iter()
            .filter_map(|l| l.pid)
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        lanes.retain(|l| l.pid == Some(p));
        if lanes.is_empty() {
            return Err(LaneError::NoSuchPid {
                path: dir.to_path_buf(),
                pid: p,
                found,
            });
        }
    }
    Ok(lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let parse = SnapshotName::parse;
        let node = parse("Heap.20261125.085800.4242.3.003.heapsnapshot").expect("node");
        assert_eq!(
            (node.pid(), node.thread(), node.key()),
            (Some(4242), 3, (20261125, 85800, 3))
        );
        let trace = parse("4242-7.heapsnapshot").expect("trace");
        assert_eq!(
            (trace.pid(), trace.thread(), trace.key()),
            (Some(4242), 0, (0, 0, 7))
        );
        let runner = parse("stream-registry-no-ttl-200.heapsnapshot").expect("runner");
        assert_eq!(
            runner,
            SnapshotName::Numbered {
                prefix: "stream-registry-no-ttl".into(),
                n: 200
            }
        );
        assert_eq!(runner.pid(), None);
        for other in [
            "Heap.x.heapsnapshot",
            "4242-7.json",
            "-3.heapsnapshot",
            "before.heapsnapshot",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
