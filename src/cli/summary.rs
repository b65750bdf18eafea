//! `leaktrail summary SNAP`.

use std::path::PathBuf;

use clap::Args;

use leaktrail_analysis::{Classification, HeapAnalysis, Summary};

use super::{load, Common};

/// Arguments of `summary`.
#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// The .heapsnapshot file.
    snapshot: PathBuf,

    /// Rows per class table.
    #[arg(long, default_value_t = 25)]
    pub top: usize,

    /// Largest objects to list with their retainer paths.
    #[arg(long, default_value_t = 10)]
    largest: usize,

    /// Skip the graph (dominators, retained sizes, paths, handles): faster, and about half
    /// the memory.
    #[arg(long)]
    shallow: bool,
}

/// Runs `summary` and returns the rendered report.
pub fn run(args: &SummaryArgs, common: &Common) -> anyhow::Result<String> {
    let name = args.snapshot.display().to_string();
    let summary = if args.shallow {
        let snap = load::snapshot(
            &args.snapshot,
            common.progress,
            Some(Classification::EDGES_NEEDED),
        )?;
        Summary::of(&snap, &name)
    } else {
        let snap = load::snapshot(&args.snapshot, common.progress, None)?;
        let analysis = HeapAnalysis::new(&snap);
        Summary::with_graph(&analysis, &name, args.largest)
    };
    Ok(leaktrail_report::render_summary(&summary, common.render))
}
