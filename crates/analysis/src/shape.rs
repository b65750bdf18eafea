//! Retainer-path shapes: the key that groups objects held the same way.
//!
//! Two objects leaked by one bug reach the GC roots along paths that differ only where a
//! collection tells its entries apart. The shape of a path folds exactly those places:
//! - **element indices** and numbered entries of V8's hash tables (`[17]`, the `table` of
//!   a `Map`) become `[]`;
//! - **keys of dictionary objects** become `{}`: a cache in a plain object keyed by a
//!   session id or URL holds every entry under its own property name. An object is a
//!   dictionary when V8 keeps it in dictionary mode (its `properties` store references the
//!   key strings, which a fast object's store never does) or when it is a plain `Object`
//!   with `DICTIONARY_MIN_KEYS` (16) keys or more —
//!   the rule the growing-collection census uses;
//! - **linked structures**: consecutive steps that repeat one edge name into one class
//!   (`_idleNext` → `Timeout` → `_idleNext` → `Timeout` …, `next`, `parent`) fold into one
//!   step `~` whatever their number, so every node of a list has one shape, and a list
//!   walked from either end (`_idleNext` or `_idlePrev`) too.
//!
//! Everything else — property and variable names, holder classes — is kept, so that two
//! different fields holding the same class stay apart.

use std::collections::HashMap;

use leaktrail_graph::{Distances, PathStep, RetainerPath};
use leaktrail_snapshot::{EdgeKind, EdgeName, HeapSnapshot, NodeIndex, NodeKind};

use crate::class::Classification;
use crate::collections::{property_keys, DICTIONARY_MIN_KEYS};

/// How one step of a path is folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepFold {
    /// Kept as it is: a property, variable or internal field name.
    Named,
    /// An element index or a numbered hash-table entry.
    Index,
    /// A key of a dictionary object.
    DictionaryKey,
}

/// Computes path shapes in one snapshot, remembering which objects are dictionaries.
pub struct PathShapes<'a> {
    snap: &'a HeapSnapshot,
    classes: &'a Classification,
    distances: &'a Distances,
    dictionaries: HashMap<NodeIndex, bool>,
}

impl<'a> PathShapes<'a> {
    /// Shapes of paths in `snap`, with its classes and distances.
    pub fn new(
        snap: &'a HeapSnapshot,
        classes: &'a Classification,
        distances: &'a Distances,
    ) -> PathShapes<'a> {
        PathShapes {
            snap,
            classes,
            distances,
            dictionaries: HashMap::new(),
        }
    }

    /// The shape of the shortest path of `v`, with `v`'s class last; empty when only weak
    /// edges reach it.
    pub fn key(&mut self, v: NodeIndex) -> String {
        let Some(path) = self.distances.path_to(self.snap, v) else {
            return String::new();
        };
        self.key_of(&path)
    }

    /// The shape of `path`.
    pub fn key_of(&mut self, path: &RetainerPath) -> String {
        let mut key = String::new();
        let mut holder = leaktrail_graph::rules::ROOT;
        let mut i = 0;
        let steps = &path.steps;
        while i < steps.len() {
            let run = linked_run(self.snap, steps, i);
            if run > 1 {
                key.push('~');
                i += run - 1;
            } else {
                match self.fold(holder, steps[i]) {
                    StepFold::Index => key.push_str("[]"),
                    StepFold::DictionaryKey => key.push_str("{}"),
                    StepFold::Named => {
                        key.push_str(&crate::heap::edge_label(self.snap, steps[i].edge))
                    }
                }
            }
            key.push('\u{1}');
            key.push_str(self.class(steps[i].node));
            key.push('\u{2}');
            holder = steps[i].node;
            i += 1;
        }
        key
    }

    /// How the step from `holder` is folded.
    pub fn fold(&mut self, holder: NodeIndex, step: PathStep) -> StepFold {
        let snap = self.snap;
        let e = step.edge;
        match snap.edge_kind(e) {
            EdgeKind::Element | EdgeKind::Hidden => return StepFold::Index,
            EdgeKind::Property if self.is_dictionary(holder) => {
                return StepFold::DictionaryKey;
            }
            _ => {}
        }
        match snap.edge_name(e) {
            EdgeName::Index(_) => StepFold::Index,
            EdgeName::Name(s) if is_index_name(s) => StepFold::Index,
            EdgeName::Name(_) => StepFold::Named,
        }
    }

    /// True when `v` is an object used as a dictionary.
    pub fn is_dictionary(&mut self, v: NodeIndex) -> bool {
        let snap = self.snap;
        *self
            .dictionaries
            .entry(v)
            .or_insert_with(|| is_dictionary(snap, v))
    }

    fn class(&self, v: NodeIndex) -> &str {
        &self.classes.class_names[self.classes.node_class[v as usize] as usize]
    }
}

/// True when `v` is an object used as a dictionary: in dictionary mode, or with many keys.
pub fn is_dictionary(snap: &HeapSnapshot, v: NodeIndex) -> bool {
    if snap.node_kind(v) != NodeKind::Object {
        return false;
    }
    let keys = property_keys(snap, v);
    let store = snap
        .edges(v)
        .find(|&e| {
            snap.edge_kind(e) == EdgeKind::Internal
                && snap.edge_name(e) == EdgeName::Name("properties")
        })
        .map(|e| snap.edge_target(e));
    // Many keys make a dictionary of a plain object only: an instance with many fields
    // keeps its field names apart.
    if keys >= DICTIONARY_MIN_KEYS && snap.node_name(v) == "Object" {
        return true;
    }
    // A dictionary-mode store holds each key beside its value; a fast object's store
    // holds values only, never more than the object has properties.
    keys > 0 && store.is_some_and(|s| snap.edges(s).len() as u64 > keys)
}

/// True for a name that is a number: an index, or a numbered hash-table entry (they
/// differ for every member of one collection).
pub fn is_index_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The number of steps from `i` on that repeat one edge name into one class (at least 1).
/// Runs shorter than two are not runs.
pub fn linked_run(snap: &HeapSnapshot, steps: &[PathStep], i: usize) -> usize {
    let same = |a: &PathStep, b: &PathStep| {
        snap.node_name(a.node) == snap.node_name(b.node)
            && snap.node_kind(a.node) == snap.node_kind(b.node)
            && snap.edge_kind(a.edge) == snap.edge_kind(b.edge)
            && snap.edge_kind(a.edge) != EdgeKind::Element
            && snap.edge_name(a.edge) == snap.edge_name(b.edge)
    };
    let mut n = 1;
    while i + n < steps.len() && same(&steps[i], &steps[i + n]) {
        n += 1;
    }
    n
}
