//! The parser: finds the top-level sections and scans the integer arrays into columns.
//!
//! The `nodes` and `edges` arrays are about 93 % of a snapshot and decide the parse time.
//! They are read by a hand-written byte scanner, not serde: measured on a 309 MB snapshot it
//! runs about 5× faster than `serde_json` on these arrays and writes straight into the
//! columns, so no intermediate `Vec<u32>` of raw records ever exists (see
//! `shared/research/rust-ecosystem.md` §1). The arrays are cut into chunks that start on a
//! record boundary (found by counting commas, which `memchr` does at several GB/s) and the
//! chunks of a batch are scanned in parallel with rayon, each into its own disjoint slice of
//! every column. After each batch the mapped pages are released, so the file's pages do not
//! pile up in the process's RSS.

use rayon::prelude::*;

use crate::error::{describe_byte, Located, ParseErrorKind};
use crate::meta::{EdgeKind, EdgeLayout, NodeKind, NodeLayout, SnapshotMeta};
use crate::strings::{decode_json_string, StringTable};

/// Bytes of array text per parallel chunk. A batch of chunks is resident at a time, so this
/// bounds the mapped pages in RSS too.
const CHUNK_BYTES: usize = 4 << 20;
/// Most integers a record may have; V8 writes 7 per node and 3 per edge.
pub(crate) const MAX_FIELDS: usize = 32;

/// Hooks the parser calls while it works through the file.
pub(crate) struct Reader<'a> {
    /// The whole file.
    pub bytes: &'a [u8],
    /// Called with a byte range that will not be read again (releases mapped pages).
    pub release: &'a (dyn Fn(std::ops::Range<usize>) + Sync),
    /// Called with the number of bytes processed so far.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Keep only the edges this accepts (see [`crate::EdgeFilter`]); `None` keeps all.
    pub edge_filter: Option<crate::EdgeFilter>,
}

/// Column storage for nodes, filled by the scanner.
#[derive(Default)]
pub(crate) struct NodeColumns {
    pub kind: Vec<u8>,
    pub name: Vec<u32>,
    pub id: Vec<u32>,
    pub self_size: Vec<u32>,
    pub edge_count: Vec<u32>,
    pub clamped_sizes: usize,
}

/// Column storage for edges, filled by the scanner.
#[derive(Default)]
pub(crate) struct EdgeColumns {
    pub kind: Vec<u8>,
    pub name: Vec<u32>,
    pub to: Vec<u32>,
    /// With an edge filter: CSR offsets of the kept edges (without one, they are derived
    /// from the nodes' `edge_count`).
    pub first_edge: Option<Vec<u32>>,
    /// With an edge filter: the largest string index named by any edge, and that edge, so
    /// that dropped edges are still checked against the strings table.
    pub max_name: Option<(u32, usize)>,
}

/// The raw result of a parse, before validation across sections.
pub(crate) struct RawSnapshot {
    pub meta: SnapshotMeta,
    pub nodes: NodeColumns,
    pub edges: EdgeColumns,
    pub strings: StringTable,
}

/// A mutable window on a set of columns that a scanner chunk writes into.
trait RecordSink: Send + Sized {
    /// Splits off the first `n` records.
    fn split_at(self, n: usize) -> (Self, Self);
    /// Stores record `i` (relative to this window).
    fn store(&mut self, i: usize, fields: &[u64; MAX_FIELDS]) -> Result<(), ParseErrorKind>;
}

struct NodeSink<'a> {
    layout: NodeLayout,
    type_count: u64,
    kind: &'a mut [u8],
    name: &'a mut [u32],
    id: &'a mut [u32],
    self_size: &'a mut [u32],
    edge_count: &'a mut [u32],
    clamped: usize,
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
struct WidthDivisor {
    width: u64,
    magic: u64,
}

impl WidthDivisor {
    fn new(width: u64) -> WidthDivisor {
        WidthDivisor {
            width,
            magic: (u64::MAX / width).wrapping_add(1),
        }
    }

    /// `Some(v / width)` when `v` is a multiple of the width.
    #[inline(always)]
    fn exact(self, v: u64) -> Option<u64> {
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

struct EdgeSink<'a> {
    layout: EdgeLayout,
    type_count: u64,
    node_width: WidthDivisor,
    node_count: u64,
    kind: &'a mut [u8],
    name: &'a mut [u32],
    to: &'a mut [u32],
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
fn narrow(v: u64, what: &'static str) -> Result<u32, ParseErrorKind> {
    u32::try_from(v).map_err(|_| ParseErrorKind::Overflow(what))
}

/// Parses a whole snapshot file.
pub(crate) fn parse(r: &Reader<'_>) -> Result<RawSnapshot, Located> {
    let bytes = r.bytes;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Located::anywhere(ParseErrorKind::Empty));
    }
    let mut pos = skip_ws(bytes, 0);
    if bytes[pos] != b'{' {
        return Err(Located::at(
            pos as u64,
            ParseErrorKind::NotASnapshot(format!(
                "expected a JSON object, found {}",
                describe_byte(bytes[pos])
            )),
        ));
    }
    pos += 1;
    let mut meta: Option<SnapshotMeta> = None;
    let mut nodes: Option<NodeColumns> = None;
    let mut edges: Option<EdgeColumns> = None;
    let mut strings: Option<StringTable> = None;
    let mut key = Vec::new();
    loop {
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            None => {
                return Err(Located::at(
                    pos as u64,
                    ParseErrorKind::Truncated("the top-level object"),
                ))
            }
            Some(b'}') => break,
            Some(b'"') => {}
            Some(&b) => return Err(syntax(pos, b, "the top-level object")),
        }
        key.clear();
        pos = decode_json_string(bytes, pos + 1, &mut key)
            .map_err(|(p, k)| Located::at(p as u64, k))?;
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b':') => pos += 1,
            Some(&b) => return Err(syntax(pos, b, "the top-level object")),
            None => {
                return Err(Located::at(
                    pos as u64,
                    ParseErrorKind::Truncated("the top-level object"),
                ))
            }
        }
        pos = skip_ws(bytes, pos);
        let value_start = pos;
        match key.as_slice() {
            b"snapshot" => {
                let end = skip_value(bytes, pos, r.release)?;
                let m = SnapshotMeta::from_json(&bytes[pos..end])
                    .map_err(|k| Located::at(pos as u64, k))?;
                if m.node_layout.width > MAX_FIELDS || m.edge_layout.width > MAX_FIELDS {
                    return Err(Located::at(
                        pos as u64,
                        ParseErrorKind::BadMeta(format!(
                            "more than {MAX_FIELDS} fields per record"
                        )),
                    ));
                }
                meta = Some(m);
                pos = end;
            }
            b"nodes" | b"edges" => {
                let Some(m) = meta.as_ref() else {
                    return Err(Located::at(
                        pos as u64,
                        ParseErrorKind::NotASnapshot(
                            "an integer array comes before the \"snapshot\" header".into(),
                        ),
                    ));
                };
                let start = array_start(bytes, pos)?;
                let end;
                if key == b"nodes" {
                    let (cols, e) = parse_nodes(r, m, start)?;
                    nodes = Some(cols);
                    end = e;
                } else if let Some(filter) = r.edge_filter {
                    let Some(n) = nodes.as_ref() else {
                        return Err(Located::at(
                            pos as u64,
                            ParseErrorKind::NotASnapshot(
                                "the edges array comes before the nodes array".into(),
                            ),
                        ));
                    };
                    let (cols, e) = parse_edges_filtered(r, m, start, n, filter)?;
                    edges = Some(cols);
                    end = e;
                } else {
                    let (cols, e) = parse_edges(r, m, start)?;
                    edges = Some(cols);
                    end = e;
                }
                pos = end + 1;
            }
            b"strings" => {
                let (table, end) = parse_strings(r, pos)?;
                strings = Some(table);
                pos = end;
            }
            // locations, samples, trace_function_infos, trace_tree and anything newer.
            _ => pos = skip_value(bytes, pos, r.release)?,
        }
        (r.release)(value_start..pos);
        (r.progress)(pos as u64);
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            Some(b'}') => break,
            Some(&b) => return Err(syntax(pos, b, "the top-level object")),
            None => {
                return Err(Located::at(
                    pos as u64,
                    ParseErrorKind::Truncated("the top-level object"),
                ))
            }
        }
    }
    let meta = meta.ok_or_else(|| {
        Located::anywhere(ParseErrorKind::NotASnapshot(
            "no \"snapshot\" header".into(),
        ))
    })?;
    Ok(RawSnapshot {
        nodes: nodes.ok_or(Located::anywhere(ParseErrorKind::MissingSection("nodes")))?,
        edges: edges.ok_or(Located::anywhere(ParseErrorKind::MissingSection("edges")))?,
        strings: strings.ok_or(Located::anywhere(ParseErrorKind::MissingSection("strings")))?,
        meta,
    })
}

fn syntax(pos: usize, b: u8, context: &'static str) -> Located {
    Located::at(
        pos as u64,
        ParseErrorKind::Syntax {
            found: describe_byte(b),
            context,
        },
    )
}

#[inline]
fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
        pos += 1;
    }
    pos
}

/// Checks that an array starts at `pos` and returns the position after its `[`. The end
/// is found while scanning, so that the array's pages are touched once.
fn array_start(bytes: &[u8], pos: usize) -> Result<usize, Located> {
    match bytes.get(pos) {
        Some(b'[') => Ok(pos + 1),
        Some(&b) => Err(syntax(pos, b, "an integer array")),
        None => Err(Located::at(
            pos as u64,
            ParseErrorKind::Truncated("an integer array"),
        )),
    }
}

/// Skips one JSON value starting at `pos` and returns the position after it. Used for the
/// header object and for the sections leaktrail does not need (`locations`, `samples`,
/// `trace_tree`, …), which can be tens of MB: it jumps between quotes and brackets with
/// `memchr3` and releases the pages it has passed.
fn skip_value(
    bytes: &[u8],
    pos: usize,
    release: &(dyn Fn(std::ops::Range<usize>) + Sync),
) -> Result<usize, Located> {
    const RELEASE_EVERY: usize = 16 << 20;
    let truncated = |what| Located::at(bytes.len() as u64, ParseErrorKind::Truncated(what));
    let (open, close) = match bytes.get(pos) {
        Some(b'[') => (b'[', b']'),
        Some(b'{') => (b'{', b'}'),
        Some(b'"') => return skip_string(bytes, pos + 1).ok_or_else(|| truncated("a string")),
        Some(_) => {
            // A scalar: it ends at the next separator.
            let end =
                memchr::memchr3(b',', b'}', b']', &bytes[pos..]).map_or(bytes.len(), |e| pos + e);
            if end == pos {
                return Err(syntax(pos, bytes[pos], "a value"));
            }
            return Ok(end);
        }
        None => return Err(truncated("a value")),
    };
    let mut depth = 0usize;
    let mut i = pos;
    let mut released = pos;
    loop {
        if i - released >= RELEASE_EVERY {
            release(released..i);
            released = i;
        }
        let Some(rel) = memchr::memchr3(b'"', open, close, &bytes[i..]) else {
            return Err(truncated("a value"));
        };
        i += rel;
        match bytes[i] {
            b'"' => i = skip_string(bytes, i + 1).ok_or_else(|| truncated("a string"))?,
            b if b == open => {
                depth += 1;
                i += 1;
            }
            _ => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
        }
    }
}

/// Skips the rest of a string whose opening quote is at `start - 1`; returns the position
/// after the closing quote, or `None` when the file ends first.
fn skip_string(bytes: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let rel = memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
        if bytes[i + rel] == b'\\' {
            i += rel + 2;
        } else {
            return Some(i + rel + 1);
        }
    }
}

fn parse_nodes(
    r: &Reader<'_>,
    m: &SnapshotMeta,
    start: usize,
) -> Result<(NodeColumns, usize), Located> {
    let n = m.node_count;
    let mut cols = NodeColumns {
        kind: vec![0; n],
        name: vec![0; n],
        id: vec![0; n],
        self_size: vec![0; n],
        edge_count: vec![0; n],
        clamped_sizes: 0,
    };
    let sink = NodeSink {
        layout: m.node_layout,
        type_count: m.node_type_names.len() as u64,
        kind: &mut cols.kind,
        name: &mut cols.name,
        id: &mut cols.id,
        self_size: &mut cols.self_size,
        edge_count: &mut cols.edge_count,
        clamped: 0,
    };
    let (clamped, end) = scan_array(r, start, m.node_layout.width, n, "nodes", sink, |s| {
        s.clamped
    })?;
    cols.clamped_sizes = clamped.into_iter().sum();
    Ok((cols, end))
}

fn parse_edges(
    r: &Reader<'_>,
    m: &SnapshotMeta,
    start: usize,
) -> Result<(EdgeColumns, usize), Located> {
    let n = m.edge_count;
    let mut cols = EdgeColumns {
        kind: vec![0; n],
        name: vec![0; n],
        to: vec![0; n],
        ..EdgeColumns::default()
    };
    let sink = EdgeSink {
        layout: m.edge_layout,
        type_count: m.edge_type_names.len() as u64,
        node_width: WidthDivisor::new(m.node_layout.width as u64),
        node_count: m.node_count as u64,
        kind: &mut cols.kind,
        name: &mut cols.name,
        to: &mut cols.to,
    };
    let (_, end) = scan_array(r, start, m.edge_layout.width, n, "edges", sink, |_| ())?;
    Ok((cols, end))
}

/// CSR offsets from the nodes' `edge_count`: node `i` owns edges `offsets[i]..offsets[i + 1]`.
/// Fails when the counts do not add up to `declared`, the header's `edge_count`.
pub(crate) fn csr_offsets(edge_count: &[u32], declared: usize) -> Result<Vec<u32>, Located> {
    let mut offsets = Vec::with_capacity(edge_count.len() + 1);
    let mut sum: u64 = 0;
    offsets.push(0u32);
    for &c in edge_count {
        sum += c as u64;
        offsets.push(sum.min(u32::MAX as u64) as u32);
    }
    if sum != declared as u64 {
        return Err(Located::anywhere(ParseErrorKind::CountMismatch {
            what: "edges (sum of the nodes' edge_count)",
            expected: declared,
            actual: sum.min(usize::MAX as u64) as usize,
        }));
    }
    Ok(offsets)
}

/// Writes only the edges an [`crate::EdgeFilter`] keeps, into per-chunk lists.
struct FilterSink<'a> {
    layout: EdgeLayout,
    node_width: WidthDivisor,
    node_count: u64,
    /// Global index of this window's first edge.
    base: usize,
    /// CSR offsets of all edges, to find each edge's source.
    offsets: &'a [u32],
    node_type: &'a [u8],
    edge_kinds: &'a [EdgeKind],
    /// `keep[(from_type * edge_types + edge_type) * node_types + to_type]`: the filter's
    /// answer for every combination of raw types, computed once.
    keep: &'a [bool],
    node_types: usize,
    /// The source of the last stored edge (`usize::MAX` before the first).
    source: usize,
    kept: Vec<(u32, u8, u32, u32)>,
    max_name: (u32, usize),
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

fn parse_edges_filtered(
    r: &Reader<'_>,
    m: &SnapshotMeta,
    start: usize,
    nodes: &NodeColumns,
    filter: crate::EdgeFilter,
) -> Result<(EdgeColumns, usize), Located> {
    let offsets = csr_offsets(&nodes.edge_count, m.edge_count)?;
    let node_kinds: Vec<NodeKind> = m
        .node_type_names
        .iter()
        .map(|n| NodeKind::from_name(n))
        .collect();
    let edge_kinds: Vec<EdgeKind> = m
        .edge_type_names
        .iter()
        .map(|n| EdgeKind::from_name(n))
        .collect();
    let mut keep = Vec::with_capacity(node_kinds.len() * edge_kinds.len() * node_kinds.len());
    for &from in &node_kinds {
        for &edge in &edge_kinds {
            for &to in &node_kinds {
                keep.push(filter(from, edge, to));
            }
        }
    }
    let sink = FilterSink {
        layout: m.edge_layout,
        node_width: WidthDivisor::new(m.node_layout.width as u64),
        node_count: m.node_count as u64,
        base: 0,
        offsets: &offsets,
        node_type: &nodes.kind,
        edge_kinds: &edge_kinds,
        keep: &keep,
        node_types: node_kinds.len(),
        source: usize::MAX,
        kept: Vec::new(),
        max_name: (0, 0),
    };
    let (parts, end) = scan_array(
        r,
        start,
        m.edge_layout.width,
        m.edge_count,
        "edges",
        sink,
        |s| (s.kept, s.max_name),
    )?;
    let kept_count: usize = parts.iter().map(|(k, _)| k.len()).sum();
    let mut cols = EdgeColumns {
        kind: Vec::with_capacity(kept_count),
        name: Vec::with_capacity(kept_count),
        to: Vec::with_capacity(kept_count),
        first_edge: None,
        max_name: None,
    };
    let mut first_edge = vec![0u32; m.node_count + 1];
    let mut max_name = (0u32, 0usize);
    // Chunks are in edge order and edges are grouped by source, so the kept edges come out
    // sorted by source: counting them per source gives the CSR.
    for (kept, mx) in parts {
        if mx.0 > max_name.0 {
            max_name = mx;
        }
        for (source, kind, name, to) in kept {
            first_edge[source as usize + 1] += 1;
            cols.kind.push(kind);
            cols.name.push(name);
            cols.to.push(to);
        }
    }
    for i in 0..m.node_count {
        first_edge[i + 1] += first_edge[i];
    }
    cols.first_edge = Some(first_edge);
    cols.max_name = Some(max_name);
    Ok((cols, end))
}

/// One piece of array text that starts on a record boundary.
struct Chunk {
    start: usize,
    end: usize,
    records: usize,
    /// The chunk ends at the array's `]`.
    last: bool,
}

/// Scans the integer array whose text starts at `start` (just after its `[`) as `expected`
/// records of `width` integers into `sink`, in batches of parallel chunks. Returns `finish`
/// of each chunk's sink, in order, and the position of the closing `]`.
fn scan_array<S: RecordSink, T: Send>(
    r: &Reader<'_>,
    start: usize,
    width: usize,
    expected: usize,
    what: &'static str,
    sink: S,
    finish: impl Fn(S) -> T + Sync,
) -> Result<(Vec<T>, usize), Located> {
    let batch_chunks = rayon::current_num_threads().max(1) * 2;
    let mut rest = Some(sink);
    let mut pos = start;
    let mut records = 0usize;
    let mut results = Vec::new();
    let mut end = None;
    while end.is_none() {
        let batch_start = pos;
        let mut chunks = Vec::with_capacity(batch_chunks);
        while chunks.len() < batch_chunks && end.is_none() {
            let (chunk, last) = next_chunk(r.bytes, pos, width, what)?;
            pos = chunk.end;
            if last {
                end = Some(chunk.end);
            }
            records += chunk.records;
            if records > expected {
                let rest_end =
                    memchr::memchr(b']', &r.bytes[pos..]).map_or(r.bytes.len(), |e| pos + e);
                let actual = records + count_ints(&r.bytes[pos..rest_end], true) / width;
                return Err(Located::at(
                    start as u64,
                    ParseErrorKind::CountMismatch {
                        what,
                        expected,
                        actual,
                    },
                ));
            }
            chunks.push(chunk);
        }
        let mut parts = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            let (head, tail) = rest
                .take()
                .map(|s| s.split_at(chunk.records))
                .ok_or_else(|| {
                    Located::anywhere(ParseErrorKind::NotASnapshot(
                        "internal: sink exhausted".into(),
                    ))
                })?;
            parts.push(head);
            rest = Some(tail);
        }
        let done = chunks
            .par_iter()
            .zip(parts.into_par_iter())
            .map(|(chunk, mut part)| {
                scan_chunk(r.bytes, chunk, width, what, &mut part)?;
                Ok(finish(part))
            })
            .collect::<Result<Vec<T>, Located>>()?;
        results.extend(done);
        (r.release)(batch_start..pos);
        (r.progress)(pos as u64);
    }
    if records != expected {
        return Err(Located::at(
            start as u64,
            ParseErrorKind::CountMismatch {
                what,
                expected,
                actual: records,
            },
        ));
    }
    Ok((results, pos))
}

/// Counts the integers in a piece of array text: one per comma, plus a last one when the
/// text is the end of the array and holds any digit after its last comma.
fn count_ints(text: &[u8], is_last: bool) -> usize {
    let commas = memchr::memchr_iter(b',', text).count();
    if !is_last {
        return commas;
    }
    let tail = match memchr::memrchr(b',', text) {
        Some(p) => &text[p + 1..],
        None => text,
    };
    commas + usize::from(tail.iter().any(u8::is_ascii_digit))
}

/// Finds the next chunk of about `CHUNK_BYTES` from `pos`: it ends just after a comma on a
/// record boundary, or at the array's closing `]` (then the flag is true). Integer arrays
/// hold no `]`, so the first one closes the array.
fn next_chunk(
    bytes: &[u8],
    pos: usize,
    width: usize,
    what: &'static str,
) -> Result<(Chunk, bool), Located> {
    let truncated = || {
        Located::at(
            bytes.len() as u64,
            ParseErrorKind::Truncated("an integer array"),
        )
    };
    let window_end = pos.saturating_add(CHUNK_BYTES).min(bytes.len());
    let close = match memchr::memchr(b']', &bytes[pos..window_end]) {
        Some(rel) => Some(pos + rel),
        None if window_end == bytes.len() => return Err(truncated()),
        None => {
            let mut ints = count_ints(&bytes[pos..window_end], false);
            let mut cut = window_end;
            // Extend to just past the comma that completes a record, unless the array ends.
            loop {
                match memchr::memchr2(b',', b']', &bytes[cut..]) {
                    None => return Err(truncated()),
                    Some(rel) if bytes[cut + rel] == b']' => break Some(cut + rel),
                    Some(rel) => {
                        cut += rel + 1;
                        ints += 1;
                        if ints % width == 0 {
                            let chunk = Chunk {
                                start: pos,
                                end: cut,
                                records: ints / width,
                                last: false,
                            };
                            return Ok((chunk, false));
                        }
                    }
                }
            }
        }
    };
    let end = close.ok_or_else(truncated)?;
    let ints = count_ints(&bytes[pos..end], true);
    if ints % width != 0 {
        return Err(Located::at(
            end as u64,
            ParseErrorKind::Syntax {
                found: format!("{ints} integers, not a multiple of {width}"),
                context: what,
            },
        ));
    }
    let chunk = Chunk {
        start: pos,
        end,
        records: ints / width,
        last: true,
    };
    Ok((chunk, true))
}

#[inline(always)]
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// The hot loop: parses the integers of one chunk and stores each completed record.
///
/// It consumes a whole run of digits at a time (most numbers have one to three), then
/// expects optional white space and a comma, so each byte costs one compare.
fn scan_chunk<S: RecordSink>(
    bytes: &[u8],
    chunk: &Chunk,
    width: usize,
    what: &'static str,
    sink: &mut S,
) -> Result<(), Located> {
    let t = &bytes[chunk.start..chunk.end];
    let n = t.len();
    let mut fields = [0u64; MAX_FIELDS];
    let mut field = 0usize;
    let mut record = 0usize;
    let fail = |i: usize, kind: ParseErrorKind| Located::at((chunk.start + i) as u64, kind);
    let unexpected = |i: usize| {
        let found = match t.get(i) {
            Some(b',') => "an empty element".to_owned(),
            Some(&b) => describe_byte(b),
            None => "the end of the array after a comma".to_owned(),
        };
        fail(
            i,
            ParseErrorKind::Syntax {
                found,
                context: what,
            },
        )
    };
    let mut i = 0usize;
    while i < n {
        while i < n && is_json_space(t[i]) {
            i += 1;
        }
        if i == n {
            break;
        }
        let start = i;
        let mut acc = 0u64;
        while i < n {
            let d = t[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            acc = acc.wrapping_mul(10).wrapping_add(d as u64);
            i += 1;
        }
        if i == start {
            return Err(unexpected(i));
        }
        // 19 digits always fit a u64; the sinks reject whatever exceeds their field.
        if i - start > 19 {
            return Err(fail(start, ParseErrorKind::Overflow(what)));
        }
        fields[field] = acc;
        field += 1;
        if field == width {
            if record >= chunk.records {
                return Err(fail(
                    i,
                    ParseErrorKind::Syntax {
                        found: "more records than counted".into(),
                        context: what,
                    },
                ));
            }
            sink.store(record, &fields).map_err(|k| fail(start, k))?;
            record += 1;
            field = 0;
        }
        while i < n && is_json_space(t[i]) {
            i += 1;
        }
        if i == n {
            break;
        }
        if t[i] != b',' {
            return Err(unexpected(i));
        }
        i += 1;
        if i == n && chunk.last {
            return Err(unexpected(i));
        }
    }
    if field != 0 || record != chunk.records {
        return Err(fail(
            n,
            ParseErrorKind::Syntax {
                found: "a record cut short".into(),
                context: what,
            },
        ));
    }
    Ok(())
}

/// Parses the `strings` array at `pos`; returns the table and the position after it.
fn parse_strings(r: &Reader<'_>, pos: usize) -> Result<(StringTable, usize), Located> {
    let bytes = r.bytes;
    match bytes.get(pos) {
        Some(b'[') => {}
        Some(&b) => return Err(syntax(pos, b, "the strings array")),
        None => {
            return Err(Located::at(
                pos as u64,
                ParseErrorKind::Truncated("the strings array"),
            ))
        }
    }
    let mut table = StringTable::new();
    let mut buf = Vec::new();
    let mut pos = skip_ws(bytes, pos + 1);
    if bytes.get(pos) == Some(&b']') {
        return Ok((table, pos + 1));
    }
    loop {
        match bytes.get(pos) {
            Some(b'"') => {}
            Some(&b) => return Err(syntax(pos, b, "the strings array")),
            None => {
                return Err(Located::at(
                    pos as u64,
                    ParseErrorKind::Truncated("the strings array"),
                ))
            }
        }
        buf.clear();
        pos = decode_json_string(bytes, pos + 1, &mut buf)
            .map_err(|(p, k)| Located::at(p as u64, k))?;
        table.push_bytes(&buf);
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b']') => return Ok((table, pos + 1)),
            Some(&b) => return Err(syntax(pos, b, "the strings array")),
            None => {
                return Err(Located::at(
                    pos as u64,
                    ParseErrorKind::Truncated("the strings array"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_divisor_matches_division() {
        for width in 1..=32u64 {
            let d = WidthDivisor::new(width);
            let samples = (0..5000u64).chain([
                u32::MAX as u64 - 7,
                u32::MAX as u64,
                u32::MAX as u64 + 1,
                1 << 40,
                (1 << 40) + 3,
            ]);
            for v in samples {
                let expected = (v % width == 0).then_some(v / width);
                assert_eq!(d.exact(v), expected, "{v} / {width}");
            }
            for q in [0u64, 1, 12345, (u32::MAX as u64) / width] {
                assert_eq!(d.exact(q * width), Some(q), "{q} * {width}");
            }
        }
    }
}
