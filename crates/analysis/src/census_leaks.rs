//! [`CensusLeaks`]: the evidence `leaks` uses, kept in a watcher's census, so that the
//! latest three censuses name a culprit with no raw snapshot left on disk.
//!
//! `leaks` needs three snapshots' ids to find objects allocated between BASE and TARGET and
//! still alive in FINAL. V8 gives an object its id when a snapshot first sees it, from a
//! counter that only grows within a process (as long as its profiler keeps its id map: one
//! inspector session, or Node's signal handler). So "allocated between BASE and TARGET" is
//! "id above BASE's highest id and at most TARGET's" ([`LeakWindow`]): FINAL's graph and two
//! numbers are enough, and the census of FINAL keeps the clusters of those leak roots. Their
//! growth test — the class's instance count rose in both intervals — needs the class counts of
//! all three censuses and is made by whoever reads them ([`CensusLeaks::culprits`]).

use serde::{Deserialize, Serialize};

use leaktrail_snapshot::{HeapSnapshot, NodeIndex, NodeKind};

use crate::class::counter_folded;
use crate::cluster_growth::ClusterGrowth;
use crate::heap::{HeapAnalysis, StepView};
use crate::leaks::{class_counts, folded_path, Candidates};
use crate::units::{agree, group_digits as group, human_bytes, plural_s};

/// Clusters a census keeps (the largest above the noise floor).
pub const CENSUS_CLUSTERS: usize = 20;

/// The two earlier censuses a census's leak roots are found against.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LeakWindow {
    /// BASE's file name.
    pub base: String,
    /// The highest node id in BASE.
    pub base_max_id: u32,
    /// TARGET's file name.
    pub target: String,
    /// The highest node id in TARGET.
    pub target_max_id: u32,
}

impl LeakWindow {
    /// True for an object first seen after BASE and by TARGET.
    pub fn allocated_within(&self, id: u32) -> bool {
        id > self.base_max_id && id <= self.target_max_id
    }
}

/// The two censuses before the next one of a process, as file name and highest serial id,
/// oldest first: what [`LeakWindow`]s are made of, for a watcher and for `trend DIR` alike.
#[derive(Clone, Debug, Default)]
pub struct WindowTracker {
    last: Vec<(String, u32)>,
}

impl WindowTracker {
    /// The window for the next census: the last two taken, once there are two.
    pub fn window(&self) -> Option<LeakWindow> {
        match self.last.as_slice() {
            [(base, base_max_id), (target, target_max_id)] => Some(LeakWindow {
                base: base.clone(),
                base_max_id: *base_max_id,
                target: target.clone(),
                target_max_id: *target_max_id,
            }),
            _ => None,
        }
    }

    /// Notes `census`, recorded under `file`: the next window's TARGET.
    pub fn taken(&mut self, file: &str, census: &crate::SnapshotCensus) {
        let Some(max_id) = census.max_node_id else {
            return;
        };
        // Ids that went back mean V8 started its id map afresh: earlier censuses no longer
        // compare.
        if self.last.last().is_some_and(|&(_, prev)| max_id < prev) {
            self.last.clear();
        }
        self.last.push((file.to_owned(), max_id));
        if self.last.len() > 2 {
            self.last.remove(0);
        }
    }

    /// Forgets every census (another process, or another id map of it).
    pub fn clear(&mut self) {
        self.last.clear();
    }
}

/// One group of leak roots of a census that share a retainer path shape and a class.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CensusCluster {
    /// Class of the leak roots.
    pub class: String,
    /// Number of leak roots.
    pub count: u64,
    /// Their retained size, bytes.
    pub retained_size: u64,
    /// Instances of the class in this census's snapshot.
    pub class_count: u64,
    /// Where they accumulate, e.g. "`streams` (Map) of StreamRegistry".
    pub holder: String,
    /// The shortest path of the largest member, as one line from the GC roots.
    pub path: String,
    /// The node id of the largest member.
    pub example_id: u32,
}

/// The leak roots of a census against its [`LeakWindow`], clustered, before the growth test.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CensusLeaks {
    /// The censuses compared against.
    pub window: LeakWindow,
    /// Leak roots found.
    pub leak_roots: u64,
    /// Their retained size, bytes.
    pub leak_roots_retained: u64,
    /// The noise floor a cluster must reach, bytes.
    pub min_cluster_bytes: u64,
    /// The largest clusters that could pass the growth test ([`ClusterGrowth::could_pass`]:
    /// above the floor, or many objects, or a few thread- or socket-owning ones;
    /// [`CENSUS_CLUSTERS`] at most), largest first.
    pub clusters: Vec<CensusCluster>,
}

/// A cluster whose class grew in both intervals: the culprit a trend names.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LeakCulprit {
    /// The cluster.
    pub cluster: CensusCluster,
    /// Instances of its class in BASE, TARGET and the census (`None`: below that census's
    /// cut-offs).
    pub class_counts: [Option<u64>; 3],
    /// The culprit in one sentence.
    pub sentence: String,
}

impl CensusLeaks {
    /// The leak roots of `a` allocated within `window`, clustered as `leaks` clusters them.
    pub fn of(a: &HeapAnalysis<'_>, window: &LeakWindow) -> CensusLeaks {
        let snap = a.snap;
        let found = Candidates::of(a, |v| {
            has_serial_id(snap, v) && window.allocated_within(snap.node_id(v))
        });
        // A cluster of functions named from a counter is named and counted as `leaks`
        // names it: under the folded name, with every instance of the names it folds.
        let folded_counts = class_counts(&a.classes, snap.self_sizes());
        let clusters = found
            .ranked
            .iter()
            .filter_map(|c| c.best.map(|best| (c, best)))
            // Clusters under the byte floor that may still pass are kept for `culprits`.
            .filter(|(c, best)| {
                ClusterGrowth::could_pass(a.class_name(*best), c.count, c.retained, found.min_bytes)
            })
            .take(CENSUS_CLUSTERS)
            .map(|(c, best)| {
                let path = folded_path(a, best);
                let class = counter_folded(a.class_name(best)).into_owned();
                CensusCluster {
                    class_count: folded_counts.get(&class).copied().unwrap_or(0),
                    class,
                    count: c.count,
                    retained_size: c.retained,
                    holder: c.holder(a, &path),
                    path: path_line(&path),
                    example_id: a.snap.node_id(best),
                }
            })
            .collect();
        CensusLeaks {
            window: window.clone(),
            leak_roots: found.roots,
            leak_roots_retained: found.roots_retained,
            min_cluster_bytes: found.min_bytes,
            clusters,
        }
    }

    /// How kept cluster `c` fares in the growth test, with its class's counts in BASE and
    /// in TARGET (`None` where that census did not list it).
    pub fn growth_of(&self, c: &CensusCluster, [base, target]: [Option<u64>; 2]) -> ClusterGrowth {
        let counts = [base, target, Some(c.class_count)];
        ClusterGrowth::of(
            &c.class,
            c.count,
            c.retained_size,
            self.min_cluster_bytes,
            &counts,
        )
    }

    /// The clusters whose class's instance count rose from BASE to TARGET to this census,
    /// largest first; `counts(class)` gives the class's count in BASE and in TARGET (`None`
    /// where that census did not list it: it was below its cut-offs, so smaller than the
    /// counts listed). Objects allocated once after BASE (lazy initialisation, a cache that
    /// filled and stopped, an LRU that churns) fail this test.
    pub fn culprits(&self, counts: impl Fn(&str) -> [Option<u64>; 2]) -> Vec<LeakCulprit> {
        self.clusters
            .iter()
            .filter_map(|c| {
                let [base, target] = counts(&c.class);
                let class_counts = [base, target, Some(c.class_count)];
                (self.growth_of(c, [base, target]) == ClusterGrowth::Culprit).then(|| LeakCulprit {
                    sentence: format!(
                        "{} {} object{} ({} retained) allocated between snapshots {} and {} {} still alive in {}; {} instances went {} across the last three snapshots.",
                        group(c.count),
                        c.class,
                        plural_s(c.count),
                        human_bytes(c.retained_size),
                        self.window.base,
                        self.window.target,
                        agree(c.count, "is", "are"),
                        c.holder,
                        c.class,
                        class_counts
                            .iter()
                            .map(|n| n.map_or("(unlisted)".to_owned(), group))
                            .collect::<Vec<_>>()
                            .join(" → ")
                    ),
                    cluster: c.clone(),
                    class_counts,
                })
            })
            .collect()
    }
}

/// True for a node whose id comes from V8's counter of heap objects, which only grows.
/// Embedder (`native`) and synthetic nodes get ids of their own (above 2^29, not in
/// allocation order), so no window says when they were allocated.
pub fn has_serial_id(snap: &HeapSnapshot, v: NodeIndex) -> bool {
    !matches!(snap.node_kind(v), NodeKind::Native | NodeKind::Synthetic)
}

/// The highest serial id of a snapshot ([`has_serial_id`]): where the next census's
/// [`LeakWindow`] starts.
pub fn max_serial_id(snap: &HeapSnapshot) -> Option<u32> {
    (0..snap.node_count() as u32)
        .filter(|&v| has_serial_id(snap, v))
        .map(|v| snap.node_id(v))
        .max()
}

/// A folded path as one line: `(GC roots) → registry → streams → [] ×40`.
fn path_line(path: &[StepView]) -> String {
    let mut line = String::from("(GC roots)");
    for step in path {
        line.push_str(" → ");
        line.push_str(&step.edge);
        if let Some(n) = step.repeated {
            line.push_str(&format!(" ×{n}"));
        }
    }
    if let Some(last) = path.last() {
        line.push_str(&format!(" ({})", last.object.class));
    }
    line
}
