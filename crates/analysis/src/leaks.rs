//! `leaks`: memlab's three-snapshot method, made to ignore one-time allocations.
//!
//! With snapshots BASE, TARGET and FINAL of one process (ids are stable within a process):
//! 1. **Leaked** objects are those allocated between BASE and TARGET (id in TARGET, not in
//!    BASE) and still alive in FINAL, held by at least one non-weak path. With more than
//!    three snapshots, BASE is the first, TARGET the second to last and FINAL the last.
//! 2. Only **leak roots** are reported: leaked objects that no other leaked object
//!    dominates. Everything a leak root dominates is in its retained size, so a
//!    `StreamEntry` counts once with its ring buffer and events. V8's internal structures
//!    — backing arrays, hash tables, compiled code, hidden objects, shapes, heap numbers —
//!    are never leak roots themselves: a `Map`'s table that was reallocated after BASE
//!    would otherwise swallow every entry it holds. Nor are collections with entries
//!    (`Array`, `Map`, `Set`, dictionaries), for the same reason one level up: a library
//!    that replaces its backing array as it grows. Nor are pieces of a larger string.
//! 3. Leak roots are **clustered by the shape of their shortest retainer path**
//!    ([`PathShapes`]): the same sequence of edge labels and holder classes — element
//!    indices, keys of dictionary objects and the links of a linked list folded — and the
//!    same class. Functions generated with a counter in their name (ajv's `validate1010`)
//!    are one class, `validate<n>()` ([`crate::class::counter_folded`]): one class each,
//!    they would never grow, and they are what a leak of generated code keeps.
//! 4. A cluster is kept only if its class **kept growing**: its instance count rose in
//!    every interval between consecutive snapshots. Objects allocated once after BASE
//!    (lazy initialisation, a cache still filling before TARGET then flat) fail this test;
//!    memlab's `--trace-all-objects` reports them, which is why it flags clean programs.
//! 5. Clusters are ranked by the retained size of their leak roots in FINAL; clusters
//!    smaller than [`MIN_CLUSTER_BYTES`] or [`MIN_CLUSTER_SHARE`] of FINAL's heap are
//!    noise (V8 keeps compiling and caching as a program runs) — unless the cluster is
//!    many objects ([`crate::MIN_STEADY_OBJECTS`]) whose class gained about as many in every
//!    interval: a slow leak of small records, in step with the work.
//!
//! Beside the clusters, **growing objects** ([`crate::growing`]): one object at a stable
//! place whose own size grew in every interval by as much as a cluster must retain — a
//! string appended to, an array of numbers pushed to — which no new object betrays.

use std::collections::HashMap;

use serde::Serialize;

use leaktrail_graph::Distances;
use leaktrail_snapshot::{EdgeKind, EdgeName, HeapSnapshot, NodeIndex, NodeKind};

/// Clusters retaining less than this are noise.
pub const MIN_CLUSTER_BYTES: u64 = 64 << 10;
/// Clusters retaining less than this share of FINAL's total self size are noise.
pub const MIN_CLUSTER_SHARE: f64 = 0.001;

use crate::cluster_growth::ClusterGrowth;
use crate::family::Family;
use crate::growing::{growing_objects, is_string, GrowingObject, SizedObjects};
use crate::heap::{HeapAnalysis, ObjectView, StepView};
use crate::idset::IdSet;
use crate::shape::{linked_run, PathShapes};
use crate::summary::SnapshotInfo;
use crate::units::{agree, group_digits as group, human_bytes, plural_s};

/// What `leaks` keeps of an earlier snapshot: its ids and its count per class.
pub struct EarlierSnapshot {
    /// The snapshot's facts.
    pub info: SnapshotInfo,
    /// Timers, workers and listeners.
    pub handles: crate::handles::Handles,
    /// Which process it is of, and when.
    pub identity: crate::SnapshotIdentity,
    ids: Vec<u32>,
    class_counts: HashMap<String, u64>,
    sized: SizedObjects,
    families: [u64; Family::ALL.len()],
}

impl EarlierSnapshot {
    /// Digests a snapshot parsed with all its edges (growing objects are found by their
    /// retainer paths).
    pub fn of(snap: HeapSnapshot, path: &str) -> EarlierSnapshot {
        let info = SnapshotInfo::of(&snap, path);
        let classes = crate::Classification::of(&snap);
        let handles = crate::handles::Handles::of(&snap, &classes);
        let class_counts = class_counts(&classes, snap.self_sizes());
        let families = family_sizes(&classes, snap.self_sizes());
        let sized = SizedObjects::of_earlier(&snap, &classes, &Distances::compute(&snap));
        let identity = crate::SnapshotIdentity::of(&snap);
        let (ids, _) = snap.into_ids_and_sizes();
        EarlierSnapshot {
            info,
            handles,
            identity,
            ids,
            class_counts,
            sized,
            families,
        }
    }
}

/// Self size per growth family, in [`Family::ALL`] order.
fn family_sizes(classes: &crate::Classification, sizes: &[u32]) -> [u64; Family::ALL.len()] {
    let mut out = [0u64; Family::ALL.len()];
    for (f, &size) in classes.node_family.iter().zip(sizes) {
        out[f.index()] += u64::from(size);
    }
    out
}

/// The self size of one growth family in each snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct FamilySizes {
    /// The family.
    pub family: Family,
    /// Its self size in each snapshot, in order, bytes.
    pub sizes: Vec<u64>,
}

/// Instances per class index: nodes of size 0 are V8's, not instances.
fn instance_counts(classes: &crate::Classification, sizes: &[u32]) -> Vec<u64> {
    let mut counts = vec![0u64; classes.class_names.len()];
    for (i, &c) in classes.node_class.iter().enumerate() {
        if sizes[i] != 0 {
            counts[c as usize] += 1;
        }
    }
    counts
}

/// Instances per class name, and per folded name of functions named from a counter
/// ([`crate::class::counter_folded`]: `validate<n>()` counts every `validate1010()`), which
/// is the class their cluster is named and judged by.
pub(crate) fn class_counts(classes: &crate::Classification, sizes: &[u32]) -> HashMap<String, u64> {
    let counts = instance_counts(classes, sizes);
    let mut out = HashMap::new();
    for (name, c) in classes.class_names.iter().zip(counts) {
        if c == 0 {
            continue;
        }
        let folded = crate::class::counter_folded(name);
        if folded != name.as_str() {
            *out.entry(folded.into_owned()).or_insert(0) += c;
        }
        *out.entry(name.clone()).or_insert(0) += c;
    }
    out
}

/// One group of leak roots that share a retainer path shape and a class.
#[derive(Clone, Debug, Serialize)]
pub struct LeakCluster {
    /// Class of the leak roots.
    pub class: String,
    /// Number of leak roots.
    pub count: u64,
    /// Their retained size in FINAL, bytes.
    pub retained_size: u64,
    /// Where they accumulate, e.g. "`streams` (Map) of StreamRegistry".
    pub holder: String,
    /// Instance count of the class in each snapshot, in order.
    pub class_counts: Vec<u64>,
    /// The cluster in one sentence.
    pub sentence: String,
    /// The shortest path of the cluster's largest member, top-down.
    pub path: Vec<StepView>,
    /// The largest member.
    pub example: ObjectView,
    /// What each member mostly is a wrapper of, when its class says little (`Object`,
    /// `Array`): the class of what its largest member keeps alone, when that is most of
    /// its retained size ([`wrapped_class`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holding: Option<String>,
}

/// Classes that say little of what an object is for: a cache's entry wrapper (`{ t, v }`
/// of node-cache), an array of records.
const WRAPPER_CLASSES: [&str; 5] = [
    "Object",
    "Array",
    "(array)",
    "(object properties)",
    "(object elements)",
];

/// The class of what `v` keeps alive when `v`'s own class says little: going down through
/// wrappers (at most three levels), the object `v` alone keeps that retains the most, if
/// it retains at least half of `v`'s retained size. node-cache keeps each session as
/// `{ t, v: Session }`: the leak roots are `Object`s, what they hold is `Session`s.
pub(crate) fn wrapped_class(a: &HeapAnalysis<'_>, v: NodeIndex) -> Option<String> {
    let total = a.retained.get(v);
    let mut at = v;
    for _ in 0..3 {
        if !WRAPPER_CLASSES.contains(&a.class_name(at)) {
            break;
        }
        let child = a
            .snap
            .edges(at)
            .map(|e| a.snap.edge_target(e))
            .filter(|&t| t != at && a.dominators.idom(t) == at)
            .max_by_key(|&t| a.retained.get(t))?;
        if a.retained.get(child) * 2 < total {
            return None;
        }
        at = child;
    }
    let class = a.class_name(at);
    (at != v && !WRAPPER_CLASSES.contains(&class)).then(|| class.to_owned())
}

/// The `leaks` report.
#[derive(Clone, Debug, Serialize)]
pub struct LeakReport {
    /// The snapshots, in order.
    pub snapshots: Vec<SnapshotInfo>,
    /// Self size per growth family in each snapshot: what kind of memory grew (code and
    /// the module graph, strings, …) when no object explains it.
    pub families: Vec<FamilySizes>,
    /// Leak roots before the growth test.
    pub leak_roots: u64,
    /// Their retained size in FINAL, bytes.
    pub leak_roots_retained: u64,
    /// Clusters whose class kept growing, largest first.
    pub clusters: Vec<LeakCluster>,
    /// Clusters left out because their class did not grow in every interval, or because
    /// they are below the noise floor.
    pub dismissed_clusters: u64,
    /// Their retained size, bytes.
    pub dismissed_retained: u64,
    /// Of the dismissed clusters: those whose class did not grow in every interval.
    pub dismissed_not_growing: u64,
    /// Of the dismissed clusters: those of a growing class that retain less than the
    /// noise floor.
    pub dismissed_small: u64,
    /// The noise floor a cluster (or a growing object's growth) must reach, bytes.
    pub min_cluster_bytes: u64,
    /// Objects at one place whose size grew in every interval, largest growth first.
    pub growing_objects: Vec<GrowingObject>,
    /// Objects at one place that grew in steps (never shrank, not in every interval),
    /// largest growth first: leads for a run whose bytes grew with no finding (a table
    /// doubling as it gains numbers), not findings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects_grown_in_steps: Vec<GrowingObject>,
    /// With four or more snapshots: collections whose entry count grew in every interval,
    /// largest retained growth first (empty with three).
    pub growing_collections: Vec<crate::collections::GrowingCollection>,
    /// How timers, workers and listeners changed from the first snapshot to the last.
    pub handles: crate::handles::HandlesDelta,
    /// A sentence on the result.
    pub summary: String,
}

/// One cluster of leak roots being summed.
#[derive(Default)]
pub(crate) struct Acc {
    pub(crate) count: u64,
    pub(crate) retained: u64,
    /// The member that retains the most.
    pub(crate) best: Option<NodeIndex>,
    /// The best member of the cluster whose members this one is reached through, when
    /// another is ([`rank`]): where the program keeps what this cluster's objects hang off.
    pub(crate) through: Option<NodeIndex>,
}

impl Acc {
    /// Where the cluster's objects accumulate ([`holder_of`] of `path`, its best member's),
    /// and, when it is reached through the members of another cluster, that cluster's place
    /// ("`body` (Object) of Object, reached through the entries of `retryLog` (Array) of
    /// system / Context").
    pub(crate) fn holder(&self, a: &HeapAnalysis<'_>, path: &[StepView]) -> String {
        let own = holder_of(path);
        // Entries of one list reached through one another (a Worker's MessagePort) are
        // held there already.
        match self.through.map(|t| holder_of(&folded_path(a, t))) {
            Some(through) if through != own => {
                format!("{own}, reached through the entries of {through}")
            }
            _ => own,
        }
    }
}

impl LeakReport {
    /// The finding to name first, as a sentence and a path: the largest cluster, else the
    /// largest growing object, else the growing collection with the most growth.
    pub fn culprit(&self) -> Option<(&str, &[StepView])> {
        if let Some(c) = self.clusters.first() {
            return Some((&c.sentence, &c.path));
        }
        if let Some(g) = self.growing_objects.first() {
            return Some((&g.sentence, &g.path));
        }
        self.growing_collections
            .first()
            .map(|c| (c.sentence.as_str(), c.path.as_slice()))
    }

    /// The share of what the snapshots gained (first to last, the growing families
    /// added up) that is `family`, 0 to 1; `None` when nothing grew.
    pub fn growth_share(&self, family: Family) -> Option<f64> {
        let delta = |f: &FamilySizes| match (f.sizes.first(), f.sizes.last()) {
            (Some(&a), Some(&b)) => b as i64 - a as i64,
            _ => 0,
        };
        let grown: i64 = self.families.iter().map(|f| delta(f).max(0)).sum();
        let of = self
            .families
            .iter()
            .find(|f| f.family == family)
            .map_or(0, |f| delta(f).max(0));
        (grown > 0).then(|| of as f64 / grown as f64)
    }

    /// True when the report found a leak: a cluster, a growing collection or a growing
    /// object.
    pub fn found_leak(&self) -> bool {
        !self.clusters.is_empty()
            || !self.growing_collections.is_empty()
            || !self.growing_objects.is_empty()
    }

    /// Finds leaks; `earlier` are the snapshots before FINAL (at least two), in order;
    /// `final_snap` is FINAL analysed with its graph.
    pub fn find(
        earlier: &[EarlierSnapshot],
        final_analysis: &HeapAnalysis<'_>,
        final_path: &str,
        top: usize,
    ) -> LeakReport {
        let a = final_analysis;
        let snap = a.snap;
        let base = IdSet::new(&earlier[0].ids);
        let target = IdSet::new(&earlier[earlier.len() - 1].ids);
        let Candidates {
            roots,
            roots_retained,
            min_bytes,
            ranked,
        } = Candidates::of(a, |v| {
            let id = snap.node_id(v);
            target.contains(id) && !base.contains(id)
        });
        let final_counts = class_counts(&a.classes, snap.self_sizes());
        let mut kept = Vec::new();
        let (mut dismissed, mut dismissed_retained) = (0u64, 0u64);
        let (mut not_growing, mut small) = (0u64, 0u64);
        for c in ranked {
            let Some(best) = c.best else { continue };
            // A cluster of generated functions is as many classes as members, one name
            // each: it is named and judged by their folded name.
            let class = crate::class::counter_folded(a.class_name(best)).into_owned();
            let counts: Vec<u64> = earlier
                .iter()
                .map(|e| e.class_counts.get(&class).copied().unwrap_or(0))
                .chain(std::iter::once(
                    final_counts.get(&class).copied().unwrap_or(0),
                ))
                .collect();
            let listed: Vec<Option<u64>> = counts.iter().copied().map(Some).collect();
            match ClusterGrowth::of(&class, c.count, c.retained, min_bytes, &listed) {
                ClusterGrowth::Culprit => {}
                growth => {
                    dismissed += 1;
                    dismissed_retained += c.retained;
                    match growth {
                        ClusterGrowth::Small => small += 1,
                        _ => not_growing += 1,
                    }
                    continue;
                }
            }
            if kept.len() >= top {
                continue;
            }
            let path = folded_path(a, best);
            let holder = c.holder(a, &path);
            let trend = counts
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" → ");
            let holding = wrapped_class(a, best);
            let sentence = format!(
                "{} {} object{}{} ({} retained) {} in {}; {} instances went {} across the snapshots.",
                c.count,
                class,
                plural_s(c.count),
                holding.as_ref().map_or(String::new(), |h| format!(
                    ", {} a {h}",
                    agree(c.count, "holding", "each holding")
                )),
                human_bytes(c.retained),
                agree(c.count, "accumulates", "accumulate"),
                holder,
                class,
                trend
            );
            kept.push(LeakCluster {
                class,
                count: c.count,
                retained_size: c.retained,
                holder,
                class_counts: counts,
                sentence,
                example: a.object(best),
                path,
                holding,
            });
        }
        let mut snapshots: Vec<SnapshotInfo> = earlier.iter().map(|e| e.info.clone()).collect();
        snapshots.push(SnapshotInfo::of(snap, final_path));
        let sized: Vec<&SizedObjects> = earlier.iter().map(|e| &e.sized).collect();
        let places = growing_objects(
            &sized,
            &SizedObjects::of_last(a, min_bytes),
            a,
            min_bytes,
            top,
        );
        let growing = places
            .every_interval
            .into_iter()
            // A collection whose entries are a cluster is that cluster's holder, said already.
            .filter(|g| {
                !kept.iter().any(|c: &LeakCluster| {
                    c.path[..c.path.len().saturating_sub(1)]
                        .iter()
                        .any(|s| s.object.id == g.object.id)
                })
            })
            .collect::<Vec<_>>();
        // A cluster of one object that is a growing object is said better as that.
        kept.retain(|c| c.count > 1 || !growing.iter().any(|g| g.object.id == c.example.id));
        let summary = match (kept.first(), growing.first()) {
            (Some(c), _) => format!("Leak: {}", c.sentence),
            (None, Some(g)) => format!("Leak: {}", g.sentence),
            (None, None) if roots == 0 => "No leak: nothing allocated between the first snapshots is still alive in the last, and no object grew in every interval.".to_owned(),
            (None, None) => format!(
                "No leak: {} objects allocated after the first snapshot are still alive ({} retained), but {} — one-time allocations, or a cache that filled and stopped.",
                group(roots),
                human_bytes(roots_retained),
                dismissal_cause(not_growing, small, min_bytes)
            ),
        };
        LeakReport {
            snapshots,
            families: {
                let last = family_sizes(&a.classes, snap.self_sizes());
                Family::ALL
                    .iter()
                    .map(|&family| FamilySizes {
                        family,
                        sizes: earlier
                            .iter()
                            .map(|e| e.families[family.index()])
                            .chain([last[family.index()]])
                            .collect(),
                    })
                    .collect()
            },
            leak_roots: roots,
            leak_roots_retained: roots_retained,
            clusters: kept,
            dismissed_clusters: dismissed,
            dismissed_retained,
            dismissed_not_growing: not_growing,
            dismissed_small: small,
            min_cluster_bytes: min_bytes,
            growing_objects: growing,
            objects_grown_in_steps: places.in_steps,
            growing_collections: Vec::new(),
            handles: crate::handles::HandlesDelta::between(
                &earlier[0].handles,
                &crate::handles::Handles::of(snap, &a.classes),
            ),
            summary,
        }
    }
}

/// Leak roots of FINAL grouped by the shape of their retainer paths, before the growth
/// test: what `leaks` and a watcher's census share.
pub(crate) struct Candidates {
    pub(crate) roots: u64,
    pub(crate) roots_retained: u64,
    /// The noise floor for this heap.
    pub(crate) min_bytes: u64,
    /// Clusters, largest retained size first.
    pub(crate) ranked: Vec<Acc>,
}

impl Candidates {
    /// Clusters the leak roots of `a`: reportable nodes `allocated_in_window` accepts
    /// (allocated between BASE and TARGET), reachable, and dominated by no other.
    pub(crate) fn of(
        a: &HeapAnalysis<'_>,
        allocated_in_window: impl Fn(NodeIndex) -> bool,
    ) -> Candidates {
        let snap = a.snap;
        let n = snap.node_count();
        // Objects a program allocates (not V8's internal structures) that are leaked.
        let leaked: Vec<bool> = (0..n as u32)
            .map(|v| {
                is_reportable(snap, v)
                    && !is_string_piece(snap, a.distances(), v)
                    && !is_filled_collection(snap, v)
                    && snap.self_size(v) != 0
                    && allocated_in_window(v)
                    && a.distances().is_reachable(v)
            })
            .collect();
        // inside[v]: a strict dominator of v is leaked.
        let inside = a.inside_a_member(|d| leaked[d as usize]);
        let heap_total: u64 = snap.self_sizes().iter().map(|&s| s as u64).sum();
        let min_bytes = MIN_CLUSTER_BYTES.max((heap_total as f64 * MIN_CLUSTER_SHARE) as u64);
        let mut clusters: HashMap<String, Acc> = HashMap::new();
        let (mut roots, mut roots_retained) = (0u64, 0u64);
        let mut shapes = PathShapes::new(snap, &a.classes, a.distances());
        for v in 0..n as u32 {
            if !leaked[v as usize] || inside[v as usize] {
                continue;
            }
            roots += 1;
            roots_retained += a.retained.get(v);
            let key = shapes.key(v);
            let acc = clusters.entry(key).or_default();
            acc.count += 1;
            acc.retained += a.retained.get(v);
            if acc
                .best
                .is_none_or(|b| a.retained.get(b) < a.retained.get(v))
            {
                acc.best = Some(v);
            }
        }
        let is_root = |u: NodeIndex| leaked[u as usize] && !inside[u as usize];
        let ranked = rank(clusters, a.distances(), &mut shapes, is_root);
        Candidates {
            roots,
            roots_retained,
            min_bytes,
            ranked,
        }
    }
}

/// How many of the largest clusters are looked at for another cluster above them.
const RANK_THROUGH: usize = 64;

/// The clusters, largest retained size first, except that clusters reached through the
/// members of another are ranked with it, by their sizes added up, and remember it
/// ([`Acc::through`]). Entries kept in a list that each hold a stream or a socket: the
/// stream is held twice, by the entry and by a registry of the runtime (a
/// `FinalizationRegistry`, a handle list), so no entry dominates it and it is a cluster of
/// its own, under a holder deep in a library ("`body` of Object"), often larger than the
/// entries'. Its path still runs through an entry of the list, which is the place the
/// program keeps them, and its holder then says so. Within a group the largest comes
/// first: what holds the growth (ajv's generated functions, ~13 KB each, reached through
/// its cache's schema entries of ~1 KB).
fn rank(
    clusters: HashMap<String, Acc>,
    distances: &Distances,
    shapes: &mut PathShapes<'_>,
    is_root: impl Fn(NodeIndex) -> bool,
) -> Vec<Acc> {
    let mut ranked: Vec<(String, Acc)> = clusters.into_iter().collect();
    // Ties by shape: the same report on every run (clusters of equal size came out in
    // the hash map's order, a different headline each time).
    ranked.sort_by(|(ka, a), (kb, b)| b.retained.cmp(&a.retained).then_with(|| ka.cmp(kb)));
    let index: HashMap<&str, usize> = ranked
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_str(), i))
        .collect();
    // The outermost other cluster whose member the best member's shortest path runs
    // through.
    let mut above: Vec<Option<usize>> = vec![None; ranked.len()];
    for (i, (_, c)) in ranked.iter().enumerate().take(RANK_THROUGH) {
        let mut u = c.best.and_then(|b| distances.parent(b));
        while let Some(v) = u {
            if is_root(v) {
                if let Some(&j) = index.get(shapes.key(v).as_str()) {
                    if j != i {
                        above[i] = Some(j);
                    }
                }
            }
            u = distances.parent(v);
        }
    }
    // Follow chains to the top (a cycle cannot form along one path, but a bound costs
    // nothing).
    let top = |mut i: usize| {
        for _ in 0..ranked.len() {
            match above[i] {
                Some(j) if j != i => i = j,
                _ => break,
            }
        }
        i
    };
    let mut group_size = vec![0u64; ranked.len()];
    for (i, (_, c)) in ranked.iter().enumerate() {
        group_size[top(i)] += c.retained;
    }
    let mut order: Vec<usize> = (0..ranked.len()).collect();
    order.sort_by_key(|&i| {
        let t = top(i);
        (
            std::cmp::Reverse(group_size[t]),
            t,
            std::cmp::Reverse(ranked[i].1.retained),
            i,
        )
    });
    let tops: Vec<usize> = (0..ranked.len()).map(top).collect();
    let bests: Vec<Option<NodeIndex>> = ranked.iter().map(|(_, c)| c.best).collect();
    let mut slots: Vec<Option<Acc>> = ranked.into_iter().map(|(_, c)| Some(c)).collect();
    order
        .into_iter()
        .filter_map(|i| {
            let mut c = slots[i].take()?;
            if tops[i] != i {
                c.through = bests[tops[i]];
            }
            Some(c)
        })
        .collect()
}

/// True for a collection with 16 entries or more (a `Map`, `Set`, `Array` or dictionary
/// object).
/// A program replaces a collection as it grows (a library's backing array, a copy on
/// write): the new one must not swallow the entries it holds, which are the finding.
/// A leak *of* collections still shows as their holders' cluster or as growing objects.
fn is_filled_collection(snap: &HeapSnapshot, v: NodeIndex) -> bool {
    // Small ones (a pair `[a, b]`, a record of a few fields) are values, not collections.
    crate::collections::collection_entries(snap, v)
        .is_some_and(|(_, n)| n >= crate::collections::DICTIONARY_MIN_KEYS)
}

/// True for a string that is a piece of a larger one (a cons string's `first` or
/// `second`, a slice's parent): the whole string is what the program holds.
fn is_string_piece(snap: &HeapSnapshot, distances: &Distances, v: NodeIndex) -> bool {
    let string = |n| is_string(snap.node_kind(n));
    string(v) && distances.parent(v).is_some_and(string)
}

/// True for what a program allocates: objects, closures, strings, regexps, embedder
/// objects. V8's own structures are transparent.
fn is_reportable(snap: &HeapSnapshot, v: NodeIndex) -> bool {
    match snap.node_kind(v) {
        NodeKind::Object => !snap.node_name(v).starts_with("system / "),
        NodeKind::Closure
        | NodeKind::String
        | NodeKind::ConsString
        | NodeKind::SlicedString
        | NodeKind::RegExp
        | NodeKind::Native => true,
        _ => false,
    }
}

/// Why no cluster was kept, as a clause: "no class grew in every interval", or the
/// clusters of growing classes were below the noise floor.
fn dismissal_cause(not_growing: u64, small: u64, min_bytes: u64) -> String {
    match (not_growing, small) {
        (_, 0) => "the class of every cluster of them stopped growing in some interval".to_owned(),
        (0, s) => format!(
            "the {} cluster{} of growing classes retain{} less than the {} noise floor each",
            group(s),
            plural_s(s),
            agree(s, "s", ""),
            human_bytes(min_bytes)
        ),
        (g, s) => format!(
            "{} cluster{} of growing classes retain{} less than the {} noise floor each, and the class of {} more stopped growing in some interval",
            group(s),
            plural_s(s),
            agree(s, "s", ""),
            human_bytes(min_bytes),
            group(g)
        ),
    }
}

/// The shortest path of `v` as reports show it, each run of a linked structure shown once:
/// one edge name repeated into one class as its last step marked with the run's length; a
/// repeated block of steps as its last block, the block's last step marked with the
/// number of blocks and the block's length.
pub(crate) fn folded_path(a: &HeapAnalysis<'_>, v: NodeIndex) -> Vec<StepView> {
    let Some(path) = a.distances().path_to(a.snap, v) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < path.steps.len() {
        let run = linked_run(a.snap, &path.steps, i);
        let last_block = i + run.steps() - run.period;
        for k in 0..run.period {
            let at = last_block + k;
            let mut step = a.step(&path.steps[at]);
            // The rule that folds the key for clustering names it for the reader, unless
            // the key is a field of an object that merely has many.
            let (edge, holder) = (
                path.steps[at].edge,
                at.checked_sub(1).map(|h| path.steps[h].node),
            );
            step.keyed = holder.is_some_and(|h| {
                a.snap.edge_kind(edge) == EdgeKind::Property
                    && crate::shape::is_dictionary(a.snap, h)
                    && match a.snap.edge_name(edge) {
                        EdgeName::Name(name) => crate::shape::reads_as_key(a.snap, h, name),
                        EdgeName::Index(_) => true,
                    }
            });
            if k + 1 == run.period && run.count > 1 {
                step.repeated = Some(run.count as u64);
                step.block = (run.period > 1).then_some(run.period as u64);
            }
            out.push(step);
        }
        i += run.steps();
    }
    out
}

/// Describes where a path's object accumulates: the nearest named property or variable
/// above it, with the collection it leads to and that collection's owner.
pub(crate) fn holder_of(path: &[StepView]) -> String {
    // Skip the object itself, then element/internal hops inside the collection.
    let named = |s: &StepView| {
        matches!(s.edge_type.as_str(), "property" | "context" | "shortcut")
            && !s.edge.starts_with('[')
    };
    let last = path.len().saturating_sub(1);
    // The object is one link of a chain held through several steps.
    if let (Some(run), Some(block)) = (
        path.last().and_then(|s| s.repeated),
        path.last().and_then(|s| s.block),
    ) {
        let block = block as usize;
        let start = path.len().saturating_sub(block);
        let edges: Vec<String> = path[start..]
            .iter()
            .map(|s| format!("`{}`", s.edge))
            .collect();
        // The chain hangs off the step above its first block.
        let head = match start {
            0 => "(GC roots)".to_owned(),
            1 => format!("`{}` of (GC roots)", path[0].edge),
            _ => format!(
                "`{}` of {}",
                path[start - 1].edge,
                path[start - 2].object.class
            ),
        };
        return format!(
            "a chain of {} ({} links deep), each holding the one before through {}, from {}",
            path[last].object.class,
            crate::units::group_digits(run),
            edges.join(" → "),
            head
        );
    }
    // The object is one link of a list: the list hangs off the step above the run.
    if let Some(run) = path.last().and_then(|s| s.repeated) {
        let list = &path[last];
        let head = if last > 0 {
            holder_of(&path[..last])
        } else {
            "(GC roots)".to_owned()
        };
        let head_class = last
            .checked_sub(1)
            .map_or("(GC roots)", |h| path[h].object.class.as_str());
        return format!(
            "a linked list of {} (`{}`, {} links deep) from {} under {}",
            list.object.class, list.edge, run, head_class, head
        );
    }
    for i in (0..last).rev() {
        let step = &path[i];
        if named(step) {
            // `_events.change`: one more name when the holder is a plain object; a key of
            // a dictionary (`series./login`, `stats.login` of a table of arrays) stands
            // for every key: `series[key]`. A census's path line has no fold, only text.
            let (mut name, mut top) = (step.edge.clone(), i);
            // A table's key that reads like a field (`caches.sessions` of three Maps) is
            // named as the example the cluster's largest member went through: which
            // field leaks is the fact a reader needs.
            let mut example = String::new();
            if i > 0 && path[i - 1].object.class == "Object" && named(&path[i - 1]) {
                let code_name = crate::shape::is_code_name(&step.edge);
                name = if step.keyed || !code_name {
                    if code_name {
                        example = format!(", e.g. `{}.{}`", path[i - 1].edge, step.edge);
                    }
                    format!("{}[key]", path[i - 1].edge)
                } else {
                    format!("{}.{}", path[i - 1].edge, name)
                };
                top = i - 1;
            }
            let owner = match top.checked_sub(1).map(|o| path[o].object.class.as_str()) {
                None => "(GC roots)",
                // V8 names the global object `global / ` and its URL, which Node leaves
                // empty: `globalThis.cache` is held by the global object.
                Some(class) if class.starts_with("global /") => "the global object",
                Some(class) => class,
            };
            return format!("`{}` ({}{example}) of {}", name, step.object.class, owner);
        }
    }
    if path.len() >= 2 {
        let step = &path[path.len() - 2];
        return match (step.object.class.as_str(), step.object.name.as_str()) {
            // A root of V8's own: the table it interns strings in keeps what
            // `Symbol.for` keys and names made from data (`obj[id]`) hold on to.
            ("(synthetic)", "(Internalized strings)") => {
                "V8's string table (Internalized strings: `Symbol.for` keys, names made from data)"
                    .to_owned()
            }
            // Node's handles (the embedder's roots): what they hold lives while the
            // socket, server or request stays open.
            ("(synthetic)", name) if name.starts_with("Node / ") => {
                node_handles(&name["Node / ".len()..])
            }
            ("(synthetic)", name) if !name.is_empty() => format!("V8's own root {name}"),
            (class, _) => format!("{} @{}", class, step.object.id),
        };
    }
    "(GC roots)".to_owned()
}

/// How a root of Node's handles reads (`TCPSocketWrap` is `Node / TCPSocketWrap` in the
/// snapshot): objects held there leak because what they wrap was never closed.
fn node_handles(wrap: &str) -> String {
    match wrap {
        "TCPSocketWrap" => {
            "Node's open TCP sockets (TCPSocketWrap: connections never ended or destroyed)".into()
        }
        "TCPServerWrap" | "TCPWrap" => {
            format!("Node's listening TCP servers ({wrap}: servers never closed)")
        }
        "PipeWrap" | "PipeSocketWrap" | "PipeServerWrap" => {
            format!("Node's open pipes ({wrap}: never closed)")
        }
        _ => format!("Node's open handles ({wrap}: never closed or finished)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::ObjectView;

    fn step(edge: &str, edge_type: &str, class: &str) -> StepView {
        StepView {
            edge: edge.to_owned(),
            edge_type: edge_type.to_owned(),
            object: ObjectView {
                id: 1,
                class: class.to_owned(),
                name: String::new(),
                self_size: 0,
                retained_size: 0,
            },
            repeated: None,
            block: None,
            keyed: false,
        }
    }

    #[test]
    fn a_cache_on_the_global_object_is_held_by_the_global_object() {
        // `globalThis.__pageCache = new Map()`, as V8 names the global object in Node.
        let path = [
            step("2", "element", "global / "),
            step("__pageCache", "property", "Map"),
            step("table", "internal", "(array)"),
            step("5496", "internal", "Rendered"),
        ];
        assert_eq!(holder_of(&path), "`__pageCache` (Map) of the global object");
    }

    #[test]
    fn strings_held_by_a_root_of_v8s_own_name_that_root() {
        // `Symbol.for(\`request:${id}\`)` per request: the descriptions stay interned.
        let mut root = step("1", "element", "(synthetic)");
        root.object.name = "(Internalized strings)".to_owned();
        let path = [root, step("568", "element", "(string)")];
        assert_eq!(
            holder_of(&path),
            "V8's string table (Internalized strings: `Symbol.for` keys, names made from data)"
        );
        let mut other = step("1", "element", "(synthetic)");
        other.object.name = "(Strong roots)".to_owned();
        let path = [other, step("3", "element", "(string)")];
        assert_eq!(holder_of(&path), "V8's own root (Strong roots)");
    }

    #[test]
    fn objects_held_by_nodes_handles_name_what_was_left_open() {
        // A keep-alive Agent per request, never destroyed: its sockets stay open, held by
        // Node's handle root, not by anything of the program.
        let mut root = step("1", "element", "(synthetic)");
        root.object.name = "Node / TCPSocketWrap".to_owned();
        let path = [root, step("2129", "element", "TCP")];
        assert_eq!(
            holder_of(&path),
            "Node's open TCP sockets (TCPSocketWrap: connections never ended or destroyed)"
        );
        let mut root = step("1", "element", "(synthetic)");
        root.object.name = "Node / FSReqCallback".to_owned();
        let path = [root, step("7", "element", "FSReqCallback")];
        assert_eq!(
            holder_of(&path),
            "Node's open handles (FSReqCallback: never closed or finished)"
        );
    }
}
