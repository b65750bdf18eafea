//! The child process `watch` parses each snapshot in (`leaktrail census`): it gives the
//! census the watcher would have taken itself, and a bad file costs one census with an
//! error that names it.

mod common;

use std::path::PathBuf;

use common::*;
use leaktrail_analysis::CensusLimits;
use leaktrail_watch::{census_of_file, CensusWorker};

#[test]
fn the_child_census_is_the_census_taken_in_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snap = scenario_snapshots(dir.path(), "stream-registry-no-ttl", &[200]).remove(0);
    let limits = CensusLimits {
        classes_by_self_size: 40,
        ..CensusLimits::default()
    };
    let child = CensusWorker::Process(PathBuf::from(env!("CARGO_BIN_EXE_leaktrail")))
        .census(&snap, "s-1.heapsnapshot", &limits)
        .expect("the child's census");
    let here = census_of_file(&snap, "s-1.heapsnapshot", &limits).expect("census");
    let json = |c| serde_json::to_value(c).expect("serialises");
    assert_eq!(json(&child), json(&here));
    // The limits went across: 40 classes by self size, then up to 100 by retained size.
    assert!(child.classes.len() > 40 && child.classes.len() <= 140);
    assert!(child
        .classes
        .iter()
        .any(|c| c.class == "StreamEntry" && c.count >= 200));
    assert_eq!(child.info.path, "s-1.heapsnapshot");
}

#[test]
fn a_bad_snapshot_fails_its_census_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("cut.heapsnapshot");
    std::fs::write(&bad, br#"{"snapshot":{"meta":{"node_fields":["type""#).expect("write");
    let err = CensusWorker::Process(PathBuf::from(env!("CARGO_BIN_EXE_leaktrail")))
        .census(&bad, "cut.heapsnapshot", &CensusLimits::default())
        .expect_err("a cut file has no census");
    assert!(
        err.starts_with("the census process exited with 2") && err.contains(s(&bad)),
        "{err}"
    );
    let missing = CensusWorker::Process(dir.path().join("no-such-leaktrail"))
        .census(&bad, "cut.heapsnapshot", &CensusLimits::default())
        .expect_err("no program");
    assert!(missing.contains("cannot start"), "{missing}");
}
