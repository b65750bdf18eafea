//! The parser: finds the top-level sections and scans the integer arrays into columns.
//!
//! The `nodes` and `edges` arrays are about 93 % of a snapshot and decide the parse time.
//! They are read by a hand-written byte scanner, not serde: measured on a 309 MB snapshot it
//! runs about 5× faster than `serde_json` on these arrays and writes straight into the
//! columns, so no intermediate `Vec<u32>` of raw records ever exists (see
//! `shared/research/rust-ecosystem.md` §1). The arrays are cut into chunks that start on a
//! record boundary (found by counting commas, which `memchr` does at several GB/s) and the
//! chunks of a batch are scanned in parallel with rayon, each into its own disjoint slice of
//! every column. The file is read through a [`Source`] that holds about one batch at a time,
//! so the file's bytes never pile up in memory.
//!
//! The file must be one JSON object and nothing else: the sections leaktrail skips are
//! validated as JSON too, numbers with a leading zero are refused everywhere, and only white
//! space may follow the closing `}`.

use rayon::prelude::*;

use crate::error::{describe_byte, Located, ParseErrorKind};
use crate::json::{value_end, Skipper};
use crate::meta::{EdgeKind, EdgeLayout, NodeKind, NodeLayout, SnapshotMeta};
use crate::source::Source;
use crate::strings::{decode_json_string, StringTable};

/// Bytes of array text per parallel chunk. A batch of chunks is held in memory at a time:
/// 1 MiB chunks (4 MiB a batch on two cores) parse as fast as the 4 MiB ones that suited
/// the memory map, and keep peak memory where the mapping's released pages kept it.
pub(crate) const CHUNK_BYTES: usize = 1 << 20;
/// With many threads the chunks shrink so that a batch stays under this size.
const BATCH_BYTES: usize = 32 << 20;
/// Chunks do not shrink below this: the per-chunk work must outweigh the batch's barrier.
const MIN_CHUNK_BYTES: usize = 256 << 10;
/// Most integers a record may have; V8 writes 7 per node and 3 per edge.
pub(crate) const MAX_FIELDS: usize = 32;

/// What the parser is asked to do besides parsing.
pub(crate) struct Hooks<'a> {
    /// Called with the number of bytes processed so far.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Keep only the edges this accepts (see [`crate::EdgeFilter`]); `None` keeps all.
    pub edge_filter: Option<crate::EdgeFilter>,
    /// Bytes per parallel chunk; `None` picks from the thread count.
    pub chunk_bytes: Option<usize>,
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

/// Parses a whole snapshot.
pub(crate) fn parse(src: &mut Source<'_>, hooks: &Hooks<'_>) -> Result<RawSnapshot, Located> {
    let mut pos = skip_ws(src, 0)?;
    match src.byte(pos)? {
        None => return Err(Located::anywhere(ParseErrorKind::Empty)),
        Some(b'{') => pos += 1,
        Some(b) => {
            return Err(Located::at(
                pos as u64,
                ParseErrorKind::NotASnapshot(format!(
                    "expected a JSON object, found {}",
                    describe_byte(b)
                )),
            ))
        }
    }
    let mut meta: Option<SnapshotMeta> = None;
    let mut nodes: Option<NodeColumns> = None;
    let mut edges: Option<EdgeColumns> = None;
    let mut strings: Option<StringTable> = None;
    let mut key = Vec::new();
    let truncated = |pos: usize| {
        Located::at(
            pos as u64,
            ParseErrorKind::Truncated("the top-level object"),
        )
    };
    let mut first = true;
    loop {
        pos = skip_ws(src, pos)?;
        match src.byte(pos)? {
            None => return Err(truncated(pos)),
            // `{}` is an object, but `{"a":1,}` is not.
            Some(b'}') if first => break,
            Some(b'"') => {}
            Some(b) => return Err(syntax(pos, b, "the top-level object")),
        }
        first = false;
        pos += src.token(pos, |text, _| {
            key.clear();
            decode_json_string(text, 1, &mut key)
        })?;
        pos = skip_ws(src, pos)?;
        match src.byte(pos)? {
            Some(b':') => pos += 1,
            Some(b) => return Err(syntax(pos, b, "the top-level object")),
            None => return Err(truncated(pos)),
        }
        pos = skip_ws(src, pos)?;
        match key.as_slice() {
            b"snapshot" => {
                let (m, end) = src.token(pos, |text, _| {
                    let end = value_end(text, "the snapshot header")?;
                    let m = SnapshotMeta::from_json(&text[..end]).map_err(|k| (0, k))?;
                    Ok((m, end))
                })?;
                if m.node_layout.width > MAX_FIELDS || m.edge_layout.width > MAX_FIELDS {
                    return Err(Located::at(
                        pos as u64,
                        ParseErrorKind::BadMeta(format!(
                            "more than {MAX_FIELDS} fields per record"
                        )),
                    ));
                }
                pos += end;
                check_counts(&m, src.len(), pos).map_err(|k| Located::at(pos as u64, k))?;
                meta = Some(m);
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
                let start = array_start(src, pos)?;
                let end;
                if key == b"nodes" {
                    let (cols, e) = parse_nodes(src, hooks, m, start)?;
                    nodes = Some(cols);
                    end = e;
                } else if let Some(filter) = hooks.edge_filter {
                    let Some(n) = nodes.as_ref() else {
                        return Err(Located::at(
                            pos as u64,
                            ParseErrorKind::NotASnapshot(
                                "the edges array comes before the nodes array".into(),
                            ),
                        ));
                    };
                    let (cols, e) = parse_edges_filtered(src, hooks, m, start, n, filter)?;
                    edges = Some(cols);
                    end = e;
                } else {
                    let (cols, e) = parse_edges(src, hooks, m, start)?;
                    edges = Some(cols);
                    end = e;
                }
                pos = end + 1;
            }
            b"strings" => {
                let (table, end) = parse_strings(src, pos)?;
                strings = Some(table);
                pos = end;
            }
            // locations, samples, trace_function_infos, trace_tree and anything newer.
            _ => pos = skip_value(src, pos)?,
        }
        (hooks.progress)(pos as u64);
        pos = skip_ws(src, pos)?;
        match src.byte(pos)? {
            Some(b',') => pos += 1,
            Some(b'}') => break,
            Some(b) => return Err(syntax(pos, b, "the top-level object")),
            None => return Err(truncated(pos)),
        }
    }
    // A file with more after the object is not a snapshot (two concatenated, or one
    // with something appended): nothing but white space may follow.
    let after = skip_ws(src, pos + 1)?;
    if let Some(b) = src.byte(after)? {
        return Err(Located::at(
            after as u64,
            ParseErrorKind::TrailingBytes {
                found: describe_byte(b),
            },
        ));
    }
    (hooks.progress)(src.len() as u64);
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

/// Refuses header counts that the rest of a file of `len` bytes (from `after_header` on)
/// cannot hold, before the columns are allocated from them: every integer takes at least
/// two bytes (a digit and a comma, or the closing bracket), so `n` records of `w` integers
/// take at least `2 × n × w` bytes. Without this a 4 MB file declaring 2^32 − 1 nodes would
/// ask for tens of GB at once and abort the process under a memory limit.
fn check_counts(m: &SnapshotMeta, len: usize, after_header: usize) -> Result<(), ParseErrorKind> {
    let room = len.saturating_sub(after_header) as u64;
    let fits = |width: usize, room: u64| room / (2 * width.max(1) as u64);
    let too_large = |field, declared: usize, fits, per_record| ParseErrorKind::CountTooLarge {
        field,
        declared: declared as u64,
        fits,
        per_record,
        file_size: len as u64,
    };
    let node_width = m.node_layout.width;
    let edge_width = m.edge_layout.width;
    let nodes_fit = fits(node_width, room);
    if m.node_count as u64 > nodes_fit {
        return Err(too_large("node_count", m.node_count, nodes_fit, node_width));
    }
    let node_bytes = 2 * (m.node_count * node_width) as u64;
    let edges_fit = fits(edge_width, room - node_bytes);
    if m.edge_count as u64 > edges_fit {
        return Err(too_large("edge_count", m.edge_count, edges_fit, edge_width));
    }
    Ok(())
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

/// The position of the first byte at or after `pos` that is not JSON white space.
#[inline]
fn skip_ws(src: &mut Source<'_>, mut pos: usize) -> Result<usize, Located> {
    while let Some(b) = src.byte(pos)? {
        if !is_json_space(b) {
            break;
        }
        pos += 1;
    }
    Ok(pos)
}

/// Checks that an array starts at `pos` and returns the position after its `[`. The end
/// is found while scanning, so that the array is read once.
fn array_start(src: &mut Source<'_>, pos: usize) -> Result<usize, Located> {
    match src.byte(pos)? {
        Some(b'[') => Ok(pos + 1),
        Some(b) => Err(syntax(pos, b, "an integer array")),
        None => Err(Located::at(
            pos as u64,
            ParseErrorKind::Truncated("an integer array"),
        )),
    }
}

/// Validates and skips one JSON value starting at `pos`; returns the position after it.
/// Used for the sections leaktrail does not need (`locations`, `samples`, `trace_tree`, …),
/// which can be tens of MB: they are read block by block and never held whole.
fn skip_value(src: &mut Source<'_>, pos: usize) -> Result<usize, Located> {
    let mut skipper = Skipper::new();
    let mut at = pos;
    loop {
        let text = src.window(at)?;
        let read = text.len();
        if let Some(end) = skipper
            .feed(text)
            .map_err(|(p, k)| Located::at((at + p) as u64, k))?
        {
            return Ok(at + end);
        }
        at += read;
        if at >= src.len() {
            return Err(Located::at(
                src.len() as u64,
                ParseErrorKind::Truncated("a value"),
            ));
        }
        src.fill(at, at + src.block())?;
    }
}

fn parse_nodes(
    src: &mut Source<'_>,
    hooks: &Hooks<'_>,
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
    let (clamped, end) = scan_array(
        src,
        hooks,
        start,
        m.node_layout.width,
        n,
        "nodes",
        sink,
        |s| s.clamped,
    )?;
    cols.clamped_sizes = clamped.into_iter().sum();
    Ok((cols, end))
}

fn parse_edges(
    src: &mut Source<'_>,
    hooks: &Hooks<'_>,
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
    let (_, end) = scan_array(
        src,
        hooks,
        start,
        m.edge_layout.width,
        n,
        "edges",
        sink,
        |_| (),
    )?;
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
    src: &mut Source<'_>,
    hooks: &Hooks<'_>,
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
        src,
        hooks,
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
#[allow(clippy::too_many_arguments)]
fn scan_array<S: RecordSink, T: Send>(
    src: &mut Source<'_>,
    hooks: &Hooks<'_>,
    start: usize,
    width: usize,
    expected: usize,
    what: &'static str,
    sink: S,
    finish: impl Fn(S) -> T + Sync,
) -> Result<(Vec<T>, usize), Located> {
    // Two chunks per thread balance uneven chunks; with many threads the chunks shrink and
    // then their count stops, so that the batch stays under BATCH_BYTES (it is held in
    // memory, unlike the mapped pages the parser once used, which the kernel could reclaim).
    let threads = rayon::current_num_threads().max(1);
    let batch_chunks = (threads * 2).min(BATCH_BYTES / MIN_CHUNK_BYTES);
    let chunk_bytes = hooks
        .chunk_bytes
        .unwrap_or_else(|| (BATCH_BYTES / batch_chunks).clamp(MIN_CHUNK_BYTES, CHUNK_BYTES))
        .max(1);
    let mut rest = Some(sink);
    let mut pos = start;
    let mut records = 0usize;
    let mut results = Vec::new();
    let mut end = None;
    while end.is_none() {
        // Every chunk of the batch stays in the window until the batch is scanned.
        let batch_start = pos;
        let mut chunks = Vec::with_capacity(batch_chunks);
        while chunks.len() < batch_chunks && end.is_none() {
            let chunk = next_chunk(src, batch_start, pos, pos > start, width, what, chunk_bytes)?;
            pos = chunk.end;
            if chunk.last {
                end = Some(chunk.end);
            }
            records += chunk.records;
            if records > expected {
                let actual = records + count_rest(src, pos)? / width;
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
        let text = src.window(batch_start)?;
        let done = chunks
            .par_iter()
            .zip(parts.into_par_iter())
            .map(|(chunk, mut part)| {
                let t = text
                    .get(chunk.start - batch_start..chunk.end - batch_start)
                    .ok_or_else(|| {
                        Located::anywhere(ParseErrorKind::NotASnapshot(
                            "internal: chunk outside the window".into(),
                        ))
                    })?;
                scan_chunk(t, chunk, width, what, &mut part)?;
                Ok(finish(part))
            })
            .collect::<Result<Vec<T>, Located>>()?;
        results.extend(done);
        (hooks.progress)(pos as u64);
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

/// Counts the integers from `pos` to the array's `]` (or the end of the file), for the
/// message of an array longer than its header says; read block by block.
fn count_rest(src: &mut Source<'_>, pos: usize) -> Result<usize, Located> {
    let mut commas = 0;
    let mut digit_after_last_comma = false;
    let mut at = pos;
    loop {
        let window = src.window(at)?;
        let close = memchr::memchr(b']', window);
        let text = &window[..close.unwrap_or(window.len())];
        commas += memchr::memchr_iter(b',', text).count();
        match memchr::memrchr(b',', text) {
            Some(p) => digit_after_last_comma = text[p + 1..].iter().any(u8::is_ascii_digit),
            None => digit_after_last_comma |= text.iter().any(u8::is_ascii_digit),
        }
        at += window.len();
        if close.is_some() || at >= src.len() {
            return Ok(commas + usize::from(digit_after_last_comma));
        }
        src.fill(at, at + src.block())?;
    }
}

/// Finds the next chunk of about `chunk_bytes` from `pos`: it ends just after a comma on a
/// record boundary, or at the array's closing `]` (then it is the last). Integer arrays
/// hold no `]`, so the first one closes the array. Bytes before `keep` may be dropped;
/// `after_comma` says the previous chunk ended with a comma.
#[allow(clippy::too_many_arguments)]
fn next_chunk(
    src: &mut Source<'_>,
    keep: usize,
    pos: usize,
    after_comma: bool,
    width: usize,
    what: &'static str,
    chunk_bytes: usize,
) -> Result<Chunk, Located> {
    let truncated =
        |len: usize| Located::at(len as u64, ParseErrorKind::Truncated("an integer array"));
    src.fill(keep, pos.saturating_add(chunk_bytes))?;
    let window_end = pos.saturating_add(chunk_bytes).min(src.end());
    let head = &src.window(pos)?[..window_end - pos];
    let close = match memchr::memchr(b']', head) {
        Some(rel) => pos + rel,
        None if window_end >= src.len() => return Err(truncated(src.len())),
        None => {
            let mut ints = count_ints(head, false);
            let mut cut = window_end;
            // Extend to just past the comma that completes a record, unless the array ends.
            loop {
                let text = src.window(cut)?;
                match memchr::memchr2(b',', b']', text) {
                    None if src.complete() => return Err(truncated(src.len())),
                    None => src.fill(keep, src.end() + 1)?,
                    Some(rel) if text[rel] == b']' => break cut + rel,
                    Some(rel) => {
                        cut += rel + 1;
                        ints += 1;
                        if ints % width == 0 {
                            return Ok(Chunk {
                                start: pos,
                                end: cut,
                                records: ints / width,
                                last: false,
                            });
                        }
                    }
                }
            }
        }
    };
    let text = &src.window(pos)?[..close - pos];
    if after_comma && text.iter().all(|&b| is_json_space(b)) {
        // `1,2,]`: the comma that ended the previous chunk is the array's last byte. The
        // scanner cannot see it, as it looks at one chunk at a time (found by the fuzzer).
        return Err(Located::at(
            close as u64,
            ParseErrorKind::Syntax {
                found: "the end of the array after a comma".into(),
                context: what,
            },
        ));
    }
    let ints = count_ints(text, true);
    if ints % width != 0 {
        return Err(Located::at(
            close as u64,
            ParseErrorKind::Syntax {
                found: format!("{ints} integers, not a multiple of {width}"),
                context: what,
            },
        ));
    }
    Ok(Chunk {
        start: pos,
        end: close,
        records: ints / width,
        last: true,
    })
}

#[inline(always)]
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// The hot loop: parses the integers of one chunk (`t` is its text) and stores each
/// completed record.
///
/// It consumes a whole run of digits at a time (most numbers have one to three), then
/// expects optional white space and a comma, so each byte costs one compare.
fn scan_chunk<S: RecordSink>(
    t: &[u8],
    chunk: &Chunk,
    width: usize,
    what: &'static str,
    sink: &mut S,
) -> Result<(), Located> {
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
    // A comma was the last thing read: the array must not end here (`1, ]`).
    let mut after_comma = false;
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
        after_comma = false;
        // JSON has no leading zeros (`007`): whatever wrote one is not V8. 19 digits always
        // fit a u64; the sinks reject whatever exceeds their field. Both tests are folded
        // into one branch, which a good file never takes.
        let digits = i - start;
        if (digits > 19) | ((t[start] == b'0') & (digits > 1)) {
            if digits > 19 {
                return Err(fail(start, ParseErrorKind::Overflow(what)));
            }
            return Err(fail(
                start + 1,
                ParseErrorKind::Syntax {
                    found: "a number with a leading zero".into(),
                    context: what,
                },
            ));
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
        after_comma = true;
    }
    if after_comma && chunk.last {
        return Err(unexpected(n));
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
fn parse_strings(src: &mut Source<'_>, pos: usize) -> Result<(StringTable, usize), Located> {
    let truncated =
        |pos: usize| Located::at(pos as u64, ParseErrorKind::Truncated("the strings array"));
    match src.byte(pos)? {
        Some(b'[') => {}
        Some(b) => return Err(syntax(pos, b, "the strings array")),
        None => return Err(truncated(pos)),
    }
    let mut table = StringTable::new();
    let mut buf = Vec::new();
    let mut pos = skip_ws(src, pos + 1)?;
    if src.byte(pos)? == Some(b']') {
        return Ok((table, pos + 1));
    }
    loop {
        match src.byte(pos)? {
            Some(b'"') => {}
            Some(b) => return Err(syntax(pos, b, "the strings array")),
            None => return Err(truncated(pos)),
        }
        pos += src.token(pos, |text, _| {
            buf.clear();
            decode_json_string(text, 1, &mut buf)
        })?;
        table.push_bytes(&buf);
        pos = skip_ws(src, pos)?;
        match src.byte(pos)? {
            Some(b',') => pos = skip_ws(src, pos + 1)?,
            Some(b']') => return Ok((table, pos + 1)),
            Some(b) => return Err(syntax(pos, b, "the strings array")),
            None => return Err(truncated(pos)),
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
