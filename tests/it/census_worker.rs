//! The child process `watch` parses each snapshot in (`leaktrail census`): it gives the
//! census the watcher would have taken itself, and a bad file costs one census with an
//! error that names it.

use crate::common;

use std::path::PathBuf;

use common::*;
use leaktrail_analysis::{CensusLimits, LeakWindow};
use leaktrail_watch::{census_of_file, CensusWorker};

#[test]
fn the_child_census_is_the_census_taken_in_process() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "stream-registry-no-ttl", &[200, 400, 600]);
    let limits = CensusLimits {
        classes_by_self_size: 40,
        ..CensusLimits::default()
    };
    // The leak window of the third: the highest ids of the first two.
    let max_id = |i: usize| {
        census_of_file(&snaps[i], "earlier", &limits, None)
            .expect("census")
            .max_node_id
            .expect("a max id")
    };
    let window = LeakWindow {
        base: "s-1.heapsnapshot".into(),
        base_max_id: max_id(0),
        target: "s-2.heapsnapshot".into(),
        target_max_id: max_id(1),
    };
    assert!(window.base_max_id < window.target_max_id, "{window:?}");
    let snap = &snaps[2];
    let child = CensusWorker::Process(PathBuf::from(env!("CARGO_BIN_EXE_leaktrail")))
        .census(snap, "s-3.heapsnapshot", &limits, Some(&window))
        .expect("the child's census");
    let here = census_of_file(snap, "s-3.heapsnapshot", &limits, Some(&window)).expect("census");
    let json = |c| serde_json::to_value(c).expect("serialises");
    assert_eq!(json(&child), json(&here));
    // The limits went across: 40 classes by self size, then up to 100 by retained size and
    // 100 by count.
    assert!(child.classes.len() > 40 && child.classes.len() <= 240);
    // So did the window: the leak roots allocated between the first two snapshots.
    let leaks = child.leaks.as_ref().expect("leak evidence");
    assert_eq!(leaks.window, window);
    let top = leaks.clusters.first().expect("a cluster");
    assert_eq!(top.class, "StreamEntry", "{leaks:?}");
    assert!((150..=250).contains(&top.count), "{top:?}");
    assert!(top.holder.contains("`streams`"), "{top:?}");
    assert!(child
        .classes
        .iter()
        .any(|c| c.class == "StreamEntry" && c.count >= 200));
    assert_eq!(child.info.path, "s-3.heapsnapshot");
}

#[test]
fn a_bad_snapshot_fails_its_census_with_the_file_named() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("cut.heapsnapshot");
    std::fs::write(&bad, br#"{"snapshot":{"meta":{"node_fields":["type""#).expect("write");
    let err = CensusWorker::Process(PathBuf::from(env!("CARGO_BIN_EXE_leaktrail")))
        .census(&bad, "cut.heapsnapshot", &CensusLimits::default(), None)
        .expect_err("a cut file has no census");
    assert!(
        err.starts_with("the census process exited with 2") && err.contains(s(&bad)),
        "{err}"
    );
    let missing = CensusWorker::Process(dir.path().join("no-such-leaktrail"))
        .census(&bad, "cut.heapsnapshot", &CensusLimits::default(), None)
        .expect_err("no program");
    assert!(missing.contains("cannot start"), "{missing}");
}

#[test]
fn generated_functions_named_by_a_counter_are_one_class_in_a_census() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    // What ajv does per compile: a function named from a counter, kept in a cache.
    node_eval(
        dir.path(),
        "globalThis.cache = []; for (let i = 1; i <= 600; i++) \
         cache.push(eval(`(function validate${i}(data) { return data.id === ${i}; })`)); \
         require('v8').writeHeapSnapshot('s.heapsnapshot')",
    );
    let census = census_of_written(dir.path());
    let folded = census
        .classes
        .iter()
        .find(|c| c.class == "validate<n>()")
        .unwrap_or_else(|| panic!("validate<n>() kept: {:?}", census.classes.len()));
    assert!(folded.count >= 600, "{folded:?}");
    assert!(
        !census.classes.iter().any(|c| c.class == "validate17()"),
        "each one's own class is gone"
    );
}

#[test]
fn a_maps_entries_are_counted_whatever_its_keys_and_values_are() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    // V8 writes an edge only for a slot of a Map's table that holds an object: number keys
    // and number values have none, deleted entries neither.
    node_eval(
        dir.path(),
        "globalThis.byNumber = new Map(); for (let i = 0; i < 600; i++) byNumber.set(i, {i}); \
         globalThis.byObject = new Map(); for (let i = 0; i < 700; i++) byObject.set({i}, {i}); \
         globalThis.counts = new Map(); for (let i = 0; i < 800; i++) counts.set('k' + i, i); \
         globalThis.pruned = new Map(); for (let i = 0; i < 900; i++) pruned.set('p' + i, {i}); \
         for (let i = 0; i < 300; i++) pruned.delete('p' + i); \
         globalThis.seen = new Set(); for (let i = 0; i < 500; i++) seen.add({i}); \
         require('v8').writeHeapSnapshot('s.heapsnapshot')",
    );
    let census = census_of_written(dir.path());
    let entries = |global: &str| {
        census
            .collections
            .iter()
            .find(|c| {
                c.path.ends_with(&format!(".{global}")) || c.path.contains(&format!("{global} "))
            })
            .unwrap_or_else(|| panic!("{global} in {:#?}", census.collections))
            .entries
    };
    assert_eq!(entries("byNumber"), 600);
    assert_eq!(entries("byObject"), 700);
    assert_eq!(entries("counts"), 800);
    assert_eq!(entries("pruned"), 600);
    assert_eq!(entries("seen"), 500);
}

/// The census of the `s.heapsnapshot` a script wrote in `dir`.
fn census_of_written(dir: &std::path::Path) -> leaktrail_analysis::SnapshotCensus {
    census_of_file(
        &dir.join("s.heapsnapshot"),
        "s.heapsnapshot",
        &CensusLimits::default(),
        None,
    )
    .expect("census")
}
