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

mod scan;
mod sinks;

use crate::error::{describe_byte, Located, ParseErrorKind};
use crate::json::{value_end, Skipper};
use crate::meta::{EdgeKind, NodeKind, SnapshotMeta};
use crate::source::Source;
use crate::strings::{decode_json_string, StringTable};

use scan::{is_json_space, scan_array};
use sinks::{EdgeSink, FilterSink, NodeSink, WidthDivisor};

/// Bytes of array text per parallel chunk. A batch of chunks is held in memory at a time:
/// 1 MiB chunks (4 MiB a batch on two cores) parse as fast as the 4 MiB ones that suited
/// the memory map, and keep peak memory where the mapping's released pages kept it.
pub(crate) const CHUNK_BYTES: usize = 1 << 20;
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
