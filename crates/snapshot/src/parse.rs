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
use crate::meta::{EdgeLayout, NodeLayout, SnapshotMeta};
use crate::strings::{decode_json_string, StringTable};

/// Bytes of array text per parallel chunk.
const CHUNK_BYTES: usize = 8 << 20;
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

struct EdgeSink<'a> {
    layout: EdgeLayout,
    type_count: u64,
    node_width: u64,
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
        if to % self.node_width != 0 || to / self.node_width >= self.node_count {
            return Err(ParseErrorKind::EdgeTargetOutOfRange {
                edge: i,
                value: to.min(u32::MAX as u64) as u32,
                node_count: self.node_count as usize,
            });
        }
        self.kind[i] = kind as u8;
        self.name[i] = narrow(f[l.name_or_index], "an edge name_or_index")?;
        self.to[i] = (to / self.node_width) as u32;
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
                let end = skip_value(bytes, pos)?;
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
                let (start, end) = array_text(bytes, pos)?;
                if key == b"nodes" {
                    nodes = Some(parse_nodes(r, m, start, end)?);
                } else {
                    edges = Some(parse_edges(r, m, start, end)?);
                }
                pos = end + 1;
            }
            b"strings" => {
                let (table, end) = parse_strings(r, pos)?;
                strings = Some(table);
                pos = end;
            }
            // locations, samples, trace_function_infos, trace_tree and anything newer.
            _ => pos = skip_value(bytes, pos)?,
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

/// For an array value at `pos`, returns the range of the text between its brackets.
/// Integer arrays hold no `]`, so the first one closes the array.
fn array_text(bytes: &[u8], pos: usize) -> Result<(usize, usize), Located> {
    match bytes.get(pos) {
        Some(b'[') => {}
        Some(&b) => return Err(syntax(pos, b, "an integer array")),
        None => {
            return Err(Located::at(
                pos as u64,
                ParseErrorKind::Truncated("an integer array"),
            ))
        }
    }
    let start = pos + 1;
    match memchr::memchr(b']', &bytes[start..]) {
        Some(rel) => Ok((start, start + rel)),
        None => Err(Located::at(
            bytes.len() as u64,
            ParseErrorKind::Truncated("an integer array"),
        )),
    }
}

/// Skips one JSON value starting at `pos` and returns the position after it. Used for the
/// header object and for the sections leaktrail does not need.
fn skip_value(bytes: &[u8], pos: usize) -> Result<usize, Located> {
    let mut depth = 0usize;
    let mut i = pos;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Skip the string, honouring escapes.
                i += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                        None => {
                            return Err(Located::at(
                                bytes.len() as u64,
                                ParseErrorKind::Truncated("a string"),
                            ))
                        }
                        Some(rel) if bytes[i + rel] == b'\\' => i += rel + 2,
                        Some(rel) => {
                            i += rel + 1;
                            break;
                        }
                    }
                }
                if depth == 0 {
                    return Ok(i);
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                if depth == 0 {
                    // The end of the object holding a scalar value.
                    if i == pos {
                        return Err(syntax(i, bytes[i], "a value"));
                    }
                    return Ok(i);
                }
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            b',' if depth == 0 => {
                if i == pos {
                    return Err(syntax(i, bytes[i], "a value"));
                }
                return Ok(i);
            }
            _ => {}
        }
        i += 1;
    }
    if depth == 0 && i > pos {
        return Ok(i);
    }
    Err(Located::at(
        bytes.len() as u64,
        ParseErrorKind::Truncated("a value"),
    ))
}

fn parse_nodes(
    r: &Reader<'_>,
    m: &SnapshotMeta,
    start: usize,
    end: usize,
) -> Result<NodeColumns, Located> {
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
    cols.clamped_sizes = scan_array(r, start, end, m.node_layout.width, n, "nodes", sink, |s| {
        s.clamped
    })?;
    Ok(cols)
}

fn parse_edges(
    r: &Reader<'_>,
    m: &SnapshotMeta,
    start: usize,
    end: usize,
) -> Result<EdgeColumns, Located> {
    let n = m.edge_count;
    let mut cols = EdgeColumns {
        kind: vec![0; n],
        name: vec![0; n],
        to: vec![0; n],
    };
    let sink = EdgeSink {
        layout: m.edge_layout,
        type_count: m.edge_type_names.len() as u64,
        node_width: m.node_layout.width as u64,
        node_count: m.node_count as u64,
        kind: &mut cols.kind,
        name: &mut cols.name,
        to: &mut cols.to,
    };
    scan_array(r, start, end, m.edge_layout.width, n, "edges", sink, |_| 0)?;
    Ok(cols)
}

/// One piece of array text that starts on a record boundary.
struct Chunk {
    start: usize,
    end: usize,
    records: usize,
}

/// Scans the array text `bytes[start..end]` as `expected` records of `width` integers into
/// `sink`, in batches of parallel chunks. Returns the sum of `tally` over the chunk sinks.
#[allow(clippy::too_many_arguments)]
fn scan_array<S: RecordSink>(
    r: &Reader<'_>,
    start: usize,
    end: usize,
    width: usize,
    expected: usize,
    what: &'static str,
    sink: S,
    tally: impl Fn(&S) -> usize + Sync,
) -> Result<usize, Located> {
    let batch_chunks = rayon::current_num_threads().max(1) * 2;
    let mut rest = Some(sink);
    let mut pos = start;
    let mut records = 0usize;
    let mut total = 0usize;
    while pos < end {
        let batch_start = pos;
        let mut chunks = Vec::with_capacity(batch_chunks);
        while chunks.len() < batch_chunks && pos < end {
            let chunk = next_chunk(r.bytes, pos, end, width, what)?;
            pos = chunk.end;
            records += chunk.records;
            if records > expected {
                let actual = records + count_ints(&r.bytes[pos..end], true) / width;
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
        let sums = chunks
            .par_iter()
            .zip(parts.into_par_iter())
            .map(|(chunk, mut part)| {
                scan_chunk(r.bytes, chunk, width, what, &mut part)?;
                Ok(tally(&part))
            })
            .collect::<Result<Vec<usize>, Located>>()?;
        total += sums.iter().sum::<usize>();
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
    Ok(total)
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

/// Finds the next chunk of about `CHUNK_BYTES` that ends just after a comma on a record
/// boundary, or at the end of the array.
fn next_chunk(
    bytes: &[u8],
    pos: usize,
    end: usize,
    width: usize,
    what: &'static str,
) -> Result<Chunk, Located> {
    let rough = pos.saturating_add(CHUNK_BYTES);
    if rough < end {
        let mut ints = count_ints(&bytes[pos..rough], false);
        let mut cut = rough;
        // Extend to just past the comma that completes a record.
        while ints % width != 0 || cut == rough {
            match memchr::memchr(b',', &bytes[cut..end]) {
                Some(rel) => {
                    cut += rel + 1;
                    ints += 1;
                }
                None => break,
            }
            if ints % width == 0 {
                return Ok(Chunk {
                    start: pos,
                    end: cut,
                    records: ints / width,
                });
            }
        }
    }
    let ints = count_ints(&bytes[pos..end], true);
    if ints % width != 0 {
        return Err(Located::at(
            end as u64,
            ParseErrorKind::Syntax {
                found: format!("{} integers, not a multiple of {width}", ints),
                context: what,
            },
        ));
    }
    Ok(Chunk {
        start: pos,
        end,
        records: ints / width,
    })
}

/// The hot loop: parses the integers of one chunk and stores each completed record.
fn scan_chunk<S: RecordSink>(
    bytes: &[u8],
    chunk: &Chunk,
    width: usize,
    what: &'static str,
    sink: &mut S,
) -> Result<(), Located> {
    let text = &bytes[chunk.start..chunk.end];
    let mut fields = [0u64; MAX_FIELDS];
    let mut field = 0usize;
    let mut record = 0usize;
    let mut acc: u64 = 0;
    // 0: before a number, 1: inside one, 2: after one (whitespace seen).
    let mut state = 0u8;
    let fail = |i: usize, kind: ParseErrorKind| Located::at((chunk.start + i) as u64, kind);
    for (i, &b) in text.iter().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            if state == 2 {
                return Err(fail(
                    i,
                    ParseErrorKind::Syntax {
                        found: "a space inside a number".into(),
                        context: what,
                    },
                ));
            }
            // 20 digits overflow u64; anything above u32 is rejected by the sink anyway.
            if acc >= 1 << 59 {
                return Err(fail(i, ParseErrorKind::Overflow(what)));
            }
            acc = acc * 10 + d as u64;
            state = 1;
        } else if b == b',' {
            if state == 0 {
                return Err(fail(
                    i,
                    ParseErrorKind::Syntax {
                        found: "an empty element".into(),
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
                sink.store(record, &fields).map_err(|k| fail(i, k))?;
                record += 1;
                field = 0;
            }
            acc = 0;
            state = 0;
        } else if b.is_ascii_whitespace() {
            if state == 1 {
                state = 2;
            }
        } else {
            return Err(fail(
                i,
                ParseErrorKind::Syntax {
                    found: describe_byte(b),
                    context: what,
                },
            ));
        }
    }
    if state != 0 {
        fields[field] = acc;
        field += 1;
        if field == width {
            if record >= chunk.records {
                return Err(fail(
                    text.len(),
                    ParseErrorKind::Syntax {
                        found: "more records than counted".into(),
                        context: what,
                    },
                ));
            }
            sink.store(record, &fields)
                .map_err(|k| fail(text.len(), k))?;
            record += 1;
            field = 0;
        }
    }
    if field != 0 || record != chunk.records {
        return Err(fail(
            text.len(),
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
