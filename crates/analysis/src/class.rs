//! Class names as the DevTools Summary view groups nodes, and each node's growth family.
//!
//! Rules (DevTools `HeapSnapshot.ts`, `calculateObjectNames`), with one deliberate change:
//! - `object` and `native` nodes: the node name, i.e. the constructor name (`StreamEntry`,
//!   `Map`, `system / Context`); DOM-like names `<div id=…>` are cut to the tag `<div>`.
//! - `closure` nodes: **the function name followed by `()`** (`onConfigChanged()`), and
//!   `Function` for anonymous ones. DevTools puts every function in one `Function` row, which
//!   hides the listener or callback that piles up; the `()` keeps a constructor function
//!   apart from its instances.
//! - `hidden` → `(system)`, `code` → `(compiled code)`, `regexp` → `RegExp`, every other
//!   type → `(type)`: `(array)`, `(string)`, `(concatenated string)`, `(sliced string)`,
//!   `(number)`, `(symbol)`, `(bigint)`, `(object shape)`, `(synthetic)`.
//! - Nodes with a self size of 0 (the synthetic roots) are left out of class totals, as in
//!   DevTools.

use std::collections::HashMap;

use leaktrail_snapshot::{EdgeFilter, EdgeKind, HeapSnapshot, NodeKind};

use crate::family::Family;

/// Each node's class and family, and the class names.
#[derive(Debug)]
pub struct Classification {
    /// Class names, indexed by class id.
    pub class_names: Vec<String>,
    /// Class id of each node, by node index.
    pub node_class: Vec<u32>,
    /// Family of each node, by node index.
    pub node_family: Vec<Family>,
}

const UNASSIGNED: u32 = u32::MAX;

impl Classification {
    /// The only edges classification reads: from code to strings. A snapshot parsed with
    /// this filter classifies exactly like a full one, in far less memory.
    pub const EDGES_NEEDED: EdgeFilter = code_to_string;

    /// Classifies every node of `snap`.
    pub fn of(snap: &HeapSnapshot) -> Classification {
        let n = snap.node_count();
        let code_owned = code_owned_strings(snap);
        let string_count = snap.strings().len();
        // Class ids are assigned once per distinct name string, per kind of naming.
        let mut by_object_name = vec![UNASSIGNED; string_count];
        let mut by_closure_name = vec![UNASSIGNED; string_count];
        let mut by_label: HashMap<String, u32> = HashMap::new();
        let mut class_names: Vec<String> = Vec::new();
        let mut intern = |label: String, names: &mut Vec<String>| -> u32 {
            *by_label.entry(label).or_insert_with_key(|l| {
                names.push(l.clone());
                (names.len() - 1) as u32
            })
        };
        // Families depend on the node's kind and name (and, for strings, on code_owned);
        // they are computed once per distinct name and kind group, not per node.
        const UNKNOWN: u8 = u8::MAX;
        let mut object_family = vec![UNKNOWN; string_count];
        let mut hidden_family = vec![UNKNOWN; string_count];
        let mut array_family = vec![UNKNOWN; string_count];
        let cached_family = |cache: &mut Vec<u8>, kind: NodeKind, i: u32, name_index: usize| {
            if cache[name_index] == UNKNOWN {
                cache[name_index] = Family::of_node(kind, snap.node_name(i), false) as u8;
            }
            Family::ALL[cache[name_index] as usize]
        };
        let mut node_class = Vec::with_capacity(n);
        let mut node_family = Vec::with_capacity(n);
        // Class of each kind that is named by its kind alone, indexed by `NodeKind as usize`.
        let mut by_kind = [UNASSIGNED; NodeKind::Unknown as usize + 1];
        for i in 0..n as u32 {
            let kind = snap.node_kind(i);
            let name_index = snap.node_name_index(i) as usize;
            let class = match kind {
                NodeKind::Object | NodeKind::Native => {
                    if by_object_name[name_index] == UNASSIGNED {
                        let label = object_class_name(snap.node_name(i));
                        by_object_name[name_index] = intern(label, &mut class_names);
                    }
                    by_object_name[name_index]
                }
                NodeKind::Closure => {
                    if by_closure_name[name_index] == UNASSIGNED {
                        let name = snap.node_name(i);
                        let label = if name.is_empty() {
                            "Function".to_owned()
                        } else {
                            format!("{name}()")
                        };
                        by_closure_name[name_index] = intern(label, &mut class_names);
                    }
                    by_closure_name[name_index]
                }
                NodeKind::Unknown => {
                    let label = format!("({})", snap.node_type_name(i));
                    intern(label, &mut class_names)
                }
                _ => {
                    let slot = &mut by_kind[kind as usize];
                    if *slot == UNASSIGNED {
                        *slot = intern(kind_class_name(kind).to_owned(), &mut class_names);
                    }
                    *slot
                }
            };
            let family = match kind {
                NodeKind::Object => cached_family(&mut object_family, kind, i, name_index),
                NodeKind::Hidden => cached_family(&mut hidden_family, kind, i, name_index),
                NodeKind::Array => cached_family(&mut array_family, kind, i, name_index),
                // Strings depend on who points at them; other kinds not on the name.
                _ => Family::of_node(kind, "", code_owned[i as usize]),
            };
            node_class.push(class);
            node_family.push(family);
        }
        Classification {
            class_names,
            node_class,
            node_family,
        }
    }
}

/// The class of a non-object, non-closure kind.
fn kind_class_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Hidden => "(system)",
        NodeKind::Array => "(array)",
        NodeKind::String => "(string)",
        NodeKind::Code => "(compiled code)",
        NodeKind::RegExp => "RegExp",
        NodeKind::Number => "(number)",
        NodeKind::Synthetic => "(synthetic)",
        NodeKind::ConsString => "(concatenated string)",
        NodeKind::SlicedString => "(sliced string)",
        NodeKind::Symbol => "(symbol)",
        NodeKind::BigInt => "(bigint)",
        NodeKind::ObjectShape => "(object shape)",
        NodeKind::WasmObject => "(wasm object)",
        NodeKind::Object | NodeKind::Native | NodeKind::Closure | NodeKind::Unknown => "(unknown)",
    }
}

/// An object's class: its name, with DOM-like `<tag attr…>` names cut to `<tag>`.
fn object_class_name(name: &str) -> String {
    let cut = |prefix_len: usize| -> Option<String> {
        let space = name[prefix_len..].find(' ')? + prefix_len;
        Some(format!("{}>", &name[..space]))
    };
    if name.starts_with('<') {
        if let Some(c) = cut(1) {
            return c;
        }
    } else if name.starts_with("Detached <") {
        if let Some(c) = cut(10) {
            return c;
        }
    }
    if name.is_empty() {
        "(anonymous object)".to_owned()
    } else {
        name.to_owned()
    }
}

fn code_to_string(from: NodeKind, _edge: EdgeKind, to: NodeKind) -> bool {
    from == NodeKind::Code && to.is_string()
}

/// Marks strings that code nodes (scripts, shared function infos) point to: script
/// sources and function names. They grow with the module graph, not with data.
fn code_owned_strings(snap: &HeapSnapshot) -> Vec<bool> {
    let mut owned = vec![false; snap.node_count()];
    for n in 0..snap.node_count() as u32 {
        if snap.node_kind(n) != NodeKind::Code {
            continue;
        }
        for e in snap.edges(n) {
            let t = snap.edge_target(e);
            if snap.node_kind(t).is_string() {
                owned[t as usize] = true;
            }
        }
    }
    owned
}

/// The class a leak cluster counts its members under: `class`, with a counter at the end
/// of a function's name folded (`validate1010()` → `validate<n>()`).
///
/// Code generated at run time names its functions from a counter: ajv's `validate1010`,
/// a template engine's `render_57`. Each such function is then a class of one instance,
/// which never grows, and a leak of thousands of them would be dismissed one by one
/// although together they hold the growth. Folded, they are one cluster whose class
/// gains an instance per compile. Only closures are folded: a constructor's name is a
/// class a program chose (`Sha256`, `Http2Session`), a function's counter is a generator's.
pub(crate) fn counter_folded(class: &str) -> std::borrow::Cow<'_, str> {
    let Some(name) = class.strip_suffix("()") else {
        return class.into();
    };
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    // A name that is all digits, or whose counter follows a digit-free stem that does not
    // end in a letter or `_`/`$` (`sha-1`), is not a counter's.
    let counted = stem.len() < name.len()
        && stem
            .chars()
            .last()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$');
    if counted {
        format!("{stem}<n>()").into()
    } else {
        class.into()
    }
}

/// `classes` (largest self size first) with the functions a generator names from a
/// counter (`validate1010()`) as one class, `validate<n>()`, as `leaks` counts them
/// ([`crate::class::counter_folded`]): alone each is one instance that never grows, too
/// small to be kept, and a trend over censuses could not see a leak of thousands. Their
/// retained sizes add up (such functions seldom hold one another). Largest self size first.
pub(crate) fn counter_named_as_one(classes: Vec<crate::ClassStats>) -> Vec<crate::ClassStats> {
    let mut out: Vec<crate::ClassStats> = Vec::with_capacity(classes.len());
    let mut folded_at: std::collections::HashMap<String, usize> = Default::default();
    for c in classes {
        let folded = counter_folded(&c.class);
        if folded == c.class.as_str() {
            out.push(c);
            continue;
        }
        match folded_at.get(folded.as_ref()) {
            Some(&i) => {
                let into = &mut out[i];
                into.count += c.count;
                into.self_size += c.self_size;
                into.retained_size = match (into.retained_size, c.retained_size) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
            }
            None => {
                folded_at.insert(folded.to_string(), out.len());
                out.push(crate::ClassStats {
                    class: folded.into_owned(),
                    ..c
                });
            }
        }
    }
    // Stable: ties keep the summary's order.
    out.sort_by_key(|c| std::cmp::Reverse(c.self_size));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dom_names_are_cut_to_the_tag() {
        assert_eq!(object_class_name("<div id=\"a\">"), "<div>");
        assert_eq!(object_class_name("Detached <div id=x>"), "Detached <div>");
        assert_eq!(object_class_name("StreamEntry"), "StreamEntry");
        assert_eq!(object_class_name(""), "(anonymous object)");
    }

    #[test]
    fn a_counter_at_the_end_of_a_function_name_is_folded() {
        assert_eq!(counter_folded("validate1010()"), "validate<n>()");
        assert_eq!(counter_folded("render_7()"), "render_<n>()");
    }

    #[test]
    fn other_names_are_kept() {
        for kept in [
            "validate()",
            "Sha256",
            "Int32Array",
            "123()",
            "Function",
            "(string)",
        ] {
            assert_eq!(counter_folded(kept), kept);
        }
    }
}
