//! Lanes: a directory of snapshots from several processes, paired per PID into the
//! earliest and the latest snapshot.
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

/// Parses a snapshot file name into (PID, ordering key).
pub fn parse_name(name: &str) -> Option<(u32, (u64, u64, u64))> {
    let stem = name.strip_suffix(".heapsnapshot")?;
    if let Some(rest) = stem.strip_prefix("Heap.") {
        let parts: Vec<&str> = rest.split('.').collect();
        if let [date, time, pid, _tid, seq] = parts.as_slice() {
            return Some((
                pid.parse().ok()?,
                (date.parse().ok()?, time.parse().ok()?, seq.parse().ok()?),
            ));
        }
        return None;
    }
    let (pid, seq) = stem.split_once('-')?;
    Some((pid.parse().ok()?, (0, 0, seq.parse().ok()?)))
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
        let parsed = parse_name(name);
        files.push(LaneSnapshot {
            path: entry.path(),
            pid: parsed.map(|p| p.0),
            key: parsed.map(|p| p.1),
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
        assert_eq!(
            parse_name("Heap.20261125.085800.4242.0.003.heapsnapshot"),
            Some((4242, (20261125, 85800, 3)))
        );
        assert_eq!(parse_name("4242-7.heapsnapshot"), Some((4242, (0, 0, 7))));
        assert_eq!(parse_name("stream-registry-no-ttl-200.heapsnapshot"), None);
        assert_eq!(parse_name("Heap.x.heapsnapshot"), None);
        assert_eq!(parse_name("4242-7.json"), None);
    }
}
