//! [`HeapSnapshot`]: the parsed graph as a struct of arrays.

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Located, ParseError, ParseErrorKind};
use crate::meta::{EdgeKind, NodeKind, SnapshotMeta};
use crate::packed::Packed;
use crate::parse::{csr_offsets, parse, Hooks, RawSnapshot};
use crate::source::Source;
use crate::strings::StringTable;

const EDGE_TYPE_BITS: u32 = 4;
const EDGE_TYPE_MASK: u32 = (1 << EDGE_TYPE_BITS) - 1;
const EDGE_NAME_BITS: u32 = 32 - EDGE_TYPE_BITS;
/// Packed names at this value are looked up in the overflow map.
const EDGE_NAME_OVERFLOW: u32 = (1 << EDGE_NAME_BITS) - 1;
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
/// Memory is at most 17 bytes per node and 8 per edge plus the strings: node names and the
/// edge columns are stored in the bits their largest values need (about 15 bytes a node
/// and 6 an edge for 6 M nodes and 300 k strings).
#[derive(Debug)]
pub struct HeapSnapshot {
    meta: SnapshotMeta,
    node_kind_table: Vec<NodeKind>,
    edge_kind_table: Vec<EdgeKind>,
    node_type: Vec<u8>,
    /// Strings-table indices, in the bits the strings count needs.
    node_name: Packed,
    node_id: Vec<u32>,
    node_self_size: Vec<u32>,
    /// CSR offsets: node `i` owns edges `first_edge[i]..first_edge[i + 1]`.
    first_edge: Vec<u32>,
    /// `to_node << 4 | type` per edge, in the bits the largest value needs. The type in
    /// the low 4 bits (V8 has 7 edge types) saves a byte an edge, and in this column one
    /// read gives a graph walk both halves of what it asks of an edge. Above 2^28 nodes the
    /// two do not fit in 32 bits: the type then goes into `edge_name` instead
    /// (`edge_type_in_name`).
    edge_to: Packed,
    /// `name_or_index` per edge (`<< 4 | type` when `edge_type_in_name`), in the bits the
    /// largest value needs. Names of 2^28 - 1 or more are in `edge_name_overflow`.
    edge_name: Packed,
    edge_type_in_name: bool,
    edge_name_overflow: std::collections::HashMap<u32, u32>,
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
        // Names that do not fit in the packed form are rare (2^28 strings or indices): the
        // parallel search for the largest name, which sets the packed width, finds whether
        // there are any. They are kept in a map, and the column holds the overflow mark.
        let mut edge_name_overflow = std::collections::HashMap::new();
        let max_name = edges.name.par_iter().copied().max().unwrap_or(0);
        if max_name >= EDGE_NAME_OVERFLOW {
            for (e, name) in edges.name.iter_mut().enumerate() {
                if *name >= EDGE_NAME_OVERFLOW {
                    edge_name_overflow.insert(e as u32, *name);
                    *name = EDGE_NAME_OVERFLOW;
                }
            }
        }
        let max_name = max_name.min(EDGE_NAME_OVERFLOW);
        // Every target is below the node count (the parser checked).
        let max_target = nodes.id.len().saturating_sub(1) as u32;
        // The type joins the targets, or the names when the targets need more than 28 bits.
        let edge_type_in_name = max_target > u32::MAX >> EDGE_TYPE_BITS || force_type_in_name();
        let (mut edge_to, mut edge_name) = (edges.to, edges.name);
        let typed = if edge_type_in_name {
            &mut edge_name
        } else {
            &mut edge_to
        };
        typed
            .par_iter_mut()
            .zip(edges.kind.par_iter())
            .with_min_len(1 << 16)
            .for_each(|(value, &kind)| *value = (*value << EDGE_TYPE_BITS) | kind as u32);
        drop(edges.kind);
        let with_type = |max: u32| (max << EDGE_TYPE_BITS) | EDGE_TYPE_MASK;
        let (max_to, max_name) = match edge_type_in_name {
            false => (with_type(max_target), max_name),
            true => (max_target, with_type(max_name)),
        };
        // Every node name is below the strings count (checked above).
        let max_node_name = string_count.saturating_sub(1).min(u32::MAX as usize) as u32;
        let node_name = nodes.name;
        // Each column is packed in its own allocation, on both cores (a sequential pass
        // each).
        let (edge_to, (edge_name, node_name)) = rayon::join(
            || Packed::new(edge_to, max_to),
            || {
                (
                    Packed::new(edge_name, max_name),
                    Packed::new(node_name, max_node_name),
                )
            },
        );
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
            node_name,
            node_id: nodes.id,
            node_self_size: nodes.self_size,
            first_edge,
            edge_name,
            edge_type_in_name,
            edge_name_overflow,
            edge_to,
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
            .get(self.node_name.get(n as usize) as usize)
            .unwrap_or("")
    }

    /// The strings-table index of node `n`'s name.
    #[inline]
    pub fn node_name_index(&self, n: NodeIndex) -> u32 {
        self.node_name.get(n as usize)
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
        let typed = match self.edge_type_in_name {
            false => self.edge_to.get(e as usize),
            true => self.edge_name.get(e as usize),
        };
        (typed & EDGE_TYPE_MASK) as usize
    }

    /// What edge `e` is.
    #[inline]
    pub fn edge_kind(&self, e: EdgeIndex) -> EdgeKind {
        self.edge_kind_table[self.edge_type_index(e)]
    }

    /// The node edge `e` points to.
    #[inline]
    pub fn edge_target(&self, e: EdgeIndex) -> NodeIndex {
        match self.edge_type_in_name {
            false => self.edge_to.get(e as usize) >> EDGE_TYPE_BITS,
            true => self.edge_to.get(e as usize),
        }
    }

    /// What edge `e` is and the node it points to, with one read of the packed column
    /// (graph walks ask both of every edge).
    #[inline(always)]
    pub fn edge_kind_and_target(&self, e: EdgeIndex) -> (EdgeKind, NodeIndex) {
        if self.edge_type_in_name {
            return (self.edge_kind(e), self.edge_to.get(e as usize));
        }
        let packed = self.edge_to.get(e as usize);
        (
            self.edge_kind_table[(packed & EDGE_TYPE_MASK) as usize],
            packed >> EDGE_TYPE_BITS,
        )
    }

    /// The raw `name_or_index` of edge `e`: a strings-table index for named edges (compare
    /// it with the index of a wanted name to avoid a string compare per edge), else the
    /// element or hidden index.
    #[inline]
    pub fn edge_name_index(&self, e: EdgeIndex) -> u32 {
        let raw = match self.edge_type_in_name {
            false => self.edge_name.get(e as usize),
            true => self.edge_name.get(e as usize) >> EDGE_TYPE_BITS,
        };
        match raw {
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
            + 4 * (self.node_id.capacity()
                + self.node_self_size.capacity()
                + self.first_edge.capacity())
            + self.node_name.heap_bytes()
            + self.edge_name.heap_bytes()
            + self.edge_to.heap_bytes()
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

/// Whether a test asked for the layout of more than 2^28 nodes.
#[cfg(not(test))]
#[inline]
fn force_type_in_name() -> bool {
    false
}

#[cfg(test)]
fn force_type_in_name() -> bool {
    tests::TYPE_IN_NAME.with(|t| t.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Puts the edge type beside the names whatever the node count, as above 2^28
        /// nodes, so that the layout is tested on small snapshots.
        pub(super) static TYPE_IN_NAME: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    #[test]
    fn both_edge_layouts_read_the_same() {
        // Root -> Holder -(property "items")-> array -(element 4e9, an overflowing index;
        // element 7; weak)-> string.
        let text = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic"],"string","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"]},"node_count":4,"edge_count":5},
"nodes":[9,0,1,0,1,3,1,3,32,1,1,2,5,16,3,2,3,7,24,0],
"edges":[5,0,5,2,4,10,1,4000000000,15,1,7,15,6,0,5],
"strings":["","Holder","(object elements)","hello","items"]}"#;
        let read = |in_name: bool| {
            TYPE_IN_NAME.with(|t| t.set(in_name));
            let s = HeapSnapshot::from_bytes(text.as_bytes(), "t").expect("parses");
            TYPE_IN_NAME.with(|t| t.set(false));
            assert_eq!(s.edge_type_in_name, in_name);
            (0..s.edge_count() as u32)
                .map(|e| {
                    let (kind, to) = s.edge_kind_and_target(e);
                    assert_eq!((kind, to), (s.edge_kind(e), s.edge_target(e)));
                    (s.edge_type_index(e), to, s.edge_name_index(e))
                })
                .collect::<Vec<_>>()
        };
        let expected = vec![
            (5, 1, 0),
            (2, 2, 4),
            (1, 3, 4_000_000_000),
            (1, 3, 7),
            (6, 1, 0),
        ];
        assert_eq!(read(false), expected);
        assert_eq!(read(true), expected);
    }
}
