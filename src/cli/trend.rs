//! `leaktrail trend (--store DIR [--target NAME] | DIR)`: is a watched service leaking?

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use clap::Args;

use leaktrail_analysis::{CensusLimits, HeapAnalysis, SnapshotCensus, WindowTracker};
use leaktrail_harness::GrowthFloor;
use leaktrail_report::TrendContext;
use leaktrail_store::{now_ms, SnapshotRecord, Store, Target};
use leaktrail_trend::{Assessment, TrendCache, TrendInput, TrendPolicy, TrendReport};

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

/// How a group of snapshot files is put in time order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Order {
    /// Node's `Heap.<date>.<time>.<pid>.<tid>.<seq>`: the time in the name.
    NodeName,
    /// `<name>-<n>` (the scenario runner, `leaktrail trace`): by `n`, at the files' times.
    Suffix,
    /// Anything else: by modification time.
    Mtime,
}

impl Order {
    fn describe(self) -> &'static str {
        match self {
            Order::NodeName => "the time in Node's file names (Heap.<date>.<time>…, taken as UTC)",
            Order::Suffix => {
                "the <name>-<n> suffix (an iteration or sequence number), at the files' modification times"
            }
            Order::Mtime => "file modification time",
        }
    }
}

/// One snapshot file of a directory.
struct SnapshotFile {
    path: PathBuf,
    /// Ordering key within its group.
    key: (u64, u64, u64),
    /// Time, ms since the epoch.
    t: i64,
    mtime: i64,
}

/// Groups the snapshot files of `dir` into processes, each in time order.
fn snapshot_groups(dir: &Path) -> anyhow::Result<Vec<(String, Order, Vec<SnapshotFile>)>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read directory", dir.display()))?;
    let mut groups: Vec<(String, Order, Vec<SnapshotFile>)> = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot read directory", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".heapsnapshot") else {
            continue;
        };
        let meta = entry
            .metadata()
            .with_context(|| format!("{}: cannot stat", entry.path().display()))?;
        if !meta.is_file() {
            continue;
        }
        let mtime = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        let (group, order, key, t) = match parse_name(stem) {
            Some(Named::Node {
                pid,
                date,
                time,
                seq,
            }) => (
                format!("pid {pid}"),
                Order::NodeName,
                (date, time, seq),
                node_name_time(date, time).unwrap_or(mtime),
            ),
            Some(Named::Suffix { prefix, n }) => (prefix, Order::Suffix, (n, 0, 0), mtime),
            None => (
                dir.file_name()
                    .map_or("snapshots".to_owned(), |n| n.to_string_lossy().into_owned()),
                Order::Mtime,
                (mtime.max(0) as u64, 0, 0),
                mtime,
            ),
        };
        let file = SnapshotFile {
            path: entry.path(),
            key,
            t,
            mtime,
        };
        match groups
            .iter_mut()
            .find(|(g, o, _)| *g == group && *o == order)
        {
            Some((_, _, files)) => files.push(file),
            None => groups.push((group, order, vec![file])),
        }
    }
    if groups.is_empty() {
        anyhow::bail!(
            "{}: no .heapsnapshot files in this directory",
            dir.display()
        );
    }
    for (group, order, files) in &mut groups {
        files.sort_by(|a, b| a.key.cmp(&b.key).then(a.path.cmp(&b.path)));
        // Node's names count seconds: snapshots taken within one second tie, so the
        // modification times (ms) order them then.
        let increasing = files.windows(2).all(|w| w[0].t < w[1].t);
        if !increasing {
            if *order == Order::NodeName {
                for f in files.iter_mut() {
                    f.t = f.mtime;
                }
            }
            if !files.windows(2).all(|w| w[0].t < w[1].t) {
                eprintln!(
                    "leaktrail: warning: {}: the snapshots of {group} do not have increasing times in {} order; rates per hour are unreliable",
                    dir.display(),
                    order.describe()
                );
            }
        }
    }
    groups.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(groups)
}

enum Named {
    Node {
        pid: u64,
        date: u64,
        time: u64,
        seq: u64,
    },
    Suffix {
        prefix: String,
        n: u64,
    },
}

/// `Heap.20261125.085800.4242.0.003` or `stream-registry-no-ttl-200`.
fn parse_name(stem: &str) -> Option<Named> {
    if let Some(rest) = stem.strip_prefix("Heap.") {
        if let [date, time, pid, _tid, seq] = rest.split('.').collect::<Vec<_>>().as_slice() {
            return Some(Named::Node {
                pid: pid.parse().ok()?,
                date: date.parse().ok()?,
                time: time.parse().ok()?,
                seq: seq.parse().ok()?,
            });
        }
        return None;
    }
    let (prefix, n) = stem.rsplit_once('-')?;
    if prefix.is_empty() {
        return None;
    }
    Some(Named::Suffix {
        prefix: prefix.to_owned(),
        n: n.parse().ok()?,
    })
}

/// `20261125`, `085800` as ms since the epoch (UTC).
fn node_name_time(date: u64, time: u64) -> Option<i64> {
    let (y, m, d) = (
        (date / 10_000) as i64,
        (date / 100 % 100) as i64,
        (date % 100) as i64,
    );
    let (hh, mm, ss) = (
        (time / 10_000) as i64,
        (time / 100 % 100) as i64,
        (time % 100) as i64,
    );
    // Node writes four-digit years; a name with more is not Node's (and its milliseconds
    // would overflow): such a file is ordered by its modification time instead.
    if !(1..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || hh > 23
        || mm > 59
        || ss > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1000)
}

fn from_directory(
    dir: &Path,
    policy: &TrendPolicy,
    common: &Common,
) -> anyhow::Result<(TrendContext, Vec<TrendReport>)> {
    let groups = snapshot_groups(dir)?;
    let mut orders: Vec<Order> = groups.iter().map(|g| g.1).collect();
    orders.dedup();
    let mut reports = Vec::with_capacity(groups.len());
    for (i, (name, _, files)) in groups.iter().enumerate() {
        let mut snapshots: Vec<(SnapshotRecord, SnapshotCensus)> = Vec::with_capacity(files.len());
        let mut windows = WindowTracker::default();
        for (k, f) in files.iter().enumerate() {
            let path = f.path.display().to_string();
            let snap = load::snapshot(&f.path, common.progress, None)?;
            let analysis = HeapAnalysis::new(&snap);
            // The files of a group are one process's: its ids only grow, so each census
            // finds its leak roots against the two before it (as a watcher's do).
            let window = windows.window();
            let census =
                SnapshotCensus::of(&analysis, &path, &CensusLimits::default(), window.as_ref());
            windows.taken(&path, &census);
            let record = SnapshotRecord {
                id: k as i64 + 1,
                incarnation_id: 0,
                t: f.t,
                file: path,
                file_size: census.info.file_size as i64,
                file_deleted_at: None,
                node_count: census.info.node_count as i64,
                edge_count: census.info.edge_count as i64,
                total_self_size: census.info.total_self_size as i64,
                reason: "file".to_owned(),
            };
            snapshots.push((record, census));
        }
        let input = TrendInput {
            target: Target {
                id: i as i64 + 1,
                name: name.clone(),
                command: None,
                created_at: files.first().map_or(0, |f| f.t),
            },
            incarnations: Vec::new(),
            samples: Vec::new(),
            snapshots,
        };
        reports.push(TrendReport::assess(&input, policy));
    }
    let order = orders
        .iter()
        .map(|o| o.describe())
        .collect::<Vec<_>>()
        .join("; ");
    Ok((context("snapshots", dir, Some(order), policy), reports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_times() {
        assert!(matches!(
            parse_name("Heap.20261125.085800.4242.0.003"),
            Some(Named::Node {
                pid: 4242,
                seq: 3,
                ..
            })
        ));
        assert!(matches!(
            parse_name("stream-registry-no-ttl-200"),
            Some(Named::Suffix { ref prefix, n: 200 }) if prefix == "stream-registry-no-ttl"
        ));
        assert!(matches!(
            parse_name("4242-7"),
            Some(Named::Suffix { n: 7, .. })
        ));
        assert!(parse_name("before").is_none());
        assert!(parse_name("-3").is_none());
        assert!(parse_name("Heap.x").is_none());
        // 2026-11-25 08:58:00 UTC.
        assert_eq!(node_name_time(20261125, 85800), Some(1_795_597_080_000));
        assert_eq!(node_name_time(20000301, 0), Some(951_868_800_000));
        assert_eq!(node_name_time(20261325, 0), None);
    }
}
