//! [`SnapshotTrends`]: class and collection trends from the snapshot censuses alone, and
//! the culprits they name.

use rayon::prelude::*;

use leaktrail_analysis::{growing_places, GrowingPlace, LeakCulprit, SnapshotCensus};
use leaktrail_stats::{decide, GrowthPolicy};
use leaktrail_store::SnapshotRecord;

use crate::memory::{assessment_of, RiseUnderFloor};
use crate::model::{
    Assessment, ClassTrend, CollectionGroup, CollectionTrend, RatePerHour, TrendPolicy,
};
use crate::table::{self, CensusTable};
#[cfg(doc)]
use crate::TrendCache;

/// The growing places of the newest three censuses, without those a culprit names already
/// (the collection its objects accumulate in grows too).
fn growing_places_of(table: &CensusTable, culprits: &[LeakCulprit]) -> Vec<GrowingPlace> {
    let [first, second, last] = table.places.as_slice() else {
        return Vec::new();
    };
    let min_growth = table
        .leaks
        .as_ref()
        .map_or(64 << 10, |l| l.evidence.min_cluster_bytes);
    growing_places([first, second, last], min_growth)
        .into_iter()
        .filter(|g| {
            let field = format!("`{}`", g.place.edge);
            !culprits.iter().any(|c| c.cluster.holder.contains(&field))
        })
        .collect()
}

/// Censuses from which a class's own trend can overrule the newest three: a culprit whose
/// class is stable over at least this many is a cache that filled, not a leak.
const CULPRIT_TREND_CENSUSES: usize = 8;

/// The culprits of the newest census's leak evidence: clusters whose class's instance
/// count rose in both intervals of its window; once the class trends cover
/// [`CULPRIT_TREND_CENSUSES`], only those whose class is not stable.
fn culprits(table: &CensusTable, classes: &[ClassTrend]) -> Vec<LeakCulprit> {
    let Some(leaks) = &table.leaks else {
        return Vec::new();
    };
    let mut found = leaks.evidence.culprits(|class| {
        [
            table.class_count(class, leaks.base),
            table.class_count(class, leaks.target),
        ]
    });
    if table.len() >= CULPRIT_TREND_CENSUSES {
        found.retain(|c| {
            classes
                .iter()
                .any(|t| t.class == c.cluster.class && t.assessment != Assessment::Stable)
        });
    }
    found
}

/// The trends that come from the snapshots alone: classes and collections. They change
/// only when a snapshot is added, so a server keeps them between requests
/// ([`TrendCache`]).
#[derive(Clone, Debug)]
pub struct SnapshotTrends {
    /// Classes, leaking first, then by growth.
    pub classes: Vec<ClassTrend>,
    /// Collections whose entries changed, leaking first.
    pub collections: Vec<CollectionTrend>,
    /// The same, grouped by path shape ([`CollectionGroup::group`]).
    pub collection_groups: Vec<CollectionGroup>,
    /// What the newest three censuses name as the leak ([`LeakCulprit`]), largest first.
    pub culprits: Vec<LeakCulprit>,
    /// Objects whose own size rose across the newest three censuses ([`GrowingPlace`]).
    pub growing_places: Vec<GrowingPlace>,
    /// Each census's data ([`SnapshotCensus::data_size`]), bytes, oldest first: what
    /// judges whether the live heap grows.
    pub live_data: Vec<u64>,
    /// Each census's total on V8's heap ([`SnapshotCensus::on_heap_size`]), bytes, oldest
    /// first: what the heap's time to OOM projects against V8's heap limit.
    pub live_on_heap: Vec<u64>,
}

impl SnapshotTrends {
    /// Assesses every class and collection across `snapshots` (oldest first).
    pub fn assess(
        snapshots: &[(SnapshotRecord, SnapshotCensus)],
        policy: &TrendPolicy,
    ) -> SnapshotTrends {
        SnapshotTrends::assess_table(&CensusTable::from_censuses(snapshots), policy)
    }

    /// Assesses every class and collection of `table`.
    pub fn assess_table(table: &CensusTable, policy: &TrendPolicy) -> SnapshotTrends {
        let gp = GrowthPolicy {
            max_growth: policy.floor_per_hour / 3600.0,
            alpha: policy.alpha,
            warmup: None,
        };
        let n = table.len();
        let t0 = table.times.first().copied().unwrap_or(0);
        let xs: Vec<f64> = table
            .times
            .iter()
            .map(|t| (t - t0) as f64 / 1000.0)
            .collect();
        let min_growth = policy.min_growth_bytes.max(table.heap_last / 200) as f64;
        // Classes across snapshots: a class missing from a census was below its cut-off,
        // so it counts as 0 there. Hundreds of classes, each a robust fit over every
        // snapshot: in parallel (the order is kept, so the report is the same).
        let runs: Vec<&[table::ClassRow]> = table.class_runs().collect();
        let mut classes: Vec<ClassTrend> = runs
            .par_iter()
            .filter_map(|run| {
                // Each census's row of the class (its first, should one list it twice).
                let mut rows: Vec<Option<&table::ClassRow>> = vec![None; n];
                for r in run.iter() {
                    rows[r.snapshot as usize].get_or_insert(r);
                }
                let ys: Vec<f64> = rows
                    .iter()
                    .map(|r| r.map_or(0.0, |k| k.self_size as f64))
                    .collect();
                let last = rows.iter().rev().flatten().next()?;
                let first = rows.first().copied().flatten();
                let newest = rows.last().copied().flatten();
                // A class that moved less than a quarter of the noise floor cannot leak: it
                // is left out (stable), which also keeps hundreds of classes cheap to assess.
                let (lo, hi) = ys
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), &y| (lo.min(y), hi.max(y)));
                if hi - lo < min_growth / 4.0 {
                    return None;
                }
                let v = decide(&xs, &ys, &gp);
                let grown = ys.last().copied().unwrap_or(0.0) - ys.first().copied().unwrap_or(0.0);
                let assessment = assessment_of(
                    &v,
                    policy.alpha,
                    grown >= min_growth,
                    RiseUnderFloor::Suspect,
                );
                Some(ClassTrend {
                    class: table.name(last.class).to_owned(),
                    family: last.family.key().to_owned(),
                    count_first: first.map_or(0, |k| k.count),
                    count_last: newest.map_or(0, |k| k.count),
                    size_first: first.map_or(0, |k| k.self_size),
                    size_last: newest.map_or(0, |k| k.self_size),
                    retained_last: newest.and_then(|k| k.retained_size),
                    rate: RatePerHour::from_per_second(&v.slope),
                    p_value: v.trend.p_value,
                    assessment,
                })
            })
            .collect();
        classes.sort_by(|a, b| {
            b.assessment.cmp(&a.assessment).then(
                (b.size_last as i64 - b.size_first as i64)
                    .cmp(&(a.size_last as i64 - a.size_first as i64)),
            )
        });

        // Collections, followed by node id; entries are judged against a floor of one
        // entry per minute, and retained growth against the noise floor.
        let mut collections = Vec::new();
        let entry_policy = GrowthPolicy {
            max_growth: 1.0 / 60.0,
            ..gp
        };
        for run in table.collection_runs() {
            // Each census's row of the collection (its first, should one list it twice).
            let mut pts: Vec<&table::CollectionRow> = Vec::with_capacity(run.len());
            for r in run {
                if pts.last().is_none_or(|p| p.snapshot != r.snapshot) {
                    pts.push(r);
                }
            }
            let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
                continue;
            };
            if first.entries == last.entries {
                continue;
            }
            let cx: Vec<f64> = pts.iter().map(|p| xs[p.snapshot as usize]).collect();
            let cy: Vec<f64> = pts.iter().map(|p| p.entries as f64).collect();
            let v = decide(&cx, &cy, &entry_policy);
            let grown = last.retained_size as f64 - first.retained_size as f64;
            collections.push(CollectionTrend {
                id: last.id,
                kind: table.name(last.kind).to_owned(),
                path: table.name(last.path).to_owned(),
                entries_first: first.entries,
                entries_last: last.entries,
                retained_last: last.retained_size,
                rate: RatePerHour::from_per_second(&v.slope),
                assessment: assessment_of(
                    &v,
                    policy.alpha,
                    grown >= min_growth,
                    RiseUnderFloor::Suspect,
                ),
                shape: last.shape.map(|s| table.name(s).to_owned()),
            });
        }
        collections.sort_by(|a, b| {
            b.assessment
                .cmp(&a.assessment)
                .then(b.retained_last.cmp(&a.retained_last))
        });
        let collection_groups = CollectionGroup::group(&collections);
        let culprits = culprits(table, &classes);
        let growing_places = growing_places_of(table, &culprits);

        SnapshotTrends {
            classes,
            collections,
            collection_groups,
            culprits,
            growing_places,
            live_data: table.data_sizes.clone(),
            live_on_heap: table.on_heap_sizes.clone(),
        }
    }
}
