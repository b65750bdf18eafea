//! `leaktrail run --no-raw-snapshots`: no heap snapshot ever touches the disk, and the
//! verdict and the culprit are those the snapshot files give.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `leaktrail run --format json ARGS -- COMMAND` with `TMPDIR` and the working directory
/// (its, its census processes' and the workload's) inside `dir`.
fn run_in(dir: &Path, args: &[&str], command: &[String]) -> (Option<i32>, serde_json::Value) {
    let (tmp, cwd) = (dir.join("tmp"), dir.join("cwd"));
    for d in [&tmp, &cwd] {
        std::fs::create_dir_all(d).expect("dir");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .args(["run", "--format", "json"])
        .args(args)
        .arg("--")
        .args(command)
        .env("NO_COLOR", "1")
        .env("TMPDIR", &tmp)
        .current_dir(&cwd)
        .output()
        .expect("leaktrail runs");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

/// The verdict and the culprit's class of a run's report.
fn verdict(report: &serde_json::Value) -> (String, String) {
    (
        report["assessment"]["outcome"].to_string(),
        report["culprit"]["clusters"][0]["class"]
            .as_str()
            .unwrap_or("(none)")
            .to_owned(),
    )
}

/// Both schedules: snapshots spread over a bounded run, and the doubling one with the
/// snapshot at the workload's exit as FINAL.
#[test]
fn no_snapshot_touches_the_disk_and_the_verdict_and_culprit_are_the_files() {
    let _measured = measured();
    let spec = manifest("stream-registry-no-ttl.js");
    let bounded = forever_runner(
        &["--expose-gc"],
        "stream-registry-no-ttl",
        &["--print-every", "25"],
    );
    let dir = scenarios_dir();
    let exits_by_itself: Vec<String> = vec![
        node().display().to_string(),
        "--expose-gc".into(),
        dir.join("runner.js").display().to_string(),
        dir.join("stream-registry-no-ttl.js").display().to_string(),
        "--iterations".into(),
        "1500".into(),
        "--print-every".into(),
        "25".into(),
    ];
    for (bound, command) in [(Some("1500"), &bounded), (None, &exits_by_itself)] {
        let root = tempfile::tempdir().expect("tempdir");
        let (streamed, filed) = (root.path().join("streamed"), root.path().join("filed"));
        let mut results = Vec::new();
        for (dir, zero_disk) in [(&streamed, true), (&filed, false)] {
            let out = dir.join("out");
            let mut args = vec!["--out", s(&out)];
            if let Some(n) = bound {
                args.extend(["--iterations", n]);
            }
            if zero_disk {
                args.push("--no-raw-snapshots");
            }
            let (code, report) = run_in(dir, &args, command);
            assert_eq!(code, Some(1), "{}", report["assessment"]["sentence"]);
            if zero_disk {
                assert_eq!(
                    snapshot_files(dir),
                    Vec::<PathBuf>::new(),
                    "no raw snapshot, whole or partial, in --out, TMPDIR or the cwd"
                );
                // Named, never written.
                let names: Vec<&str> = report["run"]["snapshots"]
                    .as_array()
                    .expect("snapshots")
                    .iter()
                    .filter_map(|s| s["path"].as_str())
                    .collect();
                assert!(names.len() >= 2 && names.iter().all(|n| n.starts_with('#')));
                assert!(out.join("report.md").exists());
            }
            results.push(verdict(&report));
        }
        assert_eq!(results[0], results[1], "streamed / filed ({bound:?})");
        assert!(
            spec.culprit_classes.contains(&results[0].1),
            "{:?} ({bound:?})",
            results[0]
        );
    }
}

#[test]
fn no_raw_snapshots_needs_the_inspector() {
    let _measured = measured();
    for args in [
        vec!["run", "--no-raw-snapshots", "--no-inspector", "--", "true"],
        vec!["run", "--no-raw-snapshots", "--", "true"],
        vec![
            "run",
            "--no-raw-snapshots",
            "--expect-freed",
            "Foo",
            "--",
            "node",
        ],
    ] {
        let out = leaktrail(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--no-raw-snapshots"), "{args:?}: {err}");
    }
}

/// A few Worker objects weigh a few hundred bytes of heap each, under the byte floor, but
/// hold a thread each: the census path names them as the snapshot files do. 6,000
/// iterations, for 8 workers or more between the first two snapshots kept (see
/// `run_shapes::worker_threads_never_terminated_are_the_headline`).
#[test]
fn zero_disk_names_a_small_worker_leak_as_the_files_do() {
    let _measured = measured();
    let spec = manifest("worker-threads-leak.js");
    let dir = scenarios_dir();
    let command: Vec<String> = vec![
        node().display().to_string(),
        "--expose-gc".into(),
        dir.join("runner.js").display().to_string(),
        dir.join("worker-threads-leak.js").display().to_string(),
        "--iterations".into(),
        "6000".into(),
        "--print-every".into(),
        "25".into(),
    ];
    let root = tempfile::tempdir().expect("tempdir");
    let (code, report) = run_in(root.path(), &["--no-raw-snapshots"], &command);
    assert_eq!(code, Some(1), "{}", report["assessment"]["sentence"]);
    assert_eq!(snapshot_files(root.path()), Vec::<PathBuf>::new());
    let cluster = &report["culprit"]["clusters"][0];
    let class = cluster["class"].as_str().unwrap_or("(none)");
    assert!(spec.culprit_classes.iter().any(|c| c == class), "{report}");
    let holder = cluster["holder"].as_str().unwrap_or("");
    assert!(holder.contains("workers"), "{holder}");
}
