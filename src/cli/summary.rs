//! `leaktrail summary SNAP`.

use std::path::PathBuf;

use clap::Args;

use leaktrail_analysis::{Classification, Summary};

use super::{load, Common};

/// Arguments of `summary`.
#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// The .heapsnapshot file.
    snapshot: PathBuf,

    /// Rows per class table.
    #[arg(long, default_value_t = 25)]
    pub top: usize,
}

/// Runs `summary` and returns the rendered report.
pub fn run(args: &SummaryArgs, common: &Common) -> anyhow::Result<String> {
    let snap = load::snapshot(
        &args.snapshot,
        common.progress,
        Some(Classification::EDGES_NEEDED),
    )?;
    let summary = Summary::of(&snap, &args.snapshot.display().to_string());
    Ok(leaktrail_report::render_summary(&summary, common.render))
}
