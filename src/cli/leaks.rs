//! `leaktrail leaks BASE TARGET FINAL [MORE…]`.

use std::path::PathBuf;

use clap::Args;

use leaktrail_analysis::{
    growing_collections, CollectionCensus, EarlierSnapshot, HeapAnalysis, LeakReport,
};

use super::{load, Common};

/// Arguments of `leaks`.
#[derive(Args, Debug)]
pub struct LeaksArgs {
    /// Three or more snapshots of one process, oldest first: BASE TARGET FINAL.
    #[arg(num_args = 3.., required = true, value_name = "SNAPSHOT")]
    snapshots: Vec<PathBuf>,

    /// Clusters to show.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// Runs `leaks`; returns the report and whether a leak was found.
pub fn run(args: &LeaksArgs, common: &Common) -> anyhow::Result<(String, bool)> {
    let report = analyse(&args.snapshots, args.top, common)?;
    let leak = report.found_leak();
    Ok((leaktrail_report::render_leaks(&report, common.render), leak))
}

/// The leaks analysis of snapshots of one process, oldest first (also the culprit step
/// of `run`).
pub fn analyse(snapshots: &[PathBuf], top: usize, common: &Common) -> anyhow::Result<LeakReport> {
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
        let snap = load::snapshot(p, common.progress, None)?;
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
    let snap = load::snapshot(last, common.progress, None)?;
    let analysis = HeapAnalysis::new(&snap);
    let mut report = LeakReport::find(&earlier, &analysis, &last.display().to_string(), top);
    if follow_collections {
        report.growing_collections = growing_collections(&censuses, &analysis, top);
    }
    Ok(report)
}
