//! What a worker's heap snapshots (or streamed censuses) say: the earliest and the latest
//! diffed, or one against its runner's reference baseline.

use std::path::Path;

use serde::Serialize;

use leaktrail_analysis::{CensusDiff, Classification, SnapshotDiff, SnapshotDigest};
use leaktrail_snapshot::{HeapSnapshot, ParseOptions};

use crate::model::ProcessRecord;
use crate::snapshots::{SnapshotFile, SnapshotTaken};
use crate::streamed::StreamedCensus;
use crate::threads::ThreadRecord;

/// What the earliest and latest snapshot of a process say.
#[derive(Clone, Debug, Serialize)]
pub struct HeapGrowth {
    /// The earliest snapshot.
    pub before: SnapshotFile,
    /// The latest snapshot.
    pub after: SnapshotFile,
    /// When `before` is not this worker's own but its runner's reference baseline (it grew
    /// without a snapshot of its own before): whose, e.g. `PID 41` or `thread 2 of PID 41`.
    pub reference: Option<String>,
    /// The diff (its `classes` cut to the top N by size growth).
    pub diff: SnapshotDiff,
}

/// What the earliest and latest census of a worker's streamed snapshots say
/// (`--no-raw-snapshots`: no snapshot file to diff).
#[derive(Clone, Debug, Serialize)]
pub struct CensusGrowth {
    /// When the earliest stream ended, seconds from the command's start.
    pub before_t: f64,
    /// When the latest stream ended.
    pub after_t: f64,
    /// Where the earliest was taken: `before FILE` / `after FILE`.
    pub before_boundary: Option<String>,
    /// Where the latest was taken.
    pub after_boundary: Option<String>,
    /// When the earliest is its runner's reference baseline, not the worker's own: whose.
    pub reference: Option<String>,
    /// The diff (its `classes` cut to the top N by size change).
    pub diff: CensusDiff,
}

/// Which reference baseline a worker is diffed against: its runner's, of its kind (a
/// process's main thread or a worker thread), taken under the same coordinator — the
/// runner process the worker answers to — so that two runs of one runner in one trace
/// (`npm test` running Jest twice, two Vitest projects) do not share one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReferenceKey {
    /// The runner.
    pub runner: String,
    /// A worker thread, not a process's main thread.
    pub thread: bool,
    /// The PIDs its coordinator may have: for a worker process its parent, or itself when
    /// it runs the files in its own main thread (Jest in band); for a worker thread its
    /// process. A reference's key has one, the one its writer named.
    pub coordinators: Vec<i32>,
}

impl ReferenceKey {
    /// The key of a worker process of `runner`.
    pub fn process(runner: &str, p: &ProcessRecord) -> ReferenceKey {
        ReferenceKey {
            runner: runner.to_owned(),
            thread: false,
            coordinators: vec![p.ppid, p.pid],
        }
    }

    /// The key of a worker thread.
    pub fn thread(t: &ThreadRecord) -> ReferenceKey {
        ReferenceKey {
            runner: t.runner.clone(),
            thread: true,
            coordinators: vec![t.pid],
        }
    }

    /// The key of a reference baseline `taken` by a process's main thread or by a worker
    /// thread (`thread`), if it is one.
    pub fn of_reference(taken: &SnapshotTaken, thread: bool) -> Option<ReferenceKey> {
        Some(ReferenceKey {
            runner: taken.reference_of.clone()?,
            thread,
            coordinators: taken.reference_coordinator.into_iter().collect(),
        })
    }

    /// Whether the reference keyed `reference` is this worker's.
    pub fn matches(&self, reference: &ReferenceKey) -> bool {
        self.runner == reference.runner
            && self.thread == reference.thread
            && reference
                .coordinators
                .iter()
                .any(|c| self.coordinators.contains(c))
    }
}

/// The runners' reference baselines ([`crate::boundaries`]): per runner, kind (a
/// process's main thread or a worker thread) and coordinator, the snapshot (or census)
/// one fresh worker took before its first file, and whose it is.
#[derive(Default)]
pub(crate) struct References {
    snapshots: Vec<(ReferenceKey, String, SnapshotFile)>,
    censuses: Vec<(ReferenceKey, String, StreamedCensus)>,
}

impl References {
    pub(crate) fn of(processes: &[ProcessRecord], threads: &[ThreadRecord]) -> References {
        let mut r = References::default();
        for p in processes {
            let who = format!("PID {}", p.pid);
            r.add(false, &who, &p.snapshots, &p.censuses);
        }
        for t in threads {
            let who = format!("thread {} of PID {}", t.thread, t.pid);
            r.add(true, &who, &t.snapshots, &t.censuses);
        }
        r
    }

    fn add(&mut self, thread: bool, who: &str, s: &[SnapshotFile], c: &[StreamedCensus]) {
        for s in s {
            if let Some(key) = ReferenceKey::of_reference(&s.taken, thread) {
                self.snapshots.push((key, who.to_owned(), s.clone()));
            }
        }
        for c in c {
            if let Some(key) = ReferenceKey::of_reference(&c.taken, thread) {
                self.censuses.push((key, who.to_owned(), c.clone()));
            }
        }
    }

    /// The reference snapshot for the worker keyed `worker`.
    pub(crate) fn snapshot(&self, worker: Option<&ReferenceKey>) -> Option<(&SnapshotFile, &str)> {
        let worker = worker?;
        self.snapshots
            .iter()
            .find(|(key, ..)| worker.matches(key))
            .map(|(_, who, s)| (s, who.as_str()))
    }

    /// The reference census for the worker keyed `worker`.
    pub(crate) fn census(&self, worker: Option<&ReferenceKey>) -> Option<(&StreamedCensus, &str)> {
        let worker = worker?;
        self.censuses
            .iter()
            .find(|(key, ..)| worker.matches(key))
            .map(|(_, who, c)| (c, who.as_str()))
    }
}

/// The earliest and latest of a worker's own `taken` (snapshots or censuses), with two or
/// more whose first is its own reference baseline (or with no `reference` to be had);
/// else `reference` and its latest: the worker grew without a snapshot of its own before,
/// so its first own snapshot already holds the growth that triggered it. The third value
/// names whose the reference is.
pub(crate) fn pair<'a, T>(
    taken: &'a [T],
    is_reference: impl Fn(&T) -> bool,
    reference: Option<(&'a T, &'a str)>,
) -> Option<(&'a T, &'a T, Option<String>)> {
    match taken {
        [only] if !is_reference(only) => reference.map(|(r, who)| (r, only, Some(who.to_owned()))),
        // Its first own snapshot was taken because it had grown: from it on, the growth
        // that triggered it is lost. The reference is what it grew from.
        [first, .., last] if !is_reference(first) && reference.is_some() => {
            reference.map(|(r, who)| (r, last, Some(who.to_owned())))
        }
        [first, .., last] => Some((first, last, None)),
        _ => None,
    }
}

/// Diffs the earliest and latest census, with two or more (or one and its reference).
pub(crate) fn census_growth(
    censuses: &[StreamedCensus],
    reference: Option<(&StreamedCensus, &str)>,
    top: usize,
) -> Option<CensusGrowth> {
    let (first, last, reference) = pair(censuses, |c| c.taken.reference_of.is_some(), reference)?;
    let mut diff = CensusDiff::between(&first.census, &last.census);
    diff.classes.truncate(top);
    Some(CensusGrowth {
        before_t: first.taken.t,
        after_t: last.taken.t,
        before_boundary: first.taken.boundary.clone(),
        after_boundary: last.taken.boundary.clone(),
        reference,
        diff,
    })
}

/// What a diff compared: `its snapshots`, or, when the earlier one is its runner's
/// reference baseline (`reference`: whose), that baseline and its one snapshot.
pub(crate) fn pair_words(reference: Option<&str>, what: &str) -> String {
    match reference {
        Some(who) => format!(
            "its runner's reference baseline ({who}, a fresh worker before its first file: it had no {what} of its own before it grew) and its {what}"
        ),
        None => format!("its {what}s"),
    }
}

/// Diffs the earliest and latest snapshot of a process or thread (or its one snapshot
/// and its runner's `reference` baseline, [`pair`]).
pub(crate) fn heap_growth_of(
    snapshots: &[SnapshotFile],
    reference: Option<(&SnapshotFile, &str)>,
    top: usize,
) -> Result<Option<HeapGrowth>, String> {
    let Some((first, last, reference)) =
        pair(snapshots, |s| s.taken.reference_of.is_some(), reference)
    else {
        return Ok(None);
    };
    let digest = |p: &Path| -> Result<SnapshotDigest, String> {
        let options = ParseOptions {
            progress: None,
            edge_filter: Some(Classification::EDGES_NEEDED),
            ..Default::default()
        };
        let snap = HeapSnapshot::open(p, &options).map_err(|e| e.to_string())?;
        Ok(SnapshotDigest::of(snap, &p.display().to_string()))
    };
    let before = digest(&first.path)?;
    let after = digest(&last.path)?;
    let mut diff = SnapshotDiff::between(&before, &after);
    diff.classes.truncate(top);
    Ok(Some(HeapGrowth {
        before: first.clone(),
        after: last.clone(),
        reference,
        diff,
    }))
}
