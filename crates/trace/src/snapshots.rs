//! Heap snapshots of Node processes by signal, collected into lane directories.
//!
//! Every Node process of the tree inherits, through `NODE_OPTIONS`,
//! `--heapsnapshot-signal=SIGUSR2` and `--diagnostic-dir=<private dir>`. On `SIGUSR2` Node
//! writes `Heap.<date>.<time>.<pid>.<tid>.<seq>.heapsnapshot` there, from its main thread,
//! blocking JavaScript meanwhile.
//!
//! A file is complete when the writer no longer has it open (`/proc/PID/fd`) and it ends
//! with the `]}` that closes the JSON; it is then moved (same file system: a rename) to
//! `<out>/<lane>/<pid>-<n>.heapsnapshot`, mode 0600, `n` counting that process's snapshots
//! from 1. A file still open is left for the next pass; one whose writer is gone while it
//! is incomplete (the process exited or was killed while writing) is discarded.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use leaktrail_private_files as private;

/// `SIGUSR2`, the signal Node is told to snapshot on.
pub const SNAPSHOT_SIGNAL: i32 = 12;

/// What every snapshot of a worker says of itself, written to a file ([`SnapshotFile`]) or
/// streamed into a census ([`crate::streamed::StreamedCensus`]): when, why, what it cost.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SnapshotTaken {
    /// Its number among its writer's (process's or thread's) snapshots, from 1.
    pub seq: u32,
    /// Seconds from the command's start when it was complete (the file found, the stream
    /// ended).
    pub t: f64,
    /// Seconds from the command's start when it was asked for: leaktrail sent the signal,
    /// or (at a file boundary) the worker began writing it; null for a file the process
    /// wrote on its own, e.g. near its heap limit.
    pub requested_at: Option<f64>,
    /// How long its process was paused writing it, seconds: measured by the worker at a
    /// file boundary; for a signal snapshot, from the signal to the file's last write.
    pub write_seconds: Option<f64>,
    /// For a snapshot taken between test files: `before FILE` or `after FILE`.
    pub boundary: Option<String>,
    /// For its runner's reference baseline (a fresh worker before its first file, which
    /// the workers that grow without a snapshot of their own before are diffed against,
    /// [`crate::boundaries`]): the runner.
    pub reference_of: Option<String>,
    /// For a reference baseline: the PID of the runner process whose workers it stands for
    /// (the coordinator: Jest's parent, Vitest's or Mocha's main process, `node --test`'s;
    /// the process itself for Jest in band and for worker threads). Two runs of one runner
    /// in one trace (`npm test` running Jest twice, two Vitest projects) each have their
    /// own.
    pub reference_coordinator: Option<i32>,
    /// Bytes written or streamed.
    pub size: u64,
    /// The name its writer gave it (a file's or a pipe's), to match it with the worker's
    /// own account.
    #[serde(skip)]
    pub written_as: String,
}

/// One snapshot collected into a lane directory.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotFile {
    /// Where it is.
    pub path: PathBuf,
    /// Seconds from the command's start when its writer last wrote to it (its mtime).
    pub written_at: Option<f64>,
    /// When, why and at what cost it was taken.
    #[serde(flatten)]
    pub taken: SnapshotTaken,
}

/// What became of a file Node wrote.
#[derive(Debug)]
pub enum Collected {
    /// Moved into its lane.
    Snapshot {
        /// The writer.
        pid: i32,
        /// Its thread: 0 for the main thread, else a worker thread whose own heap it holds.
        thread: u32,
        /// The file.
        file: SnapshotFile,
    },
    /// Incomplete and its writer gone: removed.
    Discarded {
        /// The writer.
        pid: i32,
        /// Why, for the report.
        reason: String,
    },
}

/// The private directory Node writes into, and the moves out of it.
pub struct SignalSnapshots {
    dir: tempfile::TempDir,
    /// Its canonical path, as `/proc/PID/fd` shows it.
    path: PathBuf,
}

impl SignalSnapshots {
    /// Creates the private diagnostic directory inside `out` (which must exist), so that
    /// moving a snapshot to its lane is a rename.
    pub fn new(out: &Path) -> std::io::Result<SignalSnapshots> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix(".leaktrail-diag-")
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(out)?;
        let path = fs::canonicalize(dir.path())?;
        Ok(SignalSnapshots { dir, path })
    }

    /// The private directory Node writes snapshots into.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// `NODE_OPTIONS` with the snapshot options added after the user's own.
    pub fn node_options(&self, existing: Option<&str>) -> String {
        let dir = self.path.to_string_lossy();
        // NODE_OPTIONS splits on spaces; a quoted value keeps them.
        let dir = if dir.contains([' ', '"', '\\', '\t']) {
            format!("\"{}\"", dir.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            dir.into_owned()
        };
        let ours = format!("--heapsnapshot-signal=SIGUSR2 --diagnostic-dir={dir}");
        match existing.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => format!("{e} {ours}"),
            None => ours,
        }
    }

    /// Looks at the files Node wrote. `lane_of(pid, thread)` names the lane of a traced
    /// process's main thread (thread 0) or of one of its worker threads, and the number of
    /// snapshots it has so far (`None`: not a traced process);
    /// `alive(pid)` says whether it still runs. With `last`, every remaining file is
    /// settled: complete ones are moved, others removed.
    pub fn collect(
        &self,
        t: f64,
        out: &Path,
        lane_of: impl Fn(i32, u32) -> Option<(String, u32)>,
        alive: impl Fn(i32) -> bool,
        last: bool,
    ) -> Vec<Collected> {
        let Ok(entries) = fs::read_dir(&self.path) else {
            return Vec::new();
        };
        let mut files: Vec<(i32, u32, SortKey, PathBuf)> = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let parsed = leaktrail_analysis::snapshot_dir::SnapshotName::parse(name);
            if let Some((pid, parsed)) = parsed.and_then(|p| Some((p.pid()?, p))) {
                files.push((pid as i32, parsed.thread(), parsed.key(), e.path()));
            }
        }
        files.sort();
        let mut out_events = Vec::new();
        let mut taken: Vec<(i32, u32)> = Vec::new();
        for (pid, thread, _, path) in files {
            let writing = leaktrail_sampler::holds_open(pid, &path);
            let complete = !writing && leaktrail_snapshot::ends_like_a_complete_snapshot(&path);
            let Some((lane, count)) = lane_of(pid, thread) else {
                if last {
                    let _ = fs::remove_file(&path);
                }
                continue;
            };
            if !complete {
                if last || !alive(pid) {
                    let _ = fs::remove_file(&path);
                    out_events.push(Collected::Discarded {
                        pid,
                        reason: "its process ended while the snapshot was being written".to_owned(),
                    });
                }
                continue;
            }
            let done = taken.iter().filter(|k| **k == (pid, thread)).count() as u32;
            match self.move_to_lane(&path, out, &lane, pid, count + done + 1) {
                Ok((dest, seq)) => {
                    taken.push((pid, thread));
                    let meta = fs::metadata(&dest).ok();
                    let size = meta.as_ref().map_or(0, |m| m.len());
                    // The mtime, as seconds of the trace: how long before `t` it was.
                    let written_at = meta
                        .and_then(|m| m.modified().ok())
                        .and_then(|m| std::time::SystemTime::now().duration_since(m).ok())
                        .map(|ago| t - ago.as_secs_f64());
                    let written_as = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    out_events.push(Collected::Snapshot {
                        pid,
                        thread,
                        file: SnapshotFile {
                            path: dest,
                            written_at,
                            taken: SnapshotTaken {
                                seq,
                                t,
                                size,
                                written_as,
                                ..SnapshotTaken::default()
                            },
                        },
                    });
                }
                Err(e) => {
                    let _ = fs::remove_file(&path);
                    out_events.push(Collected::Discarded {
                        pid,
                        reason: format!("cannot move it into {}: {e}", out.join(&lane).display()),
                    });
                }
            }
        }
        out_events
    }

    fn move_to_lane(
        &self,
        from: &Path,
        out: &Path,
        lane: &str,
        pid: i32,
        mut seq: u32,
    ) -> std::io::Result<(PathBuf, u32)> {
        let dir = out.join(lane);
        private::create_dir(&dir)?;
        // Never overwrite: an earlier trace into the same directory may have used the PID.
        let mut dest = dir.join(format!("{pid}-{seq}.heapsnapshot"));
        while dest.exists() {
            seq += 1;
            dest = dir.join(format!("{pid}-{seq}.heapsnapshot"));
        }
        fs::rename(from, &dest)?;
        private::restrict_file(&dest)?;
        Ok((dest, seq))
    }

    /// Removes the directory and whatever is left in it.
    pub fn close(self) -> std::io::Result<()> {
        self.dir.close()
    }
}

/// The order of one writer's snapshots: date, time and sequence number from the name.
type SortKey = (u64, u64, u64);

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn settles_files() {
        let out = tempfile::tempdir().expect("tempdir");
        let snaps = SignalSnapshots::new(out.path()).expect("diag dir");
        let opts = snaps.node_options(Some(" --max-old-space-size=64 "));
        assert!(opts.starts_with(
            "--max-old-space-size=64 --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/"
        ));
        let write = |name: &str, text: &str| std::fs::write(snaps.path.join(name), text);
        write(
            "Heap.20261125.101010.41.0.001.heapsnapshot",
            "{\"nodes\":[1,2",
        )
        .expect("w");
        write(
            "Heap.20261125.101011.41.0.002.heapsnapshot",
            "{\"snapshot\":{},\"strings\":[]}\n",
        )
        .expect("w");
        write(
            "Heap.20261125.101011.42.0.001.heapsnapshot",
            "{\"snapshot\":{},\"str",
        )
        .expect("w");
        write(
            "Heap.20261125.101011.43.0.001.heapsnapshot",
            "{\"snapshot\":{},\"str",
        )
        .expect("w");
        write("Heap.20261125.101011.99.0.001.heapsnapshot", "{}").expect("w");
        // A worker thread's own snapshot goes to its thread's lane, counted apart.
        write(
            "Heap.20261125.101012.41.3.1001.heapsnapshot",
            "{\"snapshot\":{},\"strings\":[]}\n",
        )
        .expect("w");
        write("report.json", "{}").expect("w");
        let lane_of = |pid: i32, thread: u32| match thread {
            0 => (pid != 99).then(|| ("lane".to_owned(), 2)),
            t => Some((format!("lane.thread-{t}"), 0)),
        };
        // 41: the first file has no closing `]}` yet and 41 is alive: left for later.
        let events = snaps.collect(1.5, out.path(), lane_of, |pid| pid != 42, false);
        let summary: Vec<String> = events
            .iter()
            .map(|e| match e {
                Collected::Snapshot { pid, file, .. } => format!(
                    "{pid} -> {}",
                    file.path
                        .strip_prefix(out.path())
                        .expect("inside")
                        .display()
                ),
                Collected::Discarded { pid, .. } => format!("{pid} discarded"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "41 -> lane/41-3.heapsnapshot",
                "41 -> lane.thread-3/41-1.heapsnapshot",
                "42 discarded"
            ]
        );
        let moved = out.path().join("lane/41-3.heapsnapshot");
        assert_eq!(
            std::fs::metadata(&moved)
                .expect("moved")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        // The last pass settles everything.
        let events = snaps.collect(2.0, out.path(), lane_of, |_| false, true);
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(std::fs::read_dir(&snaps.path)
            .expect("dir")
            .flatten()
            .all(|e| e.file_name() == "report.json"));
        snaps.close().expect("removed");
    }
}
