//! `leaktrail leaks BASE TARGET FINAL [MORE…]`.

use std::path::PathBuf;

use clap::Args;

use super::Common;

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
    let report = super::leak_analysis::leak_report(&args.snapshots, args.top, common.progress)?;
    let leak = report.found_leak();
    Ok((leaktrail_report::render_leaks(&report, common.render), leak))
}
