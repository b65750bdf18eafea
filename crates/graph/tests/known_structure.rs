//! Retained sizes on a real snapshot of a known structure, checked against the definition.

mod common;

use leaktrail_graph::{Graph, HeapGraph};
use leaktrail_snapshot::NodeKind;

/// Nodes reachable from the root along retaining edges, never entering `removed`.
fn reachable(g: &HeapGraph<'_>, removed: Option<u32>) -> Vec<bool> {
    let mut seen = vec![false; g.node_count()];
    let mut stack = vec![0u32];
    seen[0] = true;
    while let Some(v) = stack.pop() {
        g.for_each_successor(v, |t| {
            if Some(t) != removed && !seen[t as usize] {
                seen[t as usize] = true;
                stack.push(t);
            }
        });
    }
    seen
}

#[test]
fn map_of_buffers_retains_exactly_what_it_alone_holds() {
    const N: u64 = 500;
    let dir = tempfile::tempdir().expect("tempdir");
    let snap = common::snapshot_of(
        dir.path(),
        &format!(
            "class Holder {{ constructor() {{ this.entries = new Map(); }} }} \
             globalThis.holder = new Holder(); \
             for (let i = 0; i < {N}; i++) holder.entries.set('k' + i, {{ payload: new ArrayBuffer(1024) }})"
        ),
    );
    let graph = HeapGraph::new(&snap);
    let mut dom = graph.dominators();
    let retained = dom.retained_sizes(|n| snap.self_size(n) as u64);

    // The root retains every node: all are reachable or attached to it.
    let total: u64 = (0..snap.node_count() as u32)
        .map(|n| snap.self_size(n) as u64)
        .sum();
    assert_eq!(retained.get(0), total);

    // The Map of the one Holder.
    let holder = (0..snap.node_count() as u32)
        .find(|&n| snap.node_kind(n) == NodeKind::Object && snap.node_name(n) == "Holder")
        .expect("Holder");
    let map = snap
        .edges(holder)
        .find(|&e| {
            matches!(
                snap.edge_name(e),
                leaktrail_snapshot::EdgeName::Name("entries")
            )
        })
        .map(|e| snap.edge_target(e))
        .expect("entries");
    assert_eq!(snap.node_name(map), "Map");

    // By definition the Map dominates what becomes unreachable without it.
    let all = reachable(&graph, None);
    let without = reachable(&graph, Some(map));
    let alone: u64 = (0..snap.node_count())
        .filter(|&n| all[n] && !without[n])
        .map(|n| snap.self_size(n as u32) as u64)
        .sum();
    assert_eq!(retained.get(map), alone);
    assert!(alone >= N * 1024, "{alone} < {}", N * 1024);
    assert_eq!(dom.idom(map), holder);
    // Every node the Map dominates has it on its dominator chain.
    for n in 0..snap.node_count() as u32 {
        if all[n as usize] && !without[n as usize] && n != map {
            let mut d = dom.idom(n);
            while d != map && d != 0 {
                d = dom.idom(d);
            }
            assert_eq!(d, map, "node {n}");
        }
    }
}
