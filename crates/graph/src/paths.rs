//! Distances from the GC roots and retainer paths.
//!
//! Distances follow DevTools (`calculateDistances`): a first breadth-first search starts at
//! the *user roots* — the root's non-synthetic children, i.e. the global objects V8 links
//! from the root by shortcut edges — at distance 1; a second one from the root reaches what
//! only the VM's own roots (`(GC roots)` and its sub-roots: handles, the compilation cache,
//! …) hold, at distances from [`SYSTEM_DISTANCE`] on. So an object's shortest path runs
//! through application code whenever there is one, as in DevTools and memlab. Weak edges
//! are never followed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::VecDeque;

use leaktrail_snapshot::{EdgeIndex, HeapSnapshot, NodeIndex, NodeKind};

use crate::rules::{on_path, path_target, ROOT};

/// Distances at or above this were reached only through the VM's own roots.
pub const SYSTEM_DISTANCE: u32 = 100_000_000;
const UNREACHED: u32 = u32::MAX;

/// The node each node was first reached from by the breadth-first searches; distances
/// are the lengths of those parent chains. Only the parents are stored (4 bytes a node):
/// a distance is computed by walking the chain when asked for.
pub struct Distances {
    parent: Vec<u32>,
    /// The root's non-synthetic children (global objects), sorted.
    user_roots: Vec<u32>,
}

/// One step of a retainer path: the edge into `node` (from the previous step's node).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathStep {
    /// The edge from the previous node (from the synthetic root for the first step).
    pub edge: EdgeIndex,
    /// The node reached.
    pub node: NodeIndex,
}

/// A path from the synthetic root (excluded) down to an object, top-down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetainerPath {
    /// The steps, the target last.
    pub steps: Vec<PathStep>,
}

impl Distances {
    /// Runs the two breadth-first searches.
    pub fn compute(snap: &HeapSnapshot) -> Distances {
        let n = snap.node_count();
        let mut parent = vec![UNREACHED; n];
        if n == 0 {
            return Distances {
                parent,
                user_roots: Vec::new(),
            };
        }
        parent[ROOT as usize] = ROOT;
        let mut queue = VecDeque::new();
        for e in snap.edges(ROOT) {
            let t = snap.edge_target(e);
            if on_path(snap, ROOT, e)
                && snap.node_kind(t) != NodeKind::Synthetic
                && parent[t as usize] == UNREACHED
            {
                parent[t as usize] = ROOT;
                queue.push_back(t);
            }
        }
        let mut user_roots: Vec<u32> = queue.iter().copied().collect();
        user_roots.sort_unstable();
        let bfs = |queue: &mut VecDeque<u32>, parent: &mut Vec<u32>| {
            while let Some(v) = queue.pop_front() {
                for e in snap.edges(v) {
                    let Some(t) = path_target(snap, v, e) else {
                        continue;
                    };
                    if parent[t as usize] == UNREACHED {
                        parent[t as usize] = v;
                        queue.push_back(t);
                    }
                }
            }
        };
        bfs(&mut queue, &mut parent);
        // Then what only the VM's own roots hold, through the synthetic sub-roots.
        queue.push_back(ROOT);
        bfs(&mut queue, &mut parent);
        Distances { parent, user_roots }
    }

    /// True when a non-weak path from the roots reaches `n`.
    #[inline]
    pub fn is_reachable(&self, n: NodeIndex) -> bool {
        self.parent[n as usize] != UNREACHED
    }

    /// The node `n` was first reached from on its shortest path (`None` for the root and
    /// for what only weak edges reach).
    #[inline]
    pub fn parent(&self, n: NodeIndex) -> Option<NodeIndex> {
        let p = self.parent[n as usize];
        (p != UNREACHED && n != ROOT).then_some(p)
    }

    /// The distance of `n` from the roots (at least [`SYSTEM_DISTANCE`] when only the VM's
    /// roots hold it), `None` when only weak edges reach it. Walks the parent chain.
    pub fn distance(&self, n: NodeIndex) -> Option<u32> {
        if !self.is_reachable(n) {
            return None;
        }
        let (mut steps, mut v, mut top) = (0u32, n, n);
        while v != ROOT {
            top = v;
            v = self.parent[v as usize];
            steps += 1;
        }
        // Application paths start at a user root; system ones at a synthetic sub-root.
        let system = steps > 0 && self.user_roots.binary_search(&top).is_err();
        Some(if system {
            SYSTEM_DISTANCE + steps
        } else {
            steps
        })
    }

    /// True when only the VM's own roots hold `n` (or nothing but weak edges).
    pub fn is_system(&self, n: NodeIndex) -> bool {
        self.distance(n).is_none_or(|d| d >= SYSTEM_DISTANCE)
    }

    /// The shortest retainer path of `n`, or `None` when only weak edges reach it.
    pub fn path_to(&self, snap: &HeapSnapshot, n: NodeIndex) -> Option<RetainerPath> {
        self.walk_up(n, |p, v| first_path_edge(snap, p, v))
    }

    /// The path of `n` up its shortest-path parents to the root, each step's edge from
    /// `edge_into(parent, child)`.
    fn walk_up(
        &self,
        n: NodeIndex,
        mut edge_into: impl FnMut(NodeIndex, NodeIndex) -> Option<EdgeIndex>,
    ) -> Option<RetainerPath> {
        if !self.is_reachable(n) {
            return None;
        }
        let mut steps = Vec::new();
        let mut v = n;
        while v != ROOT {
            let p = self.parent[v as usize];
            if p == UNREACHED {
                return None;
            }
            let edge = edge_into(p, v)?;
            steps.push(PathStep { edge, node: v });
            v = p;
        }
        steps.reverse();
        Some(RetainerPath { steps })
    }
}

/// The first path edge from `p` to `v`, by a scan of `p`'s edges.
fn first_path_edge(snap: &HeapSnapshot, p: NodeIndex, v: NodeIndex) -> Option<EdgeIndex> {
    snap.edges(p)
        .find(|&e| snap.edge_target(e) == v && on_path(snap, p, e))
}

/// A parent with at least this many edges gets its children's edges indexed by a
/// [`PathFinder`] (below it, a scan of its edges is as cheap).
const INDEXED_PARENT_EDGES: usize = 64;

/// Shortest retainer paths of many nodes, each as [`Distances::path_to`] gives it. The edge
/// into a node is the first path edge from its parent to it; `path_to` scans the parent's
/// edges for it, and the paths of many objects held by one large array or map scan the
/// same long edge list again and again (7 % of a `leaks` run's CPU on the bench files).
/// Here a parent of many edges is scanned once, into its children's edges.
pub struct PathFinder<'a> {
    distances: &'a Distances,
    snap: &'a HeapSnapshot,
    /// Per parent of many edges: (child, first path edge to it), sorted by child, for
    /// the children whose shortest-path parent it is.
    children: std::collections::HashMap<NodeIndex, Vec<(NodeIndex, EdgeIndex)>>,
}

impl<'a> PathFinder<'a> {
    /// A finder of the shortest paths of `distances` in `snap`.
    pub fn new(distances: &'a Distances, snap: &'a HeapSnapshot) -> PathFinder<'a> {
        PathFinder {
            distances,
            snap,
            children: std::collections::HashMap::new(),
        }
    }

    /// The shortest retainer path of `n` (the same as [`Distances::path_to`]).
    pub fn path_to(&mut self, n: NodeIndex) -> Option<RetainerPath> {
        let (snap, d, children) = (self.snap, self.distances, &mut self.children);
        d.walk_up(n, |p, v| edge_into(snap, d, children, p, v))
    }
}

/// The first path edge from `p` to `v`: a scan of `p`'s edges, or, for a parent of many,
/// a lookup in its children's edges (indexed in `children` at the first).
fn edge_into(
    snap: &HeapSnapshot,
    d: &Distances,
    children: &mut std::collections::HashMap<NodeIndex, Vec<(NodeIndex, EdgeIndex)>>,
    p: NodeIndex,
    v: NodeIndex,
) -> Option<EdgeIndex> {
    let edges = snap.edges(p);
    if edges.len() < INDEXED_PARENT_EDGES {
        return first_path_edge(snap, p, v);
    }
    let children = children.entry(p).or_insert_with(|| {
        let mut children: Vec<(NodeIndex, EdgeIndex)> = edges
            .filter_map(|e| path_target(snap, p, e).map(|t| (t, e)))
            .filter(|&(t, _)| d.parent[t as usize] == p)
            .collect();
        // Stable: of several edges to one child, the first stays first, and is kept.
        children.sort_by_key(|&(t, _)| t);
        children.dedup_by_key(|&mut (t, _)| t);
        children
    });
    children
        .binary_search_by_key(&v, |&(t, _)| t)
        .ok()
        .map(|i| children[i].1)
}

/// Who points at each node: the reverse of the path edges, for finding several paths.
pub struct RetainerIndex {
    first: Vec<u32>,
    edges: Vec<u32>,
}

impl RetainerIndex {
    /// Indexes the path edges of `snap` by target.
    pub fn new(snap: &HeapSnapshot) -> RetainerIndex {
        let n = snap.node_count();
        let mut first = vec![0u32; n + 1];
        for v in 0..n as u32 {
            for e in snap.edges(v) {
                if on_path(snap, v, e) {
                    first[snap.edge_target(e) as usize + 1] += 1;
                }
            }
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut edges = vec![0u32; first[n] as usize];
        for v in 0..n as u32 {
            for e in snap.edges(v) {
                if on_path(snap, v, e) {
                    let slot = &mut fill[snap.edge_target(e) as usize];
                    edges[*slot as usize] = e;
                    *slot += 1;
                }
            }
        }
        RetainerIndex { first, edges }
    }

    /// The path edges into `n`.
    pub fn retaining_edges(&self, n: NodeIndex) -> &[EdgeIndex] {
        &self.edges[self.first[n as usize] as usize..self.first[n as usize + 1] as usize]
    }

    /// Up to `k` shortest distinct retainer paths of `target`, shortest first; paths
    /// through application roots come before paths that only the VM's roots give.
    ///
    /// A best-first search backwards from the target, ordered by the length so far plus
    /// the node's distance from the roots (exact for the application part, so paths come
    /// out in order of length). It gives up after `max_steps` expansions.
    pub fn k_shortest(
        &self,
        snap: &HeapSnapshot,
        dist: &Distances,
        target: NodeIndex,
        k: usize,
        max_steps: usize,
    ) -> Vec<RetainerPath> {
        struct Partial {
            node: u32,
            edge: u32,
            prev: u32,
            len: u32,
        }
        let mut arena = vec![Partial {
            node: target,
            edge: u32::MAX,
            prev: u32::MAX,
            len: 0,
        }];
        let mut heap = BinaryHeap::new();
        let Some(d) = dist.distance(target) else {
            return Vec::new();
        };
        heap.push(Reverse((d as u64, 0u32)));
        let mut found = Vec::new();
        let mut steps = 0usize;
        while let Some(Reverse((_, idx))) = heap.pop() {
            steps += 1;
            if steps > max_steps {
                break;
            }
            let (node, len) = (arena[idx as usize].node, arena[idx as usize].len);
            if node == ROOT {
                let mut path = Vec::new();
                let mut i = idx;
                // Walk from the root end towards the target: each entry's edge leads from
                // its node to the previous entry's node.
                while arena[i as usize].prev != u32::MAX {
                    let p = &arena[i as usize];
                    path.push(PathStep {
                        edge: p.edge,
                        node: arena[p.prev as usize].node,
                    });
                    i = p.prev;
                }
                found.push(RetainerPath { steps: path });
                if found.len() == k {
                    break;
                }
                continue;
            }
            for &e in self.retaining_edges(node) {
                let s = snap.edge_source(e);
                let Some(ds) = dist.distance(s) else { continue };
                // Simple paths only: skip sources already on this partial path.
                let mut i = idx;
                let mut cycle = false;
                while i != u32::MAX {
                    if arena[i as usize].node == s {
                        cycle = true;
                        break;
                    }
                    i = arena[i as usize].prev;
                }
                if cycle {
                    continue;
                }
                arena.push(Partial {
                    node: s,
                    edge: e,
                    prev: idx,
                    len: len + 1,
                });
                heap.push(Reverse((
                    len as u64 + 1 + ds as u64,
                    (arena.len() - 1) as u32,
                )));
            }
        }
        found
    }
}
