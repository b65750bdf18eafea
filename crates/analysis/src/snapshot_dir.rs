//! A directory of snapshot files: the one parser of their names ([`SnapshotName`]), the
//! one listing of them ([`list_snapshots`]), and the files of each process
//! ([`by_process`], for `diff --lane-dir`: a `leaktrail trace` lane's directory holds the
//! snapshots of several processes). `trend DIR` groups the same listing its own way.
//!
//! File names understood, in this order:
//! - Node's default `Heap.<yyyymmdd>.<hhmmss>.<pid>.<tid>.<seq>.heapsnapshot`
//!   (`--heapsnapshot-signal`, `--heapsnapshot-near-heap-limit`, `v8.writeHeapSnapshot()`);
//! - `<pid>-<seq>.heapsnapshot` (what `leaktrail trace` writes);
//! - anything else ending in `.heapsnapshot`: no PID is known, so these files form one
//!   group ordered by modification time.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

/// Why a directory of snapshots could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotDirError {
    /// The directory cannot be listed.
    #[error("{path}: cannot read directory: {error}")]
    List {
        /// The directory.
        path: PathBuf,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// An entry of it cannot be looked at.
    #[error("{path}: cannot stat: {error}")]
    Stat {
        /// The entry.
        path: PathBuf,
        /// The cause.
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

/// One snapshot file of a directory and what its name says.
#[derive(Clone, Debug, Serialize)]
pub struct ListedSnapshot {
    /// The file.
    pub path: PathBuf,
    /// What its name says; `None` for a name of no known form.
    #[serde(skip)]
    pub name: Option<SnapshotName>,
    /// Its modification time.
    #[serde(skip)]
    pub mtime: SystemTime,
}

impl ListedSnapshot {
    /// The process that wrote it, when its name says.
    pub fn pid(&self) -> Option<u32> {
        self.name.as_ref().and_then(SnapshotName::pid)
    }
}

/// The snapshots of one process, earliest first.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessSnapshots {
    /// The PID, or `None` for files whose names carry none.
    pub pid: Option<u32>,
    /// Every snapshot of the process, earliest first.
    pub snapshots: Vec<ListedSnapshot>,
}

impl ProcessSnapshots {
    /// The earliest and latest snapshot, when there are at least two.
    pub fn pair(&self) -> Option<(&Path, &Path)> {
        match (self.snapshots.first(), self.snapshots.last()) {
            (Some(a), Some(b)) if self.snapshots.len() >= 2 => Some((&a.path, &b.path)),
            _ => None,
        }
    }
}

/// What a snapshot file's name says: the one parser of snapshot names, for `diff
/// --lane-dir`, `trend DIR`, `trace` and `watch`.
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

/// Every `.heapsnapshot` file directly in `dir` (regular files only; names that are not
/// UTF-8 are skipped), in no particular order. An empty directory is an error: every
/// caller has nothing to do then.
pub fn list_snapshots(dir: &Path) -> Result<Vec<ListedSnapshot>, SnapshotDirError> {
    let list = |error| SnapshotDirError::List {
        path: dir.to_path_buf(),
        error,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list)? {
        let entry = entry.map_err(list)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(".heapsnapshot") {
            continue;
        }
        let meta = entry.metadata().map_err(|error| SnapshotDirError::Stat {
            path: entry.path(),
            error,
        })?;
        if !meta.is_file() {
            continue;
        }
        files.push(ListedSnapshot {
            path: entry.path(),
            name: SnapshotName::parse(name),
            mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        });
    }
    if files.is_empty() {
        return Err(SnapshotDirError::Empty(dir.to_path_buf()));
    }
    Ok(files)
}

/// The snapshots of `dir` per process, optionally only `pid`'s; sorted by PID, the
/// PID-less group last, each process's files in the order their names give (then by
/// modification time).
pub fn by_process(dir: &Path, pid: Option<u32>) -> Result<Vec<ProcessSnapshots>, SnapshotDirError> {
    let mut files = list_snapshots(dir)?;
    // Only a name that carries a PID orders its files; the rest go by modification time.
    let key = |f: &ListedSnapshot| {
        f.name
            .as_ref()
            .filter(|n| n.pid().is_some())
            .map(SnapshotName::key)
    };
    files.sort_by(|a, b| {
        let pid_order = match (a.pid(), b.pid()) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        pid_order
            .then_with(|| key(a).cmp(&key(b)))
            .then_with(|| a.mtime.cmp(&b.mtime))
            .then_with(|| a.path.cmp(&b.path))
    });
    let mut processes: Vec<ProcessSnapshots> = Vec::new();
    for f in files {
        match processes.last_mut() {
            Some(p) if p.pid == f.pid() => p.snapshots.push(f),
            _ => processes.push(ProcessSnapshots {
                pid: f.pid(),
                snapshots: vec![f],
            }),
        }
    }
    if let Some(wanted) = pid {
        let found = processes
            .iter()
            .filter_map(|p| p.pid)
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        processes.retain(|p| p.pid == Some(wanted));
        if processes.is_empty() {
            return Err(SnapshotDirError::NoSuchPid {
                path: dir.to_path_buf(),
                pid: wanted,
                found,
            });
        }
    }
    Ok(processes)
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
