//! `leaktrail leaks BASE TARGET FINAL [MORE…]`.

use std::path::PathBuf;

use clap::Args;

use leaktrail_analysis::{Classification, EarlierSnapshot, HeapAnalysis, LeakReport};

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
    let (last, earlier_paths) = args
        .snapshots
        .split_last()
        .ok_or_else(|| anyhow::anyhow!("leaks needs three snapshots"))?;
    let mut earlier = Vec::with_capacity(earlier_paths.len());
    for p in earlier_paths {
        let snap = load::snapshot(p, common.progress, Some(Classification::EDGES_NEEDED))?;
        earlier.push(EarlierSnapshot::of(snap, &p.display().to_string()));
    }
    let snap = load::snapshot(last, common.progress, None)?;
    let analysis = HeapAnalysis::new(&snap);
    let report = LeakReport::find(&earlier, &analysis, &last.display().to_string(), args.top);
    let leak = !report.clusters.is_empty();
    Ok((leaktrail_report::render_leaks(&report, common.render), leak))
}
