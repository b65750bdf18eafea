//! `leaktrail run`'s checks beside the memory verdict, on real workloads: threads back to
//! their baseline, `--expect-freed`, PSS next to RSS, and the overhead budget's flag.

use crate::common;

use std::path::Path;

use common::*;

/// The check named `name` in a report.
fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["assessment"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?}: {}", report["assessment"]["checks"]))
}

/// Writes `script` to `dir/name` and returns its path.
fn script(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the workload");
    path.display().to_string()
}

/// A service loop that starts a worker thread every 10 iterations; `keep` never
/// terminates them.
const WORKERS: &str = r#"
const { Worker } = require('worker_threads');
const keep = process.argv[2] === 'keep';
const workers = [];
let i = 0;
function step() {
  i++;
  if (i % 10 === 0) {
    const w = new Worker('require("worker_threads").parentPort.on("message", () => {});', { eval: true });
    if (keep) workers.push(w); else w.terminate();
  }
  if (i % 5 === 0) console.log('iteration=' + i);
  setTimeout(step, 2);
}
step();
"#;

#[test]
fn worker_threads_left_running_fail_the_thread_check() {
    let _measured = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = script(dir.path(), "workers.js", WORKERS);
    let out = dir.path().join("out");
    let (code, report) = run_json(
        &[
            "--iterations",
            "400",
            "--max-overhead",
            "none",
            "--out",
            s(&out),
        ],
        &["node", &workload, "keep"],
    );
    let threads = check(&report, "threads back to baseline");
    assert_eq!(code, Some(1), "{threads}");
    assert_eq!(threads["status"], "failed");
    let finding = threads["finding"].as_str().expect("finding");
    assert!(
        finding.contains("threads at the end vs")
            && finding.contains("worker threads not terminated"),
        "{finding}"
    );
    let (baseline, end) = (
        threads["detail"]["baseline"].as_u64().expect("baseline"),
        threads["detail"]["end"].as_u64().expect("end"),
    );
    // 40 workers over the run, one thread each; the baseline window (after the memory
    // series' warm-up, which a loaded machine may make long) holds some of them.
    assert!(end >= baseline + 10, "{threads}");
    assert_eq!(threads["detail"]["grows_steadily"], true);
    assert_eq!(report["assessment"]["grows"], "threads");
    // Its own line in each report.
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains("threads back to baseline — FAILED"), "{md}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
    assert!(
        junit.contains("name=\"threads back to baseline\"")
            && junit.contains("<failure message=\"")
            && junit.contains("threads at the end vs"),
        "{junit}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert!(html.contains("threads back to baseline"), "html");
}

#[test]
fn worker_threads_that_are_terminated_pass_the_thread_check() {
    let _measured = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = script(dir.path(), "workers.js", WORKERS);
    // Starting and ending workers churns the main heap a little: the floor is raised so
    // that the memory verdict decides too.
    let (code, report) = run_json(
        &[
            "--iterations",
            "400",
            "--max-overhead",
            "none",
            "--max-growth",
            "2KB/iter",
        ],
        &["node", &workload, "terminate"],
    );
    let threads = check(&report, "threads back to baseline");
    assert_eq!(threads["status"], "passed", "{threads}");
    assert_eq!(code, Some(0), "{}", report["assessment"]["sentence"]);
}

/// A scan loop: each iteration builds a `ScanInput`, waits for its rows (1 ms) and scans
/// it, so the input of the step in flight is alive; `keep` also stores every tenth in a
/// global array. Runs 300 iterations and exits, or `forever`. It idles 300 ms before it
/// exits: Node 20 sometimes dies of SIGSEGV when an inspector request (a sample) reaches
/// it while it tears down (3 runs in 120 under load without the pause, none in 150 with
/// it), which `run` reports as the workload's crash; these tests are about the heap at
/// exit, not that race.
const SCANS: &str = r#"
class ScanInput { constructor(i) { this.rows = new Array(32).fill(i); } }
globalThis.seenInputs = [];
const keep = process.argv[2] === 'keep';
const forever = process.argv[3] === 'forever';
const scan = (input) => input.rows.reduce((a, b) => a + b, 0);
async function step(i) {
  const input = new ScanInput(i);
  await new Promise((resolve) => setTimeout(resolve, 1));
  scan(input);
  if (keep && i % 10 === 0) seenInputs.push(input);
}
(async () => {
  for (let i = 1; i <= 300 || forever; i++) {
    await step(i);
    if (i % 5 === 0) console.log('iteration=' + i);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
})();
"#;

#[test]
fn objects_kept_in_a_global_array_fail_expect_freed_with_their_path() {
    let _measured = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = script(dir.path(), "scans.js", SCANS);
    let out = dir.path().join("out");
    // The workload ends by itself: the heap is read at its exit.
    let (code, report) = run_json(
        &[
            "--max-overhead",
            "none",
            "--expect-freed",
            "ScanInput",
            "--out",
            s(&out),
        ],
        &["node", &workload, "keep"],
    );
    let freed = check(&report, "ScanInput freed at the end");
    assert_eq!(
        code,
        Some(1),
        "{freed}\nstderr: {}",
        report["run"]["stderr_tail"]
    );
    assert_eq!(freed["status"], "failed");
    let detail = &freed["detail"];
    assert_eq!(detail["at_exit"], true, "{freed}");
    let survivors = &detail["survivors"];
    assert_eq!(survivors["count"], 30, "{freed}");
    assert!(survivors["self_size"].as_u64() > Some(0));
    assert!(survivors["retained_size"].as_u64() > survivors["self_size"].as_u64());
    let path = survivors["example"]["paths"][0].as_array().expect("a path");
    assert!(path.iter().any(|s| s["edge"] == "seenInputs"), "{path:?}");
    let finding = freed["finding"].as_str().expect("finding");
    assert!(
        finding.starts_with("30 ScanInput objects survived") && finding.contains("seenInputs"),
        "{finding}"
    );
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        md.contains("ScanInput freed at the end — FAILED") && md.contains("--seenInputs--> Array"),
        "{md}"
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
    assert!(
        junit
            .split("<testcase")
            .any(|case| case.contains("name=\"ScanInput freed at the end\"")
                && case.contains("<failure message=\"30 ScanInput objects survived")),
        "{junit}"
    );
    // The snapshot the survivors were found in is kept, private.
    let snap = out.join("end.heapsnapshot");
    assert!(snap.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&snap).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn objects_freed_after_each_scan_pass_expect_freed() {
    let _measured = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = script(dir.path(), "scans.js", SCANS);
    let out = dir.path().join("out");
    // 300 iterations are too few for the memory verdict at the default floor: raised.
    let (code, report) = run_json(
        &[
            "--max-overhead",
            "none",
            "--max-growth",
            "4KB/iter",
            "--expect-freed",
            "ScanInput",
            "--out",
            s(&out),
        ],
        &["node", &workload, "free"],
    );
    let freed = check(&report, "ScanInput freed at the end");
    assert_eq!(freed["status"], "passed", "{freed}");
    assert_eq!(freed["detail"]["survivors"]["count"], 0);
    assert_eq!(code, Some(0), "{}", report["assessment"]["sentence"]);
    assert!(!out.join("end.heapsnapshot").exists(), "nothing to look at");
}

#[test]
fn a_workload_stopped_by_leaktrail_is_judged_without_the_step_in_flight() {
    let _measured = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = script(dir.path(), "scans.js", SCANS);
    for (mode, survivors) in [("keep", true), ("free", false)] {
        let (code, report) = run_json(
            &[
                "--iterations",
                "300",
                "--max-overhead",
                "none",
                "--expect-freed",
                "ScanInput",
            ],
            &["node", &workload, mode, "forever"],
        );
        let freed = check(&report, "ScanInput freed at the end");
        assert_eq!(freed["detail"]["at_exit"], false, "{freed}");
        let found = &freed["detail"]["survivors"];
        let count = found["count"].as_u64().expect("count");
        // The input of the step in flight at the last snapshot is alive (nearly always:
        // a step spends its time awaiting a timer with it), and left out: it is counted
        // in `newer`, never among the survivors.
        assert!(found["newer"].as_u64().is_some(), "{freed}");
        if survivors {
            assert_eq!(freed["status"], "failed", "{freed}");
            assert_eq!(code, Some(1));
            // The 30 stored by iteration 300, and those the workload stored while
            // leaktrail caught up with its output.
            assert!(count >= 30, "{freed}");
        } else {
            assert_eq!(freed["status"], "passed", "{freed}");
            assert_eq!(count, 0, "{freed}");
        }
    }
}

#[test]
fn expect_freed_needs_node() {
    let _measured = measured();
    let out = leaktrail(&[
        "run",
        "--expect-freed",
        "ScanInput",
        "--",
        "python3",
        "-c",
        "print('iteration=1')",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--expect-freed reads the heap over Node's inspector"),
        "{err}"
    );
    let bad = leaktrail(&["run", "--max-overhead", "150", "--", "node", "-e", "1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("percentage"));
}

#[test]
fn pss_tells_shared_pages_of_forked_workers_from_growth() {
    let _measured = measured();
    // A parent with 16 MiB of its own forks a sleeping child every iteration: each
    // child's RSS counts the parent's pages again, PSS splits them.
    let script = "import os, time\nbuf = bytearray(16 * 1024 * 1024)\nbuf[::4096] = b'x' * 4096\nfor i in range(1, 100000):\n    if os.fork() == 0:\n        time.sleep(3600)\n        os._exit(0)\n    print(f'iteration={i}', flush=True)\n    time.sleep(0.05)\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let (code, report) = run_json(
        &[
            "--iterations",
            "30",
            "--max-growth",
            "4MB/iter",
            "--pss",
            "always",
            "--max-overhead",
            "none",
            "--out",
            s(&out),
        ],
        &["python3", "-c", script],
    );
    let a = &report["assessment"];
    // The verdict stays on RSS, which grows by a whole process image per child.
    assert_eq!(a["primary"]["series"], "rss");
    assert_eq!(a["outcome"], "leak", "{}", a["sentence"]);
    assert_eq!(code, Some(1));
    let pss = &a["pss"];
    assert_eq!(pss["verdict"]["outcome"], "no_leak", "{pss}");
    assert_eq!(pss["agrees"], false);
    assert!(
        pss["sentence"]
            .as_str()
            .is_some_and(|t| t.contains("RSS grows but PSS does not")),
        "{pss}"
    );
    let samples = report["run"]["samples"].as_array().expect("samples");
    assert!(samples
        .iter()
        .all(|s| s["pss"].as_u64().is_some_and(|p| p > 0)));
    let csv = std::fs::read_to_string(out.join("samples.csv")).expect("csv");
    assert!(csv.starts_with("t_seconds,iteration,heap_used,heap_total,external,rss,anon,pss,"));
    // The children are processes, and the thread check says so.
    let threads = check(&report, "threads back to baseline");
    assert!(
        threads["finding"]
            .as_str()
            .is_some_and(|f| f.contains("child processes not ended")),
        "{threads}"
    );
}

#[test]
fn the_default_overhead_budget_is_five_percent_and_can_be_lifted() {
    let _measured = measured();
    let command = [
        "node",
        "-e",
        "let i = 0; setInterval(() => { i++; console.log('iteration=' + i); }, 1);",
    ];
    // A forced GC costs milliseconds, an iteration one: the budget skips most lines.
    let (_, report) = run_json(&["--iterations", "300"], &command);
    assert_eq!(report["run"]["overhead_budget"], 0.05);
    // Lines not sampled are skipped by the budget or, on a loaded machine, coalesced while
    // a sample is in flight (only the newest is a point): either way most are not points.
    let sampled = report["run"]["samples"].as_array().expect("samples").len();
    assert!(
        report["run"]["skipped_samples"].as_u64() > Some(10) && sampled < 100,
        "{} skipped, {sampled} sampled",
        report["run"]["skipped_samples"]
    );
    let (_, report) = run_json(&["--iterations", "300", "--max-overhead", "none"], &command);
    assert!(report["run"]["overhead_budget"].is_null());
    assert_eq!(report["run"]["skipped_samples"], 0);
    // Lines that queued while a sample was taken are one point: the newest.
    let labels: Vec<u64> = report["run"]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(|s| s["iteration"].as_u64())
        .collect();
    assert!(
        labels.len() > 20,
        "a point as often as a sample can be taken: {labels:?}"
    );
    assert!(labels.windows(2).all(|w| w[0] <= w[1]), "{labels:?}");
}
