//! The trend of a directory of `.heapsnapshot` files (`leaktrail trend DIR`): the files are
//! listed and their names parsed as `diff --lane-dir` does ([`list_snapshots`]), grouped
//! into processes by their names, put in time order, and each group is assessed as a
//! watcher's censuses would be.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use leaktrail_analysis::snapshot_dir::{list_snapshots, SnapshotDirError, SnapshotName};
use leaktrail_analysis::{CensusLimits, HeapAnalysis, SnapshotCensus, WindowTracker};
use leaktrail_snapshot::HeapSnapshot;
use leaktrail_store::{SnapshotRecord, Target};

use crate::{TrendInput, TrendPolicy, TrendReport};

/// How a group of snapshot files is put in time order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileOrder {
    /// Node's `Heap.<date>.<time>.<pid>.<tid>.<seq>`: the time in the name.
    NodeName,
    /// `<name>-<n>` (the scenario runner, `leaktrail trace`): by `n`, at the files' times.
    Suffix,
    /// Anything else: by modification time.
    Mtime,
}

impl FileOrder {
    /// The order in words, for the report.
    pub fn describe(self) -> &'static str {
        match self {
            FileOrder::NodeName => {
                "the time in Node's file names (Heap.<date>.<time>…, taken as UTC)"
            }
            FileOrder::Suffix => {
                "the <name>-<n> suffix (an iteration or sequence number), at the files' modification times"
            }
            FileOrder::Mtime => "file modification time",
        }
    }

    /// The kind of file names ordered this way, to tell two groups of one name apart.
    fn files(self) -> &'static str {
        match self {
            FileOrder::NodeName => "Heap.… files",
            FileOrder::Suffix => "<name>-<n> files",
            FileOrder::Mtime => "other files",
        }
    }
}

/// One snapshot file of a directory.
#[derive(Clone, Debug)]
pub struct DatedSnapshot {
    /// The file.
    pub path: PathBuf,
    /// Ordering key within its group.
    key: (u64, u64, u64),
    /// When it was taken, ms since the epoch.
    pub t: i64,
    /// Its modification time, ms since the epoch.
    mtime: i64,
}

/// The snapshots of one process, in time order.
#[derive(Clone, Debug)]
pub struct SnapshotGroup {
    /// `pid N`, a numbered name's prefix, or the directory's name.
    pub name: String,
    /// How its files were ordered.
    pub order: FileOrder,
    /// Its files, oldest first.
    pub files: Vec<DatedSnapshot>,
    /// Set when the files' times do not increase in that order: rates are unreliable.
    pub times_unordered: bool,
}

/// Groups the snapshot files of `dir` into processes, each in time order; groups sorted
/// by order, then name.
pub fn snapshot_groups(dir: &Path) -> Result<Vec<SnapshotGroup>, SnapshotDirError> {
    let mut groups: Vec<SnapshotGroup> = Vec::new();
    for listed in list_snapshots(dir)? {
        let mtime = listed
            .mtime
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let (group, order, t) = match &listed.name {
            Some(n @ SnapshotName::Node { date, time, .. }) => (
                format!("pid {}", n.pid().unwrap_or(0)),
                FileOrder::NodeName,
                node_name_time(*date, *time).unwrap_or(mtime),
            ),
            Some(n @ SnapshotName::Numbered { prefix, .. }) => (
                n.pid().map_or(prefix.clone(), |pid| format!("pid {pid}")),
                FileOrder::Suffix,
                mtime,
            ),
            None => (
                dir.file_name()
                    .map_or("snapshots".to_owned(), |n| n.to_string_lossy().into_owned()),
                FileOrder::Mtime,
                mtime,
            ),
        };
        let key = listed
            .name
            .as_ref()
            .map_or((mtime.max(0) as u64, 0, 0), SnapshotName::key);
        let file = DatedSnapshot {
            path: listed.path,
            key,
            t,
            mtime,
        };
        match groups
            .iter_mut()
            .find(|g| g.name == group && g.order == order)
        {
            Some(g) => g.files.push(file),
            None => groups.push(SnapshotGroup {
                name: group,
                order,
                files: vec![file],
                times_unordered: false,
            }),
        }
    }
    for g in &mut groups {
        g.files
            .sort_by(|a, b| a.key.cmp(&b.key).then(a.path.cmp(&b.path)));
        let increasing = |files: &[DatedSnapshot]| files.windows(2).all(|w| w[0].t < w[1].t);
        // Node's names count seconds: snapshots taken within one second tie, so the
        // modification times (ms) order them then.
        if !increasing(&g.files) && g.order == FileOrder::NodeName {
            for f in g.files.iter_mut() {
                f.t = f.mtime;
            }
        }
        g.times_unordered = !increasing(&g.files);
    }
    groups.sort_by(|a, b| a.order.cmp(&b.order).then(a.name.cmp(&b.name)));
    // One process's files under both kinds of names (Node's and `<pid>-<n>`) are two
    // groups, ordered differently: their names say which is which.
    let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    for g in &mut groups {
        if names.iter().filter(|n| **n == g.name).count() > 1 {
            g.name = format!("{} ({})", g.name, g.order.files());
        }
    }
    Ok(groups)
}

impl SnapshotGroup {
    /// The trend of this group as target number `id`, each file read by `load`. The files
    /// are one process's: its ids only grow, so each census finds its leak roots against
    /// the two before it, as a watcher's do.
    pub fn assess<E>(
        &self,
        id: i64,
        policy: &TrendPolicy,
        mut load: impl FnMut(&Path) -> Result<HeapSnapshot, E>,
    ) -> Result<TrendReport, E> {
        let mut snapshots = Vec::with_capacity(self.files.len());
        let mut windows = WindowTracker::default();
        for (k, f) in self.files.iter().enumerate() {
            let path = f.path.display().to_string();
            let snap = load(&f.path)?;
            let analysis = HeapAnalysis::new(&snap);
            let window = windows.window();
            let census =
                SnapshotCensus::of(&analysis, &path, &CensusLimits::default(), window.as_ref());
            windows.taken(&path, &census);
            let record = SnapshotRecord {
                id: k as i64 + 1,
                incarnation_id: 0,
                t: f.t,
                file: path,
                file_size: census.info.file_size as i64,
                file_deleted_at: None,
                node_count: census.info.node_count as i64,
                edge_count: census.info.edge_count as i64,
                total_self_size: census.info.total_self_size as i64,
                reason: "file".to_owned(),
            };
            snapshots.push((record, census));
        }
        let input = TrendInput {
            target: Target {
                id,
                name: self.name.clone(),
                command: None,
                created_at: self.files.first().map_or(0, |f| f.t),
            },
            incarnations: Vec::new(),
            samples: Vec::new(),
            snapshots,
        };
        Ok(TrendReport::assess(&input, policy))
    }
}

/// `20261125`, `085800` as ms since the epoch (UTC).
fn node_name_time(date: u64, time: u64) -> Option<i64> {
    let (y, m, d) = (
        (date / 10_000) as i64,
        (date / 100 % 100) as i64,
        (date % 100) as i64,
    );
    let (hh, mm, ss) = (
        (time / 10_000) as i64,
        (time / 100 % 100) as i64,
        (time % 100) as i64,
    );
    // Node writes four-digit years; a name with more is not Node's (and its milliseconds
    // would overflow): such a file is ordered by its modification time instead.
    if !(1..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || hh > 23
        || mm > 59
        || ss > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_name_times_are_utc() {
        // 2026-11-25 08:58:00 UTC.
        assert_eq!(node_name_time(20261125, 85800), Some(1_795_597_080_000));
        assert_eq!(node_name_time(20000301, 0), Some(951_868_800_000));
        assert_eq!(node_name_time(20261325, 0), None);
    }

    #[test]
    fn groups_a_folder_as_lanes_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "Heap.20261125.085800.4242.0.001.heapsnapshot",
            "Heap.20261125.085900.4242.0.002.heapsnapshot",
            "4243-2.heapsnapshot",
            "4243-10.heapsnapshot",
            "Heap.20261125.085900.4243.0.001.heapsnapshot",
            "scenario-200.heapsnapshot",
            "before.heapsnapshot",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), "").expect("write");
        }
        let groups = snapshot_groups(dir.path()).expect("groups");
        let seen: Vec<(&str, FileOrder, Vec<String>)> = groups
            .iter()
            .map(|g| {
                let names = g
                    .files
                    .iter()
                    .map(|f| {
                        f.path
                            .file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into()
                    })
                    .collect();
                (g.name.as_str(), g.order, names)
            })
            .collect();
        let dir_name = dir.path().file_name().unwrap_or_default().to_string_lossy();
        assert_eq!(
            seen,
            vec![
                (
                    "pid 4242",
                    FileOrder::NodeName,
                    vec![
                        "Heap.20261125.085800.4242.0.001.heapsnapshot".into(),
                        "Heap.20261125.085900.4242.0.002.heapsnapshot".into()
                    ]
                ),
                (
                    "pid 4243 (Heap.… files)",
                    FileOrder::NodeName,
                    vec!["Heap.20261125.085900.4243.0.001.heapsnapshot".into()]
                ),
                (
                    "pid 4243 (<name>-<n> files)",
                    FileOrder::Suffix,
                    vec!["4243-2.heapsnapshot".into(), "4243-10.heapsnapshot".into()]
                ),
                (
                    "scenario",
                    FileOrder::Suffix,
                    vec!["scenario-200.heapsnapshot".into()]
                ),
                (
                    &*dir_name,
                    FileOrder::Mtime,
                    vec!["before.heapsnapshot".into()]
                ),
            ]
        );
        assert!(matches!(
            snapshot_groups(&dir.path().join("missing")),
            Err(SnapshotDirError::List { .. })
        ));
    }
}
