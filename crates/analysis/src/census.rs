//! [`SnapshotCensus`]: the compact record a watcher keeps of each snapshot, so that trends
//! over hundreds of snapshots need no raw file (the raw files are deleted under a disk
//! budget; censuses never are).
//!
//! A census holds the snapshot's facts, its totals per growth family, the largest classes
//! (by self size and by retained size) and the largest collections (`Map`, `Set`, `Array`,
//! dictionary objects) with their V8 node ids — stable within one process, so the same
//! collection can be followed from snapshot to snapshot — and their shortest retainer path
//! written as one line, with its shape ([`crate::shape`]): collections held the same way
//! (an `events` array in every `Session` of a map) share a shape, which is how a trend
//! shows them as one group ([`shape_label`] names it).

use serde::{Deserialize, Serialize};

use crate::census_leaks::{CensusLeaks, LeakWindow};
use crate::collections::collection_entries;
use crate::growing::SizedPlace;
use crate::heap::HeapAnalysis;
use crate::shape::PathShapes;
use crate::summary::{ClassStats, GroupTotal, SnapshotInfo, Summary};

/// How much of a snapshot a census keeps.
#[derive(Clone, Copy, Debug)]
pub struct CensusLimits {
    /// Classes kept by self size (the largest first).
    pub classes_by_self_size: usize,
    /// Further classes kept by retained size.
    pub classes_by_retained_size: usize,
    /// Further classes kept by instance count: a leak of many small objects is followed
    /// by its count ([`crate::CensusLeaks::culprits`]) even when its bytes are few.
    pub classes_by_count: usize,
    /// Collections kept (the most entries first).
    pub collections: usize,
    /// Collections with fewer entries are left out.
    pub min_collection_entries: u64,
}

impl Default for CensusLimits {
    fn default() -> CensusLimits {
        CensusLimits {
            classes_by_self_size: 300,
            classes_by_retained_size: 100,
            classes_by_count: 100,
            collections: 50,
            min_collection_entries: 64,
        }
    }
}

/// One collection of a snapshot.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CollectionRecord {
    /// V8 node id (stable within one process).
    pub id: u32,
    /// `Map`, `Set`, `Array` or `Object` (a dictionary).
    pub kind: String,
    /// Entries (keys for a Map, elements for an Array).
    pub entries: u64,
    /// Retained size, bytes.
    pub retained_size: u64,
    /// Its shortest retainer path from the GC roots, as `edge → edge → …` with the class
    /// of the holder of the last edge (`(GC roots) → … → StreamRegistry.streams`).
    pub path: String,
    /// The shape of that path ([`PathShapes::key`]: element indices, dictionary keys and
    /// linked-list runs folded); collections held the same way share it. `None` in
    /// censuses taken before shapes were recorded, and for what no strong path reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
}

/// What a watcher keeps of one snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotCensus {
    /// The snapshot's facts.
    pub info: SnapshotInfo,
    /// Totals per growth family, in family order (the family key as name).
    pub families: Vec<GroupTotal>,
    /// The largest classes, with retained sizes.
    pub classes: Vec<ClassStats>,
    /// The largest collections.
    pub collections: Vec<CollectionRecord>,
    /// The highest node id of V8's heap objects in the snapshot (embedder and synthetic
    /// nodes left out): where the next census's [`LeakWindow`]s start.
    /// `None` as stored (only the watcher that took the census needs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_node_id: Option<u32>,
    /// The leak roots against the two censuses before it, when it was taken with a window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaks: Option<CensusLeaks>,
    /// The largest objects and where they are held ([`crate::census_places`]): how a
    /// trend finds an object growing at one place (a string appended to).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<SizedPlace>,
}

impl SnapshotCensus {
    /// The live heap's data: the total self size without the code family and V8's
    /// internals (the system family). These two grow for minutes after a start while V8
    /// compiles and re-optimises, and in a clean service they are most of what a
    /// census's total does; what a program keeps lives in the other families. Without
    /// family totals (a census stored without them) the whole total.
    pub fn data_size(&self) -> u64 {
        use crate::Family;
        let apart: u64 = self
            .families
            .iter()
            .filter(|f| {
                matches!(
                    Family::from_key(&f.name),
                    Some(Family::Code | Family::System)
                )
            })
            .map(|f| f.self_size)
            .sum();
        self.info.total_self_size.saturating_sub(apart)
    }

    /// The total on V8's heap: without family `external` (ArrayBuffer backing stores,
    /// outside the heap and its limit). Without family totals, the whole total.
    pub fn on_heap_size(&self) -> u64 {
        let external: u64 = self
            .families
            .iter()
            .filter(|f| crate::Family::from_key(&f.name) == Some(crate::Family::External))
            .map(|f| f.self_size)
            .sum();
        self.info.total_self_size.saturating_sub(external)
    }

    /// Takes the census of an analysed snapshot read from `path`; with `window`, with its
    /// leak roots against the two earlier censuses the window names.
    pub fn of(
        a: &HeapAnalysis<'_>,
        path: &str,
        limits: &CensusLimits,
        window: Option<&LeakWindow>,
    ) -> SnapshotCensus {
        let summary = Summary::with_graph(a, path, 0);
        let families = crate::family::Family::ALL
            .iter()
            .zip(summary.by_family)
            .map(|(f, t)| GroupTotal {
                name: f.key().to_owned(),
                ..t
            })
            .collect();
        let mut classes = crate::class::counter_named_as_one(summary.classes);
        // `classes` arrives largest self size first.
        let (mut kept, mut rest): (Vec<_>, Vec<_>) = classes
            .drain(..)
            .enumerate()
            .partition(|(i, _)| *i < limits.classes_by_self_size);
        rest.sort_by_key(|(_, c)| std::cmp::Reverse(c.retained_size.unwrap_or(0)));
        let by_retained = rest.len().min(limits.classes_by_retained_size);
        kept.extend(rest.drain(..by_retained));
        rest.sort_by_key(|(_, c)| std::cmp::Reverse(c.count));
        kept.extend(rest.into_iter().take(limits.classes_by_count));
        let classes: Vec<ClassStats> = kept.into_iter().map(|(_, c)| c).collect();

        let snap = a.snap;
        let mut found: Vec<(u32, &'static str, u64)> = (0..snap.node_count() as u32)
            .filter_map(|v| collection_entries(snap, v).map(|(k, n)| (v, k, n)))
            .filter(|&(_, _, n)| n >= limits.min_collection_entries)
            .collect();
        found.sort_by_key(|&(v, _, n)| (std::cmp::Reverse(n), v));
        found.truncate(limits.collections);
        let mut shapes = PathShapes::new(snap, &a.classes, a.distances());
        let collections = found
            .into_iter()
            .map(|(v, kind, entries)| CollectionRecord {
                id: snap.node_id(v),
                kind: kind.to_owned(),
                entries,
                retained_size: a.retained.get(v),
                path: path_line(a, v),
                shape: Some(shapes.key(v)).filter(|k| !k.is_empty()),
            })
            .collect();
        SnapshotCensus {
            info: summary.snapshot,
            families,
            classes,
            collections,
            max_node_id: crate::census_leaks::max_serial_id(snap),
            leaks: window.map(|w| CensusLeaks::of(a, w)),
            places: crate::growing::census_places(a),
        }
    }
}

/// A retainer path as one line: the edges from the roots, then the collection's holder
/// class and the last edge (`(GC roots) → global → registry → StreamRegistry.streams`).
fn path_line(a: &HeapAnalysis<'_>, v: u32) -> String {
    let steps = a.shortest_path(v);
    if steps.is_empty() {
        return "(not reachable by strong edges)".to_owned();
    }
    let mut parts: Vec<String> = vec!["(GC roots)".to_owned()];
    let n = steps.len();
    for (i, s) in steps.iter().enumerate() {
        if i + 1 == n && i > 0 {
            parts.push(format!("{}.{}", steps[i - 1].object.class, s.edge));
        } else {
            parts.push(s.edge.clone());
        }
    }
    parts.join(" → ")
}

/// Edges V8 puts between a collection and its entries (a `Map`'s hash table, an object's
/// element or property store): not what a reader calls the collection.
const INTERNAL_EDGES: [&str; 3] = ["table", "elements", "properties"];

/// A short name for the collections of one path shape ([`CollectionRecord::shape`]): the
/// field that holds them and, for `many` of them, the collection whose entries they hang
/// from (the last one the path goes through: the nearest container is the likeliest to
/// tell them apart) — `` `Session.events` (Array), one per entry of `sessions` ``. A
/// single collection's path may go through a container too (a timer list) without that
/// saying anything about it, so it gets the field alone.
pub fn shape_label(shape: &str, many: bool) -> String {
    let steps: Vec<(&str, &str)> = shape
        .split('\u{2}')
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.split_once('\u{1}'))
        .collect();
    let Some(&(edge, class)) = steps.last() else {
        return "(no strong path)".to_owned();
    };
    let folded = |e: &str| matches!(e, "[]" | "{}" | "~");
    let holder = steps
        .len()
        .checked_sub(2)
        .map_or("(GC roots)", |i| steps[i].1);
    let field = if folded(edge) {
        format!("`{holder}{edge}`")
    } else {
        format!("`{holder}.{edge}`")
    };
    let mut label = format!("{field} ({class})");
    // The entries of which collection the path passes through, last before the end.
    let last = steps.len() - 1;
    if !many {
        return label;
    }
    if let Some(k) = steps[..last].iter().rposition(|&(e, _)| folded(e)) {
        let owner = steps[..k]
            .iter()
            .rev()
            .find(|&&(e, _)| !folded(e) && !INTERNAL_EDGES.contains(&e));
        match owner {
            Some(&(name, _)) => label.push_str(&format!(", one per entry of `{name}`")),
            // V8 names some containers "global / " (the global object, with its URL
            // left empty): the class without its dangling separator.
            None => {
                let class = steps[k].1.trim_end_matches([' ', '/']);
                if !class.is_empty() {
                    label.push_str(&format!(", one per entry of a {class}"));
                }
            }
        }
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(steps: &[(&str, &str)]) -> String {
        steps
            .iter()
            .map(|(e, c)| format!("{e}\u{1}{c}\u{2}"))
            .collect()
    }

    #[test]
    fn labels_say_what_holds_the_collections() {
        let per_session = key(&[
            ("sessions", "Map"),
            ("table", "system / OrderedHashMap"),
            ("[]", "Session"),
            ("events", "Array"),
        ]);
        assert_eq!(
            shape_label(&per_session, true),
            "`Session.events` (Array), one per entry of `sessions`"
        );
        assert_eq!(shape_label(&per_session, false), "`Session.events` (Array)");
        let single = key(&[("registry", "StreamRegistry"), ("streams", "Map")]);
        assert_eq!(shape_label(&single, true), "`StreamRegistry.streams` (Map)");
        assert_eq!(shape_label("", false), "(no strong path)");
        // No named owner: the container's class, without V8's dangling " / ".
        let per_global = key(&[("[]", "global / "), ("_events", "Object"), ("{}", "Array")]);
        assert_eq!(
            shape_label(&per_global, true),
            "`Object{}` (Array), one per entry of a global"
        );
    }
}
