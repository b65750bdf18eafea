//! What the graph tests share: a real snapshot of a few lines of JavaScript.

use std::path::Path;
use std::process::Command;

use leaktrail_snapshot::{HeapSnapshot, ParseOptions};

/// Runs `setup` in `node -e`, writes a heap snapshot of the result into `dir` and parses it.
pub fn snapshot_of(dir: &Path, setup: &str) -> HeapSnapshot {
    let path = dir.join("test.heapsnapshot");
    let script = format!(
        "{setup}; require('v8').writeHeapSnapshot({:?});",
        path.to_str().expect("utf-8 path")
    );
    assert!(Command::new("node")
        .arg("-e")
        .arg(&script)
        .status()
        .expect("node runs")
        .success());
    HeapSnapshot::open(&path, &ParseOptions::default()).expect("parses")
}
