//! `leaktrail trend (--store DIR [--target NAME] | DIR)`: is a watched service leaking?

use std::path::{Path, PathBuf};

use clap::Args;

use leaktrail_analysis::snapshot_dir::SnapshotDirError;
use leaktrail_harness::GrowthFloor;
use leaktrail_report::TrendContext;
use leaktrail_store::{now_ms, Store, DB_FILE};
use leaktrail_trend::{
    snapshot_groups, Assessment, FileOrder, TrendCache, TrendPolicy, TrendReport,
};

use super::{load, Common};

/// Arguments of `trend`.
#[derive(Args, Debug)]
pub struct TrendArgs {
    /// A directory of `.heapsnapshot` files (instead of --store).
    #[arg(
        value_name = "DIR",
        required_unless_present = "store",
        conflicts_with = "store"
    )]
    dir: Option<PathBuf>,

    /// A store written by `leaktrail watch`.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,

    /// Only this target of the store (default: every target).
    #[arg(long, value_name = "NAME", requires = "store")]
    target: Option<String>,

    /// Growth at or below this is not a leak, per hour, minute or second: `1MB/h`
    /// (default), `64KB/min`.
    #[arg(long, value_name = "SIZE/h", value_parser = super::policy::parse_floor)]
    floor: Option<GrowthFloor>,

    /// Significance level of the trend test.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,

    /// Rows per class and collection table.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
}

/// Runs `trend`; returns the report and whether a target is leaking.
pub fn run(args: &TrendArgs, common: &Common) -> anyhow::Result<(String, bool)> {
    let policy = super::policy::policy(args.floor, args.alpha)?;
    let (context, reports) = match (&args.store, &args.dir) {
        (Some(store), _) => from_store(store, args.target.as_deref(), &policy)?,
        (None, Some(dir)) => from_directory(dir, &policy, common)?,
        (None, None) => anyhow::bail!("trend needs --store DIR or a directory of snapshots"),
    };
    let leaking = reports.iter().any(|r| r.overall == Assessment::Leaking);
    Ok((
        leaktrail_report::render_trend(&context, &reports, common.render),
        leaking,
    ))
}

fn from_store(
    dir: &Path,
    only: Option<&str>,
    policy: &TrendPolicy,
) -> anyhow::Result<(TrendContext, Vec<TrendReport>)> {
    let store = Store::open(dir)?;
    let mut targets = store.targets()?;
    if let Some(name) = only {
        let known: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        targets.retain(|t| t.name == name);
        if targets.is_empty() {
            anyhow::bail!(
                "{}: no target {name:?} in this store (targets: {})",
                dir.display(),
                if known.is_empty() {
                    "none yet".to_owned()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    // The server's path: classes and collections from the compact census table, so a
    // store of thousands of censuses does not become a census object each.
    let mut cache = TrendCache::new();
    let mut reports = Vec::with_capacity(targets.len());
    for t in &targets {
        reports.push(cache.report(&store, t, policy)?);
    }
    Ok((context("store", dir, None, policy), reports))
}

fn context(source: &str, path: &Path, order: Option<String>, policy: &TrendPolicy) -> TrendContext {
    TrendContext {
        source: source.to_owned(),
        path: path.display().to_string(),
        order,
        generated_at: now_ms(),
        floor_per_hour: policy.floor_per_hour,
        alpha: policy.alpha,
    }
}

fn from_directory(
    dir: &Path,
    policy: &TrendPolicy,
    common: &Common,
) -> anyhow::Result<(TrendContext, Vec<TrendReport>)> {
    let groups = snapshot_groups(dir).map_err(|e| match e {
        // A watcher's store holds censuses, not snapshot files: say how to read it.
        SnapshotDirError::Empty(_) if dir.join(DB_FILE).is_file() => anyhow::anyhow!(
            "{e}; it holds a store of `leaktrail watch`: read it with `leaktrail trend --store {}`",
            dir.display()
        ),
        e => e.into(),
    })?;
    for g in groups.iter().filter(|g| g.times_unordered) {
        eprintln!(
            "leaktrail: warning: {}: the snapshots of {} do not have increasing times in {} order; rates per hour are unreliable",
            dir.display(),
            g.name,
            g.order.describe()
        );
    }
    let mut reports = Vec::with_capacity(groups.len());
    for (i, g) in groups.iter().enumerate() {
        reports.push(g.assess(i as i64 + 1, policy, |path| {
            load::snapshot(path, common.progress, None)
        })?);
    }
    let mut orders: Vec<FileOrder> = groups.iter().map(|g| g.order).collect();
    orders.dedup();
    let order = orders
        .iter()
        .map(|o| o.describe())
        .collect::<Vec<_>>()
        .join("; ");
    Ok((context("snapshots", dir, Some(order), policy), reports))
}
