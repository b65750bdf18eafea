//! Growing objects: one object at a stable place whose size grew in every interval.
//!
//! Some leaks allocate no new objects that stay: an audit log built with `log += line`,
//! an array of numbers that is pushed to and never cut, a `Map` of counters. V8 replaces
//! a string (and an array's backing store) when it grows, so following the object by id
//! finds nothing; following it by **where it is held** does. In each snapshot every
//! object big enough to matter is keyed two ways: by its holder (the object it is reached
//! from on its shortest path, by id, and the edge's name — `log` of the one `AuditTrail`)
//! and by the shape of its shortest retainer path ([`PathShapes`]), for a holder that is
//! itself replaced. The holder key is tried first: shortest paths from the roots change
//! as a program runs (at its exit most of all), a holder's id does not. A place held by
//! exactly one object in every snapshot whose *own size* rose in every interval is a
//! finding.
//!
//! An object's own size is its self size plus the storage V8 keeps for it alone, reached
//! through internal edges: a string's cons tree (`first`, `second`) or slice parent, an
//! array's elements, an object's property store, a `Map`'s hash table. Entries are not
//! counted (they are objects of their own, and the leak clusters follow those).

use std::collections::HashMap;

use serde::Serialize;

use leaktrail_graph::Distances;
use leaktrail_snapshot::{EdgeKind, HeapSnapshot, NodeIndex, NodeKind};

use crate::class::Classification;
use crate::heap::{HeapAnalysis, ObjectView, StepView};
use crate::shape::PathShapes;
use crate::units::human_bytes;

/// Objects below this own size are left out of earlier snapshots.
const EARLIER_MIN_SIZE: u64 = 1 << 10;
/// At most this many objects are keyed per earlier snapshot (the largest).
const EARLIER_MAX_OBJECTS: usize = 20_000;
/// At most this many objects are keyed in the last snapshot (the largest).
const LAST_MAX_OBJECTS: usize = 2_000;

/// The own size of the sizeable objects of one snapshot, by holder and by path shape.
pub struct SizedObjects {
    by_shape: HashMap<String, ShapeSizes>,
    /// (Holder id, edge name) → the object held there and its own size.
    by_holder: HashMap<(u32, String), HeldObject>,
}

/// The objects of one snapshot whose shortest paths have one shape.
struct ShapeSizes {
    /// The largest own size among them.
    largest: u64,
    /// Their own sizes added up.
    total: u64,
    /// How many there are.
    count: u32,
}

/// The object at one (holder, edge) place.
struct HeldObject {
    object: NodeIndex,
    own_size: u64,
    shape: String,
}

/// Where an object is held, in both keys.
struct Place {
    holder: (u32, String),
    shape: String,
}

/// An object at one place whose size grew in every interval.
#[derive(Clone, Debug, Serialize)]
pub struct GrowingObject {
    /// Its class in the last snapshot (`(concatenated string)`, `Array`, …).
    pub class: String,
    /// The object in the last snapshot.
    pub object: ObjectView,
    /// Its own size in each snapshot, bytes (0 where it did not exist yet).
    pub sizes: Vec<u64>,
    /// Where it is held, e.g. "`log` of AuditTrail".
    pub holder: String,
    /// Its shortest retainer path in the last snapshot.
    pub path: Vec<StepView>,
    /// One sentence.
    pub sentence: String,
}

impl SizedObjects {
    /// Keys the largest objects of an earlier snapshot.
    pub fn of_earlier(
        snap: &HeapSnapshot,
        classes: &Classification,
        distances: &Distances,
    ) -> SizedObjects {
        Self::collect(
            snap,
            classes,
            distances,
            EARLIER_MIN_SIZE,
            EARLIER_MAX_OBJECTS,
        )
    }

    /// Keys the objects of the last snapshot of at least `min_size`.
    pub fn of_last(a: &HeapAnalysis<'_>, min_size: u64) -> SizedObjects {
        Self::collect(
            a.snap,
            &a.classes,
            a.distances(),
            min_size,
            LAST_MAX_OBJECTS,
        )
    }

    fn collect(
        snap: &HeapSnapshot,
        classes: &Classification,
        distances: &Distances,
        min_size: u64,
        max_objects: usize,
    ) -> SizedObjects {
        let mut sized = own_sizes(snap, distances, min_size);
        if sized.len() > max_objects {
            sized.select_nth_unstable_by_key(max_objects - 1, |&(_, s)| std::cmp::Reverse(s));
            sized.truncate(max_objects);
        }
        let mut shapes = PathShapes::new(snap, classes, distances);
        let mut by_shape: HashMap<String, ShapeSizes> = HashMap::new();
        let mut by_holder = HashMap::new();
        for (v, size) in sized {
            // Objects only the VM's own roots hold are V8's business.
            if distances.is_system(v) {
                continue;
            }
            let Some(place) = place(snap, &mut shapes, v) else {
                continue;
            };
            let entry = by_shape.entry(place.shape.clone()).or_insert(ShapeSizes {
                largest: 0,
                total: 0,
                count: 0,
            });
            entry.largest = entry.largest.max(size);
            entry.total += size;
            entry.count += 1;
            by_holder.insert(
                place.holder,
                HeldObject {
                    object: v,
                    own_size: size,
                    shape: place.shape,
                },
            );
        }
        SizedObjects {
            by_shape,
            by_holder,
        }
    }
}

/// Where `v` is held: its holder on its shortest path and that path's shape.
fn place(snap: &HeapSnapshot, shapes: &mut PathShapes<'_>, v: NodeIndex) -> Option<Place> {
    let path = shapes.path_to(v)?;
    let last = path.steps.last()?;
    let holder = match path.steps.len() {
        1 => leaktrail_graph::rules::ROOT,
        n => path.steps[n - 2].node,
    };
    Some(Place {
        holder: (
            snap.node_id(holder),
            crate::heap::edge_label(snap, last.edge),
        ),
        shape: shapes.key_of(&path),
    })
}

/// True for the string kinds: flat, concatenated and sliced.
pub(crate) fn is_string(k: NodeKind) -> bool {
    matches!(
        k,
        NodeKind::String | NodeKind::ConsString | NodeKind::SlicedString
    )
}

/// True for storage an object reached through an internal edge keeps for itself: an
/// array (elements, property store, hash table), a string, a native backing store, and the
/// `ArrayBuffer` of a typed array or `Buffer` (a `Buffer.concat` log replaces its
/// `ArrayBuffer` as it grows, so only the Buffer's place sees the growth).
fn is_own_storage(snap: &HeapSnapshot, t: NodeIndex) -> bool {
    match snap.node_kind(t) {
        NodeKind::Array | NodeKind::Native => true,
        NodeKind::Object => matches!(snap.node_name(t), "ArrayBuffer" | "SharedArrayBuffer"),
        k => is_string(k),
    }
}

/// True for an ArrayBuffer whose shortest-path parent holds it through an internal edge
/// (the `buffer` of a Buffer or typed array).
fn is_viewed_buffer(snap: &HeapSnapshot, distances: &Distances, v: NodeIndex) -> bool {
    matches!(snap.node_name(v), "ArrayBuffer" | "SharedArrayBuffer")
        && distances.parent(v).is_some_and(|p| {
            snap.node_kind(p) == NodeKind::Object
                && snap
                    .edges(p)
                    .any(|e| snap.edge_kind(e) == EdgeKind::Internal && snap.edge_target(e) == v)
        })
}

/// Objects and top strings (not part of another string) of own size `min_size` or more.
fn own_sizes(snap: &HeapSnapshot, distances: &Distances, min_size: u64) -> Vec<(NodeIndex, u64)> {
    let n = snap.node_count();
    let mut claimed = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    for v in 0..n as NodeIndex {
        let kind = snap.node_kind(v);
        let top_string = is_string(kind)
            && distances
                .parent(v)
                .is_some_and(|p| !is_string(snap.node_kind(p)));
        if !(kind == NodeKind::Object || top_string) || !distances.is_reachable(v) {
            continue;
        }
        // An ArrayBuffer behind a Buffer or typed array is that view's storage, whatever
        // order the snapshot lists the two in: sized on its own first, it would keep its
        // backing store from the view (`buf` of a Buffer.concat log looked flat).
        if is_viewed_buffer(snap, distances, v) {
            continue;
        }
        // Storage reached through internal edges belongs to the first object that
        // claims it; strings are claimed top-down, so a cons tree counts once, whole.
        let mut size = snap.self_size(v) as u64;
        stack.push(v);
        while let Some(u) = stack.pop() {
            for e in snap.edges(u) {
                if snap.edge_kind(e) != EdgeKind::Internal {
                    continue;
                }
                let t = snap.edge_target(e);
                if claimed[t as usize] || !is_own_storage(snap, t) {
                    continue;
                }
                claimed[t as usize] = true;
                size += snap.self_size(t) as u64;
                stack.push(t);
            }
        }
        if size >= min_size {
            out.push((v, size));
        }
    }
    out
}

/// What [`growing_objects`] finds: places whose object grew in every interval, and
/// places whose object grew in steps.
pub struct PlaceGrowth {
    /// Grew in every interval, largest growth first: a finding.
    pub every_interval: Vec<GrowingObject>,
    /// Grew from the first snapshot to the last without ever shrinking, but not in every
    /// interval, largest growth first: a lead, not a finding. A hash table or array
    /// whose entries hold no objects of their own (numbers) grows only when it doubles
    /// its capacity, so a leak of that kind steps between snapshots; so does a cache
    /// that filled.
    pub in_steps: Vec<GrowingObject>,
}

/// Objects of `last` whose place (holder and edge) every earlier snapshot had with a
/// smaller object (or none yet in the first, counted 0), growing in every interval by at
/// least `min_growth` in all; largest growth first. Beside them, the places that grew by
/// `min_growth` in steps ([`PlaceGrowth::in_steps`]; held in the first snapshot already).
///
/// A place whose holder was replaced is followed by its path's shape, where one object
/// alone has that shape in every snapshot. Where several places share a shape (the
/// `samples` array of each of two routes), their shape's total must have grown in every
/// interval as well (in steps: never shrunk): among many look-alike buffers of varying
/// size, one grows in every interval by chance.
pub fn growing_objects(
    earlier: &[&SizedObjects],
    last_sized: &SizedObjects,
    last: &HeapAnalysis<'_>,
    min_growth: u64,
    top: usize,
) -> PlaceGrowth {
    let grew = |sizes: &[u64]| sizes.windows(2).all(|w| w[1] > w[0]);
    let never_shrank = |sizes: &[u64]| sizes.windows(2).all(|w| w[1] >= w[0]);
    let mut found: Vec<(NodeIndex, Vec<u64>)> = Vec::new();
    let mut stepped: Vec<(NodeIndex, Vec<u64>)> = Vec::new();
    let mut totals_by_shape: HashMap<&str, Vec<u64>> = HashMap::new();
    for (holder, held) in &last_sized.by_holder {
        let Some(shape) = last_sized.by_shape.get(&held.shape) else {
            continue;
        };
        let by_holder: Option<Vec<u64>> = earlier
            .iter()
            .enumerate()
            .map(|(i, e)| match e.by_holder.get(holder) {
                Some(h) => Some(h.own_size),
                None if i == 0 => Some(0),
                None => None,
            })
            .collect();
        let mut sizes = match by_holder {
            Some(s) if s.iter().any(|&x| x > 0) => s,
            _ if shape.count == 1 => {
                let by_shape: Option<Vec<u64>> = earlier
                    .iter()
                    .map(|e| match e.by_shape.get(&held.shape) {
                        Some(s) if s.count == 1 => Some(s.largest),
                        Some(_) => None,
                        None => Some(0),
                    })
                    .collect();
                match by_shape {
                    Some(s) => s,
                    None => continue,
                }
            }
            _ => continue,
        };
        sizes.push(held.own_size);
        if held.own_size.saturating_sub(sizes[0]) < min_growth || !never_shrank(&sizes) {
            continue;
        }
        let totals = (shape.count > 1).then(|| {
            totals_by_shape
                .entry(held.shape.as_str())
                .or_insert_with(|| place_totals(earlier, last_sized, &held.shape))
                .clone()
        });
        if grew(&sizes) && totals.as_deref().is_none_or(grew) {
            found.push((held.object, sizes));
        } else if sizes[0] > 0 && totals.as_deref().is_none_or(never_shrank) {
            stepped.push((held.object, sizes));
        }
    }
    let view = |list: Vec<(NodeIndex, Vec<u64>)>, how: &str| -> Vec<GrowingObject> {
        let mut list = list;
        list.sort_by_key(|(v, s)| (std::cmp::Reverse(s[s.len() - 1] - s[0]), *v));
        list.into_iter()
            .take(top)
            .map(|(v, sizes)| {
                let path = last.shortest_path(v);
                let holder = place_of(&path);
                let class = last.class_name(v).to_owned();
                let sentence = format!(
                    "The {} at {} grew {how}: {}.",
                    class,
                    holder,
                    sizes
                        .iter()
                        .map(|&s| human_bytes(s))
                        .collect::<Vec<_>>()
                        .join(" → ")
                );
                GrowingObject {
                    class,
                    object: last.object(v),
                    sizes,
                    holder,
                    path,
                    sentence,
                }
            })
            .collect()
    };
    PlaceGrowth {
        every_interval: view(found, "in every interval"),
        in_steps: view(stepped, "in steps"),
    }
}

/// The own sizes of the places of `last` with path shape `shape` added up, in each
/// snapshot, each place found by its holder (0 where an earlier snapshot lacks it).
fn place_totals(earlier: &[&SizedObjects], last: &SizedObjects, shape: &str) -> Vec<u64> {
    let places: Vec<&(u32, String)> = last
        .by_holder
        .iter()
        .filter(|(_, h)| h.shape == shape)
        .map(|(k, _)| k)
        .collect();
    let total = |s: &SizedObjects| -> u64 {
        places
            .iter()
            .filter_map(|k| s.by_holder.get(*k))
            .map(|h| h.own_size)
            .sum()
    };
    earlier
        .iter()
        .map(|e| total(e))
        .chain([total(last)])
        .collect()
}

/// "`log` of AuditTrail": the edge into the object and its holder's class.
fn place_of(path: &[StepView]) -> String {
    match path {
        [] => "(no path)".to_owned(),
        [only] => format!("`{}`", only.edge),
        [.., holder, last] => format!("`{}` of {}", last.edge, holder.object.class),
    }
}

/// Places a census records ([`SizedPlace`]): the largest objects.
pub const CENSUS_PLACES: usize = 100;
/// Objects below this own size are not recorded as places.
pub const CENSUS_PLACE_MIN_SIZE: u64 = 16 << 10;

/// One sizeable object of a census and where it is held: what a trend needs to find an
/// object that grows at one place (a string appended to) across censuses, with no raw
/// snapshot left.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct SizedPlace {
    /// The V8 node id of its holder (stable within one process).
    pub holder_id: u32,
    /// The edge from the holder (`log`).
    pub edge: String,
    /// The shape of its shortest retainer path, for a holder that is itself replaced.
    pub shape: String,
    /// Its own size: self size plus the storage V8 keeps for it alone (a string's cons
    /// tree, an array's elements, a property store), bytes.
    pub own_size: u64,
    /// Its class (`(concatenated string)`, `Array`, …).
    pub class: String,
    /// Where it is held, e.g. "`log` of AuditTrail".
    pub label: String,
    /// Its shortest retainer path as one line from the GC roots.
    pub path: String,
}

/// The largest objects of `a` ([`CENSUS_PLACES`] at most, [`CENSUS_PLACE_MIN_SIZE`] or
/// more), largest first, each with its place.
pub fn census_places(a: &HeapAnalysis<'_>) -> Vec<SizedPlace> {
    let (snap, distances) = (a.snap, a.distances());
    let mut sized = own_sizes(snap, distances, CENSUS_PLACE_MIN_SIZE);
    sized.retain(|&(v, _)| !distances.is_system(v));
    sized.sort_by_key(|&(v, s)| (std::cmp::Reverse(s), v));
    sized.truncate(CENSUS_PLACES);
    let mut shapes = PathShapes::new(snap, &a.classes, distances);
    sized
        .into_iter()
        .filter_map(|(v, own_size)| {
            let p = place(snap, &mut shapes, v)?;
            let path = a.shortest_path(v);
            Some(SizedPlace {
                holder_id: p.holder.0,
                edge: p.holder.1,
                shape: p.shape,
                own_size,
                class: a.class_name(v).to_owned(),
                label: place_of(&path),
                path: std::iter::once("(GC roots)".to_owned())
                    .chain(path.iter().map(|s| s.edge.clone()))
                    .collect::<Vec<_>>()
                    .join(" → "),
            })
        })
        .collect()
}

/// An object at one place whose own size rose from census to census: a culprit no new
/// object betrays.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GrowingPlace {
    /// The place in the newest census.
    pub place: SizedPlace,
    /// Its own size in the three censuses, oldest first, bytes.
    pub sizes: [u64; 3],
    /// One sentence.
    pub sentence: String,
}

/// The places of the newest of three censuses (`places`, oldest first) held by one object
/// whose own size rose in both intervals by `min_growth` or more in all, largest growth
/// first. A place is followed by its holder's id, else by its path's shape where that is
/// held by one object in every census (places sharing a shape must also have grown
/// together, as in [`growing_objects`]); it must be recorded in all three (one missing from
/// an earlier census was below its cut-off by an unknown amount: an object allocated after
/// it would otherwise seem to grow from nothing).
pub fn growing_places(places: [&[SizedPlace]; 3], min_growth: u64) -> Vec<GrowingPlace> {
    let [first, second, last] = places;
    let unique_shape = |list: &[SizedPlace], shape: &str| -> Option<u64> {
        let mut found = list.iter().filter(|p| p.shape == shape);
        match (found.next(), found.next()) {
            (Some(p), None) => Some(p.own_size),
            _ => None,
        }
    };
    let by_holder = |list: &[SizedPlace], p: &SizedPlace| -> Option<u64> {
        list.iter()
            .find(|q| q.holder_id == p.holder_id && q.edge == p.edge)
            .map(|q| q.own_size)
    };
    let shared = |p: &SizedPlace| unique_shape(last, &p.shape).is_none();
    // Places sharing a shape must also have grown together (see `growing_objects`).
    let shape_grew = |p: &SizedPlace| -> bool {
        let twins: Vec<&SizedPlace> = last.iter().filter(|q| q.shape == p.shape).collect();
        let total =
            |list: &[SizedPlace]| -> u64 { twins.iter().filter_map(|q| by_holder(list, q)).sum() };
        total(first) < total(second) && total(second) < total(last)
    };
    let mut found: Vec<GrowingPlace> = last
        .iter()
        .filter_map(|p| {
            let size_in = |list: &[SizedPlace]| {
                by_holder(list, p).or_else(|| unique_shape(list, &p.shape).filter(|_| !shared(p)))
            };
            let sizes = [size_in(first)?, size_in(second)?, p.own_size];
            let grew = sizes[0] < sizes[1] && sizes[1] < sizes[2];
            if !grew || sizes[2] - sizes[0] < min_growth || (shared(p) && !shape_grew(p)) {
                return None;
            }
            Some(GrowingPlace {
                sentence: format!(
                    "The {} at {} grew in both intervals: {}.",
                    p.class,
                    p.label,
                    sizes
                        .iter()
                        .map(|&s| human_bytes(s))
                        .collect::<Vec<_>>()
                        .join(" → ")
                ),
                place: p.clone(),
                sizes,
            })
        })
        .collect();
    found.sort_by_key(|g| {
        (
            std::cmp::Reverse(g.sizes[2] - g.sizes[0]),
            g.place.holder_id,
            g.place.edge.clone(),
        )
    });
    found
}

#[cfg(test)]
mod census_tests {
    use super::*;

    fn place(holder_id: u32, edge: &str, shape: &str, own_size: u64) -> SizedPlace {
        SizedPlace {
            holder_id,
            edge: edge.into(),
            shape: shape.into(),
            own_size,
            class: "(concatenated string)".into(),
            label: format!("`{edge}` of AuditTrail"),
            path: format!("(GC roots) → audit → {edge}"),
        }
    }

    #[test]
    fn a_place_growing_in_both_intervals_is_found_by_holder_or_by_shape() {
        let k = 1 << 10;
        let first = [
            place(7, "log", "audit-log", 100 * k),
            place(9, "cache", "c", 900 * k),
        ];
        let second = [
            place(7, "log", "audit-log", 300 * k),
            place(9, "cache", "c", 900 * k),
        ];
        let last = [
            place(7, "log", "audit-log", 500 * k),
            place(9, "cache", "c", 950 * k),
        ];
        let found = growing_places([&first, &second, &last], 64 * k);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].sizes, [100 * k, 300 * k, 500 * k]);
        assert_eq!(
            found[0].sentence,
            "The (concatenated string) at `log` of AuditTrail grew in both intervals: 100.0 KiB → 300.0 KiB → 500.0 KiB."
        );
        // Its holder replaced (another id): followed by its path's shape.
        let moved = [place(8, "log", "audit-log", 500 * k)];
        let found = growing_places([&first, &second, &moved], 64 * k);
        assert_eq!(found[0].sizes, [100 * k, 300 * k, 500 * k]);
        // Not recorded in the first census (below its cut-off by how much?): not yet.
        assert!(growing_places([&[], &second, &last], 64 * k).is_empty());
        // Growth under the floor, or a fall in one interval: nothing.
        assert!(growing_places([&first, &second, &last], 512 * k).is_empty());
        let fell = [place(7, "log", "audit-log", 200 * k)];
        assert!(growing_places([&first, &second, &fell], 64 * k)[..].is_empty());
        // Two objects with one shape and no holder match: no telling them apart.
        let twins = [
            place(3, "log", "audit-log", 500 * k),
            place(4, "log", "audit-log", 500 * k),
        ];
        assert!(growing_places([&first, &second, &twins], 64 * k).is_empty());
    }

    #[test]
    fn places_sharing_a_shape_are_told_apart_by_holder_and_must_grow_together() {
        let k = 1 << 10;
        // The `samples` array of each of two routes: one shape, two holders, both growing.
        let census = |a: u64, b: u64| {
            [
                place(7, "samples", "s", a * k),
                place(9, "samples", "s", b * k),
            ]
        };
        let (first, second, last) = (census(100, 100), census(300, 300), census(500, 500));
        let found = growing_places([&first, &second, &last], 64 * k);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].place.holder_id, 7);
        assert_eq!(found[1].place.holder_id, 9);
        // Look-alike buffers whose sizes wander: one rises twice by chance, their total
        // does not.
        let (first, second, last) = (census(100, 900), census(300, 500), census(500, 100));
        assert!(growing_places([&first, &second, &last], 64 * k).is_empty());
    }
}
