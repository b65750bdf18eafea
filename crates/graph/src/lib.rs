//! Graph analyses of a parsed V8 heap snapshot: who keeps what alive.
//!
//! - [`rules`] says which edges retain (weak ones never do; shortcuts only from the root)
//!   and which a retainer path may use, as Chrome DevTools and memlab decide.
//! - [`Dominators`] computes the dominator tree (semi-NCA, iterative, `u32` arrays) and
//!   retained sizes; [`HeapGraph::dominators`] runs it on a snapshot.
//! - [`Distances`] are BFS distances from the GC roots with a parent per node, which give
//!   each object's shortest [`RetainerPath`]; [`RetainerIndex`] finds the K shortest
//!   distinct paths to one object.
//!
//! ```no_run
//! use leaktrail_graph::HeapGraph;
//! use leaktrail_snapshot::{HeapSnapshot, ParseOptions};
//! let snap = HeapSnapshot::open("app.heapsnapshot".as_ref(), &ParseOptions::default())?;
//! let graph = HeapGraph::new(&snap);
//! let mut dom = graph.dominators();
//! let retained = dom.retained_sizes(|n| snap.self_size(n) as u64);
//! # Ok::<(), leaktrail_snapshot::ParseError>(())
//! ```

#![deny(missing_docs)]

mod dominators;
mod paths;
pub mod rules;

pub use dominators::{Dominators, Graph, RetainedSizes};
pub use paths::{Distances, PathFinder, PathStep, RetainerIndex, RetainerPath};

use leaktrail_snapshot::HeapSnapshot;

/// A snapshot seen as a graph of retaining edges.
pub struct HeapGraph<'s> {
    snap: &'s HeapSnapshot,
}

impl<'s> HeapGraph<'s> {
    /// Wraps a snapshot parsed with all its edges.
    pub fn new(snap: &'s HeapSnapshot) -> HeapGraph<'s> {
        HeapGraph { snap }
    }

    /// The snapshot.
    pub fn snapshot(&self) -> &'s HeapSnapshot {
        self.snap
    }

    /// The dominator tree from the synthetic root.
    pub fn dominators(&self) -> Dominators {
        Dominators::compute(self, rules::ROOT)
    }
}

impl Graph for HeapGraph<'_> {
    fn node_count(&self) -> usize {
        self.snap.node_count()
    }

    #[inline]
    fn edge_range(&self, n: u32) -> std::ops::Range<u32> {
        self.snap.edges(n)
    }

    #[inline(always)]
    fn successor(&self, n: u32, e: u32) -> Option<u32> {
        rules::retained_target(self.snap, n, e)
    }
}
