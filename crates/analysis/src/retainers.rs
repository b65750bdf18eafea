//! `retainers`: who keeps an object, or the objects of a class, alive.

use std::collections::HashMap;

use serde::Serialize;

use leaktrail_graph::rules::ROOT;
use leaktrail_graph::RetainerIndex;
use leaktrail_snapshot::NodeIndex;

use crate::heap::{HeapAnalysis, ObjectView, StepView};
use crate::shape::PathShapes;

/// Expansions the K-shortest-paths search may make before it gives up.
const MAX_SEARCH_STEPS: usize = 2_000_000;

/// How an object is held, which says what an empty list of paths means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Held {
    /// It is the snapshot's root, which every GC root hangs from: nothing holds it, so it
    /// has no retainer path (not for want of strong references).
    Root,
    /// Strong edges reach it from the root: it has paths.
    Strongly,
    /// Only weak edges reach it: no path, it goes at the next GC.
    Weakly,
}

/// Paths of one object.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectRetainers {
    /// The object.
    pub object: ObjectView,
    /// How it is held.
    pub held: Held,
    /// Its shortest distinct retainer paths, shortest first, top-down (none for the root
    /// and for an object held only weakly).
    pub paths: Vec<Vec<StepView>>,
}

/// The instances of a class that share one path shape.
#[derive(Clone, Debug, Serialize)]
pub struct PathGroup {
    /// Instances with this path shape.
    pub count: u64,
    /// Their retained size, bytes: an instance inside another's retained size is not
    /// counted again.
    pub retained_size: u64,
    /// Of them, those inside another instance's retained size (a chain's links).
    pub nested: u64,
    /// The path of the largest of them.
    pub path: Vec<StepView>,
}

/// The paths of a class's instances, grouped by shape.
#[derive(Clone, Debug, Serialize)]
pub struct ClassRetainers {
    /// The class.
    pub class: String,
    /// Instances found.
    pub instances: u64,
    /// Instances only weak edges reach (they go at the next GC).
    pub unreachable: u64,
    /// Path shapes among the instances; `groups` holds the largest of them.
    pub shapes: u64,
    /// Groups, largest retained first.
    pub groups: Vec<PathGroup>,
}

impl ObjectRetainers {
    /// The `k` shortest distinct paths to the node with V8 id `id`, or `None` when no node
    /// has that id.
    pub fn find(a: &HeapAnalysis<'_>, id: u32, k: usize) -> Option<ObjectRetainers> {
        let n = (0..a.snap.node_count() as u32).find(|&v| a.snap.node_id(v) == id)?;
        let held = if n == ROOT {
            Held::Root
        } else if a.distances().is_reachable(n) {
            Held::Strongly
        } else {
            Held::Weakly
        };
        // The root's one "path" would be the empty one: no step leads to it.
        let paths = if held == Held::Strongly {
            RetainerIndex::new(a.snap)
                .k_shortest(a.snap, a.distances(), n, k, MAX_SEARCH_STEPS)
                .iter()
                .map(|p| a.path(p))
                .collect()
        } else {
            Vec::new()
        };
        Some(ObjectRetainers {
            object: a.object(n),
            held,
            paths,
        })
    }
}

impl ClassRetainers {
    /// Groups the shortest paths of every instance of `class` by shape; the `k` largest
    /// groups are kept. `class` may also be the name `leaks` gives functions generated
    /// with a counter in their name (`handler<n>()` for `handler1()`, `handler2()`, …).
    /// `None` when the snapshot has no such class.
    pub fn find(a: &HeapAnalysis<'_>, class: &str, k: usize) -> Option<ClassRetainers> {
        let wanted: Vec<bool> = a
            .classes
            .class_names
            .iter()
            .map(|n| n == class || crate::class::counter_folded(n) == class)
            .collect();
        if !wanted.contains(&true) {
            return None;
        }
        let is_instance = |v: NodeIndex| {
            wanted[a.classes.node_class[v as usize] as usize] && a.snap.self_size(v) != 0
        };
        // nested[v]: an instance dominates v from above. Its retained size is in that
        // one's already: a group's size counts it once (a ring of 5,000 nodes, each
        // retaining the rest, summed to 477 MiB of a 3 MiB heap), as `summary` does.
        let nested = a.inside_a_member(is_instance);
        // Per shape: instances, retained size, the largest, nested instances.
        let mut groups: HashMap<String, (u64, u64, NodeIndex, u64)> = HashMap::new();
        let mut shapes = PathShapes::new(a.snap, &a.classes, a.distances());
        let (mut instances, mut unreachable) = (0u64, 0u64);
        for v in 0..a.snap.node_count() as u32 {
            if !is_instance(v) {
                continue;
            }
            instances += 1;
            if !a.distances().is_reachable(v) {
                unreachable += 1;
                continue;
            }
            let g = groups.entry(shapes.key(v)).or_insert((0, 0, v, 0));
            g.0 += 1;
            match nested[v as usize] {
                true => g.3 += 1,
                false => g.1 += a.retained.get(v),
            }
            if a.retained.get(g.2) < a.retained.get(v) {
                g.2 = v;
            }
        }
        let shapes = groups.len() as u64;
        let mut list: Vec<(u64, u64, NodeIndex, u64)> = groups.into_values().collect();
        // Ties by the largest member's id: the same order on every run.
        list.sort_by_key(|g| std::cmp::Reverse((g.1, g.0, a.snap.node_id(g.2))));
        let groups = list
            .into_iter()
            .take(k)
            .map(|(count, retained_size, best, nested)| PathGroup {
                count,
                retained_size,
                nested,
                // A linked list's links shown once, as `leaks` shows them: the path of
                // the 1,201st timer is not 1,201 lines.
                path: crate::leaks::folded_path(a, best),
            })
            .collect();
        Some(ClassRetainers {
            class: class.to_owned(),
            instances,
            unreachable,
            shapes,
            groups,
        })
    }
}
