//! Parse V8 `.heapsnapshot` files of any size into a compact, columnar graph.
//!
//! A heap snapshot (written by `v8.writeHeapSnapshot`, `--heapsnapshot-signal`, Chrome
//! DevTools or the inspector's `HeapProfiler.takeHeapSnapshot`) is one JSON object:
//!
//! | key | contents |
//! |---|---|
//! | `snapshot` | the header: `meta` (field lists and type tables, see [`meta`]), `node_count`, `edge_count` |
//! | `nodes` | `node_count` records of `meta.node_fields` integers: `type, name, id, self_size, edge_count, …` |
//! | `edges` | `edge_count` records of `meta.edge_fields` integers: `type, name_or_index, to_node` |
//! | `trace_function_infos`, `trace_tree`, `samples`, `locations` | allocation tracking and source locations: skipped |
//! | `strings` | every string the other sections refer to by index |
//!
//! [`HeapSnapshot::open`] reads the file block by block (a few MB held at a time, never the
//! whole file, never memory-mapped: a mapped file truncated by another process would kill
//! the reader with SIGBUS), scans the integer arrays in parallel with a hand-written scanner
//! straight into columns (`Vec<u8>`/`Vec<u32>` per field, about 17 bytes per node and 9 per
//! edge), so peak memory stays near the size of the columns rather than the file. Edges
//! become a CSR: node `i` owns edges [`HeapSnapshot::edges`]`(i)`, and `to_node` is stored
//! as a node index. Every inconsistency (truncation, counts that disagree with the header
//! or that the file is too small to hold, an edge pointing past the end, a string index out
//! of range, anything that is not strict JSON, a file that changes while it is read) is a
//! [`ParseError`] naming the file and, where known, the byte offset.
//!
//! ```no_run
//! use leaktrail_snapshot::{HeapSnapshot, ParseOptions};
//! let snap = HeapSnapshot::open("app.heapsnapshot".as_ref(), &ParseOptions::default())?;
//! let biggest = (0..snap.node_count() as u32).max_by_key(|&n| snap.self_size(n));
//! # Ok::<(), leaktrail_snapshot::ParseError>(())
//! ```

#![deny(missing_docs)]

mod error;
mod json;
pub mod meta;
mod packed;
mod parse;
mod snapshot;
mod source;
mod strings;

pub use error::{ParseError, ParseErrorKind};
pub use meta::{EdgeKind, NodeKind, SnapshotMeta};
pub use snapshot::{
    ends_like_a_complete_snapshot, EdgeFilter, EdgeIndex, EdgeName, HeapSnapshot, NodeIndex,
    ParseOptions,
};
pub use strings::StringTable;
