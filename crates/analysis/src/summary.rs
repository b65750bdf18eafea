//! `summary`: totals of one snapshot by node type, by family and by class.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use leaktrail_snapshot::HeapSnapshot;

use crate::class::Classification;
use crate::family::Family;
use crate::handles::Handles;
use crate::heap::{HeapAnalysis, ObjectView, StepView};

/// Count and self size of one class in one snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassStats {
    /// Class name (DevTools-style).
    pub class: String,
    /// The family most of the class's bytes belong to.
    pub family: Family,
    /// Number of nodes.
    pub count: u64,
    /// Sum of self sizes in bytes.
    pub self_size: u64,
    /// Retained size in bytes, counting nested instances once (null without the graph).
    pub retained_size: Option<u64>,
}

/// One of the largest objects, with its shortest retainer path.
#[derive(Clone, Debug, Serialize)]
pub struct LargeObject {
    /// The object.
    pub object: ObjectView,
    /// Its shortest path from the GC roots, top-down.
    pub path: Vec<StepView>,
}

/// Count and self size of one node type or family.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupTotal {
    /// The node type (as written in the snapshot's meta) or the family label.
    pub name: String,
    /// Number of nodes.
    pub count: u64,
    /// Sum of self sizes in bytes.
    pub self_size: u64,
}

/// Facts about a snapshot file, shared by all reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// The file, as given.
    pub path: String,
    /// File size in bytes.
    pub file_size: u64,
    /// Number of nodes.
    pub node_count: u64,
    /// Number of edges.
    pub edge_count: u64,
    /// Sum of all self sizes in bytes.
    pub total_self_size: u64,
}

/// The `summary` report of one snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The snapshot.
    pub snapshot: SnapshotInfo,
    /// Totals per node type, largest first.
    pub by_type: Vec<GroupTotal>,
    /// Totals per growth family, in family order.
    pub by_family: Vec<GroupTotal>,
    /// Every class with a non-zero self size, largest self size first.
    pub classes: Vec<ClassStats>,
    /// Self sizes of 4 GiB or more that were clamped when parsing.
    pub clamped_sizes: u64,
    /// The largest objects by retained size (empty without the graph).
    pub largest_objects: Vec<LargeObject>,
    /// Timers, workers and listeners (null without the graph).
    pub handles: Option<Handles>,
}

/// Per-class accumulator: count, size and size per family.
#[derive(Clone, Default)]
pub(crate) struct ClassAcc {
    pub count: u64,
    pub size: u64,
    pub family_size: [u64; 7],
}

impl ClassAcc {
    /// Adds `other` to this one.
    pub fn add(&mut self, other: &ClassAcc) {
        self.count += other.count;
        self.size += other.size;
        for (f, g) in self.family_size.iter_mut().zip(other.family_size) {
            *f += g;
        }
    }
}

/// Sums count and self size per class over the nodes for which `keep(node)` holds,
/// skipping zero-size nodes as DevTools does. Runs in parallel over node ranges.
pub(crate) fn accumulate(
    sizes: &[u32],
    classes: &Classification,
    keep: impl Fn(usize) -> bool + Sync,
) -> Vec<ClassAcc> {
    let k = classes.class_names.len();
    (0..sizes.len())
        .into_par_iter()
        .with_min_len(1 << 16)
        .fold(
            || vec![ClassAcc::default(); k],
            |mut acc, i| {
                let s = sizes[i];
                if s != 0 && keep(i) {
                    let a = &mut acc[classes.node_class[i] as usize];
                    a.count += 1;
                    a.size += s as u64;
                    a.family_size[classes.node_family[i].index()] += s as u64;
                }
                acc
            },
        )
        .reduce(
            || vec![ClassAcc::default(); k],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    x.add(y);
                }
                a
            },
        )
}

/// A class's family: the one holding most of its bytes — except for V8's string classes,
/// always *strings*. Their members split between code (a script's source, a function's
/// name) and data, and the larger part changes as a program runs: `(string)` would be
/// *code* in one report and *strings* in the next.
pub(crate) fn class_family(class: &str, family_size: &[u64; 7]) -> Family {
    if matches!(
        class,
        "(string)" | "(concatenated string)" | "(sliced string)"
    ) {
        return Family::Strings;
    }
    let best = (0..7)
        .max_by_key(|&i| (family_size[i], std::cmp::Reverse(i)))
        .unwrap_or(0);
    Family::ALL[best]
}

impl SnapshotInfo {
    /// Describes a parsed snapshot read from `path`.
    pub fn of(snap: &HeapSnapshot, path: &str) -> SnapshotInfo {
        SnapshotInfo {
            path: path.to_owned(),
            file_size: snap.file_size(),
            node_count: snap.node_count() as u64,
            edge_count: snap.file_edge_count() as u64,
            total_self_size: snap.self_sizes().par_iter().map(|&s| s as u64).sum(),
        }
    }
}

impl Summary {
    /// Builds the summary of `snap`, read from `path`.
    pub fn of(snap: &HeapSnapshot, path: &str) -> Summary {
        let classes = Classification::of(snap);
        Summary::with_classes(snap, path, &classes)
    }

    /// Builds the summary from an existing classification.
    pub fn with_classes(snap: &HeapSnapshot, path: &str, classes: &Classification) -> Summary {
        let acc = accumulate(snap.self_sizes(), classes, |_| true);
        let mut class_stats: Vec<ClassStats> = acc
            .iter()
            .enumerate()
            .filter(|(_, a)| a.count > 0)
            .map(|(c, a)| ClassStats {
                class: classes.class_names[c].clone(),
                family: class_family(&classes.class_names[c], &a.family_size),
                count: a.count,
                self_size: a.size,
                retained_size: None,
            })
            .collect();
        class_stats.sort_by(|a, b| b.self_size.cmp(&a.self_size).then(a.class.cmp(&b.class)));
        // `handler1()` … `handler5000()` are one class, `handler<n>()`, as `leaks` names it.
        let class_stats = crate::class::counter_named_as_one(class_stats);

        let type_names = &snap.meta().node_type_names;
        let mut by_type = vec![(0u64, 0u64); type_names.len()];
        let mut by_family = [(0u64, 0u64); 7];
        for n in 0..snap.node_count() as u32 {
            let s = snap.self_size(n) as u64;
            let t = &mut by_type[snap.node_type_index(n)];
            t.0 += 1;
            t.1 += s;
            let f = &mut by_family[classes.node_family[n as usize].index()];
            f.0 += 1;
            f.1 += s;
        }
        let mut by_type: Vec<GroupTotal> = by_type
            .into_iter()
            .zip(type_names)
            .filter(|((count, _), _)| *count > 0)
            .map(|((count, self_size), name)| GroupTotal {
                name: name.clone(),
                count,
                self_size,
            })
            .collect();
        by_type.sort_by_key(|t| std::cmp::Reverse(t.self_size));
        let by_family = Family::ALL
            .iter()
            .zip(by_family)
            .map(|(f, (count, self_size))| GroupTotal {
                name: f.label().to_owned(),
                count,
                self_size,
            })
            .collect();
        Summary {
            snapshot: SnapshotInfo::of(snap, path),
            by_type,
            by_family,
            classes: class_stats,
            clamped_sizes: snap.clamped_sizes() as u64,
            largest_objects: Vec::new(),
            handles: None,
        }
    }

    /// Builds the summary with retained sizes per class, the `largest` biggest objects with
    /// their paths, and the handle counts.
    pub fn with_graph(a: &HeapAnalysis<'_>, path: &str, largest: usize) -> Summary {
        // The retained size per class builds the dominator tree's children (8 bytes a node)
        // and frees them before the distances (4 bytes a node, and the queue) exist, so the
        // two working sets never add up. The distances (a breadth-first search of the whole
        // graph, for the largest objects' paths) are independent of the other per-class
        // work, whose memory is small: one core does each.
        let retained = a.class_retained();
        let (_, (mut summary, handles)) = rayon::join(
            || a.distances(),
            || {
                (
                    Summary::with_classes(a.snap, path, &a.classes),
                    Handles::of(a.snap, &a.classes),
                )
            },
        );
        // By the name the summary shows: functions named from a counter add up.
        let mut by_name: std::collections::HashMap<std::borrow::Cow<'_, str>, u64> =
            std::collections::HashMap::new();
        for (n, r) in a.classes.class_names.iter().zip(&retained) {
            *by_name.entry(crate::class::counter_folded(n)).or_default() += r;
        }
        for c in &mut summary.classes {
            c.retained_size = by_name.get(c.class.as_str()).copied();
        }
        summary.largest_objects = a
            .largest_objects(largest)
            .into_iter()
            .map(|n| LargeObject {
                object: a.object(n),
                path: a.shortest_path(n),
            })
            .collect();
        summary.handles = Some(handles);
        summary
    }
}
