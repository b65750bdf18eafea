//! `PathFinder` gives every node the path `Distances::path_to` gives it, on a real snapshot
//! with parents of many edges (a Map's table, an array of 300 objects, duplicate edges).

mod common;

use leaktrail_graph::{Distances, PathFinder};

#[test]
fn path_finder_agrees_with_path_to_on_every_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snap = common::snapshot_of(
        dir.path(),
        "const shared = { s: 1 }; \
         globalThis.list = []; globalThis.map = new Map(); \
         for (let i = 0; i < 300; i++) { list.push({ i }); map.set('k' + i, { i, shared }); } \
         for (let i = 0; i < 100; i++) list.push(list[i])",
    );
    let distances = Distances::compute(&snap);
    let mut finder = PathFinder::new(&distances, &snap);
    let mut long = 0;
    for n in 0..snap.node_count() as u32 {
        let expected = distances.path_to(&snap, n);
        if let (Some(p), Some(parent)) = (&expected, distances.parent(n)) {
            long += usize::from(snap.edges(parent).len() >= 300 && !p.steps.is_empty());
        }
        assert_eq!(finder.path_to(n), expected, "node {n}");
    }
    assert!(
        long >= 300,
        "the array and the Map's table hold {long} paths"
    );
}
