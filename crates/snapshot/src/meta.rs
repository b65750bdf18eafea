//! The `snapshot.meta` header: field lists and type tables.
//!
//! A `.heapsnapshot` file starts with
//!
//! ```json
//! {"snapshot":{"meta":{
//!    "node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],
//!    "node_types":[["hidden","array","string","object",...],"string","number",...],
//!    "edge_fields":["type","name_or_index","to_node"],
//!    "edge_types":[["context","element","property","internal","hidden","shortcut","weak"],
//!                  "string_or_number","node"], ...},
//!  "node_count":64788,"edge_count":267449,"trace_function_count":0},
//! ```
//!
//! The `nodes` array is `node_count` records of `node_fields.len()` integers; the `edges`
//! array is `edge_count` records of `edge_fields.len()` integers, grouped by source node in
//! node order (each node owns the next `edge_count` edges). `node_types`/`edge_types`
//! describe the fields one for one; the entry for the `type` field (the first, in V8's
//! order) is its enum table. Field positions differ between V8 versions (`trace_node_id` and
//! `detachedness` come and go) and the format names its fields, so they are always looked up
//! by name, never hard-coded; unknown fields are carried along and ignored.

use serde::Deserialize;

use crate::error::ParseErrorKind;

/// What a node is, from the `node_types` enum table (V8's `HeapEntry::Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NodeKind {
    /// Internal V8 object without a JS-visible type (`(system)` in DevTools).
    Hidden,
    /// Internal array (`(array)`), e.g. object elements or descriptor arrays.
    Array,
    /// A flat string.
    String,
    /// A JS object; its name is the constructor name.
    Object,
    /// Compiled code: scripts, shared function infos, bytecode.
    Code,
    /// A JS function; its name is the function name.
    Closure,
    /// A regular expression object.
    RegExp,
    /// A heap number (`number` or `heap number`).
    Number,
    /// An embedder (native) object, e.g. an ArrayBuffer backing store.
    Native,
    /// A synthetic node: the root, `(GC roots)` and its sub-roots.
    Synthetic,
    /// A cons string (rope).
    ConsString,
    /// A slice of another string.
    SlicedString,
    /// A JS symbol.
    Symbol,
    /// A BigInt.
    BigInt,
    /// A hidden class (V8 `Map`), written as `object shape` by newer V8.
    ObjectShape,
    /// A WebAssembly object.
    WasmObject,
    /// A type name this parser does not know; kept so that newer V8 versions still parse.
    Unknown,
}

impl NodeKind {
    /// Every kind.
    pub const ALL: [NodeKind; 17] = [
        NodeKind::Hidden,
        NodeKind::Array,
        NodeKind::String,
        NodeKind::Object,
        NodeKind::Code,
        NodeKind::Closure,
        NodeKind::RegExp,
        NodeKind::Number,
        NodeKind::Native,
        NodeKind::Synthetic,
        NodeKind::ConsString,
        NodeKind::SlicedString,
        NodeKind::Symbol,
        NodeKind::BigInt,
        NodeKind::ObjectShape,
        NodeKind::WasmObject,
        NodeKind::Unknown,
    ];

    /// Maps a `node_types` entry to its kind.
    pub fn from_name(name: &str) -> NodeKind {
        match name {
            "hidden" => NodeKind::Hidden,
            "array" => NodeKind::Array,
            "string" => NodeKind::String,
            "object" => NodeKind::Object,
            "code" => NodeKind::Code,
            "closure" => NodeKind::Closure,
            "regexp" => NodeKind::RegExp,
            "number" | "heap number" => NodeKind::Number,
            "native" => NodeKind::Native,
            "synthetic" => NodeKind::Synthetic,
            "concatenated string" => NodeKind::ConsString,
            "sliced string" => NodeKind::SlicedString,
            "symbol" => NodeKind::Symbol,
            "bigint" => NodeKind::BigInt,
            "object shape" => NodeKind::ObjectShape,
            "wasm object" => NodeKind::WasmObject,
            _ => NodeKind::Unknown,
        }
    }

    /// True for the three string representations.
    pub fn is_string(self) -> bool {
        matches!(
            self,
            NodeKind::String | NodeKind::ConsString | NodeKind::SlicedString
        )
    }
}

/// What an edge is, from the `edge_types` enum table (V8's `HeapGraphEdge::Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EdgeKind {
    /// A variable captured in a closure's context; named.
    Context,
    /// An array element; `name_or_index` is the index.
    Element,
    /// A named JS property.
    Property,
    /// A named internal reference not visible to JS.
    Internal,
    /// An unnamed internal reference; `name_or_index` is an index.
    Hidden,
    /// A shortcut that skips intermediate nodes (e.g. root to a global's properties).
    Shortcut,
    /// A weak reference: never retains.
    Weak,
    /// An edge type this parser does not know.
    Unknown,
}

impl EdgeKind {
    /// Every kind.
    pub const ALL: [EdgeKind; 8] = [
        EdgeKind::Context,
        EdgeKind::Element,
        EdgeKind::Property,
        EdgeKind::Internal,
        EdgeKind::Hidden,
        EdgeKind::Shortcut,
        EdgeKind::Weak,
        EdgeKind::Unknown,
    ];

    /// Maps an `edge_types` entry to its kind.
    pub fn from_name(name: &str) -> EdgeKind {
        match name {
            "context" => EdgeKind::Context,
            "element" => EdgeKind::Element,
            "property" => EdgeKind::Property,
            "internal" => EdgeKind::Internal,
            "hidden" => EdgeKind::Hidden,
            "shortcut" => EdgeKind::Shortcut,
            "weak" => EdgeKind::Weak,
            _ => EdgeKind::Unknown,
        }
    }

    /// True when `name_or_index` is a number rather than an index into the strings table.
    pub fn name_is_index(self) -> bool {
        matches!(self, EdgeKind::Element | EdgeKind::Hidden)
    }
}

/// The parsed header of a snapshot: field positions, type tables and declared counts.
#[derive(Clone, Debug)]
pub struct SnapshotMeta {
    /// Names of the node fields, in file order.
    pub node_fields: Vec<String>,
    /// Names of the node types, indexed by the raw `type` value.
    pub node_type_names: Vec<String>,
    /// Names of the edge fields, in file order.
    pub edge_fields: Vec<String>,
    /// Names of the edge types, indexed by the raw `type` value.
    pub edge_type_names: Vec<String>,
    /// `node_count` as declared in the header.
    pub node_count: usize,
    /// `edge_count` as declared in the header.
    pub edge_count: usize,
    /// Positions of the node fields the parser needs.
    pub node_layout: NodeLayout,
    /// Positions of the edge fields the parser needs.
    pub edge_layout: EdgeLayout,
}

/// Where each needed field sits inside one node record.
#[derive(Clone, Copy, Debug)]
pub struct NodeLayout {
    /// Integers per node record.
    pub width: usize,
    /// Position of `type`.
    pub kind: usize,
    /// Position of `name`.
    pub name: usize,
    /// Position of `id`.
    pub id: usize,
    /// Position of `self_size`.
    pub self_size: usize,
    /// Position of `edge_count`.
    pub edge_count: usize,
}

/// Where each needed field sits inside one edge record.
#[derive(Clone, Copy, Debug)]
pub struct EdgeLayout {
    /// Integers per edge record.
    pub width: usize,
    /// Position of `type`.
    pub kind: usize,
    /// Position of `name_or_index`.
    pub name_or_index: usize,
    /// Position of `to_node`.
    pub to_node: usize,
}

#[derive(Deserialize)]
struct RawHeader {
    meta: RawMeta,
    node_count: u64,
    edge_count: u64,
}

#[derive(Deserialize)]
struct RawMeta {
    node_fields: Vec<String>,
    node_types: Vec<serde_json::Value>,
    edge_fields: Vec<String>,
    edge_types: Vec<serde_json::Value>,
}

impl SnapshotMeta {
    /// Parses the value of the top-level `snapshot` key.
    pub(crate) fn from_json(text: &[u8]) -> Result<SnapshotMeta, ParseErrorKind> {
        let raw: RawHeader = serde_json::from_slice(text)
            .map_err(|e| ParseErrorKind::BadMeta(format!("snapshot header: {e}")))?;
        let field = |fields: &[String], list: &str, name: &str| {
            fields
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| ParseErrorKind::BadMeta(format!("{list} has no \"{name}\" field")))
        };
        let nf = &raw.meta.node_fields;
        let node_layout = NodeLayout {
            width: nf.len(),
            kind: field(nf, "node_fields", "type")?,
            name: field(nf, "node_fields", "name")?,
            id: field(nf, "node_fields", "id")?,
            self_size: field(nf, "node_fields", "self_size")?,
            edge_count: field(nf, "node_fields", "edge_count")?,
        };
        let ef = &raw.meta.edge_fields;
        let edge_layout = EdgeLayout {
            width: ef.len(),
            kind: field(ef, "edge_fields", "type")?,
            name_or_index: field(ef, "edge_fields", "name_or_index")?,
            to_node: field(ef, "edge_fields", "to_node")?,
        };
        // `node_types[i]` describes `node_fields[i]`: the enum table of the type names is
        // the entry at the position of the `type` field, wherever that is.
        let node_type_names = type_table(&raw.meta.node_types, node_layout.kind, "node_types")?;
        let edge_type_names = type_table(&raw.meta.edge_types, edge_layout.kind, "edge_types")?;
        let too_big = |n: u64, what: &str| {
            u32::try_from(n)
                .map(|v| v as usize)
                .map_err(|_| ParseErrorKind::BadMeta(format!("{what} {n} exceeds 2^32")))
        };
        Ok(SnapshotMeta {
            node_count: too_big(raw.node_count, "node_count")?,
            edge_count: too_big(raw.edge_count, "edge_count")?,
            node_fields: raw.meta.node_fields,
            node_type_names,
            edge_fields: raw.meta.edge_fields,
            edge_type_names,
            node_layout,
            edge_layout,
        })
    }
}

/// The entry of `node_types`/`edge_types` at `at`, the position of the `type` field, is
/// the list of type names.
fn type_table(
    types: &[serde_json::Value],
    at: usize,
    what: &str,
) -> Result<Vec<String>, ParseErrorKind> {
    let names = types.get(at).and_then(|v| v.as_array()).ok_or_else(|| {
        ParseErrorKind::BadMeta(format!(
            "{what}[{at}] (for the \"type\" field) is not a list of type names"
        ))
    })?;
    let names: Vec<String> = names
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(|| ParseErrorKind::BadMeta(format!("{what}[{at}] holds a non-string")))?;
    if names.is_empty() || names.len() > 255 {
        return Err(ParseErrorKind::BadMeta(format!(
            "{what}[{at}] has {} type names (expected 1 to 255)",
            names.len()
        )));
    }
    Ok(names)
}
