//! `leaktrail run` reads the heap V8 leaves after its own major GCs between its forced-GC
//! samples ("cheap points": no GC of leaktrail's, no request): they are recorded with
//! their kind, labelled with the iteration the workload was at when the GC ended, fitted
//! with the forced samples, and they stand in for forced samples that the minimum density
//! of points would otherwise force past the overhead budget. Real node processes; the
//! assertions are on facts (points, labels, verdicts, which points decided), not on how
//! fast the machine is.

use crate::common;

use common::*;
use std::path::Path;

// One run at a time (`measured()`, see run_shapes.rs): a fast loop sampled beside another
// test's run on a 2-core machine is measured, not only checked.

/// A hot loop (no I/O, a `setImmediate` between requests) whose requests each hold a
/// ~8 KB row buffer in a window of the last 3,000 (filled before the first line, so the
/// heap is level from the start), run with a heap cap as in a container
/// (`--max-old-space-size=48`, 27 MB live): what a request leaves behind outlives the
/// young generation and dies in the old one, and near its cap V8 runs major GCs of its
/// own every few dozen to few hundred requests (without the cap, one in 10,000). `leak`
/// also keeps a ~0.9 KB Session per request forever.
const WINDOWED: &str = r#"
'use strict';
const leak = process.argv[2] === 'leak';
const total = Number(process.argv[3]);
const WINDOW = 3000;
const rows = (i) => new Array(1000).fill(i);
const recent = Array.from({ length: WINDOW }, (_, k) => ({ id: -k, rows: rows(0) }));
const sessions = [];
// Held by the module, as a service holds its state: still there at the exit's snapshot.
module.exports = { recent, sessions };
class Session {
  constructor(i) {
    this.id = i;
    this.user = `user-${i}`;
    this.scopes = Array.from({ length: 100 }, (_, k) => k + i);
  }
}
let i = 0;
function step() {
  recent[i % WINDOW] = { id: i, rows: rows(i) };
  if (leak) sessions.push(new Session(i));
  i++;
  if (i % 25 === 0) process.stdout.write(`iteration=${i}\n`);
  if (i < total) setImmediate(step);
  // A moment after the last line (see the README on Node 20 at exit).
  else setTimeout(() => {}, 300);
}
step();
"#;

fn script(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the workload");
    path.display().to_string()
}

/// Runs the windowed loop (`mode` leak or clean) for `total` iterations under `leaktrail
/// run --major-gc-points` with the default budget, to its own end, `args` given to `run`
/// too.
fn run_windowed(mode: &str, total: u64, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let _turn = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = script(dir.path(), "windowed.js", WINDOWED);
    let command = vec![
        node().display().to_string(),
        "--expose-gc".to_owned(),
        "--max-old-space-size=48".to_owned(),
        workload,
        mode.to_owned(),
        total.to_string(),
    ];
    let mut all = vec!["--snapshots", "0", "--major-gc-points"];
    all.extend_from_slice(args);
    run_json(&all, &command)
}

/// The cheap points of a report, checked for what every one must be: of kind
/// `major_gc`, labelled with an iteration the run reached, in the order they were read,
/// their labels never going back; returns them.
fn checked_cheap_points(report: &serde_json::Value) -> Vec<serde_json::Value> {
    let run = &report["run"];
    let last = run["last_iteration"].as_u64().expect("last_iteration");
    let points = run["cheap_points"]
        .as_array()
        .expect("cheap_points")
        .clone();
    let mut previous = (0.0, 0);
    for p in &points {
        assert_eq!(p["kind"], "major_gc", "{p}");
        let t = p["t"].as_f64().expect("t");
        let n = p["iteration"]
            .as_u64()
            .unwrap_or_else(|| panic!("a cheap point without its iteration: {p}"));
        assert!(n <= last, "{p} labelled past the last iteration {last}");
        assert!(
            t >= previous.0 && n >= previous.1,
            "{p} comes before the point read before it ({previous:?})"
        );
        assert!(p["heap_used"].as_u64().is_some_and(|h| h > 0), "{p}");
        previous = (t, n);
    }
    // None of them is one of leaktrail's own GCs: those are the samples.
    points
}

#[test]
fn a_fast_loop_with_major_gcs_of_its_own_gets_cheap_points_and_a_leak() {
    let out = tempfile::tempdir().expect("tempdir");
    let (code, report) = run_windowed("leak", 12_000, &["--out", s(out.path())]);
    let a = &report["assessment"];
    assert_eq!(code, Some(1), "{}", a["sentence"]);
    let points = checked_cheap_points(&report);
    assert!(
        points.len() >= 3,
        "V8 ran major GCs of its own every few hundred requests, yet {} cheap points: {}",
        points.len(),
        report["run"]["cheap_points"]
    );
    // Fitted with the forced samples after the warm-up, and said.
    assert!(
        a["points"]["major_gc"].as_u64().is_some_and(|n| n >= 3),
        "{}",
        a["points"]
    );
    assert_eq!(
        a["points"]["forced"],
        report["run"]["samples"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    );
    assert!(
        a["sentence"]
            .as_str()
            .is_some_and(|s| s.contains("major GCs")),
        "{}",
        a["sentence"]
    );
    // The series with the cheap points says leak; which points decided is said (the
    // forced samples alone, when they decided: they are the authority).
    assert_eq!(a["points"]["with_major_gc"], "leak", "{}", a["points"]);
    let decided_by = a["points"]["decided_by"].as_str().unwrap_or("");
    assert!(
        ["forced", "forced_and_major_gc"].contains(&decided_by),
        "{}",
        a["points"]
    );
    // The slope is the Session's (~0.9 KB an iteration), not the window's churn.
    let slope = a["primary"]["verdict"]["slope"]["slope"]
        .as_f64()
        .expect("slope");
    assert!(
        (500.0..=2500.0).contains(&slope),
        "slope {slope} B/iteration"
    );
    // The chart draws them beside the forced samples, and samples.json keeps them.
    let html = std::fs::read_to_string(out.path().join("report.html")).expect("report.html");
    assert!(
        html.contains("after V8's own major GCs"),
        "no major-GC points in the chart"
    );
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("samples.json")).expect("samples.json"),
    )
    .expect("samples.json is JSON");
    assert_eq!(saved["run"]["cheap_points"], report["run"]["cheap_points"]);
}

#[test]
fn a_fast_loop_without_a_leak_passes_and_its_cheap_points_stand_in_for_forced_ones() {
    let (code, report) = run_windowed("clean", 12_000, &[]);
    let a = &report["assessment"];
    assert_eq!(code, Some(0), "{}", a["sentence"]);
    let points = checked_cheap_points(&report);
    assert!(points.len() >= 3, "{}", report["run"]["cheap_points"]);
    assert_ne!(a["points"]["with_major_gc"], "leak", "{}", a["points"]);
    // What they cost is counted with the rest, and is no GC: a reading each.
    let run = &report["run"];
    let cheap = run["cheap_seconds"].as_f64().expect("cheap_seconds");
    let sampling = run["sampling_seconds"].as_f64().expect("sampling_seconds");
    assert!(cheap >= 0.0 && cheap <= sampling, "{cheap} of {sampling} s");
    // The minimum density of points counts them: where it would have forced a sample
    // past the budget, a point after one of V8's major GCs stood in for it.
    assert!(
        run["density_stood_in"].as_u64().is_some_and(|n| n >= 1),
        "density points past the budget {}, stood in for {}",
        run["density_points"],
        run["density_stood_in"]
    );
}

#[test]
fn without_the_flag_no_observer_is_put_in_and_every_point_is_forced() {
    let _turn = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = script(dir.path(), "windowed.js", WINDOWED);
    let command = vec![
        node().display().to_string(),
        "--expose-gc".to_owned(),
        "--max-old-space-size=48".to_owned(),
        workload,
        "clean".to_owned(),
        "3000".to_owned(),
    ];
    let (code, report) = run_json(&["--snapshots", "0"], &command);
    // The verdict of 3,000 iterations of this loop is not what this test is about; only
    // that the run was carried out.
    assert_ne!(code, Some(2), "{}", report["assessment"]["sentence"]);
    assert!(!report["run"]["samples"]
        .as_array()
        .is_some_and(Vec::is_empty));
    assert_eq!(report["run"]["cheap_points"], serde_json::json!([]));
    assert_eq!(report["run"]["density_stood_in"], 0);
    assert_eq!(report["assessment"]["points"]["major_gc"], 0);
}
