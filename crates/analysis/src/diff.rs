//! `diff`: what changed between two snapshots of one process, by class and by family,
//! with objects new in the later snapshot and freed since the earlier one (by V8 node id,
//! which is stable for an object within one process).

use std::collections::HashMap;

use serde::Serialize;

use leaktrail_snapshot::{EdgeFilter, EdgeKind, HeapSnapshot, NodeKind};

use crate::handles::{Handles, HandlesDelta};

use crate::class::Classification;
use crate::family::Family;
use crate::idset::IdSet;
use crate::summary::{accumulate, class_family, ClassAcc, SnapshotInfo};
use crate::verdict::GrowthVerdict;

/// What `diff` keeps of a snapshot, so that the full graph can be dropped before the next
/// one is parsed: about 13 bytes per node.
pub struct SnapshotDigest {
    /// The snapshot's facts.
    pub info: SnapshotInfo,
    classes: Classification,
    /// Timers, workers and listeners.
    pub handles: Handles,
    /// Which process it is of, and when.
    pub identity: crate::SnapshotIdentity,
    ids: Vec<u32>,
    sizes: Vec<u32>,
}

impl SnapshotDigest {
    /// The edges a digest reads: those of [`Classification::EDGES_NEEDED`] and of
    /// [`Handles::EDGES_NEEDED`]. Parse with this to keep memory low.
    pub const EDGES_NEEDED: EdgeFilter = digest_edges;

    /// Digests a parsed snapshot read from `path`. Listeners are counted only when the
    /// snapshot was parsed with [`SnapshotDigest::EDGES_NEEDED`] (or whole); with
    /// [`Classification::EDGES_NEEDED`] alone they are marked as not measured.
    pub fn of(snap: HeapSnapshot, path: &str) -> SnapshotDigest {
        let info = SnapshotInfo::of(&snap, path);
        let classes = Classification::of(&snap);
        let handles = Handles::of(&snap, &classes);
        let identity = crate::SnapshotIdentity::of(&snap);
        let (ids, sizes) = snap.into_ids_and_sizes();
        SnapshotDigest {
            info,
            classes,
            handles,
            identity,
            ids,
            sizes,
        }
    }
}

fn digest_edges(from: NodeKind, edge: EdgeKind, to: NodeKind) -> bool {
    (Classification::EDGES_NEEDED)(from, edge, to) || (Handles::EDGES_NEEDED)(from, edge, to)
}

/// How one class's count and self size changed between two heaps: two snapshots at hand
/// ([`ClassDelta`]) or two stored censuses ([`CensusClassDelta`](crate::CensusClassDelta)).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ClassChange {
    /// Class name.
    pub class: String,
    /// The family most of the class's bytes belong to (in the later heap if present).
    pub family: Family,
    /// Count in the earlier heap.
    pub count_before: u64,
    /// Count in the later heap.
    pub count_after: u64,
    /// `count_after - count_before`.
    pub count_delta: i64,
    /// Self size in the earlier heap, bytes.
    pub size_before: u64,
    /// Self size in the later heap, bytes.
    pub size_after: u64,
    /// `size_after - size_before`, bytes.
    pub size_delta: i64,
}

impl ClassChange {
    /// The change of `class` from `(count, self size)` before to after.
    pub fn between(class: &str, family: Family, before: (u64, u64), after: (u64, u64)) -> Self {
        ClassChange {
            class: class.to_owned(),
            family,
            count_before: before.0,
            count_after: after.0,
            count_delta: after.0 as i64 - before.0 as i64,
            size_before: before.1,
            size_after: after.1,
            size_delta: after.1 as i64 - before.1 as i64,
        }
    }

    /// Whether the count or the size moved.
    pub fn changed(&self) -> bool {
        self.size_delta != 0 || self.count_delta != 0
    }
}

/// How one class changed between two snapshots: its [`ClassChange`] and, by node id, the
/// objects new and freed (which only the raw snapshots can tell).
#[derive(Clone, Debug, Serialize)]
pub struct ClassDelta {
    /// Counts and sizes before and after.
    #[serde(flatten)]
    pub change: ClassChange,
    /// Objects in the later snapshot whose id the earlier one lacks.
    pub new_count: u64,
    /// Their self size, bytes.
    pub new_size: u64,
    /// Objects of the earlier snapshot whose id the later one lacks.
    pub freed_count: u64,
    /// Their self size, bytes.
    pub freed_size: u64,
}

/// How one family changed.
#[derive(Clone, Debug, Serialize)]
pub struct FamilyDelta {
    /// The family.
    pub family: Family,
    /// Its label.
    pub label: String,
    /// Self size in the earlier snapshot, bytes.
    pub size_before: u64,
    /// Self size in the later snapshot, bytes.
    pub size_after: u64,
    /// `size_after - size_before`, bytes.
    pub size_delta: i64,
    /// Self size of new objects of this family, bytes.
    pub new_size: u64,
    /// Self size of freed objects of this family, bytes.
    pub freed_size: u64,
}

/// The `diff` report.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotDiff {
    /// The earlier snapshot.
    pub before: SnapshotInfo,
    /// The later snapshot.
    pub after: SnapshotInfo,
    /// Change in total self size, bytes.
    pub total_delta: i64,
    /// Every class that changed, largest size growth first.
    pub classes: Vec<ClassDelta>,
    /// Every family, in family order.
    pub families: Vec<FamilyDelta>,
    /// What the growth looks like.
    pub verdict: GrowthVerdict,
    /// How timers, workers and listeners changed.
    pub handles: HandlesDelta,
}

impl SnapshotDiff {
    /// Compares two digests; `before` is the earlier snapshot.
    pub fn between(before: &SnapshotDigest, after: &SnapshotDigest) -> SnapshotDiff {
        let (ids_before, ids_after) =
            rayon::join(|| IdSet::new(&before.ids), || IdSet::new(&after.ids));
        let ((all_b, freed_b), (all_a, new_a)) = rayon::join(
            || {
                (
                    accumulate(&before.sizes, &before.classes, |_| true),
                    accumulate(&before.sizes, &before.classes, |i| {
                        !ids_after.contains(before.ids[i])
                    }),
                )
            },
            || {
                (
                    accumulate(&after.sizes, &after.classes, |_| true),
                    accumulate(&after.sizes, &after.classes, |i| {
                        !ids_before.contains(after.ids[i])
                    }),
                )
            },
        );
        // Per class: (before, freed, after, new). Functions a generator names from a
        // counter (`handler1()`, `handler2()`, …) are one class, as `leaks` counts them
        // ([`crate::class::counter_folded`]): a row each, 4,032 rows of +64 B hid a leak
        // of generated code.
        let mut by_class: Vec<(String, [ClassAcc; 4])> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut add = |name: &str, side: usize, all: &ClassAcc, part: &ClassAcc| {
            let name = crate::class::counter_folded(name);
            let i = *index.entry(name.to_string()).or_insert_with(|| {
                by_class.push((name.to_string(), Default::default()));
                by_class.len() - 1
            });
            by_class[i].1[side].add(all);
            by_class[i].1[side + 1].add(part);
        };
        for (c, name) in after.classes.class_names.iter().enumerate() {
            if all_a[c].count > 0 {
                add(name, 2, &all_a[c], &new_a[c]);
            }
        }
        for (c, name) in before.classes.class_names.iter().enumerate() {
            if all_b[c].count > 0 {
                add(name, 0, &all_b[c], &freed_b[c]);
            }
        }
        let mut rows: Vec<ClassDelta> = by_class
            .iter()
            .map(|(name, [b, freed, a, new])| delta_row(name, b, freed, a, new))
            .collect();
        rows.retain(|r| r.change.changed() || r.new_count != 0 || r.freed_count != 0);
        rows.sort_by(|a, b| {
            (b.change.size_delta)
                .cmp(&a.change.size_delta)
                .then(a.change.class.cmp(&b.change.class))
        });

        let fam = |acc: &[ClassAcc]| {
            let mut f = [0u64; 7];
            for a in acc {
                for (x, y) in f.iter_mut().zip(a.family_size) {
                    *x += y;
                }
            }
            f
        };
        let (fb, fa, ffreed, fnew) = (fam(&all_b), fam(&all_a), fam(&freed_b), fam(&new_a));
        let families: Vec<FamilyDelta> = Family::ALL
            .iter()
            .map(|&f| {
                let i = f.index();
                FamilyDelta {
                    family: f,
                    label: f.label().to_owned(),
                    size_before: fb[i],
                    size_after: fa[i],
                    size_delta: fa[i] as i64 - fb[i] as i64,
                    new_size: fnew[i],
                    freed_size: ffreed[i],
                }
            })
            .collect();
        let verdict = GrowthVerdict::from_families(&families, before.info.total_self_size);
        SnapshotDiff {
            total_delta: after.info.total_self_size as i64 - before.info.total_self_size as i64,
            before: before.info.clone(),
            after: after.info.clone(),
            classes: rows,
            families,
            verdict,
            handles: HandlesDelta::between(&before.handles, &after.handles),
        }
    }
}

fn delta_row(
    name: &str,
    before: &ClassAcc,
    freed: &ClassAcc,
    after: &ClassAcc,
    new: &ClassAcc,
) -> ClassDelta {
    let family = if after.count > 0 {
        class_family(name, &after.family_size)
    } else {
        class_family(name, &before.family_size)
    };
    ClassDelta {
        change: ClassChange::between(
            name,
            family,
            (before.count, before.size),
            (after.count, after.size),
        ),
        new_count: new.count,
        new_size: new.size,
        freed_count: freed.count,
        freed_size: freed.size,
    }
}

impl GrowthVerdict {
    /// Decides from the family deltas of a snapshot diff; `heap_before` is the earlier
    /// total self size.
    pub fn from_families(families: &[FamilyDelta], heap_before: u64) -> GrowthVerdict {
        let deltas: Vec<(Family, i64)> =
            families.iter().map(|f| (f.family, f.size_delta)).collect();
        GrowthVerdict::from_size_deltas(&deltas, heap_before)
    }
}
