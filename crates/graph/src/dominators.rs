//! The dominator tree, by the semi-NCA variant of Lengauer–Tarjan.
//!
//! Node `d` dominates `v` when every path from the root to `v` goes through `d`; the
//! immediate dominator is the closest such node, and a node's retained size is its self size
//! plus the retained sizes of the nodes it immediately dominates — the memory freed if it
//! were gone. Heap graphs have millions of nodes and linked lists millions deep, so every
//! step here is iterative (no recursion) and works on `u32` arrays: the DFS uses an explicit
//! stack, and `eval` compresses paths with a loop. Semi-NCA (Georgiadis, Tarjan & Werneck,
//! "Finding dominators in practice", 2006) computes semidominators as Lengauer–Tarjan does
//! and then walks up the DFS tree for the nearest common ancestor; it is O(m log n) here and
//! needs no buckets.
//!
//! Nodes the DFS from the root cannot reach (held only by weak or ignored edges, or cycles
//! of them) are attached to the root, as DevTools and memlab do: each starts its own DFS
//! whose tree parent is the root.

/// A directed graph the dominator computation can walk, as a CSR of edges some of which
/// may not count.
pub trait Graph {
    /// Number of nodes; nodes are `0..node_count()`.
    fn node_count(&self) -> usize;
    /// The edges of `n`, as a range of edge numbers.
    fn edge_range(&self, n: u32) -> std::ops::Range<u32>;
    /// The target of edge `e` of node `n`, or `None` when the edge does not count.
    fn successor(&self, n: u32, e: u32) -> Option<u32>;
    /// Calls `f` with each successor of `n` (along edges that count).
    #[inline]
    fn for_each_successor(&self, n: u32, mut f: impl FnMut(u32)) {
        for e in self.edge_range(n) {
            if let Some(t) = self.successor(n, e) {
                f(t);
            }
        }
    }
}

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering::Relaxed};

use rayon::prelude::*;

/// Nodes per parallel task of the passes over the edges (a few hundred thousand edges).
const EDGE_PASS_MIN_NODES: usize = 1 << 15;

/// The immediate dominator of every node, and a DFS order of the nodes in which every
/// node comes after its dominator.
#[derive(Debug)]
pub struct Dominators {
    root: u32,
    /// Immediate dominator by node; the root's is itself.
    idom: Vec<u32>,
    /// Nodes in DFS preorder: dominators come before the nodes they dominate.
    order: Vec<u32>,
}

impl Dominators {
    /// Computes the dominators of `graph` from `root`.
    pub fn compute<G: Graph + Sync>(graph: &G, root: u32) -> Dominators {
        let n = graph.node_count();
        if n == 0 {
            return Dominators {
                root,
                idom: Vec::new(),
                order: Vec::new(),
            };
        }
        // Memory matters here: the snapshot itself is resident, and this is the peak of a
        // whole `summary`. At most three `u32` arrays a node (plus the stored predecessors
        // and a bit a node) live at once: the DFS tree's parents are walked again for step
        // 4 (a DFS that marks nodes in a bitset, n/8 bytes), with the DFS order that maps
        // the result back to nodes. A walk costs less than the 4 bytes a node it saves
        // would at 10 GB. Each later array reuses the allocation of one no longer needed,
        // so that its pages are not faulted in afresh (fresh memory is slow on the VMs this
        // runs on).

        // 1. DFS numbering: pre[node] = dfs number, and the DFS parents by DFS number.
        let mut pre = vec![0u32; n];
        let mut ancestor: Vec<u32> = Vec::with_capacity(n);
        dfs(graph, root, |v, k, p| {
            pre[v as usize] = k;
            ancestor.push(p);
        });

        // 2. Predecessors in DFS numbers (a reverse CSR). When step 3 reaches w, a
        // predecessor v numbered below w is not yet processed, so `eval(v)` is v itself;
        // the DFS parent is one of them, so step 3 starts from it and the tree edges need
        // not be stored. What is stored are cross and back edges (predecessor numbered
        // above w) and the few forward edges that are not tree edges (on the 504 MB bench
        // file, 0.1 M beside 6.3 M tree edges).
        //
        // Both passes over the edges run in parallel over the nodes (each edge is looked at
        // from its source, and the writes go to its target, so they are atomic). The order
        // of a node's stored predecessors then varies from run to run; step 3 does not
        // depend on it (a minimum over them), and dominators are unique.
        //
        // A stored edge: not into the root or a self loop, and not the tree edge (a second
        // edge from the parent is not stored either: its number is the parent's).
        let stored = |pv: u32, pt: u32| pt != 0 && pt != pv && ancestor[pt as usize] != pv;
        // `end[w]` counts w's stored predecessors, then (prefix sums) ends w's slice, then
        // (filled backwards) starts it.
        let mut end: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
        (0..n as u32)
            .into_par_iter()
            .with_min_len(EDGE_PASS_MIN_NODES)
            .for_each(|v| {
                let pv = pre[v as usize];
                graph.for_each_successor(v, |t| {
                    let pt = pre[t as usize];
                    if stored(pv, pt) {
                        end[pt as usize].fetch_add(1, Relaxed);
                    }
                });
            });
        let mut total = 0u32;
        for e in end.iter_mut() {
            total += *e.get_mut();
            *e.get_mut() = total;
        }
        // Each stored predecessor takes `width` bytes (3 up to 8 M nodes): its DFS number,
        // little-endian, and a mark on the first of each node's slice (see below).
        let preds = PredList::new(n, total as usize);
        (0..n as u32)
            .into_par_iter()
            .with_min_len(EDGE_PASS_MIN_NODES)
            .for_each(|v| {
                let pv = pre[v as usize];
                graph.for_each_successor(v, |t| {
                    let pt = pre[t as usize];
                    if stored(pv, pt) {
                        let slot = end[pt as usize].fetch_sub(1, Relaxed) - 1;
                        preds.store(slot as usize, pv);
                    }
                });
            });
        // Same layout: this reuses the allocation.
        let end: Vec<u32> = end.into_iter().map(AtomicU32::into_inner).collect();
        // Step 3 walks the slices backwards, from the end of the list: it needs to know
        // which nodes have any (a bit a node) and where each slice begins (the mark on its
        // first entry), not the offsets.
        let mut preds = preds.into_marked();
        let mut has_preds = vec![0u64; n.div_ceil(64)];
        for w in 0..n {
            let next = end.get(w + 1).copied().unwrap_or(total);
            if end[w] < next {
                preds.mark(end[w] as usize);
                has_preds[w / 64] |= 1 << (w % 64);
            }
        }

        // 3. Semidominators, in reverse preorder, with path-compressed eval.
        // `ancestor` starts as the DFS parents: a node is linked to its parent once it is
        // processed, that is once it is numbered above w, so no "not linked" mark is needed
        // and the parents need no array of their own. `label[v]` holds the least
        // semidominator on v's compressed path (a value, not the node that has it); it is
        // written when v is processed, before anything reads it, so it reuses `end`.
        // `semi` reuses `pre`, which nothing reads any more.
        let mut semi = pre;
        let mut label = end;
        let mut path: Vec<u32> = Vec::new();
        let mut end = total as usize;
        for w in (1..n).rev() {
            // The DFS parent (`ancestor[w]` is still w's parent: w is not processed yet).
            // A DFS tree root other than the real root has parent 0: it hangs off the root.
            let mut s = ancestor[w];
            if has_preds[w / 64] & (1 << (w % 64)) != 0 {
                loop {
                    end -= 1;
                    let (v, first) = preds.get(end);
                    let candidate = match v < w as u32 {
                        true => v,
                        false => eval(v, w as u32, &mut ancestor, &mut label, &mut path),
                    };
                    s = s.min(candidate);
                    if first {
                        break;
                    }
                }
            }
            semi[w] = s;
            label[w] = s;
        }
        drop(preds);
        drop(has_preds);
        drop(path);

        // The DFS again (the same walk gives the same numbers), for the parents, which
        // step 3 compressed, and the order that maps DFS numbers back to nodes.
        let mut idom_dfs = ancestor;
        idom_dfs.clear();
        let mut vertex = label;
        vertex.clear();
        dfs(graph, root, |v, _, p| {
            vertex.push(v);
            idom_dfs.push(p);
        });

        // 4. Immediate dominators: the nearest common ancestor of parent and semidominator.
        idom_dfs[0] = 0;
        for w in 1..n {
            let mut d = idom_dfs[w];
            while d > semi[w] {
                d = idom_dfs[d as usize];
            }
            idom_dfs[w] = d;
        }
        // Back to nodes, in the allocation of `semi` (the order is a permutation: every
        // entry is written).
        let mut idom = semi;
        for (k, &v) in vertex.iter().enumerate() {
            idom[v as usize] = vertex[idom_dfs[k] as usize];
        }
        Dominators {
            root,
            idom,
            order: vertex,
        }
    }

    /// The root the tree was computed from.
    pub fn root(&self) -> u32 {
        self.root
    }

    /// The immediate dominator of `n` (the root's is the root).
    #[inline]
    pub fn idom(&self, n: u32) -> u32 {
        self.idom[n as usize]
    }

    /// Retained sizes: each node's `self_size` plus what it dominates. Consumes the DFS
    /// order, which nothing needs afterwards ([`Dominators::children`] gives a
    /// dominator-tree traversal), to keep memory down.
    pub fn retained_sizes(&mut self, self_size: impl Fn(u32) -> u64) -> RetainedSizes {
        let mut retained = RetainedSizes::new(self.idom.len(), self_size);
        for &v in self.order.iter().skip(1).rev() {
            let d = self.idom[v as usize];
            if d != v {
                retained.add(d, retained.get(v));
            }
        }
        self.order = Vec::new();
        retained
    }

    /// The children of every node in the dominator tree, as CSR offsets and a list (each
    /// node's children in ascending order).
    pub fn children(&self) -> (Vec<u32>, Vec<u32>) {
        let n = self.idom.len();
        // `first[d]` counts d's children, then (prefix sums) ends d's slice, then (filled
        // backwards) starts it: no copy of the offsets to fill from (4 bytes a node less at
        // what is, after the dominators, the peak of a summary).
        let mut first = vec![0u32; n + 1];
        for v in 0..n {
            if v as u32 != self.root {
                first[self.idom[v] as usize] += 1;
            }
        }
        let mut total = 0u32;
        for f in first.iter_mut() {
            total += *f;
            *f = total;
        }
        let mut list = vec![0u32; total as usize];
        for v in (0..n as u32).rev() {
            if v != self.root {
                let d = self.idom[v as usize] as usize;
                first[d] -= 1;
                list[first[d] as usize] = v;
            }
        }
        (first, list)
    }

    /// Calls `f` with every node in a preorder of the dominator tree (each node after its
    /// immediate dominator), iteratively.
    pub fn preorder(&self, mut f: impl FnMut(u32)) {
        let (first, children) = self.children();
        let mut stack = vec![self.root];
        while let Some(v) = stack.pop() {
            f(v);
            stack.extend_from_slice(
                &children[first[v as usize] as usize..first[v as usize + 1] as usize],
            );
        }
    }
}

/// The stored predecessors (DFS numbers) in as few bytes each as the node count allows, with
/// one bit to spare: 3 bytes up to 2^23 nodes, a quarter less than `u32`s. They are a
/// quarter to a third of the dominators' peak, which is the peak of a `summary`.
struct PredList {
    bytes: Vec<AtomicU8>,
    width: usize,
}

impl PredList {
    /// Room for `len` predecessors of a graph of `n` nodes.
    fn new(n: usize, len: usize) -> PredList {
        // DFS numbers are below n; one more bit marks the first entry of each slice.
        let bits = usize::BITS - n.saturating_sub(1).leading_zeros() + 1;
        let width = bits.div_ceil(8) as usize;
        PredList {
            bytes: (0..len * width).map(|_| AtomicU8::new(0)).collect(),
            width,
        }
    }

    /// Writes entry `slot` (each slot is written by one thread, once).
    #[inline]
    fn store(&self, slot: usize, v: u32) {
        let at = slot * self.width;
        for (i, b) in self.bytes[at..at + self.width].iter().enumerate() {
            b.store((u64::from(v) >> (8 * i)) as u8, Relaxed);
        }
    }

    /// The filled list, in the same allocation, ready for marks.
    fn into_marked(self) -> MarkedPreds {
        MarkedPreds {
            bytes: self.bytes.into_iter().map(AtomicU8::into_inner).collect(),
            width: self.width,
        }
    }
}

/// [`PredList`] once filled: entries can be marked as the first of their node's slice.
struct MarkedPreds {
    bytes: Vec<u8>,
    width: usize,
}

impl MarkedPreds {
    /// Marks entry `slot` as the first of its node's slice (the top bit of its last byte).
    fn mark(&mut self, slot: usize) {
        self.bytes[slot * self.width + self.width - 1] |= 0x80;
    }

    /// Entry `slot`: the DFS number, and whether it is the first of its slice.
    #[inline]
    fn get(&self, slot: usize) -> (u32, bool) {
        let at = slot * self.width;
        let raw = self.bytes[at..at + self.width]
            .iter()
            .rev()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        let mark = 1u64 << (8 * self.width - 1);
        ((raw & !mark) as u32, raw & mark != 0)
    }
}

/// Retained sizes in 4 bytes a node: the few that reach 4 GiB (the root and the holders of
/// a huge structure) are kept apart.
#[derive(Debug)]
pub struct RetainedSizes {
    small: Vec<u32>,
    big: HashMap<u32, u64>,
}

impl RetainedSizes {
    fn new(n: usize, self_size: impl Fn(u32) -> u64) -> RetainedSizes {
        let mut r = RetainedSizes {
            small: vec![0; n],
            big: HashMap::new(),
        };
        for v in 0..n as u32 {
            r.set(v, self_size(v));
        }
        r
    }

    /// The retained size of `n`, bytes.
    #[inline]
    pub fn get(&self, n: u32) -> u64 {
        match self.small[n as usize] {
            u32::MAX => self.big.get(&n).copied().unwrap_or(u32::MAX as u64),
            s => s as u64,
        }
    }

    #[inline]
    fn set(&mut self, n: u32, value: u64) {
        if value >= u32::MAX as u64 {
            self.small[n as usize] = u32::MAX;
            self.big.insert(n, value);
        } else {
            self.small[n as usize] = value as u32;
        }
    }

    #[inline]
    fn add(&mut self, n: u32, value: u64) {
        let sum = self.get(n) + value;
        self.set(n, sum);
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.small.len()
    }

    /// True when there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.small.is_empty()
    }
}

/// Depth-first search from `root`, then from every node not yet reached (as children of
/// the root). Calls `visit(node, its dfs number, its parent's dfs number)` in preorder
/// (the parent of a DFS root is 0). Nodes reached are marked in a bitset (n/8 bytes), so a
/// walk needs no array a node. The stack holds one [`Frame`] per
/// level of depth, so it is bounded by the depth, not by the number of pending edges.
fn dfs<G: Graph>(graph: &G, root: u32, mut visit: impl FnMut(u32, u32, u32)) {
    let n = graph.node_count();
    let mut seen = vec![0u64; n.div_ceil(64)];
    // Marks `v`, telling whether it was already marked.
    let mut mark = |v: u32| {
        let (word, bit) = ((v / 64) as usize, 1u64 << (v % 64));
        let was = seen[word] & bit != 0;
        seen[word] |= bit;
        was
    };
    // Hand-written loop: this walk runs twice a summary over every edge (0.15–0.2 s each
    // on the 504 MB bench file, one core). The node being walked, its next edge, the end
    // of its edges and its number stay in locals; the stack holds the frames above it.
    let mut count = 0u32;
    let mut stack: Vec<Frame> = Vec::new();
    for start in std::iter::once(root).chain(0..n as u32) {
        if mark(start) {
            continue;
        }
        visit(start, count, 0);
        let range = graph.edge_range(start);
        let mut top = Frame {
            v: start,
            e: range.start,
            end: range.end,
            k: count,
        };
        count += 1;
        loop {
            if top.e < top.end {
                let e = top.e;
                top.e += 1;
                let Some(t) = graph.successor(top.v, e) else {
                    continue;
                };
                if mark(t) {
                    continue;
                }
                visit(t, count, top.k);
                let range = graph.edge_range(t);
                stack.push(top);
                top = Frame {
                    v: t,
                    e: range.start,
                    end: range.end,
                    k: count,
                };
                count += 1;
            } else if let Some(below) = stack.pop() {
                top = below;
            } else {
                break;
            }
        }
    }
}

/// A node on the DFS stack: its next edge, the end of its edges, its DFS number.
#[derive(Clone, Copy)]
struct Frame {
    v: u32,
    e: u32,
    end: u32,
    k: u32,
}

/// Lengauer–Tarjan `eval` with path compression, iterative, while step 3 is at `w`: nodes
/// numbered above `w` are linked to `ancestor`, the others are roots of the forest.
/// Returns the least semidominator (`label` holds values) on the path from `v` (which is
/// linked) up to its root, excluded.
#[inline]
fn eval(v: u32, w: u32, ancestor: &mut [u32], label: &mut [u32], path: &mut Vec<u32>) -> u32 {
    debug_assert!(v > w, "eval is only asked of predecessors numbered above w");
    // Collect the path up to the last node whose ancestor is a root, then compress it
    // top-down (what the recursive version does on its way back).
    path.clear();
    let mut x = v;
    while ancestor[x as usize] > w {
        path.push(x);
        x = ancestor[x as usize];
    }
    for &y in path.iter().rev() {
        let a = ancestor[y as usize] as usize;
        if label[a] < label[y as usize] {
            label[y as usize] = label[a];
        }
        ancestor[y as usize] = ancestor[a];
    }
    label[v as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Adj(Vec<Vec<u32>>);

    /// Edge `e` of node `n` is `e - n * 64`: each node has a block of 64 edge numbers.
    impl Graph for Adj {
        fn node_count(&self) -> usize {
            self.0.len()
        }
        fn edge_range(&self, n: u32) -> std::ops::Range<u32> {
            n * 64..n * 64 + self.0[n as usize].len() as u32
        }
        fn successor(&self, n: u32, e: u32) -> Option<u32> {
            self.0[n as usize].get((e - n * 64) as usize).copied()
        }
    }

    /// The definition: d dominates v iff v is unreachable from the root once d is removed,
    /// on the graph where the root also points at each node the DFS had to start from (the
    /// lowest-numbered node not yet reached, repeatedly).
    fn naive_idom(g: &Adj, root: u32) -> Vec<u32> {
        let n = g.0.len();
        let mut adj = g.0.clone();
        let mut reached = vec![false; n];
        for start in std::iter::once(root).chain(0..n as u32) {
            if reached[start as usize] {
                continue;
            }
            if start != root {
                adj[root as usize].push(start);
            }
            let mut stack = vec![start];
            reached[start as usize] = true;
            while let Some(v) = stack.pop() {
                for &t in &g.0[v as usize] {
                    if !reached[t as usize] {
                        reached[t as usize] = true;
                        stack.push(t);
                    }
                }
            }
        }
        let g = &Adj(adj);
        let reach = |removed: Option<u32>| {
            let mut seen = vec![false; n];
            let mut stack = vec![root];
            if removed == Some(root) {
                return seen;
            }
            seen[root as usize] = true;
            while let Some(v) = stack.pop() {
                for &t in &g.0[v as usize] {
                    if Some(t) != removed && !seen[t as usize] {
                        seen[t as usize] = true;
                        stack.push(t);
                    }
                }
            }
            seen
        };
        let base = reach(None);
        let mut doms: Vec<Vec<u32>> = vec![Vec::new(); n];
        for d in 0..n as u32 {
            let r = reach(Some(d));
            for v in 0..n {
                if base[v] && !r[v] && v as u32 != d {
                    doms[v].push(d);
                }
            }
        }
        (0..n)
            .map(|v| {
                if v as u32 == root || !base[v] {
                    return root;
                }
                // The immediate dominator is the dominator dominated by all the others.
                *doms[v]
                    .iter()
                    .find(|&&d| {
                        doms[v]
                            .iter()
                            .all(|&o| o == d || doms[d as usize].contains(&o))
                    })
                    .unwrap_or(&root)
            })
            .collect()
    }

    #[test]
    fn diamond_and_chain() {
        // 0 -> 1 -> 2 -> 4, 0 -> 3 -> 4, 4 -> 5
        let g = Adj(vec![vec![1, 3], vec![2], vec![4], vec![4], vec![5], vec![]]);
        let mut d = Dominators::compute(&g, 0);
        assert_eq!(
            (1..6).map(|v| d.idom(v)).collect::<Vec<_>>(),
            vec![0, 1, 0, 0, 4]
        );
        let r = d.retained_sizes(|_| 10);
        assert_eq!(
            (0..6).map(|v| r.get(v)).collect::<Vec<_>>(),
            vec![60, 20, 10, 10, 20, 10]
        );
        let mut seen = Vec::new();
        d.preorder(|v| seen.push(v));
        assert_eq!(seen.len(), 6);
        for v in 1..6u32 {
            let pos = |x: u32| seen.iter().position(|&s| s == x);
            assert!(pos(d.idom(v)) < pos(v), "dominator of {v} first");
        }
    }

    #[test]
    fn retained_sizes_beyond_4_gib() {
        let g = Adj(vec![vec![1, 2], vec![], vec![]]);
        let mut d = Dominators::compute(&g, 0);
        let r = d.retained_sizes(|v| [0, 3 << 30, u32::MAX as u64][v as usize]);
        assert_eq!(r.get(1), 3 << 30);
        assert_eq!(r.get(2), u32::MAX as u64);
        assert_eq!(r.get(0), (3u64 << 30) + u32::MAX as u64);
    }

    #[test]
    fn cycles_and_unreachable_nodes() {
        // 0 -> 1 <-> 2; 3 <-> 4 unreachable from 0; 5 -> 1.
        let g = Adj(vec![vec![1], vec![2], vec![1], vec![4], vec![3], vec![1]]);
        let mut d = Dominators::compute(&g, 0);
        assert_eq!(d.idom(2), 1);
        assert_eq!(d.idom(3), 0, "unreachable nodes hang off the root");
        // 1 is reachable from the root and from the unreachable 5: only the root dominates.
        assert_eq!(d.idom(1), 0);
        let r = d.retained_sizes(|_| 1);
        assert_eq!(r.get(0), 6, "the root retains everything");
    }

    #[test]
    fn forward_and_repeated_tree_edges() {
        // DFS from 0: 0 -> 1 -> 2 -> 3 (two edges 1 -> 2), then 0 -> 3 is a forward edge
        // that is not a tree edge: only 0 dominates 3. 1 -> 3 too, for 4.
        let g = Adj(vec![vec![1, 3], vec![2, 2, 4], vec![3], vec![4], vec![]]);
        let d = Dominators::compute(&g, 0);
        assert_eq!(
            (1..5).map(|v| d.idom(v)).collect::<Vec<_>>(),
            vec![0, 1, 0, 0]
        );
        agrees_with_the_definition_on(
            5,
            vec![(0, 1), (0, 3), (1, 2), (1, 2), (1, 4), (2, 3), (3, 4)],
        )
        .expect("agrees");
    }

    /// 0 -> 1 -> … -> n-1.
    struct Chain(u32);

    impl Graph for Chain {
        fn node_count(&self) -> usize {
            self.0 as usize
        }
        fn edge_range(&self, n: u32) -> std::ops::Range<u32> {
            n..n + u32::from(n + 1 < self.0)
        }
        fn successor(&self, n: u32, _e: u32) -> Option<u32> {
            Some(n + 1)
        }
    }

    #[test]
    fn a_million_node_chain_needs_no_recursion() {
        let n = 1_000_000u32;
        let g = Chain(n);
        let mut d = Dominators::compute(&g, 0);
        assert_eq!(d.idom(n - 1), n - 2);
        let r = d.retained_sizes(|_| 1);
        assert_eq!(r.get(0), n as u64);
        assert_eq!(r.get(n / 2), (n - n / 2) as u64);
    }

    /// Checks the dominators of the graph of `edges` on `n` nodes against the definition.
    fn agrees_with_the_definition_on(n: u32, edges: Vec<(u32, u32)>) -> Result<(), TestCaseError> {
        let mut adj = vec![Vec::new(); n as usize];
        for (a, b) in edges {
            adj[a as usize].push(b);
        }
        let g = Adj(adj);
        let d = Dominators::compute(&g, 0);
        let expected = naive_idom(&g, 0);
        for v in 1..n {
            prop_assert_eq!(d.idom(v), expected[v as usize], "node {}", v);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn agrees_with_the_definition(edges in proptest::collection::vec((0u32..12, 0u32..12), 0..40)) {
            agrees_with_the_definition_on(12, edges)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// 300 nodes: stored predecessors take 2 bytes each (1 above), and nodes have
        /// several, so slices that cross byte boundaries and their marks are exercised.
        #[test]
        fn agrees_with_the_definition_on_300_nodes(edges in proptest::collection::vec((0u32..300, 0u32..300), 0..1200)) {
            agrees_with_the_definition_on(300, edges)?;
        }
    }
}
