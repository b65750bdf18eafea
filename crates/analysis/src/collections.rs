//! Growing collections across many snapshots (BLeak's idea): a leak is a collection that
//! gains entries in every interval.
//!
//! Collections are recognised in the V8 graph as:
//! - `Map`/`Set`: the object's `table` (an `OrderedHashMap`/`OrderedHashSet`) holds its
//!   entries as slots numbered from a header: key, value, chain for a Map, key, chain for a
//!   Set. V8 writes an edge only for a slot that holds an object (a number key is a Smi, a
//!   deleted entry the hole: no edge), so a Set's entries are its numbered edges and a
//!   Map's the larger of its key edges and its value edges, told apart by slot number
//!   modulo 3 (a Map of number keys to objects has only value edges);
//! - `Array`: element edges of the array object;
//! - plain `Object`s used as dictionaries: property edges (without `__proto__`), counted
//!   only from [`DICTIONARY_MIN_KEYS`] keys on, so ordinary objects stay out.
//!
//! The same collection is followed across snapshots by its node id.

use std::collections::HashMap;

use serde::Serialize;

use leaktrail_snapshot::{EdgeIndex, EdgeKind, EdgeName, HeapSnapshot, NodeIndex, NodeKind};

use crate::census::shape_label;
use crate::heap::{HeapAnalysis, ObjectView, StepView};
use crate::shape::PathShapes;
use crate::units::{group_digits, signed_bytes};

/// Plain objects with fewer keys are not treated as dictionaries.
pub const DICTIONARY_MIN_KEYS: u64 = 16;

/// Entry counts (and retained sizes) of every collection of one snapshot, by node id.
pub struct CollectionCensus {
    entries: HashMap<u32, (u64, u64)>,
}

/// Collections held the same way (one path shape) whose entry counts grew in every
/// interval: one collection, or forty `events` arrays, one per session, reported once.
#[derive(Clone, Debug, Serialize)]
pub struct GrowingCollection {
    /// `Map`, `Set`, `Array` or `Object` (a dictionary).
    pub kind: String,
    /// What they are, by their path shape ([`crate::census::shape_label`]):
    /// `` `Session.events` (Array), one per entry of `sessions` ``.
    pub label: String,
    /// How many collections of this shape grew in every interval.
    pub members: u64,
    /// The member with the most retained growth, in the last snapshot.
    pub object: ObjectView,
    /// Entries of all members in each snapshot, in order.
    pub entries: Vec<u64>,
    /// Retained size of all members in the last snapshot minus in the first, bytes.
    pub retained_growth: i64,
    /// The shortest retainer path of `object` in the last snapshot.
    pub path: Vec<StepView>,
    /// One sentence.
    pub sentence: String,
}

/// The property edges of object `v`, `__proto__` left out.
pub(crate) fn properties(
    snap: &HeapSnapshot,
    v: NodeIndex,
) -> impl Iterator<Item = EdgeIndex> + '_ {
    snap.edges(v).filter(move |&e| {
        snap.edge_kind(e) == EdgeKind::Property && snap.edge_name(e) != EdgeName::Name("__proto__")
    })
}

/// The property keys of object `v`, `__proto__` left out.
pub(crate) fn property_keys(snap: &HeapSnapshot, v: NodeIndex) -> u64 {
    properties(snap, v).count() as u64
}

/// What kind of collection `v` is, and how many entries it has.
pub fn collection_entries(snap: &HeapSnapshot, v: NodeIndex) -> Option<(&'static str, u64)> {
    if snap.node_kind(v) != NodeKind::Object {
        return None;
    }
    // The slot number of each numbered edge of `n`.
    let slots = |n: NodeIndex| {
        snap.edges(n).filter_map(move |e| match snap.edge_name(e) {
            EdgeName::Index(i) => (snap.edge_kind(e) == EdgeKind::Element).then_some(i as u64),
            EdgeName::Name(s) if crate::shape::is_index_name(s) => s.parse::<u64>().ok(),
            EdgeName::Name(_) => None,
        })
    };
    let map_entries = |n: NodeIndex| {
        let mut by_slot_kind = [0u64; 3];
        for i in slots(n) {
            by_slot_kind[(i % 3) as usize] += 1;
        }
        by_slot_kind.into_iter().max().unwrap_or(0)
    };
    let table = || {
        snap.edges(v)
            .find(|&e| snap.edge_name(e) == EdgeName::Name("table"))
            .map(|e| snap.edge_target(e))
    };
    match snap.node_name(v) {
        "Map" => table().map(|t| ("Map", map_entries(t))),
        "Set" => table().map(|t| ("Set", slots(t).count() as u64)),
        "Array" => Some((
            "Array",
            snap.edges(v)
                .filter(|&e| snap.edge_kind(e) == EdgeKind::Element)
                .count() as u64,
        )),
        "Object" => {
            let keys = property_keys(snap, v);
            (keys >= DICTIONARY_MIN_KEYS).then_some(("Object", keys))
        }
        _ => None,
    }
}

impl CollectionCensus {
    /// Counts the entries of every collection; `retained` gives retained sizes when the
    /// snapshot was analysed (else 0).
    pub fn of(snap: &HeapSnapshot, retained: Option<&HeapAnalysis<'_>>) -> CollectionCensus {
        let mut entries = HashMap::new();
        for v in 0..snap.node_count() as u32 {
            if let Some((_, n)) = collection_entries(snap, v) {
                let r = retained.map_or(0, |a| a.retained.get(v));
                entries.insert(snap.node_id(v), (n, r));
            }
        }
        CollectionCensus { entries }
    }
}

/// Collections of the last snapshot (`last`) whose entries grew in every interval of
/// `earlier` then `last`, largest retained growth first.
pub fn growing_collections(
    earlier: &[CollectionCensus],
    last: &HeapAnalysis<'_>,
    top: usize,
) -> Vec<GrowingCollection> {
    let snap = last.snap;
    let mut found: Vec<(NodeIndex, &'static str, Vec<u64>, i64)> = Vec::new();
    for v in 0..snap.node_count() as u32 {
        let Some((kind, now)) = collection_entries(snap, v) else {
            continue;
        };
        let id = snap.node_id(v);
        let mut series = Vec::with_capacity(earlier.len() + 1);
        for c in earlier {
            match c.entries.get(&id) {
                Some(&(n, _)) => series.push(n),
                None => break,
            }
        }
        if series.len() != earlier.len() {
            continue;
        }
        series.push(now);
        if series.windows(2).all(|w| w[1] > w[0]) {
            let first = earlier
                .first()
                .and_then(|c| c.entries.get(&id))
                .map_or(0, |&(_, r)| r);
            found.push((v, kind, series, last.retained.get(v) as i64 - first as i64));
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.3));
    // One finding per path shape, in the order of its largest member.
    let mut shapes = PathShapes::new(snap, &last.classes, last.distances());
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut by_shape: HashMap<(&'static str, String), usize> = HashMap::new();
    for (i, &(v, kind, ..)) in found.iter().enumerate() {
        let shape = shapes.key(v);
        // No strong path, no shape to share: a group of its own.
        let slot = (!shape.is_empty())
            .then(|| by_shape.get(&(kind, shape.clone())).copied())
            .flatten();
        match slot {
            Some(g) => groups[g].1.push(i),
            None => {
                if !shape.is_empty() {
                    by_shape.insert((kind, shape.clone()), groups.len());
                }
                groups.push((shape, vec![i]));
            }
        }
    }
    groups
        .into_iter()
        .take(top)
        .map(|(shape, members)| {
            let (v, kind, _, _) = found[members[0]];
            let mut entries = vec![0u64; earlier.len() + 1];
            let mut growth = 0i64;
            for &m in &members {
                for (sum, n) in entries.iter_mut().zip(&found[m].2) {
                    *sum += n;
                }
                growth += found[m].3;
            }
            let path = last.shortest_path(v);
            let counts = entries
                .iter()
                .map(|n| group_digits(*n))
                .collect::<Vec<_>>()
                .join(" → ");
            let label = shape_label(&shape, members.len() > 1);
            let sentence = if members.len() == 1 {
                let name = path.last().map_or(String::new(), |s| format!(" `{}`", s.edge));
                format!(
                    "{kind}{name} @{} grew in every interval: {counts} entries; retained {} since the first snapshot.",
                    snap.node_id(v),
                    signed_bytes(growth)
                )
            } else {
                // The label may end in a clause of its own ("…, one per entry of `x`").
                let comma = if label.contains(", one per") { "," } else { "" };
                format!(
                    "{} {label}{comma} grew in every interval: {counts} entries in all; retained {} since the first snapshot.",
                    group_digits(members.len() as u64),
                    signed_bytes(growth)
                )
            };
            GrowingCollection {
                kind: kind.to_owned(),
                label,
                members: members.len() as u64,
                object: last.object(v),
                entries,
                retained_growth: growth,
                path,
                sentence,
            }
        })
        .collect()
}
