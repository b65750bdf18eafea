//! [`CensusDiff`]: what changed between two stored snapshot censuses, by class and by
//! family, with the [`GrowthVerdict`] of the family deltas — the `diff` of two snapshots
//! whose raw files may be long deleted ([`SnapshotDiff`](crate::SnapshotDiff) is the diff
//! of two snapshots at hand).
//!
//! A census keeps only the largest classes, so a class missing from one side was below
//! that census's cut-off (counted as 0 there, and flagged); objects new or freed are not
//! known without the raw files, so the verdict reads the size deltas alone
//! ([`GrowthVerdict::from_size_deltas`]), as it does for a snapshot diff.

use std::collections::HashMap;

use serde::Serialize;

use crate::census::SnapshotCensus;
use crate::diff::ClassChange;
use crate::family::Family;
use crate::summary::ClassStats;
use crate::verdict::GrowthVerdict;

/// How one class changed between two censuses: its [`ClassChange`] and what a census
/// keeps beside it (retained size, and which side's cut-off kept the class).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CensusClassDelta {
    /// Counts and sizes before and after.
    #[serde(flatten)]
    pub change: ClassChange,
    /// Retained size after, bytes (when known).
    pub retained_after: Option<u64>,
    /// Whether the earlier census kept this class (if not, it was below its cut-off).
    pub in_before: bool,
    /// Whether the later census kept it.
    pub in_after: bool,
}

/// How one family changed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CensusFamilyDelta {
    /// Family key.
    pub family: String,
    /// Its label.
    pub label: String,
    /// Nodes before.
    pub count_before: u64,
    /// Nodes after.
    pub count_after: u64,
    /// Self size before, bytes.
    pub size_before: u64,
    /// Self size after, bytes.
    pub size_after: u64,
    /// `size_after - size_before`, bytes.
    pub size_delta: i64,
}

/// The difference of two censuses.
#[derive(Clone, Debug, Serialize)]
pub struct CensusDiff {
    /// Change in total self size, bytes.
    pub total_delta: i64,
    /// Module graph, external memory or runtime data, from the family deltas.
    pub verdict: GrowthVerdict,
    /// Every family, in display order.
    pub families: Vec<CensusFamilyDelta>,
    /// Classes whose size or count changed, largest |size delta| first.
    pub classes: Vec<CensusClassDelta>,
}

impl CensusDiff {
    /// Compares an earlier census with a later one.
    pub fn between(before: &SnapshotCensus, after: &SnapshotCensus) -> CensusDiff {
        let family_of = |c: &SnapshotCensus, f: Family| {
            c.families
                .iter()
                .find(|g| g.name == f.key())
                .map_or((0, 0), |g| (g.count, g.self_size))
        };
        let families: Vec<CensusFamilyDelta> = Family::ALL
            .iter()
            .map(|&f| {
                let (cb, sb) = family_of(before, f);
                let (ca, sa) = family_of(after, f);
                CensusFamilyDelta {
                    family: f.key().to_owned(),
                    label: f.label().to_owned(),
                    count_before: cb,
                    count_after: ca,
                    size_before: sb,
                    size_after: sa,
                    size_delta: sa as i64 - sb as i64,
                }
            })
            .collect();
        let size_deltas: Vec<(Family, i64)> = Family::ALL
            .iter()
            .zip(&families)
            .map(|(&f, d)| (f, d.size_delta))
            .collect();
        let verdict = GrowthVerdict::from_size_deltas(&size_deltas, before.info.total_self_size);

        let earlier: HashMap<&str, &ClassStats> = before
            .classes
            .iter()
            .map(|c| (c.class.as_str(), c))
            .collect();
        let mut classes: Vec<CensusClassDelta> = Vec::new();
        for a in &after.classes {
            let b = earlier.get(a.class.as_str());
            classes.push(CensusClassDelta {
                change: ClassChange::between(
                    &a.class,
                    a.family,
                    b.map_or((0, 0), |b| (b.count, b.self_size)),
                    (a.count, a.self_size),
                ),
                retained_after: a.retained_size,
                in_before: b.is_some(),
                in_after: true,
            });
        }
        let later: HashMap<&str, ()> = after
            .classes
            .iter()
            .map(|c| (c.class.as_str(), ()))
            .collect();
        for b in before
            .classes
            .iter()
            .filter(|b| !later.contains_key(b.class.as_str()))
        {
            classes.push(CensusClassDelta {
                change: ClassChange::between(&b.class, b.family, (b.count, b.self_size), (0, 0)),
                retained_after: None,
                in_before: true,
                in_after: false,
            });
        }
        classes.retain(|c| c.change.changed());
        classes.sort_by(|x, y| {
            (y.change.size_delta.unsigned_abs())
                .cmp(&x.change.size_delta.unsigned_abs())
                .then_with(|| x.change.class.cmp(&y.change.class))
        });
        CensusDiff {
            total_delta: after.info.total_self_size as i64 - before.info.total_self_size as i64,
            verdict,
            families,
            classes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{GroupTotal, SnapshotInfo};

    fn census(entries: u64) -> SnapshotCensus {
        SnapshotCensus {
            info: SnapshotInfo {
                path: String::new(),
                file_size: 0,
                node_count: 0,
                edge_count: 0,
                total_self_size: 10_000_000 + entries * 1000,
            },
            families: vec![
                GroupTotal {
                    name: "objects".into(),
                    count: entries,
                    self_size: entries * 1000,
                },
                GroupTotal {
                    name: "code".into(),
                    count: 10,
                    self_size: 5_000_000,
                },
            ],
            classes: vec![
                ClassStats {
                    class: "StreamEntry".into(),
                    family: Family::Objects,
                    count: entries,
                    self_size: entries * 1000,
                    retained_size: Some(entries * 3000),
                },
                ClassStats {
                    class: if entries > 100 { "Late" } else { "Early" }.into(),
                    family: Family::Objects,
                    count: 3,
                    self_size: 300,
                    retained_size: None,
                },
            ],
            collections: vec![],
            max_node_id: None,
            leaks: None,
            places: Vec::new(),
        }
    }

    #[test]
    fn classes_families_and_verdict() {
        let d = CensusDiff::between(&census(10), &census(5000));
        assert_eq!(d.total_delta, 4990 * 1000);
        assert_eq!(d.classes[0].change.class, "StreamEntry");
        assert_eq!(d.classes[0].change.count_delta, 4990);
        assert_eq!(d.classes[0].retained_after, Some(15_000_000));
        let late = d
            .classes
            .iter()
            .find(|c| c.change.class == "Late")
            .expect("late");
        assert!(!late.in_before && late.in_after);
        let early = d
            .classes
            .iter()
            .find(|c| c.change.class == "Early")
            .expect("early");
        assert_eq!(
            (early.in_before, early.in_after, early.change.size_delta),
            (true, false, -300)
        );
        let objects = d
            .families
            .iter()
            .find(|f| f.family == "objects")
            .expect("objects");
        assert_eq!(objects.size_delta, 4990 * 1000);
        assert_eq!(d.families.len(), Family::ALL.len());
        assert_eq!(d.verdict.kind, crate::GrowthKind::RuntimeData);
        // No change, no verdict of growth.
        let same = CensusDiff::between(&census(10), &census(10));
        assert!(same.classes.is_empty());
        assert_eq!(same.verdict.kind, crate::GrowthKind::NoSignificantGrowth);
    }
}
