//! [`HeapSnapshot`]: the parsed graph as a struct of arrays.

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Located, ParseError, ParseErrorKind};
use crate::meta::{EdgeKind, NodeKind, SnapshotMeta};
use crate::parse::{csr_offsets, parse, Hooks, RawSnapshot};
use crate::source::Source;
use crate::strings::StringTable;

const EDGE_TYPE_BITS: u32 = 4;
const EDGE_NAME_BITS: u32 = 32 - EDGE_TYPE_BITS;
const EDGE_NAME_MASK: u32 = (1 << EDGE_NAME_BITS) - 1;
/// Packed names at this value are looked up in the overflow map.
const EDGE_NAME_OVERFLOW: u32 = EDGE_NAME_MASK;
/// Least bytes per read of the file (the integer arrays are read a chunk at a time).
const READ_BLOCK_BYTES: usize = 1 << 20;

/// A node's position in the snapshot (its ordinal, not its V8 id).
pub type NodeIndex = u32;
/// An edge's position in the snapshot.
pub type EdgeIndex = u32;

/// Decides which edges a parse keeps, from the kinds of the source node, the edge and
/// the target node. Analyses that need only a few edges (a summary needs the edges from
/// code to strings) keep memory to the nodes and those edges.
pub type EdgeFilter = fn(from: NodeKind, edge: EdgeKind, to: NodeKind) -> bool;

/// How a snapshot is loaded.
#[derive(Default)]
pub struct ParseOptions<'a> {
    /// Called now and then with the number of bytes parsed so far.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Keep only the edges this accepts; `None` keeps the whole graph. Every edge is still
    /// read and checked.
    pub edge_filter: Option<EdgeFilter>,
    /// Bytes per read and per parallel chunk of the integer arrays; `None` (the default)
    /// picks them for speed. Tests and the fuzzer set a few bytes, so that block boundaries
    /// fall everywhere.
    pub block_bytes: Option<usize>,
}

/// A parsed V8 heap snapshot: nodes and edges as columns, strings stored once.
///
/// Memory is about 17 bytes per node and 9 per edge plus the strings.
#[derive(Debug)]
pub struct HeapSnapshot {
    meta: SnapshotMeta,
    node_kind_table: Vec<NodeKind>,
    edge_kind_table: Vec<EdgeKind>,
    node_type: Vec<u8>,
    node_name: Vec<u32>,
    node_id: Vec<u32>,
    node_self_size: Vec<u32>,
    /// CSR offsets: node `i` owns edges `first_edge[i]..first_edge[i + 1]`.
    first_edge: Vec<u32>,
    /// `type << 28 | name_or_index` per edge: the type in the top 4 bits (V8 has 7 edge
    /// types) saves a byte per edge. Names of 2^28 - 1 or more are in `edge_name_overflow`.
    edge_packed: Vec<u32>,
    edge_name_overflow: std::collections::HashMap<u32, u32>,
    edge_to: Vec<u32>,
    strings: StringTable,
    clamped_sizes: usize,
    file_size: u64,
    /// The [`EdgeFilter`] used at parse time, if any.
    edge_filter: Option<EdgeFilter>,
}

/// The name of an edge: a string for properties and context variables, a number for
/// elements and hidden edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeName<'a> {
    /// A named edge.
    Name(&'a str),
    /// An indexed edge.
    Index(u32),
}

impl std::fmt::Display for EdgeName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EdgeName::Name(s) => f.write_str(s),
            EdgeName::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl HeapSnapshot {
    /// Reads and parses the snapshot at `path`.
    ///
    /// The file is read block by block (not memory-mapped), so a file truncated while it
    /// is read gives an error, not SIGBUS; a file whose size or modification time changed
    /// by the end of the parse is refused too, since its bytes may come from two versions.
    pub fn open(path: &Path, options: &ParseOptions<'_>) -> Result<HeapSnapshot, ParseError> {
        let in_file = |l: Located| l.in_file(path.to_path_buf());
        let io = |e: std::io::Error| in_file(Located::anywhere(ParseErrorKind::Io(e)));
        let file = std::fs::File::open(path).map_err(io)?;
        let before = file.metadata().map_err(io)?;
        if before.is_dir() {
            return Err(in_file(Located::anywhere(ParseErrorKind::NotASnapshot(
                "is a directory".into(),
            ))));
        }
        if before.len() == 0 {
            return Err(in_file(Located::anywhere(ParseErrorKind::Empty)));
        }
        let len = usize::try_from(before.len()).map_err(|_| {
            in_file(Located::anywhere(ParseErrorKind::NotASnapshot(
                "too large for this machine's address space".into(),
            )))
        })?;
        // Never read past the size seen at open: a file still growing is judged as it was.
        let mut reader = (&file).take(before.len());
        let parsed = HeapSnapshot::parse_from(&mut reader, len, options);
        let changed = match file.metadata() {
            Ok(after) if after.len() != before.len() => Some(ParseErrorKind::ChangedSize {
                was: before.len(),
                now: after.len(),
            }),
            Ok(after) if after.modified().ok() != before.modified().ok() => {
                Some(ParseErrorKind::Modified)
            }
            _ => None,
        };
        match (parsed, changed) {
            (Ok(snap), None) => Ok(snap),
            (Err(e), None) => Err(in_file(e)),
            // What went wrong (or what parsed) came from a file that changed meanwhile:
            // that is the error to report, where reading noticed it when it did.
            (parsed, Some(kind)) => Err(in_file(Located {
                offset: parsed.err().and_then(|e| e.offset),
                kind,
            })),
        }
    }

    /// Parses a snapshot held in memory; `name` is used in error messages.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<HeapSnapshot, ParseError> {
        HeapSnapshot::from_bytes_with(bytes, name, &ParseOptions::default())
    }

    /// Parses a snapshot held in memory with options; `name` is used in error messages.
    pub fn from_bytes_with(
        bytes: &[u8],
        name: &str,
        options: &ParseOptions<'_>,
    ) -> Result<HeapSnapshot, ParseError> {
        let mut reader = bytes;
        HeapSnapshot::parse_from(&mut reader, bytes.len(), options)
            .map_err(|l| l.in_file(PathBuf::from(name)))
    }

    /// Parses a snapshot as a stream gives it (a pipe from the process that takes it), at
    /// most `max_len` bytes: no file is ever written, which is the point for a heap that
    /// holds secrets. `name` is used in error messages. Header counts are checked against
    /// `max_len` (the length is not known before the end), so that bounds what the parser
    /// allocates.
    pub fn from_stream(
        reader: &mut dyn Read,
        name: &str,
        max_len: usize,
        options: &ParseOptions<'_>,
    ) -> Result<HeapSnapshot, ParseError> {
        let block = options.block_bytes.unwrap_or(READ_BLOCK_BYTES);
        let src = Source::stream(reader, max_len, block);
        HeapSnapshot::parse_source(src, options).map_err(|l| l.in_file(PathBuf::from(name)))
    }

    /// Parses the `len` bytes `reader` gives: the one path for files and memory, so that
    /// tests and the fuzzer exercise what `open` runs.
    fn parse_from(
        reader: &mut dyn Read,
        len: usize,
        options: &ParseOptions<'_>,
    ) -> Result<HeapSnapshot, Located> {
        let block = options.block_bytes.unwrap_or(READ_BLOCK_BYTES);
        HeapSnapshot::parse_source(Source::new(reader, len, block), options)
    }

    fn parse_source(
        mut src: Source<'_>,
        options: &ParseOptions<'_>,
    ) -> Result<HeapSnapshot, Located> {
        let hooks = Hooks {
            progress: options.progress.unwrap_or(&|_| {}),
            edge_filter: options.edge_filter,
            chunk_bytes: options.block_bytes,
        };
        let raw = parse(&mut src, &hooks);
        if !src.ends_at_limit()? {
            // The stream reached its limit without ending: whatever the parse made of the
            // bytes up to there, the snapshot is larger than allowed.
            return Err(Located::at(
                src.len() as u64,
                ParseErrorKind::NotASnapshot(format!(
                    "the stream is longer than its limit of {} bytes",
                    src.len()
                )),
            ));
        }
        let mut snap = HeapSnapshot::from_raw(raw?, src.len() as u64)?;
        snap.edge_filter = options.edge_filter;
        Ok(snap)
    }

    /// Checks what can only be checked across sections, and builds the CSR offsets.
    fn from_raw(raw: RawSnapshot, file_size: u64) -> Result<HeapSnapshot, Located> {
        let RawSnapshot {
            meta,
            nodes,
            mut edges,
            strings,
        } = raw;

        let first_edge = match edges.first_edge.take() {
            Some(kept) => kept,
            None => csr_offsets(&nodes.edge_count, edges.to.len())?,
        };
        drop(nodes.edge_count);
        let string_count = strings.len();
        if let Some(index) = nodes
            .name
            .par_iter()
            .position_any(|&s| s as usize >= string_count)
        {
            return Err(Located::anywhere(ParseErrorKind::StringIndexOutOfRange {
                what: "node",
                index,
                value: nodes.name[index],
                len: string_count,
            }));
        }
        if let Some((value, index)) = edges.max_name {
            if value as usize >= string_count {
                return Err(Located::anywhere(ParseErrorKind::StringIndexOutOfRange {
                    what: "edge",
                    index,
                    value,
                    len: string_count,
                }));
            }
        }
        let edge_kind_table: Vec<EdgeKind> = meta
            .edge_type_names
            .iter()
            .map(|n| EdgeKind::from_name(n))
            .collect();
        let named: Vec<bool> = edge_kind_table.iter().map(|k| !k.name_is_index()).collect();
        if let Some(index) = (0..edges.name.len()).into_par_iter().position_any(|e| {
            named[edges.kind[e] as usize] && edges.name[e] as usize >= string_count
        }) {
            return Err(Located::anywhere(ParseErrorKind::StringIndexOutOfRange {
                what: "edge",
                index,
                value: edges.name[index],
                len: string_count,
            }));
        }
        if meta.edge_type_names.len() > 1 << EDGE_TYPE_BITS {
            return Err(Located::anywhere(ParseErrorKind::BadMeta(format!(
                "{} edge types; at most {} are supported",
                meta.edge_type_names.len(),
                1 << EDGE_TYPE_BITS
            ))));
        }
        // Names that do not fit in the packed form are rare (2^28 strings or indices): a
        // parallel search finds whether there are any before the parallel packing.
        let mut edge_name_overflow = std::collections::HashMap::new();
        if edges
            .name
            .par_iter()
            .any(|&name| name >= EDGE_NAME_OVERFLOW)
        {
            for (e, &name) in edges.name.iter().enumerate() {
                if name >= EDGE_NAME_OVERFLOW {
                    edge_name_overflow.insert(e as u32, name);
                }
            }
        }
        let mut edge_packed = edges.name;
        edge_packed
            .par_iter_mut()
            .zip(edges.kind.par_iter())
            .with_min_len(1 << 16)
            .for_each(|(packed, &kind)| {
                *packed = ((kind as u32) << EDGE_NAME_BITS) | (*packed).min(EDGE_NAME_OVERFLOW);
            });
        drop(edges.kind);
        let node_kind_table = meta
            .node_type_names
            .iter()
            .map(|n| NodeKind::from_name(n))
            .collect();
        Ok(HeapSnapshot {
            meta,
            node_kind_table,
            edge_kind_table,
            node_type: nodes.kind,
            node_name: nodes.name,
            node_id: nodes.id,
            node_self_size: nodes.self_size,
            first_edge,
            edge_packed,
            edge_name_overflow,
            edge_to: edges.to,
            strings,
            clamped_sizes: nodes.clamped_sizes,
            file_size,
            edge_filter: None,
        })
    }

    /// The header.
    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }

    /// Size of the file this snapshot was read from, in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.node_id.len()
    }

    /// Number of edges held (fewer than the file's when an [`EdgeFilter`] was used).
    pub fn edge_count(&self) -> usize {
        self.edge_to.len()
    }

    /// Number of edges in the file, as declared by its header and checked by the parser.
    pub fn file_edge_count(&self) -> usize {
        self.meta.edge_count
    }

    /// True when an [`EdgeFilter`] dropped edges at parse time, so the graph is partial.
    pub fn edges_filtered(&self) -> bool {
        self.edge_filter.is_some()
    }

    /// True when every edge `wanted` accepts was kept (always, for a whole graph).
    pub fn keeps_edges(&self, wanted: EdgeFilter) -> bool {
        let Some(kept) = self.edge_filter else {
            return true;
        };
        NodeKind::ALL.iter().all(|&from| {
            EdgeKind::ALL.iter().all(|&edge| {
                NodeKind::ALL
                    .iter()
                    .all(|&to| !wanted(from, edge, to) || kept(from, edge, to))
            })
        })
    }

    /// Number of `self_size` values of 4 GiB or more that were clamped to `u32::MAX`.
    pub fn clamped_sizes(&self) -> usize {
        self.clamped_sizes
    }

    /// The strings table.
    pub fn strings(&self) -> &StringTable {
        &self.strings
    }

    /// What node `n` is.
    #[inline]
    pub fn node_kind(&self, n: NodeIndex) -> NodeKind {
        self.node_kind_table[self.node_type[n as usize] as usize]
    }

    /// The raw `type` value of node `n`: an index into `meta().node_type_names`.
    #[inline]
    pub fn node_type_index(&self, n: NodeIndex) -> usize {
        self.node_type[n as usize] as usize
    }

    /// The raw type name of node `n`, as written in the meta.
    pub fn node_type_name(&self, n: NodeIndex) -> &str {
        &self.meta.node_type_names[self.node_type[n as usize] as usize]
    }

    /// The name of node `n`: constructor name for objects, function name for closures,
    /// contents for strings.
    #[inline]
    pub fn node_name(&self, n: NodeIndex) -> &str {
        self.strings
            .get(self.node_name[n as usize] as usize)
            .unwrap_or("")
    }

    /// The strings-table index of node `n`'s name.
    #[inline]
    pub fn node_name_index(&self, n: NodeIndex) -> u32 {
        self.node_name[n as usize]
    }

    /// V8's id of node `n`; stable for the same object across snapshots of one process.
    #[inline]
    pub fn node_id(&self, n: NodeIndex) -> u32 {
        self.node_id[n as usize]
    }

    /// Shallow size of node `n` in bytes.
    #[inline]
    pub fn self_size(&self, n: NodeIndex) -> u32 {
        self.node_self_size[n as usize]
    }

    /// Consumes the snapshot, returning the ids and the self sizes of all nodes (by node
    /// index) without copying them.
    pub fn into_ids_and_sizes(self) -> (Vec<u32>, Vec<u32>) {
        (self.node_id, self.node_self_size)
    }

    /// The ids of all nodes, by node index.
    pub fn node_ids(&self) -> &[u32] {
        &self.node_id
    }

    /// The shallow sizes of all nodes, by node index.
    pub fn self_sizes(&self) -> &[u32] {
        &self.node_self_size
    }

    /// The outgoing edges of node `n`.
    #[inline]
    pub fn edges(&self, n: NodeIndex) -> Range<EdgeIndex> {
        self.first_edge[n as usize]..self.first_edge[n as usize + 1]
    }

    /// The node edge `e` comes from (a binary search over the CSR offsets).
    pub fn edge_source(&self, e: EdgeIndex) -> NodeIndex {
        (self.first_edge.partition_point(|&o| o <= e) - 1) as NodeIndex
    }

    /// The raw `type` value of edge `e`: an index into `meta().edge_type_names`.
    #[inline]
    pub fn edge_type_index(&self, e: EdgeIndex) -> usize {
        (self.edge_packed[e as usize] >> EDGE_NAME_BITS) as usize
    }

    /// What edge `e` is.
    #[inline]
    pub fn edge_kind(&self, e: EdgeIndex) -> EdgeKind {
        self.edge_kind_table[self.edge_type_index(e)]
    }

    /// The node edge `e` points to.
    #[inline]
    pub fn edge_target(&self, e: EdgeIndex) -> NodeIndex {
        self.edge_to[e as usize]
    }

    /// The raw `name_or_index` of edge `e`: a strings-table index for named edges (compare
    /// it with the index of a wanted name to avoid a string compare per edge), else the
    /// element or hidden index.
    #[inline]
    pub fn edge_name_index(&self, e: EdgeIndex) -> u32 {
        match self.edge_packed[e as usize] & EDGE_NAME_MASK {
            EDGE_NAME_OVERFLOW => self
                .edge_name_overflow
                .get(&e)
                .copied()
                .unwrap_or(EDGE_NAME_OVERFLOW),
            raw => raw,
        }
    }

    /// The name or index of edge `e`.
    pub fn edge_name(&self, e: EdgeIndex) -> EdgeName<'_> {
        let raw = self.edge_name_index(e);
        if self.edge_kind(e).name_is_index() {
            EdgeName::Index(raw)
        } else {
            EdgeName::Name(self.strings.get(raw as usize).unwrap_or(""))
        }
    }

    /// Bytes of memory the parsed form takes.
    pub fn heap_bytes(&self) -> usize {
        self.node_type.capacity()
            + 4 * (self.node_name.capacity()
                + self.node_id.capacity()
                + self.node_self_size.capacity()
                + self.first_edge.capacity()
                + self.edge_packed.capacity()
                + self.edge_to.capacity())
            + self.strings.heap_bytes()
    }
}

/// Whether the file at `path` ends like a complete snapshot: with the `]}` that closes the
/// JSON (after whitespace). A snapshot Node is still writing, or that was cut off, does
/// not. A cheap check of the last bytes, for collecting files Node writes on a signal.
pub fn ends_like_a_complete_snapshot(path: &std::path::Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(len) = f.seek(SeekFrom::End(0)) else {
        return false;
    };
    let back = len.min(64);
    let mut tail = vec![0u8; back as usize];
    if f.seek(SeekFrom::Start(len - back)).is_err() || f.read_exact(&mut tail).is_err() {
        return false;
    }
    tail.trim_ascii_end().ends_with(b"]}")
}
