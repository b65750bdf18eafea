//! `diff --lane-dir`: earliest and latest snapshot per PID.

use crate::common;

use common::*;

/// A Node program that writes `n` snapshots under Node's default names, growing between them.
fn lane_process(n: u32) -> String {
    format!(
        "const v8 = require('v8'); const keep = []; \
         for (let i = 0; i < {n}; i++) {{ \
           for (let k = 0; k < 20000; k++) keep.push({{ k, s: 'x' + k }}); \
           v8.writeHeapSnapshot(); }} \
         console.log(process.pid);"
    )
}

#[test]
fn lane_dir_pairs_earliest_and_latest_per_pid() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_of = |out: std::process::Output| -> u32 {
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pid printed")
    };
    let p1 = pid_of(node_eval(dir.path(), &lane_process(3)));
    let p2 = pid_of(node_eval(dir.path(), &lane_process(2)));
    let p3 = pid_of(node_eval(dir.path(), &lane_process(1)));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");

    let report = leaktrail_json(&["diff", "--lane-dir", s(dir.path())]);
    assert_eq!(report["schema"], "leaktrail.lanes/1");
    let lanes = report["lanes"].as_array().expect("lanes");
    assert_eq!(lanes.len(), 3);
    let lane = |pid: u32| {
        lanes
            .iter()
            .find(|l| l["pid"] == pid)
            .unwrap_or_else(|| panic!("lane {pid}"))
    };
    let seq = |path: &serde_json::Value| -> String {
        let p = path.as_str().expect("path");
        assert!(p.contains(&format!(".{}.", p.split('.').nth(3).unwrap_or(""))));
        p.rsplit('.').nth(1).expect("seq").to_owned()
    };
    let l1 = lane(p1);
    assert_eq!(l1["snapshots"], 3);
    assert!(l1["diff"]["before"]["path"]
        .as_str()
        .expect("path")
        .contains(&format!(".{p1}.")));
    assert_eq!(seq(&l1["diff"]["before"]["path"]), "001");
    assert_eq!(seq(&l1["diff"]["after"]["path"]), "003");
    // 40,000 objects were added between the first and the third snapshot.
    let objects = l1["diff"]["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .find(|c| c["class"] == "Object")
        .expect("Object row");
    assert!(
        objects["new_count"].as_u64().expect("new") >= 40_000,
        "{objects}"
    );
    let l2 = lane(p2);
    assert_eq!(l2["snapshots"], 2);
    assert_eq!(seq(&l2["diff"]["after"]["path"]), "002");
    assert!(
        lane(p3)["diff"].is_null(),
        "a single snapshot has nothing to compare"
    );

    // --pid picks one lane; an unknown PID is an error naming the directory.
    let only = leaktrail_json(&[
        "diff",
        "--lane-dir",
        s(dir.path()),
        "--pid",
        &p2.to_string(),
    ]);
    assert_eq!(only["lanes"].as_array().expect("lanes").len(), 1);
    let out = leaktrail(&["diff", "--lane-dir", s(dir.path()), "--pid", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no snapshots of PID 1"));

    // The <pid>-<seq> naming is understood too, and sorted numerically.
    let lane_b = tempfile::tempdir().expect("tempdir");
    let src = |i: usize| {
        l1["diff"][if i == 0 { "before" } else { "after" }]["path"]
            .as_str()
            .expect("path")
            .to_owned()
    };
    std::fs::copy(src(0), lane_b.path().join("77-2.heapsnapshot")).expect("copy");
    std::fs::copy(src(1), lane_b.path().join("77-10.heapsnapshot")).expect("copy");
    let r = leaktrail_json(&["diff", "--lane-dir", s(lane_b.path())]);
    let l = &r["lanes"][0];
    assert_eq!(l["pid"], 77);
    assert!(l["diff"]["after"]["path"]
        .as_str()
        .expect("path")
        .ends_with("77-10.heapsnapshot"));
    assert!(l["diff"]["total_delta"].as_i64().expect("delta") > 0);
}

#[test]
fn empty_lane_dir_is_an_error() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = leaktrail(&["diff", "--lane-dir", s(dir.path())]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(s(dir.path())) && err.contains("no .heapsnapshot files"),
        "{err}"
    );
}
