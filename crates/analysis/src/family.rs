//! Growth families: a coarse split of the heap that tells "the worker loaded more code"
//! from "the service keeps more data".

use leaktrail_snapshot::NodeKind;
use serde::{Deserialize, Serialize};

/// A family of classes that grow together for one reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Code and the module graph: compiled code, bytecode, SharedFunctionInfos, Scripts and
    /// their source strings, `system / Context`, maps (shapes), descriptor arrays, feedback.
    Code,
    /// Strings that are data (not script sources).
    Strings,
    /// Internal arrays and backing stores on the V8 heap (`(array)`).
    Arrays,
    /// JS functions.
    Closures,
    /// Memory outside the V8 heap: ArrayBuffer backing stores, Buffers, typed arrays.
    External,
    /// Application objects: everything with a constructor name.
    Objects,
    /// V8 internals that are neither code nor data (roots, oddballs, numbers, symbols).
    System,
}

impl Family {
    /// Every family, in display order.
    pub const ALL: [Family; 7] = [
        Family::Code,
        Family::Strings,
        Family::Arrays,
        Family::Closures,
        Family::External,
        Family::Objects,
        Family::System,
    ];

    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Family::Code => "code/module graph",
            Family::Strings => "strings",
            Family::Arrays => "arrays",
            Family::Closures => "closures",
            Family::External => "external/native",
            Family::Objects => "application objects",
            Family::System => "system",
        }
    }

    /// The snake-case key used in JSON and in the store (`code`, `objects`, …).
    pub fn key(self) -> &'static str {
        match self {
            Family::Code => "code",
            Family::Strings => "strings",
            Family::Arrays => "arrays",
            Family::Closures => "closures",
            Family::External => "external",
            Family::Objects => "objects",
            Family::System => "system",
        }
    }

    /// The family with this [`Family::key`].
    pub fn from_key(key: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.key() == key)
    }

    /// Position in [`Family::ALL`] (the declaration order, so `ALL[f as usize] == f`).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The family of one node. `code_owned` says the node is a string referenced by code
    /// (a script's source, a function's name): such strings grow with the module graph.
    pub fn of_node(kind: NodeKind, name: &str, code_owned: bool) -> Family {
        match kind {
            NodeKind::Code | NodeKind::ObjectShape => Family::Code,
            NodeKind::String | NodeKind::ConsString | NodeKind::SlicedString => {
                if code_owned {
                    Family::Code
                } else {
                    Family::Strings
                }
            }
            NodeKind::Closure => Family::Closures,
            NodeKind::Native => Family::External,
            NodeKind::Object => {
                if name == "system / Context" {
                    Family::Code
                } else if is_external_wrapper(name) {
                    Family::External
                } else if name.starts_with("system / ") {
                    Family::System
                } else {
                    Family::Objects
                }
            }
            NodeKind::RegExp | NodeKind::WasmObject => Family::Objects,
            NodeKind::Hidden => {
                if is_code_internal(name) {
                    Family::Code
                } else {
                    Family::System
                }
            }
            NodeKind::Array => {
                if is_code_array(name) {
                    Family::Code
                } else {
                    Family::Arrays
                }
            }
            NodeKind::Number
            | NodeKind::Synthetic
            | NodeKind::Symbol
            | NodeKind::BigInt
            | NodeKind::Unknown => Family::System,
        }
    }
}

/// JS objects whose bytes live in a backing store outside the V8 heap.
fn is_external_wrapper(name: &str) -> bool {
    matches!(
        name,
        "Buffer"
            | "ArrayBuffer"
            | "SharedArrayBuffer"
            | "DataView"
            | "Uint8Array"
            | "Int8Array"
            | "Uint8ClampedArray"
            | "Uint16Array"
            | "Int16Array"
            | "Uint32Array"
            | "Int32Array"
            | "Float32Array"
            | "Float64Array"
            | "BigInt64Array"
            | "BigUint64Array"
            | "FastBuffer"
    )
}

/// Hidden V8 objects that belong to code: maps, descriptor arrays, feedback, scope infos.
fn is_code_internal(name: &str) -> bool {
    const MARKERS: [&str; 12] = [
        "Map",
        "DescriptorArray",
        "Feedback",
        "ScopeInfo",
        "SharedFunctionInfo",
        "Bytecode",
        "Script",
        "Code",
        "PreparseData",
        "UncompiledData",
        "InterpreterData",
        "ClosureFeedbackCellArray",
    ];
    name.strip_prefix("system / ")
        .is_some_and(|rest| MARKERS.iter().any(|m| rest.starts_with(m)))
}

/// Internal arrays that V8 names after a code structure they belong to.
fn is_code_array(name: &str) -> bool {
    const MARKERS: [&str; 10] = [
        "descriptors",
        "transition",
        "feedback",
        "deopt",
        "code",
        "constant pool",
        "source position",
        "scope",
        "bytecode",
        "script",
    ];
    MARKERS.iter().any(|m| name.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, f) in Family::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
        }
    }

    #[test]
    fn families_of_typical_nodes() {
        assert_eq!(Family::of_node(NodeKind::Code, "foo", false), Family::Code);
        assert_eq!(
            Family::of_node(NodeKind::String, "x", false),
            Family::Strings
        );
        assert_eq!(Family::of_node(NodeKind::String, "x", true), Family::Code);
        assert_eq!(
            Family::of_node(NodeKind::Object, "system / Context", false),
            Family::Code
        );
        assert_eq!(
            Family::of_node(NodeKind::Object, "Buffer", false),
            Family::External
        );
        assert_eq!(
            Family::of_node(NodeKind::Object, "StreamEntry", false),
            Family::Objects
        );
        assert_eq!(
            Family::of_node(NodeKind::Hidden, "system / Map", false),
            Family::Code
        );
        assert_eq!(
            Family::of_node(NodeKind::Hidden, "system / Oddball", false),
            Family::System
        );
        assert_eq!(
            Family::of_node(NodeKind::Array, "(map descriptors)", false),
            Family::Code
        );
        assert_eq!(
            Family::of_node(NodeKind::Array, "(object elements)", false),
            Family::Arrays
        );
        assert_eq!(
            Family::of_node(NodeKind::Native, "system / JSArrayBufferData", false),
            Family::External
        );
        assert_eq!(
            Family::of_node(NodeKind::Closure, "onConfigChanged", false),
            Family::Closures
        );
    }
}
