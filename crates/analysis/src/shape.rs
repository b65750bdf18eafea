//! Retainer-path shapes: the key that groups objects held the same way.
//!
//! Two objects leaked by one bug reach the GC roots along paths that differ only where a
//! collection tells its entries apart. The shape of a path folds exactly those places:
//! - **element indices** and numbered entries of V8's hash tables (`[17]`, the `table` of
//!   a `Map`) become `[]`;
//! - **keys of dictionary objects** become `{}`: a cache in a plain object keyed by a
//!   session id or URL holds every entry under its own property name. An object is a
//!   dictionary when V8 keeps it in dictionary mode (its `properties` store references the
//!   key strings, which a fast object's store never does), when it is a plain `Object`
//!   with `DICTIONARY_MIN_KEYS` (16) keys or more —
//!   the rule the growing-collection census uses — or when it is a plain `Object` with a
//!   key that is not an identifier (`/login`, `en-GB`, `user@example.com`): code names
//!   its fields as identifiers, keys that come from data are not (a per-route series
//!   of six arrays is one thing held six ways, not six), or when it is a plain `Object`
//!   with three keys or more that all hold objects of one class (`login`, `search`,
//!   `checkout`, each an `Array`: labels are often identifiers, but an instance's fields
//!   hold values of different kinds);
//! - **linked structures**: consecutive steps that repeat one edge name into one class
//!   (`_idleNext` → `Timeout` → `_idleNext` → `Timeout` …, `next`, `parent`), or a block
//!   of up to [`MAX_PERIOD`] steps (a closure's context holding the previous value:
//!   `describe` → `context` → `previous` …), fold into one step `~` whatever their
//!   number, so every node of a list or chain has one shape, and a list walked from either
//!   end (`_idleNext` or `_idlePrev`) too.
//!
//! Everything else — property and variable names, holder classes — is kept, so that two
//! different fields holding the same class stay apart.

use std::collections::HashMap;

use leaktrail_graph::{Distances, PathFinder, PathStep, RetainerPath};
use leaktrail_snapshot::{EdgeKind, EdgeName, HeapSnapshot, NodeIndex, NodeKind};

use crate::class::Classification;
use crate::collections::{properties, property_keys, DICTIONARY_MIN_KEYS};

/// How one step of a path is folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepFold {
    /// Kept as it is: a property, variable or internal field name.
    Named,
    /// An element index or a numbered hash-table entry.
    Index,
    /// A key of a dictionary object.
    DictionaryKey,
    /// A WeakMap's value, reached from its key or its table ([`WeakMapValue`]).
    WeakMapValue,
}

/// The edge V8 writes from a WeakMap's key (and from its table) to the value the key keeps
/// alive: `<n> / part of key (Conn @92593) -> value (ConnMeta @99563) pair in WeakMap
/// (table @112581)`. Its name carries three ids, so no two values are held "the same
/// way" by it: grouped by name, 2,000 values of one WeakMap were 2,000 clusters of one,
/// each under the noise floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeakMapValue<'a> {
    /// The key's name (its class for an object), without its id.
    pub key: &'a str,
}

impl<'a> WeakMapValue<'a> {
    /// Reads an edge name written by V8 for a WeakMap (or WeakSet) entry.
    pub fn parse(name: &'a str) -> Option<WeakMapValue<'a>> {
        let rest = name.split_once(" / part of key (").map_or(name, |(_, r)| r);
        let rest = rest.strip_prefix("part of key (").unwrap_or(rest);
        if rest.len() == name.len() || !name.contains(") pair in Weak") {
            return None;
        }
        let key = rest.split_once(" -> value (")?.0;
        let key = key
            .rsplit_once(" @")
            .map_or(key, |(k, _)| k)
            .trim_end_matches(')');
        Some(WeakMapValue { key })
    }

    /// How paths show the edge: `value of key Conn in a WeakMap`.
    pub fn label(&self) -> String {
        format!(
            "value of key {} in a WeakMap",
            crate::heap::shorten(self.key, 40)
        )
    }
}

/// Computes path shapes in one snapshot, remembering which objects are dictionaries.
pub struct PathShapes<'a> {
    snap: &'a HeapSnapshot,
    classes: &'a Classification,
    /// Shortest paths: shapes are asked of many objects held by one large collection.
    paths: PathFinder<'a>,
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
            paths: PathFinder::new(distances, snap),
            dictionaries: HashMap::new(),
        }
    }

    /// The shape of the shortest path of `v`, with `v`'s class last; empty when only weak
    /// edges reach it.
    pub fn key(&mut self, v: NodeIndex) -> String {
        let Some(path) = self.paths.path_to(v) else {
            return String::new();
        };
        self.key_of(&path)
    }

    /// The shortest retainer path of `v` ([`Distances::path_to`]).
    pub fn path_to(&mut self, v: NodeIndex) -> Option<RetainerPath> {
        self.paths.path_to(v)
    }

    /// The shape of `path`.
    pub fn key_of(&mut self, path: &RetainerPath) -> String {
        let mut key = String::new();
        let mut holder = leaktrail_graph::rules::ROOT;
        let mut i = 0;
        let steps = &path.steps;
        while i < steps.len() {
            let run = linked_run(self.snap, steps, i);
            if run.steps() > 1 {
                key.push('~');
                i += run.steps() - 1;
            } else {
                match self.fold(holder, steps[i]) {
                    StepFold::Index => key.push_str("[]"),
                    StepFold::DictionaryKey => key.push_str("{}"),
                    StepFold::WeakMapValue => key.push_str("(WeakMap value)"),
                    StepFold::Named => {
                        key.push_str(&crate::heap::edge_label(self.snap, steps[i].edge))
                    }
                }
            }
            key.push('\u{1}');
            // Functions generated with a counter in their name are one class here, as
            // their cluster counts them ([`crate::class::counter_folded`]).
            key.push_str(&crate::class::counter_folded(self.class(steps[i].node)));
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
            EdgeName::Name(s) if WeakMapValue::parse(s).is_some() => StepFold::WeakMapValue,
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
    // keeps its field names apart. So do keys that are data, not identifiers.
    if snap.node_name(v) == "Object"
        && (keys >= DICTIONARY_MIN_KEYS
            || has_data_key(snap, v)
            || (keys >= UNIFORM_MIN_KEYS && has_uniform_values(snap, v)))
    {
        return true;
    }
    // A dictionary-mode store holds each key beside its value; a fast object's store
    // holds values only, never more than the object has properties.
    keys > 0 && store.is_some_and(|s| snap.edges(s).len() as u64 > keys)
}

/// True when property `name` of `holder`, an object used as a dictionary
/// ([`is_dictionary`]), reads as one key of many to a reader: a key that came from data
/// (`sess-1751-c6`), or a label among like values (`login`, `search`). An identifier of
/// an object that merely has many fields of different kinds (a framework's instance:
/// `app.auditTrail` of a Fastify app) is that field, whatever the clustering folds.
pub fn reads_as_key(snap: &HeapSnapshot, holder: NodeIndex, name: &str) -> bool {
    !is_code_name(name) || has_uniform_values(snap, holder)
}

/// A plain object with this many keys or more, all holding objects of one class, is a
/// table of like values under labels.
const UNIFORM_MIN_KEYS: u64 = 3;

/// True when every property of `v` holds an object of one class: per-route arrays under
/// `login`, `search`, `checkout` are one thing held six ways, though the keys are
/// identifiers. An instance's fields hold values of different kinds; a table's hold one.
fn has_uniform_values(snap: &HeapSnapshot, v: NodeIndex) -> bool {
    let mut class = None;
    for e in properties(snap, v) {
        let t = snap.edge_target(e);
        if snap.node_kind(t) != NodeKind::Object {
            return false;
        }
        match class {
            None => class = Some(snap.node_name(t)),
            Some(c) if c != snap.node_name(t) => return false,
            Some(_) => {}
        }
    }
    class.is_some()
}

/// True when a property of `v` is named by something other than code would name it
/// (`/login`, `en-GB`): a key that came from data. Numbers are indices, folded anyway.
fn has_data_key(snap: &HeapSnapshot, v: NodeIndex) -> bool {
    snap.edges(v).any(|e| {
        snap.edge_kind(e) == EdgeKind::Property
            && matches!(snap.edge_name(e), EdgeName::Name(s) if !is_code_name(s) && !is_index_name(s))
    })
}

/// True for a property name code writes: an identifier, a symbol (V8 writes
/// `<symbol kCapture>`), an accessor (`get size`, `set size`) or an internal `[slot]`.
pub(crate) fn is_code_name(s: &str) -> bool {
    is_identifier(s)
        || s.starts_with("<symbol ")
        || (s.starts_with('[') && s.ends_with(']'))
        || s.strip_prefix("get ")
            .or_else(|| s.strip_prefix("set "))
            .is_some_and(is_identifier)
}

/// True for a JavaScript identifier (letters, digits, `_` and `$`, not starting with a
/// digit; letters of any script).
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// True for a name that is a number: an index, or a numbered hash-table entry (they
/// differ for every member of one collection).
pub fn is_index_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Steps of a path that repeat: a block of `period` steps, `count` times in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// Steps in the block: 1 for a list linked by one edge (`_idleNext`), more for a chain
    /// held through several (`describe` → `context` → `previous`).
    pub period: usize,
    /// Blocks in a row (1: no repeat).
    pub count: usize,
}

impl Run {
    /// Steps the run covers (at least one).
    pub fn steps(self) -> usize {
        self.period * self.count
    }
}

/// The longest block a chain is looked for in: a closure's context holding the previous
/// value takes three steps (`describe` → `context` → `previous`), a wrapper one more.
pub const MAX_PERIOD: usize = 4;

/// The run of repeated steps from `i` on: the block of 1 to [`MAX_PERIOD`] steps that
/// repeats the most steps in a row (same edge kinds and names into the same classes),
/// else one step. A run of one step is not a run.
pub fn linked_run(snap: &HeapSnapshot, steps: &[PathStep], i: usize) -> Run {
    let same = |a: &PathStep, b: &PathStep| {
        snap.node_name(a.node) == snap.node_name(b.node)
            && snap.node_kind(a.node) == snap.node_kind(b.node)
            && snap.edge_kind(a.edge) == snap.edge_kind(b.edge)
            && snap.edge_kind(a.edge) != EdgeKind::Element
            && snap.edge_name(a.edge) == snap.edge_name(b.edge)
    };
    let mut best = Run {
        period: 1,
        count: 1,
    };
    for period in 1..=MAX_PERIOD {
        let mut count = 1;
        while i + (count + 1) * period <= steps.len()
            && (0..period).all(|k| same(&steps[i + k], &steps[i + count * period + k]))
        {
            count += 1;
        }
        // A block must repeat to be one, and a longer block only wins by covering more.
        if count > 1 && period * count > best.steps() {
            best = Run { period, count };
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weakmap_value_edge_is_read_without_its_ids() {
        let edge = "10831 / part of key (Conn @92593) -> value (ConnMeta @99563) pair in WeakMap (table @112581)";
        let value = WeakMapValue::parse(edge).expect("a WeakMap value");
        assert_eq!(value.key, "Conn");
        assert_eq!(value.label(), "value of key Conn in a WeakMap");
        assert_eq!(
            WeakMapValue::parse(
                "part of key (system / Context @7) -> value (Object @9) pair in WeakMap (table @3)"
            ),
            Some(WeakMapValue {
                key: "system / Context"
            })
        );
        for other in [
            "sessions",
            "part of key",
            "12 / value",
            "-> value (x) pair in WeakMap",
        ] {
            assert_eq!(WeakMapValue::parse(other), None, "{other}");
        }
    }

    #[test]
    fn names_code_writes_and_keys_that_are_data() {
        for code in [
            "sessions",
            "_idleNext",
            "$el",
            "größe",
            "<symbol kCapture>",
            "get size",
            "set objectMode",
            "[has_env_file_string]",
        ] {
            assert!(is_code_name(code), "{code}");
        }
        for data in [
            "/login",
            "en-GB",
            "user@example.com",
            "--max-old-space-size",
            "a b",
            "get /x",
        ] {
            assert!(!is_code_name(data), "{data}");
        }
    }
}
