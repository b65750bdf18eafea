//! A snapshot parsed with `Classification::EDGES_NEEDED` classifies and summarises exactly
//! like the full graph.

use std::process::Command;

use leaktrail_analysis::{Classification, Family, Summary};
use leaktrail_snapshot::{HeapSnapshot, ParseOptions};

#[test]
fn filtered_parse_classifies_like_the_full_graph() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.heapsnapshot");
    // Some code generated at run time, so that script sources exist beyond Node's own.
    let script = format!(
        "globalThis.fns = []; for (let i = 0; i < 50; i++) fns.push(new Function('x', 'return x + ' + i)); \
         require('v8').writeHeapSnapshot({:?});",
        path.to_str().expect("utf-8 path")
    );
    let status = Command::new("node")
        .arg("-e")
        .arg(&script)
        .status()
        .expect("node runs");
    assert!(status.success());

    let full = HeapSnapshot::open(&path, &ParseOptions::default()).expect("parses");
    let filtered = HeapSnapshot::open(
        &path,
        &ParseOptions {
            progress: None,
            edge_filter: Some(Classification::EDGES_NEEDED),
            ..Default::default()
        },
    )
    .expect("parses");
    assert!(!full.edges_filtered() && filtered.edges_filtered());
    assert_eq!(full.edge_count(), full.file_edge_count());
    assert!(
        filtered.edge_count() < full.edge_count() / 10,
        "{} kept",
        filtered.edge_count()
    );
    assert_eq!(filtered.file_edge_count(), full.file_edge_count());

    let a = Classification::of(&full);
    let b = Classification::of(&filtered);
    assert_eq!(a.class_names, b.class_names);
    assert_eq!(a.node_class, b.node_class);
    assert_eq!(a.node_family, b.node_family);
    // Script sources were recognised as code.
    let code_strings = (0..full.node_count() as u32)
        .filter(|&n| full.node_kind(n).is_string() && a.node_family[n as usize] == Family::Code)
        .count();
    assert!(code_strings > 50, "{code_strings} code-owned strings");

    let sa = serde_json::to_value(Summary::with_classes(&full, "s", &a)).expect("json");
    let sb = serde_json::to_value(Summary::with_classes(&filtered, "s", &b)).expect("json");
    assert_eq!(sa, sb);
}
