//! `ClassSurvivors` on a snapshot Node wrote: instances kept in a global array are found
//! with their path, freed ones are not, and a class's constructor is never an instance.

use std::process::Command;

use leaktrail_analysis::{ClassSurvivors, HeapAnalysis, IdSet};
use leaktrail_snapshot::{HeapSnapshot, ParseOptions};

fn write_snapshots(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (early, late) = (
        dir.join("early.heapsnapshot"),
        dir.join("late.heapsnapshot"),
    );
    let script = format!(
        "class ScanInput {{ constructor(i) {{ this.rows = new Array(64).fill(i); }} }}\n\
         class Freed {{ constructor(i) {{ this.i = i; }} }}\n\
         globalThis.keptInputs = [];\n\
         globalThis.handlers = [];\n\
         for (let i = 0; i < 5; i++) keptInputs.push(new ScanInput(i));\n\
         for (let i = 0; i < 3; i++) handlers.push(function onData() {{ return i; }});\n\
         let sink = 0; for (let i = 0; i < 100; i++) sink += new Freed(i).i;\n\
         const v8 = require('v8');\n\
         v8.writeHeapSnapshot({early:?});\n\
         for (let i = 5; i < 7; i++) keptInputs.push(new ScanInput(i));\n\
         v8.writeHeapSnapshot({late:?});\n",
        early = early.to_str().expect("utf-8"),
        late = late.to_str().expect("utf-8"),
    );
    let status = Command::new("node")
        .arg("-e")
        .arg(&script)
        .status()
        .expect("node runs");
    assert!(status.success());
    (early, late)
}

#[test]
fn kept_instances_survive_with_their_path_and_constructors_do_not_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (early, late) = write_snapshots(dir.path());
    let snap = HeapSnapshot::open(&late, &ParseOptions::default()).expect("parses");
    let a = HeapAnalysis::new(&snap);

    let kept = ClassSurvivors::find(&a, "ScanInput", None);
    assert_eq!(kept.count, 7, "{kept:?}");
    assert_eq!(kept.matched, ["ScanInput", "ScanInput()"]);
    assert!(
        kept.self_size > 0 && kept.retained_size > kept.self_size,
        "{kept:?}"
    );
    let example = kept.example.expect("a path");
    let path = &example.paths[0];
    assert!(
        path.iter().any(|s| s.edge == "keptInputs"),
        "{:?}",
        path.iter().map(|s| &s.edge).collect::<Vec<_>>()
    );
    assert_eq!(path.last().expect("steps").object.class, "ScanInput");

    // Every Freed instance was collected; its constructor is alive but is no instance.
    let freed = ClassSurvivors::find(&a, "Freed", None);
    assert_eq!(freed.count, 0, "{freed:?}");
    assert_eq!(freed.matched, ["Freed()"]);
    assert!(freed.example.is_none());
    // Asked for as a closure, the constructor is what there is.
    assert_eq!(ClassSurvivors::find(&a, "Freed()", None).count, 1);

    // Closures: with or without the parentheses.
    assert_eq!(ClassSurvivors::find(&a, "onData", None).count, 3);
    assert_eq!(ClassSurvivors::find(&a, "onData()", None).count, 3);

    // A name the heap does not know matches nothing.
    let typo = ClassSurvivors::find(&a, "ScanImput", None);
    assert!(typo.count == 0 && typo.matched.is_empty());

    // Only what the earlier snapshot already held: the two newest inputs are left out.
    let before = HeapSnapshot::open(
        &early,
        &ParseOptions {
            progress: None,
            edge_filter: Some(|_, _, _| false),
            ..Default::default()
        },
    )
    .expect("parses");
    let older = IdSet::new(before.node_ids());
    let old = ClassSurvivors::find(&a, "ScanInput", Some(&older));
    assert_eq!((old.count, old.newer), (5, 2), "{old:?}");
}
