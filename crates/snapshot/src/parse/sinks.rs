//! Where the scanner's records go: each sink is a window on the columns a chunk writes
//! into, split at record boundaries so that parallel chunks write disjoint slices.

use crate::error::ParseErrorKind;
use crate::meta::{EdgeKind, EdgeLayout, NodeLayout};

use super::MAX_FIELDS;

/// A mutable window on a set of columns that a scanner chunk writes into.
pub(super) trait RecordSink: Send + Sized {
    /// Splits off the first `n` records.
    fn split_at(self, n: usize) -> (Self, Self);
    /// Stores record `i` (relative to this window).
    fn store(&mut self, i: usize, fields: &[u64; MAX_FIELDS]) -> Result<(), ParseErrorKind>;
}

pub(super) struct NodeSink<'a> {
    pub(super) layout: NodeLayout,
    pub(super) type_count: u64,
    pub(super) kind: &'a mut [u8],
    pub(super) name: &'a mut [u32],
    pub(super) id: &'a mut [u32],
    pub(super) self_size: &'a mut [u32],
    pub(super) edge_count: &'a mut [u32],
    pub(super) clamped: usize,
}

impl RecordSink for NodeSink<'_> {
    fn split_at(self, n: usize) -> (Self, Self) {
        let (k0, k1) = self.kind.split_at_mut(n);
        let (n0, n1) = self.name.split_at_mut(n);
        let (i0, i1) = self.id.split_at_mut(n);
        let (s0, s1) = self.self_size.split_at_mut(n);
        let (e0, e1) = self.edge_count.split_at_mut(n);
        let (layout, type_count) = (self.layout, self.type_count);
        (
            NodeSink {
                layout,
                type_count,
                kind: k0,
                name: n0,
                id: i0,
                self_size: s0,
                edge_count: e0,
                clamped: 0,
            },
            NodeSink {
                layout,
                type_count,
                kind: k1,
                name: n1,
                id: i1,
                self_size: s1,
                edge_count: e1,
                clamped: 0,
            },
        )
    }

    #[inline]
    fn store(&mut self, i: usize, f: &[u64; MAX_FIELDS]) -> Result<(), ParseErrorKind> {
        let l = &self.layout;
        let kind = f[l.kind];
        if kind >= self.type_count {
            return Err(ParseErrorKind::TypeOutOfRange {
                what: "node",
                index: i,
                value: kind.min(u32::MAX as u64) as u32,
                len: self.type_count as usize,
            });
        }
        self.kind[i] = kind as u8;
        self.name[i] = narrow(f[l.name], "a node name")?;
        self.id[i] = narrow(f[l.id], "a node id")?;
        self.edge_count[i] = narrow(f[l.edge_count], "a node edge_count")?;
        // A backing store of 4 GiB or more does not fit; keep the column compact and
        // count the clamped values so that the summary can say so.
        let size = f[l.self_size];
        if size > u32::MAX as u64 {
            self.clamped += 1;
        }
        self.self_size[i] = size.min(u32::MAX as u64) as u32;
        Ok(())
    }
}

/// Divides by the node record width without a hardware division in the hot loop
/// (Lemire's multiply-shift, exact for 32-bit numerators).
#[derive(Clone, Copy)]
pub(super) struct WidthDivisor {
    pub(super) width: u64,
    pub(super) magic: u64,
}

impl WidthDivisor {
    pub(super) fn new(width: u64) -> WidthDivisor {
        WidthDivisor {
            width,
            magic: (u64::MAX / width).wrapping_add(1),
        }
    }

    /// `Some(v / width)` when `v` is a multiple of the width.
    #[inline(always)]
    pub(super) fn exact(self, v: u64) -> Option<u64> {
        let q = if self.width == 1 {
            v
        } else if v <= u32::MAX as u64 {
            ((v as u128 * self.magic as u128) >> 64) as u64
        } else {
            v / self.width
        };
        (q * self.width == v).then_some(q)
    }
}

pub(super) struct EdgeSink<'a> {
    pub(super) layout: EdgeLayout,
    pub(super) type_count: u64,
    pub(super) node_width: WidthDivisor,
    pub(super) node_count: u64,
    pub(super) kind: &'a mut [u8],
    pub(super) name: &'a mut [u32],
    pub(super) to: &'a mut [u32],
}

impl RecordSink for EdgeSink<'_> {
    fn split_at(self, n: usize) -> (Self, Self) {
        let (k0, k1) = self.kind.split_at_mut(n);
        let (n0, n1) = self.name.split_at_mut(n);
        let (t0, t1) = self.to.split_at_mut(n);
        let (layout, type_count, node_width, node_count) = (
            self.layout,
            self.type_count,
            self.node_width,
            self.node_count,
        );
        (
            EdgeSink {
                layout,
                type_count,
                node_width,
                node_count,
                kind: k0,
                name: n0,
                to: t0,
            },
            EdgeSink {
                layout,
                type_count,
                node_width,
                node_count,
                kind: k1,
                name: n1,
                to: t1,
            },
        )
    }

    #[inline]
    fn store(&mut self, i: usize, f: &[u64; MAX_FIELDS]) -> Result<(), ParseErrorKind> {
        let l = &self.layout;
        let kind = f[l.kind];
        if kind >= self.type_count {
            return Err(ParseErrorKind::TypeOutOfRange {
                what: "edge",
                index: i,
                value: kind.min(u32::MAX as u64) as u32,
                len: self.type_count as usize,
            });
        }
        let to = f[l.to_node];
        let Some(target) = self.node_width.exact(to).filter(|&t| t < self.node_count) else {
            return Err(ParseErrorKind::EdgeTargetOutOfRange {
                edge: i,
                value: to.min(u32::MAX as u64) as u32,
                node_count: self.node_count as usize,
            });
        };
        self.kind[i] = kind as u8;
        self.name[i] = narrow(f[l.name_or_index], "an edge name_or_index")?;
        self.to[i] = target as u32;
        Ok(())
    }
}

#[inline]
pub(super) fn narrow(v: u64, what: &'static str) -> Result<u32, ParseErrorKind> {
    u32::try_from(v).map_err(|_| ParseErrorKind::Overflow(what))
}

/// Writes only the edges an [`crate::EdgeFilter`] keeps, into per-chunk lists.
pub(super) struct FilterSink<'a> {
    pub(super) layout: EdgeLayout,
    pub(super) node_width: WidthDivisor,
    pub(super) node_count: u64,
    /// Global index of this window's first edge.
    pub(super) base: usize,
    /// CSR offsets of all edges, to find each edge's source.
    pub(super) offsets: &'a [u32],
    pub(super) node_type: &'a [u8],
    pub(super) edge_kinds: &'a [EdgeKind],
    /// `keep[(from_type * edge_types + edge_type) * node_types + to_type]`: the filter's
    /// answer for every combination of raw types, computed once.
    pub(super) keep: &'a [bool],
    pub(super) node_types: usize,
    /// The source of the last stored edge (`usize::MAX` before the first).
    pub(super) source: usize,
    pub(super) kept: Vec<(u32, u8, u32, u32)>,
    pub(super) max_name: (u32, usize),
}

impl RecordSink for FilterSink<'_> {
    fn split_at(self, n: usize) -> (Self, Self) {
        let tail = FilterSink {
            base: self.base + n,
            kept: Vec::new(),
            ..self
        };
        let head = FilterSink {
            kept: Vec::new(),
            ..tail
        };
        (
            FilterSink {
                base: self.base,
                ..head
            },
            tail,
        )
    }

    #[inline]
    fn store(&mut self, i: usize, f: &[u64; MAX_FIELDS]) -> Result<(), ParseErrorKind> {
        let l = &self.layout;
        let g = self.base + i;
        let kind = f[l.kind];
        if kind >= self.edge_kinds.len() as u64 {
            return Err(ParseErrorKind::TypeOutOfRange {
                what: "edge",
                index: g,
                value: kind.min(u32::MAX as u64) as u32,
                len: self.edge_kinds.len(),
            });
        }
        let raw_to = f[l.to_node];
        let Some(to) = self
            .node_width
            .exact(raw_to)
            .filter(|&t| t < self.node_count)
        else {
            return Err(ParseErrorKind::EdgeTargetOutOfRange {
                edge: g,
                value: raw_to.min(u32::MAX as u64) as u32,
                node_count: self.node_count as usize,
            });
        };
        let to = to as usize;
        let name = narrow(f[l.name_or_index], "an edge name_or_index")?;
        let edge_kind = self.edge_kinds[kind as usize];
        if !edge_kind.name_is_index() && name > self.max_name.0 {
            self.max_name = (name, g);
        }
        if self.source == usize::MAX {
            self.source = self.offsets.partition_point(|&o| o as usize <= g) - 1;
        }
        while self.offsets[self.source + 1] as usize <= g {
            self.source += 1;
        }
        let from = self.node_type[self.source] as usize;
        let combo = (from * self.edge_kinds.len() + kind as usize) * self.node_types
            + self.node_type[to] as usize;
        if self.keep[combo] {
            self.kept
                .push((self.source as u32, kind as u8, name, to as u32));
        }
        Ok(())
    }
}
