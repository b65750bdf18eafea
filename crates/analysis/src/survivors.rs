//! [`ClassSurvivors`]: the objects of one class still alive in a snapshot, for checks like
//! "every `ScanInput` is collectable once the scan has returned".
//!
//! The class is named as `summary` prints it. A bare name matches both forms DevTools
//! naming gives: objects whose constructor has that name (`ScanInput`), and closures of
//! that name (`onData()`), so that `onData` finds the callbacks a loop left registered.
//! One exception keeps the bare form sound for classes: a function that has a `prototype`
//! object (a `class`, or a function used with `new`) is the constructor, not an instance,
//! and it lives as long as its module does — it is never counted under the bare name.
//! `name()` matches closures only, constructors included.

use serde::Serialize;

use leaktrail_snapshot::{EdgeKind, EdgeName, NodeIndex, NodeKind};

use crate::heap::HeapAnalysis;
use crate::idset::IdSet;
use crate::retainers::ObjectRetainers;

/// The live objects of a class in one snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct ClassSurvivors {
    /// The class as asked for.
    pub class: String,
    /// The class names of the snapshot that matched (`ScanInput`, `onData()`); empty when
    /// the snapshot has neither form, which for a class defined in the program usually
    /// means the name is misspelt (its constructor would be there).
    pub matched: Vec<String>,
    /// Objects alive.
    pub count: u64,
    /// Their shallow (self) sizes, summed, bytes.
    pub self_size: u64,
    /// Their retained size, bytes: an object held by another survivor counts once.
    pub retained_size: u64,
    /// Objects left out because they were not in the earlier snapshot (work in flight).
    pub newer: u64,
    /// The retainer path of the survivor that retains the most.
    pub example: Option<ObjectRetainers>,
}

impl ClassSurvivors {
    /// Finds the live objects of `class` in `a`. With `older`, only objects whose ids are
    /// in it count: the ids of a snapshot taken earlier, so that objects of the step in
    /// flight (allocated since) are not mistaken for survivors.
    pub fn find(a: &HeapAnalysis<'_>, class: &str, older: Option<&IdSet>) -> ClassSurvivors {
        let snap = a.snap;
        let (bare, closures_only) = match class.strip_suffix("()") {
            Some(name) => (name, true),
            None => (class, false),
        };
        let closure_class = format!("{bare}()");
        let object_class = (!closures_only)
            .then(|| a.classes.class_names.iter().position(|n| n == bare))
            .flatten();
        let closure_class_id = a
            .classes
            .class_names
            .iter()
            .position(|n| *n == closure_class);
        let matched = object_class
            .iter()
            .chain(closure_class_id.iter())
            .map(|&c| a.classes.class_names[c].clone())
            .collect();
        let is_constructor = |v: NodeIndex| {
            snap.edges(v).any(|e| {
                snap.edge_kind(e) == EdgeKind::Property
                    && matches!(snap.edge_name(e), EdgeName::Name("prototype"))
            })
        };
        let mut survivors: Vec<NodeIndex> = Vec::new();
        let mut newer = 0u64;
        for v in 0..snap.node_count() as u32 {
            let c = Some(a.classes.node_class[v as usize] as usize);
            let wanted = if c == object_class {
                true
            } else if c == closure_class_id {
                closures_only || (snap.node_kind(v) == NodeKind::Closure && !is_constructor(v))
            } else {
                false
            };
            if !wanted || snap.self_size(v) == 0 {
                continue;
            }
            if older.is_some_and(|ids| !ids.contains(snap.node_id(v))) {
                newer += 1;
                continue;
            }
            survivors.push(v);
        }
        let self_size = survivors.iter().map(|&v| snap.self_size(v) as u64).sum();
        // Retained: a survivor inside another survivor's retained set is counted there.
        let mut is_survivor = vec![false; snap.node_count()];
        for &v in &survivors {
            is_survivor[v as usize] = true;
        }
        let root = a.dominators.root();
        let retained_size = survivors
            .iter()
            .filter(|&&v| {
                let mut d = a.dominators.idom(v);
                while d != root && d != v {
                    if is_survivor[d as usize] {
                        return false;
                    }
                    d = a.dominators.idom(d);
                }
                true
            })
            .map(|&v| a.retained.get(v))
            .sum();
        let example = survivors
            .iter()
            .copied()
            .max_by_key(|&v| (a.retained.get(v), std::cmp::Reverse(v)))
            .and_then(|v| ObjectRetainers::find(a, snap.node_id(v), 1));
        ClassSurvivors {
            class: class.to_owned(),
            matched,
            count: survivors.len() as u64,
            self_size,
            retained_size,
            newer,
            example,
        }
    }
}
