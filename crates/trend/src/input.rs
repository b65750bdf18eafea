//! [`TrendInput`]: what a trend is read from, and the after-GC points of Node's RSS.

use leaktrail_analysis::SnapshotCensus;
use leaktrail_store::{Incarnation, SampleRecord, SnapshotRecord, Store, StoreError, Target};

#[cfg(doc)]
use crate::TrendCache;

/// Everything a trend is computed from, for one target.
pub struct TrendInput {
    /// The target.
    pub target: Target,
    /// Its incarnations, oldest first.
    pub incarnations: Vec<Incarnation>,
    /// Samples of the latest incarnation, oldest first.
    pub samples: Vec<SampleRecord>,
    /// Snapshots of the latest incarnation with their censuses, oldest first.
    pub snapshots: Vec<(SnapshotRecord, SnapshotCensus)>,
}

/// Node's RSS right after each snapshot at `snapshot_times`, as (time, bytes): the first
/// sample once the snapshot is built (V8 takes it after a full GC, and gives the freed
/// pages back), one point per snapshot. Between GCs a Node service's RSS swings with its
/// heap's garbage by tens of megabytes, and through its first minutes it climbs as code
/// is compiled; after a full GC what is left is the live heap and the memory outside it.
pub(crate) fn rss_after_gc(samples: &[SampleRecord], snapshot_times: &[i64]) -> Vec<(i64, f64)> {
    let outside: Vec<&SampleRecord> = samples.iter().filter(|s| !s.in_snapshot).collect();
    let mut pts: Vec<(i64, f64)> = snapshot_times
        .iter()
        .filter_map(|&t| {
            let after = outside.partition_point(|s| s.t <= t);
            outside.get(after).map(|s| (s.t, s.memory.rss as f64))
        })
        .collect();
    // Two snapshots with no sample between them would give one sample twice.
    pts.dedup_by_key(|p| p.0);
    pts
}

/// Seconds after an incarnation starts whose after-GC points (Node's RSS, the live heap)
/// do not judge a series: the watcher's default start-up (`watch --start-up`).
pub const START_UP_SECONDS: u64 = 30;

/// Samples read per trend (the most recent ones).
pub const MAX_TREND_SAMPLES: usize = 20_000;

impl TrendInput {
    /// Reads the latest incarnation of `target` from the store, every census whole: the
    /// reference [`TrendCache::report`] (what `trend --store` and the server use) is
    /// checked against.
    pub fn from_store(store: &Store, target: &Target) -> Result<TrendInput, StoreError> {
        let incarnations = store.incarnations(target.id)?;
        let latest = incarnations.last().map(|i| i.id);
        let mut samples = Vec::new();
        let mut snapshots = Vec::new();
        if let Some(latest) = latest {
            samples = store.incarnation_samples(latest, 0, MAX_TREND_SAMPLES)?;
            snapshots = store.incarnation_censuses(latest)?;
        }
        Ok(TrendInput {
            target: target.clone(),
            incarnations,
            samples,
            snapshots,
        })
    }
}
