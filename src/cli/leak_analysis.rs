//! The leaks analysis of snapshot files, shared by `leaks` and by `run`'s culprit: each
//! earlier snapshot is parsed whole (growing objects are found by their paths), the last
//! with its graph.

use std::path::PathBuf;

use leaktrail_analysis::{
    growing_collections, CollectionCensus, EarlierSnapshot, HeapAnalysis, LeakReport,
};

use super::load;

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
    let follow_collections = snapshots.len() >= 4;
    let mut earlier = Vec::with_capacity(earlier_paths.len());
    let mut censuses = Vec::new();
    for (i, p) in earlier_paths.iter().enumerate() {
        let snap = load::snapshot(p, progress, None)?;
        if follow_collections {
            // Retained sizes are needed only in the first, for the growth since then.
            let census = if i == 0 {
                CollectionCensus::of(&snap, Some(&HeapAnalysis::new(&snap)))
            } else {
                CollectionCensus::of(&snap, None)
            };
            censuses.push(census);
        }
        earlier.push(EarlierSnapshot::of(snap, &p.display().to_string()));
    }
    let snap = load::snapshot(last, progress, None)?;
    let analysis = HeapAnalysis::new(&snap);
    let mut report = LeakReport::find(&earlier, &analysis, &last.display().to_string(), top);
    if follow_collections {
        report.growing_collections = growing_collections(&censuses, &analysis, top);
    }
    Ok(report)
}
