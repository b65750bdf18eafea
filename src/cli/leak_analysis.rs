//! The leaks analysis of snapshot files, shared by `leaks` and by `run`'s culprit: each
//! earlier snapshot is parsed whole (growing objects are found by their paths), the last
//! with its graph.
//!
//! The earlier snapshots are digested on a thread of their own while the last one is
//! analysed, when memory allows: the last one's dominators run mostly on one core, and the
//! earlier ones' parses take the other. Both peaks then coexist, so this happens only when
//! the machine and its cgroup have room for both twice over; otherwise one after the
//! other. The report is the same either way.

use std::path::{Path, PathBuf};

use leaktrail_analysis::{
    growing_collections, CollectionCensus, EarlierSnapshot, HeapAnalysis, LeakReport,
    SnapshotIdentity,
};

use super::load;

/// The earlier snapshots, digested.
struct Earlier {
    snapshots: Vec<EarlierSnapshot>,
    /// Their collections, when they are followed (four snapshots or more).
    censuses: Vec<CollectionCensus>,
}

/// The leaks analysis of snapshots of one process, oldest first.
pub fn leak_report(
    snapshots: &[PathBuf],
    top: usize,
    progress: bool,
) -> anyhow::Result<LeakReport> {
    let (last, earlier_paths) = snapshots
        .split_last()
        .filter(|(_, earlier)| earlier.len() >= 2)
        .ok_or_else(|| anyhow::anyhow!("leaks needs three snapshots"))?;
    // With four or more snapshots, collections are followed through every one of them by
    // id. Every earlier snapshot is read whole: growing objects are found by their paths.
    let follow = snapshots.len() >= 4;
    let finish = |earlier: Earlier, analysis: &HeapAnalysis<'_>| -> anyhow::Result<LeakReport> {
        // Each file readable first: a file that cannot be read is said as it is met.
        if let Some(twice) = given_twice(snapshots) {
            anyhow::bail!(
                "{}: given twice; leaks needs three snapshots taken one after the other",
                twice.display()
            );
        }
        // Each snapshot a later one of the first one's process.
        let last_identity = SnapshotIdentity::of(analysis.snap);
        let identities: Vec<&SnapshotIdentity> = earlier
            .snapshots
            .iter()
            .map(|s| &s.identity)
            .chain([&last_identity])
            .collect();
        for (k, pair) in identities.windows(2).enumerate() {
            pair[0].check_later(
                pair[1],
                &snapshots[k].display().to_string(),
                &snapshots[k + 1].display().to_string(),
            )?;
        }
        let mut report = LeakReport::find(
            &earlier.snapshots,
            analysis,
            &last.display().to_string(),
            top,
        );
        if follow {
            report.growing_collections = growing_collections(&earlier.censuses, analysis, top);
        }
        Ok(report)
    };
    if !overlap_fits(snapshots) {
        let earlier = digest_earlier(earlier_paths, follow, progress)?;
        let snap = load::snapshot(last, progress, None)?;
        return finish(earlier, &HeapAnalysis::new(&snap));
    }
    std::thread::scope(|scope| {
        // No progress bar for them: two at once would garble the terminal, and the last
        // snapshot's is the longer wait.
        let earlier = scope.spawn(|| digest_earlier(earlier_paths, follow, false));
        let last_snap = load::snapshot(last, progress, None);
        let analysis = last_snap.as_ref().ok().map(HeapAnalysis::new);
        // An earlier file's error first, as when they are read one after the other.
        let earlier = earlier
            .join()
            .map_err(|_| anyhow::anyhow!("the thread reading the earlier snapshots panicked"))??;
        match analysis {
            Some(analysis) => finish(earlier, &analysis),
            None => Err(last_snap
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("{}: not analysed", last.display()))),
        }
    })
}

/// A file given more than once (as the same path or through another name).
fn given_twice(paths: &[PathBuf]) -> Option<&PathBuf> {
    let key = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
    let mut seen = std::collections::HashSet::new();
    paths.iter().find(|p| !seen.insert(key(p)))
}

/// Parses and digests the snapshots before the last, in order.
fn digest_earlier(paths: &[PathBuf], follow: bool, progress: bool) -> anyhow::Result<Earlier> {
    let mut earlier = Earlier {
        snapshots: Vec::with_capacity(paths.len()),
        censuses: Vec::new(),
    };
    for (i, p) in paths.iter().enumerate() {
        let snap = load::snapshot(p, progress, None)?;
        if follow {
            // Retained sizes are needed only in the first, for the growth since then.
            let census = if i == 0 {
                CollectionCensus::of(&snap, Some(&HeapAnalysis::new(&snap)))
            } else {
                CollectionCensus::of(&snap, None)
            };
            earlier.censuses.push(census);
        }
        earlier
            .snapshots
            .push(EarlierSnapshot::of(snap, &p.display().to_string()));
    }
    Ok(earlier)
}

/// Whether the earlier snapshots can be digested beside the last one's analysis: the
/// memory free for this process must hold the last file and the largest earlier one twice
/// over (their peaks, the last one's dominators and an earlier one's parse, are about 0.9
/// and 0.7 × the file). Files that cannot be measured count as not fitting.
fn overlap_fits(snapshots: &[PathBuf]) -> bool {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
    let Some((last, earlier)) = snapshots.split_last() else {
        return false;
    };
    let (Some(last), Some(largest_earlier)) = (
        size(last),
        earlier
            .iter()
            .map(|p| size(p))
            .collect::<Option<Vec<u64>>>()
            .and_then(|s| s.into_iter().max()),
    ) else {
        return false;
    };
    let both = last.saturating_add(largest_earlier);
    leaktrail_sampler::memory_headroom(std::process::id() as i32)
        .is_some_and(|free| free / 2 >= both)
}
