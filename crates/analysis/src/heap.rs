//! [`HeapAnalysis`]: one snapshot with its classes, dominator tree, retained sizes and
//! distances, and the plain views reports print of its objects and paths.

use serde::Serialize;

use leaktrail_graph::{Distances, Dominators, HeapGraph, PathStep, RetainedSizes, RetainerPath};
use leaktrail_snapshot::{EdgeKind, EdgeName, HeapSnapshot, NodeIndex, NodeKind};

use crate::class::Classification;

/// A snapshot with everything the graph reports need.
pub struct HeapAnalysis<'s> {
    /// The snapshot (parsed with all edges).
    pub snap: &'s HeapSnapshot,
    /// Class and family of every node.
    pub classes: Classification,
    /// The dominator tree.
    pub dominators: Dominators,
    /// Retained size of every node, bytes.
    pub retained: RetainedSizes,
    /// Distances from the roots and shortest-path parents, computed on first use (after
    /// the per-class work, to keep the peak memory down).
    distances: std::sync::OnceLock<Distances>,
}

/// One object as reports show it.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectView {
    /// V8 node id; DevTools shows it as `@id`.
    pub id: u32,
    /// Class (DevTools-style).
    pub class: String,
    /// The node's own name when it says more than the class (a string's text, a
    /// function's name), else empty.
    pub name: String,
    /// Self size, bytes.
    pub self_size: u64,
    /// Retained size, bytes.
    pub retained_size: u64,
}

/// One step of a retainer path as reports show it: `--edge-->` then the object.
#[derive(Clone, Debug, Serialize)]
pub struct StepView {
    /// The edge label: a property or variable name, `[index]`, or an internal name.
    pub edge: String,
    /// The edge type as V8 names it (`property`, `element`, `context`, `internal`, …).
    pub edge_type: String,
    /// The object reached.
    pub object: ObjectView,
    /// When this step stands for a run of a linked structure (one edge name repeated into
    /// one class, e.g. `_idleNext` from `Timeout` to `Timeout`): the run's length; the
    /// object is the run's last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeated: Option<u64>,
    /// When this step ends a block of steps that repeats (a chain held through several
    /// edges, e.g. `describe` → `context` → `previous`): the block's length in steps;
    /// `repeated` is then the number of blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
    /// True when the edge is one key of an object used as a dictionary
    /// ([`crate::shape::is_dictionary`]): it stands for every key (`series[key]`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub keyed: bool,
}

impl<'s> HeapAnalysis<'s> {
    /// Analyses a snapshot parsed with all its edges. The dominator tree comes first, alone:
    /// its working memory is the peak of the whole analysis, and everything else is
    /// allocated after it is freed. (Classifying on the other core meanwhile saved wall
    /// time only when that core was idle, and raised the peak by 8–25 %.)
    pub fn new(snap: &'s HeapSnapshot) -> HeapAnalysis<'s> {
        let mut dominators = HeapGraph::new(snap).dominators();
        let classes = Classification::of(snap);
        let retained = dominators.retained_sizes(|n| snap.self_size(n) as u64);
        HeapAnalysis {
            snap,
            classes,
            dominators,
            retained,
            distances: std::sync::OnceLock::new(),
        }
    }

    /// Distances from the roots, with a parent per node for shortest paths.
    pub fn distances(&self) -> &Distances {
        self.distances.get_or_init(|| Distances::compute(self.snap))
    }

    /// The class name of `n`.
    pub fn class_name(&self, n: NodeIndex) -> &str {
        &self.classes.class_names[self.classes.node_class[n as usize] as usize]
    }

    /// How reports show node `n`.
    pub fn object(&self, n: NodeIndex) -> ObjectView {
        let kind = self.snap.node_kind(n);
        let raw = self.snap.node_name(n);
        let name = match kind {
            NodeKind::String | NodeKind::ConsString | NodeKind::SlicedString => shorten(raw, 60),
            NodeKind::Hidden | NodeKind::Array | NodeKind::Code | NodeKind::Synthetic => {
                shorten(raw, 60)
            }
            _ => String::new(),
        };
        ObjectView {
            id: self.snap.node_id(n),
            class: self.class_name(n).to_owned(),
            name,
            self_size: self.snap.self_size(n) as u64,
            retained_size: self.retained.get(n),
        }
    }

    /// How reports show a retainer path.
    pub fn path(&self, path: &RetainerPath) -> Vec<StepView> {
        path.steps.iter().map(|s| self.step(s)).collect()
    }

    /// How reports show one step of a retainer path.
    pub fn step(&self, s: &PathStep) -> StepView {
        StepView {
            edge: edge_label(self.snap, s.edge),
            edge_type: self.snap.meta().edge_type_names[self.snap.edge_type_index(s.edge)].clone(),
            object: self.object(s.node),
            repeated: None,
            block: None,
            keyed: false,
        }
    }

    /// The shortest retainer path of `n`, as reports show it (empty when only weak
    /// edges reach it).
    pub fn shortest_path(&self, n: NodeIndex) -> Vec<StepView> {
        self.distances()
            .path_to(self.snap, n)
            .map(|p| self.path(&p))
            .unwrap_or_default()
    }

    /// For each node, whether a strict dominator of it is a member (`member`): its retained
    /// size is then inside that member's, and counting both would count it twice (a leak
    /// root inside another, a link of a chain of instances).
    pub fn inside_a_member(&self, member: impl Fn(NodeIndex) -> bool) -> Vec<bool> {
        let mut inside = vec![false; self.snap.node_count()];
        // Dominators come first in preorder.
        self.dominators.preorder(|v| {
            let d = self.dominators.idom(v);
            if d != v {
                inside[v as usize] = inside[d as usize] || member(d);
            }
        });
        inside
    }

    /// Retained size per class by the DevTools rule: a node counts unless a dominator
    /// above it has the same class (so nested instances are not counted twice); nodes of
    /// self size 0 are left out. Indexed by class id.
    pub fn class_retained(&self) -> Vec<u64> {
        let k = self.classes.class_names.len();
        let mut total = vec![0u64; k];
        let mut open = vec![0u32; k];
        let (first, children) = self.dominators.children();
        let root = self.dominators.root();
        let counts = |n: u32| self.snap.self_size(n) != 0;
        // Iterative DFS over the dominator tree: (node, next child position).
        let mut stack: Vec<(u32, u32)> = vec![(root, first[root as usize])];
        let enter = |n: u32, total: &mut Vec<u64>, open: &mut Vec<u32>| {
            if counts(n) {
                let c = self.classes.node_class[n as usize] as usize;
                if open[c] == 0 {
                    total[c] += self.retained.get(n);
                }
                open[c] += 1;
            }
        };
        enter(root, &mut total, &mut open);
        while let Some(top) = stack.last_mut() {
            let (n, pos) = *top;
            if pos < first[n as usize + 1] {
                top.1 += 1;
                let child = children[pos as usize];
                enter(child, &mut total, &mut open);
                stack.push((child, first[child as usize]));
            } else {
                stack.pop();
                if counts(n) {
                    open[self.classes.node_class[n as usize] as usize] -= 1;
                }
            }
        }
        total
    }

    /// The `limit` largest objects by retained size, leaving out synthetic nodes and any
    /// object whose dominator is listed with nearly the same size (a Map inside the class
    /// that owns it is the same memory).
    pub fn largest_objects(&self, limit: usize) -> Vec<NodeIndex> {
        let n = self.snap.node_count() as u32;
        let mut candidates: Vec<NodeIndex> = (0..n)
            .filter(|&v| {
                self.snap.node_kind(v) != NodeKind::Synthetic && self.distances().is_reachable(v)
            })
            .collect();
        let keep = (limit * 8).min(candidates.len());
        if keep < candidates.len() && keep > 0 {
            candidates
                .select_nth_unstable_by_key(keep - 1, |&v| std::cmp::Reverse(self.retained.get(v)));
            candidates.truncate(keep);
        }
        candidates.sort_by_key(|&v| std::cmp::Reverse(self.retained.get(v)));
        let mut picked: Vec<NodeIndex> = Vec::new();
        for v in candidates {
            if picked.len() == limit {
                break;
            }
            let size = self.retained.get(v);
            let mut a = self.dominators.idom(v);
            let mut same_blob = false;
            while a != self.dominators.root() && self.retained.get(a) as f64 <= size as f64 * 1.1 {
                if picked.contains(&a) {
                    same_blob = true;
                    break;
                }
                a = self.dominators.idom(a);
            }
            if !same_blob {
                picked.push(v);
            }
        }
        picked
    }
}

/// How an edge is labelled in a path: its name, `[i]` for indices.
pub fn edge_label(snap: &HeapSnapshot, e: u32) -> String {
    match snap.edge_name(e) {
        EdgeName::Name(s) => match crate::shape::WeakMapValue::parse(s) {
            Some(value) => value.label(),
            None => shorten(s, 80),
        },
        EdgeName::Index(i) => {
            if snap.edge_kind(e) == EdgeKind::Hidden {
                format!("<{i}>")
            } else {
                format!("[{i}]")
            }
        }
    }
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out.replace('\n', "\\n")
}
