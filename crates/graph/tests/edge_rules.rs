//! The retaining-edge rules on crafted snapshots: weak edges never retain, shortcuts
//! retain only from the root, cycles and weakly-held nodes hang off the root.

use leaktrail_graph::{Distances, HeapGraph, RetainerIndex};
use leaktrail_snapshot::HeapSnapshot;

/// A snapshot of `nodes` (type, name, id, self_size, edge_count) and `edges` (type,
/// name_or_index, to_node as a node ordinal).
fn snapshot(
    nodes: &[(u32, u32, u32, u32, u32)],
    edges: &[(u32, u32, u32)],
    strings: &[&str],
) -> HeapSnapshot {
    let n: Vec<String> = nodes
        .iter()
        .map(|(t, na, id, s, ec)| format!("{t},{na},{id},{s},{ec}"))
        .collect();
    let e: Vec<String> = edges
        .iter()
        .map(|(t, na, to)| format!("{t},{na},{}", to * 5))
        .collect();
    let st: Vec<String> = strings.iter().map(|s| format!("{s:?}")).collect();
    let text = format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic"],"string","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"]}},"node_count":{},"edge_count":{}}},"nodes":[{}],"edges":[{}],"strings":[{}]}}"#,
        nodes.len(),
        edges.len(),
        n.join(","),
        e.join(","),
        st.join(",")
    );
    HeapSnapshot::from_bytes(text.as_bytes(), "crafted").expect("parses")
}

const OBJECT: u32 = 3;
const SYNTHETIC: u32 = 9;
const PROPERTY: u32 = 2;
const SHORTCUT: u32 = 5;
const WEAK: u32 = 6;
const ELEMENT: u32 = 1;

#[test]
fn weak_and_shortcut_edges() {
    // 0 root -(shortcut "g")-> 1 global -(prop "a")-> 2 A -(prop "b")-> 3 B
    // 1 global -(weak "w")-> 4 W (held only weakly)
    // 2 A -(shortcut "s")-> 5 S ; 1 global -(prop "s")-> 5 S   (shortcut from a non-root)
    // 3 B -(prop "back")-> 2 A  (a cycle)
    // 5 S -(weak "b")-> 3 B     (weak edge into a strongly held node)
    let nodes = [
        (SYNTHETIC, 0, 1, 0, 1),
        (OBJECT, 1, 3, 10, 3),
        (OBJECT, 2, 5, 20, 2),
        (OBJECT, 3, 7, 30, 1),
        (OBJECT, 4, 9, 40, 0),
        (OBJECT, 5, 11, 50, 1),
    ];
    let edges = [
        (SHORTCUT, 6, 1),
        (PROPERTY, 7, 2),
        (WEAK, 8, 4),
        (PROPERTY, 9, 5),
        (PROPERTY, 10, 3),
        (SHORTCUT, 9, 5),
        (PROPERTY, 11, 2),
        (WEAK, 10, 3),
    ];
    let strings = [
        "", "global", "A", "B", "W", "S", "g", "a", "w", "s", "b", "back",
    ];
    let snap = snapshot(&nodes, &edges, &strings);
    let mut dom = HeapGraph::new(&snap).dominators();
    assert_eq!(dom.idom(1), 0, "root's shortcut retains the global");
    assert_eq!(dom.idom(2), 1);
    assert_eq!(
        dom.idom(3),
        2,
        "B is held by A (the cycle back to A changes nothing)"
    );
    assert_eq!(dom.idom(4), 0, "held only weakly: hangs off the root");
    assert_eq!(
        dom.idom(5),
        1,
        "A's shortcut to S does not retain; the global's property does"
    );
    let r = dom.retained_sizes(|n| snap.self_size(n) as u64);
    assert_eq!(r.get(0), 150, "the root retains everything");
    assert_eq!(r.get(2), 50, "A retains itself and B");
    assert_eq!(
        r.get(1),
        10 + 50 + 50,
        "the global retains A, B and S, not W"
    );

    let dist = Distances::compute(&snap);
    assert!(!dist.is_reachable(4), "no path goes through a weak edge");
    assert_eq!(dist.distance(3), Some(3));
    let path = dist.path_to(&snap, 3).expect("path");
    let names: Vec<String> = path
        .steps
        .iter()
        .map(|s| snap.edge_name(s.edge).to_string())
        .collect();
    assert_eq!(names, ["g", "a", "b"]);
    let index = RetainerIndex::new(&snap);
    let paths = index.k_shortest(&snap, &dist, 3, 5, 10_000);
    assert_eq!(paths.len(), 1, "the weak edge from S gives no second path");
}

#[test]
fn system_roots_come_after_user_roots() {
    // 0 root -(shortcut)-> 1 global -(prop "x")-> 3 X
    // 0 root -(element 0)-> 2 "(GC roots)" -(element 0)-> 3 X
    let nodes = [
        (SYNTHETIC, 0, 1, 0, 2),
        (OBJECT, 1, 3, 10, 1),
        (SYNTHETIC, 2, 5, 0, 1),
        (OBJECT, 3, 7, 30, 0),
    ];
    let edges = [
        (SHORTCUT, 4, 1),
        (ELEMENT, 0, 2),
        (PROPERTY, 5, 3),
        (ELEMENT, 0, 3),
    ];
    let strings = ["", "global", "(GC roots)", "X", "g", "x"];
    let snap = snapshot(&nodes, &edges, &strings);
    let dist = Distances::compute(&snap);
    assert_eq!(
        dist.distance(3),
        Some(2),
        "through the global, not the GC roots"
    );
    assert!(dist.is_system(2));
    let index = RetainerIndex::new(&snap);
    let paths = index.k_shortest(&snap, &dist, 3, 5, 10_000);
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[0].steps[0].node, 1, "the application path first");
    assert_eq!(paths[1].steps[0].node, 2);
    let mut dom = HeapGraph::new(&snap).dominators();
    assert_eq!(
        dom.idom(3),
        0,
        "two roots reach X: only the root dominates it"
    );
    assert_eq!(dom.retained_sizes(|n| snap.self_size(n) as u64).get(1), 10);
}
