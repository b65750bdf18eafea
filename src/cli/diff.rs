//! `leaktrail diff A B` and `leaktrail diff --lane-dir DIR`.

use std::path::{Path, PathBuf};

use clap::Args;

use leaktrail_analysis::{snapshot_dir, Classification, SnapshotDiff, SnapshotDigest};
use leaktrail_report::ProcessDiff;

use super::{load, Common};

/// Arguments of `diff`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["snapshots", "lane_dir"]))]
pub struct DiffArgs {
    /// The earlier and the later snapshot of one process.
    #[arg(num_args = 2, value_names = ["BEFORE", "AFTER"])]
    snapshots: Vec<PathBuf>,

    /// A directory of snapshots from several processes: diff the earliest and latest of each PID.
    #[arg(long, value_name = "DIR", conflicts_with = "snapshots")]
    lane_dir: Option<PathBuf>,

    /// With --lane-dir, only this PID.
    #[arg(long, requires = "lane_dir")]
    pid: Option<u32>,

    /// Rows in the class table.
    #[arg(long, default_value_t = 25)]
    pub top: usize,

    /// Leave out classes whose size changed by less than this many KiB.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub min_kb: u64,

    /// Also count EventEmitter listeners per event (reads more of each graph: about 1.5×
    /// the memory).
    #[arg(long)]
    listeners: bool,
}

/// Parses a snapshot and keeps only what a diff needs.
fn digest(path: &Path, listeners: bool, common: &Common) -> anyhow::Result<SnapshotDigest> {
    let filter = if listeners {
        SnapshotDigest::EDGES_NEEDED
    } else {
        Classification::EDGES_NEEDED
    };
    let snap = load::snapshot(path, common.progress, Some(filter))?;
    Ok(SnapshotDigest::of(snap, &path.display().to_string()))
}

/// Runs `diff` and returns the rendered report.
pub fn run(args: &DiffArgs, common: &Common) -> anyhow::Result<String> {
    if let Some(dir) = &args.lane_dir {
        let processes = snapshot_dir::by_process(dir, args.pid)?;
        let mut diffs = Vec::with_capacity(processes.len());
        for l in &processes {
            let diff = match l.pair() {
                Some((a, b)) => Some(SnapshotDiff::between(
                    &digest(a, args.listeners, common)?,
                    &digest(b, args.listeners, common)?,
                )),
                None => None,
            };
            diffs.push((l.pid, l.snapshots.len(), diff));
        }
        let views: Vec<ProcessDiff> = diffs
            .iter()
            .map(|(pid, n, d)| ProcessDiff {
                pid: *pid,
                snapshots: *n,
                diff: d.as_ref(),
            })
            .collect();
        return Ok(leaktrail_report::render_lane_dir(
            &dir.display().to_string(),
            &views,
            common.render,
        ));
    }
    let [before, after] = args.snapshots.as_slice() else {
        anyhow::bail!("diff needs two snapshots (BEFORE AFTER) or --lane-dir DIR");
    };
    let a = digest(before, args.listeners, common)?;
    let b = digest(after, args.listeners, common)?;
    a.identity.check_later(
        &b.identity,
        &before.display().to_string(),
        &after.display().to_string(),
    )?;
    Ok(leaktrail_report::render_diff(
        &SnapshotDiff::between(&a, &b),
        None,
        common.render,
    ))
}
