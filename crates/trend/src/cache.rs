//! [`TrendCache`]: trend reports of a live store without re-assessing every class on
//! every request.
//!
//! Class and collection trends come from the snapshot censuses, which change when a
//! snapshot is added (every few minutes at most); the memory series come from samples,
//! which change every few seconds. The cache keeps each target's [`SnapshotTrends`] with the
//! snapshot ids and policy they were computed from, and recomputes them only when those
//! differ. A request then reads the samples and the snapshot index, not the censuses.

use std::collections::HashMap;

use leaktrail_analysis::SnapshotCensus;
use leaktrail_store::{
    IncarnationId, SnapshotId, SnapshotRecord, Store, StoreError, Target, TargetId,
};

use crate::{CensusTable, SnapshotTrends, TrendInput, TrendPolicy, TrendReport, MAX_TREND_SAMPLES};

/// What a cached [`SnapshotTrends`] was computed from.
#[derive(PartialEq)]
struct Key {
    incarnation: Option<IncarnationId>,
    snapshots: Vec<SnapshotId>,
    policy: (u64, u64, u64),
}

/// Snapshot trends per target, kept between requests.
#[derive(Default)]
pub struct TrendCache {
    entries: HashMap<TargetId, (Key, SnapshotTrends)>,
}

impl TrendCache {
    /// An empty cache.
    pub fn new() -> TrendCache {
        TrendCache::default()
    }

    /// The trend report of `target`, as [`TrendReport::assess`] over
    /// [`TrendInput::from_store`] gives it, re-assessing classes and collections only when
    /// the latest incarnation's snapshots (or the policy) changed since the last call.
    pub fn report(
        &mut self,
        store: &Store,
        target: &Target,
        policy: &TrendPolicy,
    ) -> Result<TrendReport, StoreError> {
        let incarnations = store.incarnations(target.id)?;
        let latest = incarnations.last().map(|i| i.id);
        let (snapshots, trends) = self.snapshot_trends(store, target, latest, policy)?;
        let samples = match latest {
            Some(latest) => store.incarnation_samples(latest, 0, MAX_TREND_SAMPLES)?,
            None => Vec::new(),
        };
        let input = TrendInput {
            target: target.clone(),
            incarnations,
            samples,
            snapshots,
        };
        Ok(TrendReport::assess_with(&input, policy, trends))
    }

    /// Re-assesses the classes and collections of `target` if a snapshot was added since
    /// the last call (what a server does in the background, so that no request waits for
    /// it). Reads no samples: the memory series are assessed per request.
    pub fn refresh(
        &mut self,
        store: &Store,
        target: &Target,
        policy: &TrendPolicy,
    ) -> Result<(), StoreError> {
        let latest = store.incarnations(target.id)?.last().map(|i| i.id);
        self.snapshot_trends(store, target, latest, policy)
            .map(|_| ())
    }

    /// The latest incarnation's snapshots (only their facts) and the class and collection
    /// trends over them, assessed from a [`CensusTable`] when a snapshot was added.
    fn snapshot_trends(
        &mut self,
        store: &Store,
        target: &Target,
        latest: Option<IncarnationId>,
        policy: &TrendPolicy,
    ) -> Result<(Vec<(SnapshotRecord, SnapshotCensus)>, SnapshotTrends), StoreError> {
        let index = match latest {
            Some(latest) => {
                let mut index = store.snapshots(target.id)?;
                index.retain(|s| s.incarnation_id == latest);
                index
            }
            None => Vec::new(),
        };
        let key = Key {
            incarnation: latest,
            snapshots: index.iter().map(|s| s.id).collect(),
            policy: (
                policy.floor_per_hour.to_bits(),
                policy.alpha.to_bits(),
                policy.min_growth_bytes,
            ),
        };
        let fresh = self.entries.get(&target.id).is_some_and(|(k, _)| *k == key);
        if !fresh {
            let trends = {
                let table = match latest {
                    Some(latest) => CensusTable::from_store(store, latest, &index)?,
                    None => CensusTable::default(),
                };
                SnapshotTrends::assess_table(&table, policy)
            };
            self.entries.insert(target.id, (key, trends));
        }
        let trends = self.entries[&target.id].1.clone();
        // The report needs only each snapshot's facts beside the trends.
        let snapshots = index
            .into_iter()
            .map(|s| {
                let census = s.facts_only();
                (s, census)
            })
            .collect();
        Ok((snapshots, trends))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaktrail_analysis::{ClassStats, CollectionRecord, Family, SnapshotCensus, SnapshotInfo};
    use leaktrail_store::MemoryReading;
    use leaktrail_store::SampleRecord;

    fn census(k: u64) -> SnapshotCensus {
        SnapshotCensus {
            info: SnapshotInfo {
                path: String::new(),
                file_size: 1,
                node_count: 1,
                edge_count: 1,
                total_self_size: 10_000_000 + k * 400_000,
            },
            families: Vec::new(),
            classes: vec![ClassStats {
                class: "StreamEntry".into(),
                family: Family::Objects,
                count: k * 1000,
                self_size: k * 400_000,
                retained_size: None,
            }],
            collections: vec![CollectionRecord {
                id: 7,
                kind: "Map".into(),
                entries: k * 10,
                retained_size: k * 400_000,
                path: "(GC roots) → StreamRegistry.streams".into(),
                shape: Some("registry\u{1}StreamRegistry\u{2}streams\u{1}Map\u{2}".into()),
            }],
            max_node_id: None,
            leaks: None,
            places: Vec::new(),
        }
    }

    fn json(r: &TrendReport) -> String {
        serde_json::to_string(r).expect("serialises")
    }

    #[test]
    fn cached_reports_match_fresh_ones_and_follow_new_snapshots() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::create(dir.path()).expect("store");
        let t = store.target("api", None).expect("target");
        let inc = store.start_incarnation(t, 1, 0).expect("inc");
        for k in 0..40 {
            store
                .add_sample(&SampleRecord {
                    incarnation_id: inc,
                    t: k * 60_000,
                    memory: MemoryReading {
                        rss: 100 << 20,
                        threads: 4,
                        heap_used: Some((50 << 20) + k as u64 * (1 << 20)),
                        ..MemoryReading::default()
                    },
                    ..SampleRecord::default()
                })
                .expect("sample");
        }
        for k in 0..10 {
            store
                .add_snapshot(inc, k as i64 * 240_000, "s", "schedule", &census(k))
                .expect("snapshot");
        }
        let target = store.targets().expect("targets").remove(0);
        let policy = TrendPolicy::default();
        let fresh = |store: &Store| {
            TrendReport::assess(
                &TrendInput::from_store(store, &target).expect("input"),
                &policy,
            )
        };
        let mut cache = TrendCache::new();
        let first = cache.report(&store, &target, &policy).expect("first");
        let second = cache.report(&store, &target, &policy).expect("cached");
        assert_eq!(json(&first), json(&fresh(&store)));
        assert_eq!(json(&second), json(&first));
        assert_eq!(second.classes[0].count_last, 9000);
        store
            .add_snapshot(inc, 2_400_000, "s", "schedule", &census(20))
            .expect("snapshot");
        // The background refresh re-assesses without reading samples; the report after it
        // comes from the cache and follows the new snapshot.
        cache.refresh(&store, &target, &policy).expect("refresh");
        assert_eq!(cache.entries[&target.id].0.snapshots.len(), 11);
        assert_eq!(cache.entries[&target.id].1.classes[0].count_last, 20_000);
        let third = cache
            .report(&store, &target, &policy)
            .expect("after a snapshot");
        assert_eq!(third.classes[0].count_last, 20_000);
        assert_eq!(third.collections[0].entries_last, 200);
        assert_eq!(
            third.collections[0].path,
            "(GC roots) → StreamRegistry.streams"
        );
        assert_eq!(
            third.collection_groups[0].label,
            "`StreamRegistry.streams` (Map)"
        );
        assert_eq!(json(&third), json(&fresh(&store)));
    }
}
