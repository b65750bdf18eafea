//! Which edges retain, and which edges a retainer path may use.
//!
//! The rules are those of Chrome DevTools (`HeapSnapshot.ts`, `isEssentialEdge`) and memlab
//! (`TraceFinder.js`), which agree on Node snapshots:
//! - a **weak** edge never retains;
//! - a **self** edge never retains;
//! - a **shortcut** edge retains only from the synthetic root: V8 writes root → global
//!   object as a shortcut to mark user roots, and elsewhere (`bound_argument_N`) a shortcut
//!   duplicates a real path;
//! - `(GC roots)` and its sub-roots are ordinary synthetic nodes of size 0 reached from the
//!   root by element edges; nothing about them is special.
//!
//! DevTools also ignores edges from a non-"page" object into a page object (page objects
//! being everything reachable from the root's shortcut targets). memlab marks almost every
//! node of a Node snapshot as a page object, so the rule drops nothing there; leaktrail does
//! not apply it, and agrees with memlab's retained sizes.

use leaktrail_snapshot::{EdgeIndex, EdgeKind, HeapSnapshot, NodeIndex};

/// The synthetic root: V8 always writes it as node 0.
pub const ROOT: NodeIndex = 0;

/// True when edge `e` from node `from` keeps its target alive (for dominators).
#[inline]
pub fn retains(snap: &HeapSnapshot, from: NodeIndex, e: EdgeIndex) -> bool {
    retained_target(snap, from, e).is_some()
}

/// The target of edge `e` from node `from` when the edge keeps it alive ([`retains`]),
/// reading the edge once: this is what the dominators' walks ask of every edge.
#[inline(always)]
pub fn retained_target(snap: &HeapSnapshot, from: NodeIndex, e: EdgeIndex) -> Option<NodeIndex> {
    let (kind, to) = snap.edge_kind_and_target(e);
    let retains = match kind {
        EdgeKind::Weak => false,
        EdgeKind::Shortcut => from == ROOT,
        _ => to != from,
    };
    retains.then_some(to)
}

/// True when a retainer path may go along edge `e`: any edge but a weak one (DevTools'
/// retainers view hides weak edges), and no self edge.
#[inline]
pub fn on_path(snap: &HeapSnapshot, from: NodeIndex, e: EdgeIndex) -> bool {
    path_target(snap, from, e).is_some()
}

/// The target of edge `e` from node `from` when a retainer path may go along it
/// ([`on_path`]), reading the edge once: what the distances' BFS asks of every edge.
#[inline(always)]
pub fn path_target(snap: &HeapSnapshot, from: NodeIndex, e: EdgeIndex) -> Option<NodeIndex> {
    let (kind, to) = snap.edge_kind_and_target(e);
    (kind != EdgeKind::Weak && to != from).then_some(to)
}
