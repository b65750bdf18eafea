//! `leaktrail trend` over a real store and over directories of real snapshots: the
//! assessment, the exit codes, the time order taken from file names, bad input.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::store::build_store;
use common::{leaktrail, leaktrail_json, s, scenario_snapshots};

/// Snapshots every 200 iterations after a warm-up of 600: 13 points.
const AT: [u32; 13] = [
    600, 800, 1000, 1200, 1400, 1600, 1800, 2000, 2200, 2400, 2600, 2800, 3000,
];

/// A floor for runs of seconds: JIT warm-up adds tens of MiB/h over a few seconds, the
/// leaks hundreds (event-store-unbounded) or thousands (stream-registry-no-ttl).
const FLOOR: &str = "200MB/h";

#[test]
fn a_store_of_a_leaking_service_is_leaking() {
    let _shared = crate::common::shared();
    let root = tempfile::tempdir().expect("tempdir");
    let f = build_store(
        root.path(),
        "stream-registry-no-ttl",
        1600,
        &[0, 200, 400, 600, 800, 1000, 1200, 1400, 1600],
    );
    let out = leaktrail(&["trend", "--store", s(&f.dir), "--color", "never"]);
    assert_eq!(out.status.code(), Some(1), "leaking exits 1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stream-registry-no-ttl: leaking."), "{text}");
    assert!(text.contains("heap_used") && text.contains("rss"));
    assert!(text.contains("StreamEntry"));

    let md = leaktrail(&["trend", "--store", s(&f.dir), "--format", "markdown"]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.starts_with("## Memory trend"));
    assert!(md.contains("**stream-registry-no-ttl: leaking."), "{md}");
    assert!(md.contains("| series "));

    // One target by name; an unknown one is an error naming those there are.
    let one = leaktrail(&[
        "trend",
        "--store",
        s(&f.dir),
        "--target",
        "stream-registry-no-ttl",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&one.stdout).expect("JSON");
    assert_eq!(v["targets"].as_array().map(Vec::len), Some(1));
    assert!(v["targets"][0]["incarnation"]["pid"].as_i64().is_some());
    let ghost = leaktrail(&["trend", "--store", s(&f.dir), "--target", "ghost"]);
    assert_eq!(ghost.status.code(), Some(2));
    let err = String::from_utf8_lossy(&ghost.stderr);
    assert!(
        err.contains("ghost") && err.contains("stream-registry-no-ttl"),
        "{err}"
    );
}

#[test]
fn a_missing_store_is_a_clear_error() {
    let _shared = crate::common::shared();
    let root = tempfile::tempdir().expect("tempdir");
    let missing = root.path().join("nothing-here");
    let out = leaktrail(&["trend", "--store", s(&missing)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing-here") && err.contains("no leaktrail store"),
        "{err}"
    );
    // A file that is not SQLite.
    std::fs::write(root.path().join("leaktrail.db"), "not a database").expect("write");
    let out = leaktrail(&["trend", "--store", s(root.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("leaktrail.db"));
}

#[test]
fn snapshot_directories_leaking_and_clean() {
    let _shared = crate::common::shared();
    let root = tempfile::tempdir().expect("tempdir");
    // The files' times say one second per 200 iterations, whatever pace the machine ran
    // the scenario at: the rate per hour is then the bytes', not the machine's (a machine
    // at a load of 11 ran it at a sixth of its pace, under the floor).
    let pinned = |files: Vec<std::path::PathBuf>| {
        for (i, f) in files.iter().enumerate() {
            touch(f, 1_900_000_000 + i as u64);
        }
    };
    let leak_dir = root.path().join("leak");
    pinned(scenario_snapshots(&leak_dir, "event-store-unbounded", &AT));
    let clean_dir = root.path().join("clean");
    pinned(scenario_snapshots(&clean_dir, "ring-buffer", &AT));

    let out = leaktrail(&["trend", s(&leak_dir), "--floor", FLOOR, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "leaking exits 1");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["schema"], "leaktrail.trend/1");
    assert_eq!(v["source"], "snapshots");
    assert!(v["order"]
        .as_str()
        .is_some_and(|o| o.contains("<name>-<n>")));
    assert_eq!(v["overall"], "leaking");
    let t = &v["targets"][0];
    assert_eq!(t["target"], "event-store-unbounded");
    assert_eq!(t["snapshots"], AT.len());
    assert!(t["incarnation"].is_null());
    assert_eq!(t["memory"][0]["series"], "snapshot self size");
    assert_eq!(t["memory"][0]["assessment"], "leaking");
    // The manifest's culprit grows: one SessionEvent per iteration.
    let culprit = &common::manifest("event-store-unbounded.js").culprit_classes[0];
    let class = t["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .find(|c| &c["class"] == culprit)
        .unwrap_or_else(|| panic!("{culprit} not among the classes"));
    assert!(
        class["assessment"] == "growing" || class["assessment"] == "leaking",
        "{class}"
    );
    assert!(class["count_last"].as_u64() > class["count_first"].as_u64());

    let out = leaktrail(&["trend", s(&clean_dir), "--floor", FLOOR, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_ne!(v["overall"], "leaking");
    assert_ne!(v["targets"][0]["memory"][0]["assessment"], "leaking");
}

/// Sets a file's modification time (seconds since the epoch).
fn touch(path: &Path, secs: u64) {
    let ok = Command::new("touch")
        .arg("-d")
        .arg(format!("@{secs}"))
        .arg(path)
        .status()
        .expect("touch runs")
        .success();
    assert!(ok);
}

#[test]
fn time_order_from_node_names_and_from_mtimes() {
    let _shared = crate::common::shared();
    let root = tempfile::tempdir().expect("tempdir");
    let raw = root.path().join("raw");
    let files = scenario_snapshots(&raw, "stream-registry-no-ttl", &[0, 200, 400, 600, 800]);

    // Node's names: the time comes from the name (a minute apart here), whatever the
    // files' modification times say, and each PID is its own target.
    let node = root.path().join("node");
    std::fs::create_dir(&node).expect("dir");
    for (i, f) in files.iter().enumerate() {
        let name = format!(
            "Heap.20261125.10{:02}00.4242.0.{:03}.heapsnapshot",
            i,
            i + 1
        );
        let to = node.join(name);
        std::fs::copy(f, &to).expect("copy");
        // Newest first by mtime: only the names give the right order.
        touch(&to, 2_000_000_000 - i as u64 * 100);
    }
    std::fs::copy(
        &files[0],
        node.join("Heap.20261125.110000.777.0.001.heapsnapshot"),
    )
    .expect("copy");
    let v = leaktrail_json(&["trend", s(&node), "--floor", FLOOR]);
    assert!(
        v["order"].as_str().is_some_and(|o| o.contains("Heap.")),
        "{}",
        v["order"]
    );
    let targets = v["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2, "one per PID");
    let t = targets
        .iter()
        .find(|t| t["target"] == "pid 4242")
        .expect("pid 4242");
    assert_eq!(t["snapshots"], 5);
    // 10:00:00 → 10:04:00 UTC on 2026-11-25.
    assert_eq!(t["window"][0].as_i64(), Some(1_795_600_800_000));
    assert_eq!(t["window"][1].as_i64(), Some(1_795_601_040_000));
    let entry = t["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .find(|c| c["class"] == "StreamEntry")
        .expect("StreamEntry");
    assert_eq!(entry["count_first"], 0);
    assert_eq!(entry["count_last"], 800, "in name order, not mtime order");

    // Names without an order: modification times decide.
    let plain = root.path().join("plain");
    std::fs::create_dir(&plain).expect("dir");
    for (i, f) in files.iter().enumerate() {
        // Alphabetical order is the reverse of the true one.
        let to = plain.join(format!("{}.heapsnapshot", char::from(b'e' - i as u8)));
        std::fs::copy(f, &to).expect("copy");
        touch(&to, 1_900_000_000 + i as u64 * 60);
    }
    let v = leaktrail_json(&["trend", s(&plain), "--floor", FLOOR]);
    assert_eq!(v["order"], "file modification time");
    let t = &v["targets"][0];
    assert_eq!(t["target"], "plain");
    let entry = t["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .find(|c| c["class"] == "StreamEntry")
        .expect("StreamEntry");
    assert_eq!(
        (entry["count_first"].as_u64(), entry["count_last"].as_u64()),
        (Some(0), Some(800))
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let _shared = crate::common::shared();
    let root = tempfile::tempdir().expect("tempdir");
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).expect("dir");
    let out = leaktrail(&["trend", s(&empty)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .heapsnapshot files"));
    // A watcher's store given as a directory of snapshots: the error says how to read it.
    let store = root.path().join("store");
    leaktrail_store::Store::create(&store).expect("store");
    let out = leaktrail(&["trend", s(&store)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "read it with `leaktrail trend --store {}`",
            s(&store)
        )),
        "{err}"
    );

    let bad = root.path().join("bad");
    std::fs::create_dir(&bad).expect("dir");
    std::fs::write(bad.join("app-1.heapsnapshot"), "{\"snapshot\": 12").expect("write");
    let out = leaktrail(&["trend", s(&bad)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("app-1.heapsnapshot"));

    for (flags, needle) in [
        (vec!["--floor", "1KB/iter"], "per hour"),
        (vec!["--floor", "lots"], "like 1MB/h, 64KB/min or 10KB/s"),
        (vec!["--alpha", "2"], "--alpha"),
    ] {
        let mut args = vec!["trend", s(&empty)];
        args.extend(flags.iter().copied());
        let out = leaktrail(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{flags:?}: {err}");
    }
    // --target needs --store; a directory and --store exclude each other.
    assert_eq!(
        leaktrail(&["trend", s(&empty), "--target", "x"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        leaktrail(&["trend", s(&empty), "--store", s(&empty)])
            .status
            .code(),
        Some(2)
    );
}
