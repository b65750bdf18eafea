//! `leaktrail trace` on real test runners: Jest, Vitest (forks and threads), Mocha
//! (`--parallel`) and `node --test` running the eight files of `scenarios/test-project`
//! (one leaking into a module-level array, one loading 300 modules, one slow, five clean).
//!
//! The runners are pinned by the project's package-lock.json and installed by `.ci/run`
//! (`npm ci --ignore-scripts`). Without them each test says `SKIPPED` on stderr, and fails
//! under CI (`CI` set), where they must be there.

use crate::common;

use common::runners::*;
use std::path::{Path, PathBuf};

#[test]
fn every_runner_passes_under_trace_with_its_workers_followed() {
    let Some(dir) = project("every_runner_passes_under_trace_with_its_workers_followed") else {
        return;
    };
    for name in ["jest", "vitest-forks", "mocha"] {
        let _run = one_at_a_time();
        let (out, report) = trace(&dir, &["--interval", "200ms"], &runner(name));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        assert_eq!(report["exit"]["code"], 0, "{name}");
        // The coordinator and at least two workers, all Node.
        let all = processes(&report);
        let node_processes = all.iter().filter(|p| p["node"] == true).count();
        assert!(node_processes >= 3, "{name}: {all:?}");
    }
}

#[test]
fn every_file_is_tied_to_the_worker_that_ran_it() {
    let Some(dir) = project("every_file_is_tied_to_the_worker_that_ran_it") else {
        return;
    };
    for name in ["jest", "vitest-forks", "vitest-threads", "mocha"] {
        let _run = one_at_a_time();
        let (out, report) = trace(&dir, &["--interval", "200ms"], &runner(name));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all = processes(&report);
        let files = files_by_name(&report);
        assert_eq!(files.len(), 8, "{name}: {files:?}");
        let mut pids = std::collections::BTreeSet::new();
        let mut threads = std::collections::BTreeSet::new();
        for expected in FILES {
            let (_, f) = files
                .iter()
                .find(|(n, _)| n == expected)
                .unwrap_or_else(|| panic!("{name}: {expected} reported: {files:?}"));
            assert_eq!(f["source"], "preload", "{name} {expected}");
            assert_eq!(f["attribution"], "worker", "{name} {expected}");
            let runner_name = name.split('-').next().unwrap_or(name);
            assert_eq!(f["worker"]["runner"], runner_name, "{name} {expected}");
            // Its PID is a traced Node process that is not the runner's coordinator.
            let pid = f["pid"].as_i64().expect("pid");
            let p = process_with(&all, pid, &format!("{name} {expected}"));
            assert_eq!(p["node"], true);
            if name != "vitest-threads" {
                assert_ne!(p["ppid"], serde_json::json!(0));
                assert!(
                    p["ppid"] != all[0]["ppid"],
                    "{name} {expected}: run by the coordinator {p}"
                );
            }
            pids.insert(pid);
            threads.insert((pid, f["thread"].as_i64().expect("thread")));
            let (start, end) = (
                f["start"].as_f64().expect("start"),
                f["end"].as_f64().expect("end"),
            );
            assert!(start > 0.0 && end >= start, "{name} {expected}: {f}");
            // What the file kept in its worker's heap, after a full GC: the leak keeps about
            // 50 MB; the clean quick files keep next to nothing.
            let kept = f["heap_delta"].as_i64().expect("heap_delta");
            match expected {
                "leaky.test.js" => assert!(kept > 30 << 20, "{name} {expected}: {f}"),
                "modules.test.js" | "slow.test.js" => {}
                _ => assert!(kept < 8 << 20, "{name} {expected}: {f}"),
            }
        }
        match name {
            // Every file in a thread of the one Vitest process, each its own heap.
            "vitest-threads" => {
                assert_eq!(pids.len(), 1, "{name}: {pids:?}");
                assert!(threads.iter().all(|(_, t)| *t > 0), "{threads:?}");
            }
            // Two or more worker processes shared the files.
            _ => assert!(pids.len() >= 2, "{name}: {pids:?}"),
        }
    }
}

#[test]
fn fail_on_growth_passes_clean_jest_and_vitest_workers() {
    let Some(dir) = project("fail_on_growth_passes_clean_jest_and_vitest_workers") else {
        return;
    };
    // The five clean files and the slow one: the runners' start-up (the Jest parent and
    // its workers loading their environment, Vitest's main process) is not growth.
    let clean = [
        "test/slow.test.js",
        "test/math.test.js",
        "test/strings.test.js",
        "test/dates.test.js",
        "test/parse.test.js",
        "test/shapes.test.js",
    ];
    for name in ["jest", "vitest-forks"] {
        let _run = one_at_a_time();
        let cmd = runner_with(name, &clean);
        let (out, report) = trace(
            &dir,
            &["--interval", "200ms", "--fail-on-growth", "50MB"],
            &cmd,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {} {}",
            report["fail_on_growth"],
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(report["fail_on_growth"]["exceeded"], serde_json::json!([]));
        assert_eq!(report["files"].as_array().map(Vec::len), Some(6), "{name}");
        // Every process that lived past start-up was measured from its baseline.
        assert!(
            processes(&report)
                .iter()
                .any(|p| p["baseline"]["rule"] == "settled"),
            "{name}"
        );
    }
}

#[test]
fn workers_that_lived_between_two_samples_are_still_listed() {
    let Some(dir) = project("workers_that_lived_between_two_samples_are_still_listed") else {
        return;
    };
    let _run = one_at_a_time();
    // One sample a minute: the run is over long before the second, so /proc sees (at
    // most) the coordinator; the workers are known from the files they reported.
    let report = trace_passing(&dir, &["--interval", "60s"], &runner("mocha"));
    let all = processes(&report);
    let files = files_by_name(&report);
    assert_eq!(files.len(), 8, "{files:?}");
    let mut unsampled = 0;
    for (name, f) in &files {
        let pid = f["pid"].as_i64().expect("pid");
        let p = process_with(&all, pid, name);
        assert_eq!(p["node"], true, "{p}");
        assert!(p["peak_rss"].as_u64().expect("peak_rss") > 1 << 20, "{p}");
        if p["notes"].to_string().contains("between two samples") {
            unsampled += 1;
            assert!(
                p["command"].to_string().contains("mocha"),
                "its command line, from the preload: {p}"
            );
        }
    }
    assert!(
        unsampled > 0,
        "no worker was missed by the samples: {all:?}"
    );
}

#[test]
fn only_the_processes_that_run_tests_are_snapshotted() {
    let Some(dir) = project("only_the_processes_that_run_tests_are_snapshotted") else {
        return;
    };
    // The slow file keeps its worker busy for about 3 s: long enough to be snapshotted;
    // the runner's coordinator lives longer still.
    let files = [
        "test/slow.test.js",
        "test/math.test.js",
        "test/strings.test.js",
    ];
    for name in ["jest", "vitest-forks", "mocha", "node-test"] {
        let _run = one_at_a_time();
        let mut cmd = runner(name);
        if name == "node-test" {
            cmd.truncate(2);
        }
        // A snapshot pauses the worker for seconds on a busy machine, which can push a
        // test past the runner's timeout (Jest's is 5 s); what this test checks is who is
        // snapshotted, not what snapshots cost.
        match name {
            "jest" | "vitest-forks" => cmd.push("--testTimeout=60000".to_owned()),
            "mocha" => cmd.extend(["--timeout".to_owned(), "60000".to_owned()]),
            _ => {}
        }
        cmd.extend(files.iter().map(|f| f.to_string()));
        let out_dir = OutDir::new();
        let (out, report) = trace(
            &dir,
            &[
                "--interval",
                "200ms",
                "--snapshot-every",
                "1500ms",
                "--out",
                &out_dir.arg(),
            ],
            &cmd,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        let all = processes(&report);
        let runner_name = match name {
            "node-test" => "node --test",
            _ => name.split('-').next().unwrap_or(name),
        };
        let mut workers_snapshotted = 0;
        let mut coordinators = 0;
        for p in &all {
            let (runs_tests, coordinates, runner) = role_of(p);
            let snaps = p["snapshots"].as_array().map_or(0, Vec::len);
            if runs_tests {
                assert_eq!(runner, runner_name, "{name}: {p}");
                assert!(p["snapshots_skipped"].is_null(), "{name}: {p}");
                if snaps > 0 {
                    workers_snapshotted += 1;
                }
                continue;
            }
            // Not a process that runs tests: never snapshotted.
            assert_eq!(snaps, 0, "{name}: {p}");
            if coordinates {
                coordinators += 1;
                assert_eq!(runner, runner_name, "{name}: {p}");
                let why = p["snapshots_skipped"].as_str().unwrap_or("");
                assert!(why.contains("runs no tests"), "{name}: {p}");
            }
        }
        assert!(workers_snapshotted >= 1, "{name}: {all:?}");
        // Jest may run the three files in band, in its coordinator.
        assert!(coordinators >= 1 || name == "jest", "{name}: {all:?}");
        let scope = not_measured(&report)
            .into_iter()
            .find(|l| l.starts_with("Snapshots:"))
            .unwrap_or_default()
            .to_owned();
        assert!(
            scope.starts_with("Snapshots: only the processes that run tests"),
            "{name}: {scope}"
        );
        // The command column says what each runner process is.
        let md = out_dir.report_md();
        let worker = if name == "node-test" {
            "file"
        } else {
            "worker"
        };
        assert!(
            md.contains(&format!("[{runner_name} {worker}]"))
                || md.contains(&format!("[{runner_name} in band]")),
            "{name}: {md}"
        );
        // Vitest starts its workers with Node options that would hide the script.
        if name == "vitest-forks" {
            assert!(md.contains("[vitest worker] node … forks.js"), "{md}");
        }
    }
}

#[test]
fn coordinators_are_snapshotted_on_request() {
    let Some(dir) = project("coordinators_are_snapshotted_on_request") else {
        return;
    };
    let _run = one_at_a_time();
    let cmd = runner_with(
        "vitest-forks",
        &[
            "--testTimeout=60000",
            "test/slow.test.js",
            "test/math.test.js",
        ],
    );
    let report = trace_passing(
        &dir,
        &[
            "--interval",
            "200ms",
            "--snapshot-every",
            "1500ms",
            "--snapshot-coordinators",
        ],
        &cmd,
    );
    let all = processes(&report);
    let main = all
        .iter()
        .find(|p| role_of(p).1)
        .unwrap_or_else(|| panic!("Vitest's main process, a coordinator: {all:?}"));
    assert_eq!(role_of(main).2, "vitest");
    assert!(main["snapshots_skipped"].is_null(), "{main}");
    assert!(
        main["snapshots"].as_array().map_or(0, Vec::len) >= 1,
        "{main}"
    );
}

#[test]
fn node_test_files_are_named_by_their_own_processes() {
    let Some(dir) = project("node_test_files_are_named_by_their_own_processes") else {
        return;
    };
    let _run = one_at_a_time();
    // Half a second between samples: the quick files' processes (about 0.2 s each) are
    // missed by /proc now and then; their preload still names them.
    let report = trace_passing(&dir, &["--interval", "500ms"], &runner("node-test"));
    let all = processes(&report);
    let files = files_by_name(&report);
    assert_eq!(files.len(), 8, "{files:?}");
    for expected in FILES {
        let (_, f) = files
            .iter()
            .find(|(n, _)| n == expected)
            .unwrap_or_else(|| panic!("{expected} reported: {files:?}"));
        assert_eq!(f["source"], "preload", "{expected}: {f}");
        assert_eq!(f["worker"]["runner"], "node --test", "{expected}");
        let pid = f["pid"].as_i64().expect("pid");
        let p = process_with(&all, pid, expected);
        assert_eq!(p["role"]["runner"], "node --test", "{p}");
        assert_eq!(p["role"]["runs_tests"], true, "{p}");
        // Sampled: its own process's growth; missed by the samples: its file events.
        let expected_attribution = if p["unsampled"] == true {
            "worker"
        } else {
            "own_process"
        };
        assert_eq!(f["attribution"], expected_attribution, "{expected}: {f}");
        let kept = f["heap_delta"].as_i64().expect("heap_delta");
        if expected == "leaky.test.js" {
            assert!(kept > 30 << 20, "{f}");
        }
    }
    // What /proc missed is said at the top of the report.
    let unsampled: Vec<i64> = all
        .iter()
        .filter(|p| p["unsampled"] == true)
        .filter_map(|p| p["pid"].as_i64())
        .collect();
    let unseen = report["unseen"].as_array().expect("unseen");
    if unsampled.is_empty() {
        assert!(unseen.is_empty(), "{unseen:?}");
    } else {
        let line = unseen
            .iter()
            .filter_map(|l| l.as_str())
            .find(|l| l.contains("no sample of /proc saw"))
            .unwrap_or_else(|| panic!("{unseen:?}"));
        for pid in unsampled {
            assert!(line.contains(&pid.to_string()), "{line}");
        }
    }
}

#[test]
fn files_without_a_process_are_said_at_the_top() {
    let Some(dir) = project("files_without_a_process_are_said_at_the_top") else {
        return;
    };
    let _run = one_at_a_time();
    // Without the preload, Jest's files come only from its JSON report: none has a PID.
    // Run through `sh -c`, whose command column shows the script, not its last path (cut
    // at 60 characters).
    let tmp = tempfile::tempdir().expect("tempdir");
    let json = tmp.path().join("jest.json");
    let out_dir = tmp.path().join("out");
    let mut jest = runner("jest");
    let cache = jest.pop().expect("the cache directory, last");
    let script = format!(
        "{} --json --outputFile={} {cache}",
        jest.join(" "),
        json.display()
    );
    let report = trace_passing(
        &dir,
        &[
            "--interval",
            "200ms",
            "--no-file-hooks",
            "--files-from",
            json.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
        ],
        &["sh".to_owned(), "-c".to_owned(), script],
    );
    let unseen = report["unseen"].as_array().expect("unseen");
    let line = unseen.first().and_then(|l| l.as_str()).unwrap_or_default();
    assert!(
        line.starts_with("8 of 8 test files are not tied to the process that ran them")
            && line.contains("--no-file-hooks"),
        "{unseen:?}"
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    assert!(md.contains("### Not seen"), "{md}");
    assert!(
        md.contains("sh -c node jest.js --maxWorkers=2 --json --outputFile=jest."),
        "{md}"
    );
}

#[test]
fn snapshots_fall_between_files_and_change_no_outcome() {
    let Some(dir) = project("snapshots_fall_between_files_and_change_no_outcome") else {
        return;
    };
    let files = [
        "test/leaky.test.js",
        "test/slow.test.js",
        "test/math.test.js",
        "test/strings.test.js",
    ];
    for name in ["jest", "vitest-forks"] {
        let _run = one_at_a_time();
        // The runners' own test timeouts: snapshots must not push a test past them.
        let cmd = runner_with(name, &files);
        let out_dir = OutDir::new();
        let report = trace_passing(
            &dir,
            &[
                "--interval",
                "200ms",
                "--snapshot-every",
                "2s",
                "--out",
                &out_dir.arg(),
            ],
            &cmd,
        );
        // Each file's span in the worker that ran it.
        let spans: Vec<(i64, String, f64, f64)> = report["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| {
                let span = (f["start"].as_f64(), f["end"].as_f64());
                let (Some(start), Some(end)) = span else {
                    panic!("{name}: a file without its span: {f}");
                };
                let file = f["file"].as_str().unwrap_or_default().to_owned();
                (f["pid"].as_i64().unwrap_or(-1), file, start, end)
            })
            .collect();
        assert_eq!(spans.len(), files.len(), "{name}: {spans:?}");
        let mut taken = 0;
        for p in processes(&report) {
            let pid = p["pid"].as_i64().expect("pid");
            for s in p["snapshots"].as_array().expect("snapshots") {
                taken += 1;
                let boundary = s["boundary"].as_str().unwrap_or_default();
                assert!(
                    boundary.starts_with("before ") || boundary.starts_with("after "),
                    "{name}: a snapshot not at a file boundary: {s}"
                );
                let began = s["requested_at"].as_f64().expect("requested_at");
                let took = s["write_seconds"].as_f64().expect("write_seconds");
                // Outside every span of its worker: the worker's clock and the span's
                // are the same, a few ms of rounding aside.
                let tolerance = 0.05;
                for (_, file, start, end) in spans.iter().filter(|(p, ..)| *p == pid) {
                    assert!(
                        began + took <= start + tolerance || began >= end - tolerance,
                        "{name}: snapshot {began:.3}+{took:.3} s inside {file} ({start:.3}–{end:.3}): {s}"
                    );
                }
            }
        }
        // The leaking file's worker is snapshotted after the file that grew it, and its
        // heap diff (against its own earlier snapshot, or its runner's reference baseline
        // when it had none) calls the leak runtime data.
        let (leaky_pid, leaky, ..) = spans
            .iter()
            .find(|(_, f, ..)| f.ends_with("leaky.test.js"))
            .expect("leaky file");
        let worker = processes(&report)
            .into_iter()
            .find(|p| p["pid"].as_i64() == Some(*leaky_pid))
            .expect("leaky worker");
        let after_leak = format!("after {leaky}");
        let boundaries: Vec<&str> = worker["snapshots"]
            .as_array()
            .expect("snapshots")
            .iter()
            .filter_map(|s| s["boundary"].as_str())
            .collect();
        assert!(
            boundaries.contains(&after_leak.as_str()),
            "{name}: {boundaries:?}"
        );
        assert_eq!(
            worker["heap"]["diff"]["verdict"]["kind"], "runtime_data",
            "{name}: {worker}"
        );
        // No other worker took a snapshot but the one reference baseline (none of the
        // other files grows its worker by --snapshot-growth).
        let mut references = 0;
        for p in processes(&report) {
            if p["pid"].as_i64() == Some(*leaky_pid) {
                continue;
            }
            for s in p["snapshots"].as_array().expect("snapshots") {
                assert_eq!(s["reference_of"], runner_name(name), "{name}: {s}");
                references += 1;
            }
        }
        assert!(references <= 1, "{name}: {references} reference baselines");
        // What they cost, in the JSON and the text.
        let cost = &report["snapshot_cost"];
        assert_eq!(cost["mode"], "files", "{name}: {cost}");
        assert_eq!(cost["snapshots"].as_u64(), Some(taken), "{name}: {cost}");
        assert_eq!(
            cost["at_file_boundaries"].as_u64(),
            Some(taken),
            "{name}: {cost}"
        );
        assert!(
            cost["write_seconds"].as_f64().unwrap_or(0.0) > 0.0,
            "{cost}"
        );
        assert!(cost["wall_seconds"].as_f64().unwrap_or(0.0) > 0.0, "{cost}");
        let md = out_dir.report_md();
        assert!(md.contains("Snapshot cost: "), "{name}: {md}");
        assert!(md.contains("between files"), "{name}: {md}");
    }
}

#[test]
fn clean_workers_take_no_snapshot_and_the_leaky_one_is_named() {
    let Some(dir) = project("clean_workers_take_no_snapshot_and_the_leaky_one_is_named") else {
        return;
    };
    // A fork (or file process) per file for Vitest and node --test, two workers for Mocha:
    // before, every one of them paid a baseline snapshot before its first file.
    let files = [
        "test/leaky.test.js",
        "test/math.test.js",
        "test/strings.test.js",
        "test/dates.test.js",
    ];
    for name in ["vitest-forks", "mocha", "node-test"] {
        let _run = one_at_a_time();
        let mut cmd = runner(name);
        match name {
            // node --test runs the files named after --test instead of test/.
            "node-test" => cmd.truncate(2),
            // Mocha runs its configured spec (all eight files) as well as any named: the
            // whole suite, whose other worker does not grow either.
            "mocha" => cmd.extend(["--timeout".to_owned(), "60000".to_owned()]),
            _ => cmd.push("--testTimeout=60000".to_owned()),
        }
        if name != "mocha" {
            cmd.extend(files.iter().map(|f| f.to_string()));
        }
        let out_dir = OutDir::new();
        let report = trace_passing(
            &dir,
            &[
                "--interval",
                "200ms",
                "--snapshot-every",
                "2s",
                "--out",
                &out_dir.arg(),
            ],
            &cmd,
        );
        let leaky = files_by_name(&report)
            .into_iter()
            .find(|(n, _)| n == "leaky.test.js")
            .map(|(_, f)| f["pid"].clone())
            .unwrap_or_else(|| panic!("{name}: the leaky file tied to a PID"));
        let mut references = 0;
        let mut without = 0;
        for p in processes(&report) {
            if !role_of(p).0 {
                continue;
            }
            let snaps = p["snapshots"].as_array().expect("snapshots");
            if p["pid"] == leaky {
                // Its culprit: the heap diff after its file calls the leak runtime data,
                // against its runner's reference baseline when it has no earlier
                // snapshot of its own.
                let heap = &p["heap"];
                assert_eq!(
                    heap["diff"]["verdict"]["kind"], "runtime_data",
                    "{name}: {p}"
                );
                assert!(
                    heap["diff"]["total_delta"].as_i64().unwrap_or(0) > 30 << 20,
                    "{name}: {heap}"
                );
                assert!(
                    heap["diff"]["classes"]
                        .as_array()
                        .is_some_and(|c| !c.is_empty()),
                    "{name}: {heap}"
                );
                assert!(
                    snaps.len() >= 2 || heap["reference"].is_string(),
                    "{name}: {p}"
                );
                continue;
            }
            // A clean worker: no snapshot, or only the reference baseline before its
            // first file; and no verdict of growth.
            for s in snaps {
                assert_eq!(s["reference_of"], runner_name(name), "{name}: {s}");
                assert!(
                    s["boundary"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with("before "),
                    "{name}: {s}"
                );
                references += 1;
            }
            if snaps.is_empty() {
                without += 1;
            }
            assert!(p["heap"].is_null(), "{name}: {p}");
        }
        assert!(references <= 1, "{name}: {references} reference baselines");
        // With a fork per file most clean workers took none; Mocha's other worker may be
        // the one that took the reference baseline.
        if name != "mocha" {
            assert!(without >= 1, "{name}: every clean worker took a snapshot");
        }
        assert!(without + references >= 1, "{name}: no clean worker");
        // Said loudly: which workers took none, and why, or only the reference.
        let said = |start: &str| {
            not_measured(&report)
                .into_iter()
                .any(|l| l.starts_with(start))
        };
        let md = out_dir.report_md();
        if without > 0 {
            assert!(
                said("No snapshot: did not grow"),
                "{name}: {}",
                report["not_measured"]
            );
            assert!(md.contains("did not grow"), "{name}: {md}");
        } else {
            assert!(
                said("Reference baseline only: "),
                "{name}: {}",
                report["not_measured"]
            );
        }
        assert!(md.contains("runtime data"), "{name}: {md}");
    }
}

#[test]
fn a_snapshot_budget_skips_the_costly_snapshots_and_says_so() {
    let Some(dir) = project("a_snapshot_budget_skips_the_costly_snapshots_and_says_so") else {
        return;
    };
    let _run = one_at_a_time();
    let cmd = runner_with("jest", &["test/leaky.test.js", "test/math.test.js"]);
    // A budget no growth snapshot fits in: the leaking worker takes no snapshot after its
    // file (at most the runner's reference baseline, before it, if it was the first).
    let report = trace_passing(
        &dir,
        &[
            "--interval",
            "200ms",
            "--snapshot-every",
            "2s",
            "--snapshot-budget",
            "0.001",
        ],
        &cmd,
    );
    let cost = &report["snapshot_cost"];
    assert!(cost["skipped_for_budget"].as_u64() >= Some(1), "{cost}");
    let leaky = processes(&report)
        .into_iter()
        .find(|p| {
            p["notes"].as_array().is_some_and(|n| {
                n.iter().any(|n| {
                    n.as_str().is_some_and(|n| {
                        n.starts_with("no snapshot after ") && n.contains("leaky.test.js")
                    })
                })
            })
        })
        .unwrap_or_else(|| panic!("no worker says it skipped a snapshot: {report}"));
    let boundaries: Vec<&str> = leaky["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .filter_map(|s| s["boundary"].as_str())
        .collect();
    assert!(boundaries.len() <= 1, "{boundaries:?}");
    assert!(
        boundaries.iter().all(|b| b.starts_with("before ")),
        "{boundaries:?}"
    );
    // The text says it too (notes are in the JSON only).
    let said = not_measured(&report).into_iter().any(|l| {
        l.starts_with("Heap diff, --snapshot-budget: PID ") && l.contains("leaky.test.js")
    });
    assert!(said, "{}", report["not_measured"]);
    // It grew: whatever else is said of the workers, it is not among those that did not.
    let pid = format!("PID {}", leaky["pid"]);
    let did_not_grow: Vec<&str> = not_measured(&report)
        .into_iter()
        .filter(|l| {
            l.starts_with("No snapshot: did not grow") || l.starts_with("Reference baseline only")
        })
        .collect();
    assert!(
        did_not_grow.iter().all(|l| !l.contains(&format!("{pid} "))
            && !l.contains(&format!("{pid},"))
            && !l.ends_with(&format!("{pid}."))),
        "{did_not_grow:?}"
    );
}

#[test]
fn vitest_worker_threads_are_lanes_of_their_own() {
    let Some(dir) = project("vitest_worker_threads_are_lanes_of_their_own") else {
        return;
    };
    let _run = one_at_a_time();
    // Every file runs in a worker thread of the one Vitest process: the leaking file's
    // thread must be told from the clean ones by its own heap, which the process's RSS
    // and its main thread's heap cannot show.
    let files = [
        "test/leaky.test.js",
        "test/math.test.js",
        "test/strings.test.js",
        "test/dates.test.js",
    ];
    let mut cmd = runner("vitest-threads");
    cmd.push("--testTimeout=60000".to_owned());
    cmd.extend(files.iter().map(|f| f.to_string()));
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out_path = out_dir.path().join("out");
    let report = trace_passing(
        &dir,
        &[
            "--interval",
            "200ms",
            "--snapshot-every",
            "2s",
            "--out",
            out_path.to_str().expect("utf-8"),
        ],
        &cmd,
    );
    let all = processes(&report);
    let threads: Vec<&serde_json::Value> = all
        .iter()
        .flat_map(|p| p["threads"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(
        report["thread_count"].as_u64(),
        Some(threads.len() as u64),
        "{report}"
    );
    let by_name = files_by_name(&report);
    assert_eq!(by_name.len(), files.len(), "{by_name:?}");
    for (name, f) in &by_name {
        let (pid, thread) = (&f["pid"], &f["thread"]);
        let lane = threads
            .iter()
            .find(|t| t["pid"] == *pid && t["thread"] == *thread)
            .unwrap_or_else(|| {
                panic!("{name}: no lane for PID {pid} thread {thread}: {threads:?}")
            });
        assert!(lane["files"].to_string().contains(name.as_str()), "{lane}");
        let lane_name = lane["lane"].as_str().expect("lane");
        assert!(lane_name.ends_with(&format!(".thread-{thread}")), "{lane}");
        let verdict = &lane["verdict"];
        let kept = lane["heap_growth"].as_i64().expect("heap_growth");
        if name == "leaky.test.js" {
            // Its own heap grew, and its own snapshots (in its own lane's directory) say
            // by what: the leak's strings and objects.
            assert_eq!(verdict["grew"], true, "{lane}");
            assert_eq!(verdict["kind"], "runtime data leak", "{lane}");
            let sentence = verdict["sentence"].as_str().unwrap_or_default();
            assert!(
                sentence.contains(&format!("thread {thread} of PID {pid}: its own heap")),
                "{sentence}"
            );
            assert!(kept > 30 << 20, "{lane}");
            assert!(
                lane["heap"]["diff"]["total_delta"].as_i64().unwrap_or(0) > 30 << 20,
                "{lane}"
            );
            // Snapshotted after its file grew it; without a snapshot of its own before
            // (a thread per file), diffed against the threads' reference baseline.
            let snaps = lane["snapshots"].as_array().expect("snapshots");
            assert!(!snaps.is_empty(), "{lane}");
            assert!(
                snaps.len() >= 2 || lane["heap"]["reference"].is_string(),
                "{lane}"
            );
            for s in snaps {
                let path = PathBuf::from(s["path"].as_str().expect("path"));
                assert!(path.starts_with(out_path.join(lane_name)), "{s}");
                assert!(path.is_file(), "{s}");
                let boundary = s["boundary"].as_str().unwrap_or_default();
                assert!(boundary.ends_with("leaky.test.js"), "{s}");
            }
        } else {
            assert_eq!(verdict["grew"], false, "{name}: {lane}");
            assert!(kept < 8 << 20, "{name}: {lane}");
            // A clean thread takes no snapshot, unless it was the reference baseline.
            for s in lane["snapshots"].as_array().expect("snapshots") {
                assert_eq!(s["reference_of"], "vitest", "{name}: {s}");
            }
        }
    }
    // The process's main thread only schedules: not snapshotted, and said why.
    for p in &all {
        if p["threads"].as_array().is_none_or(|t| t.is_empty()) {
            continue;
        }
        assert_eq!(p["snapshots"].as_array().map(Vec::len), Some(0), "{p}");
        let why = p["snapshots_skipped"].as_str().unwrap_or_default();
        assert!(why.contains("worker threads"), "{p}");
    }
    let md = std::fs::read_to_string(out_path.join("report.md")).expect("report.md");
    assert!(md.contains("[vitest threads pool]"), "{md}");
    assert!(
        md.contains("Worker threads, each a lane of its own"),
        "{md}"
    );
    assert!(md.contains("runtime data leak"), "{md}");
}

/// Files whose name says they are (or are being written as) a heap snapshot, or a partial
/// one, anywhere under `dirs` (`node_modules` left out: no snapshot goes there, and it is
/// large to walk every few milliseconds).
fn raw_snapshots_under(dirs: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains("heapsnapshot") || name.ends_with(".partial") {
                found.push(path.clone());
            }
            if name != "node_modules" && e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&path, found);
            }
        }
    }
    let mut found = Vec::new();
    for d in dirs {
        walk(d, &mut found);
    }
    found
}

#[test]
fn no_raw_snapshots_streams_censuses_and_the_verdict_is_the_files() {
    let Some(dir) = project("no_raw_snapshots_streams_censuses_and_the_verdict_is_the_files")
    else {
        return;
    };
    let files = [
        "test/leaky.test.js",
        "test/math.test.js",
        "test/strings.test.js",
    ];
    let mut cmd = runner("vitest-forks");
    cmd.push("--testTimeout=120000".to_owned());
    cmd.extend(files.iter().map(|f| f.to_string()));
    let root = tempfile::tempdir().expect("tempdir");
    let mut verdicts = Vec::new();
    for zero_disk in [true, false] {
        let _run = one_at_a_time();
        let base = root
            .path()
            .join(if zero_disk { "streamed" } else { "filed" });
        let (out_path, tmp) = (base.join("out"), base.join("tmp"));
        std::fs::create_dir_all(&tmp).expect("tmp");
        let before = raw_snapshots_under(std::slice::from_ref(&dir));
        // Watched while it runs too: a file written and removed again would not be seen
        // after the run.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watched = vec![out_path.clone(), tmp.clone(), dir.clone()];
        let watcher = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    seen.extend(raw_snapshots_under(&watched));
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                seen.extend(raw_snapshots_under(&watched));
                seen
            })
        };
        let mut args = vec![
            "--interval",
            "200ms",
            "--snapshot-every",
            "2s",
            "--out",
            out_path.to_str().expect("utf-8"),
        ];
        if zero_disk {
            args.push("--no-raw-snapshots");
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaktrail"))
            .args(["trace", "--format", "json"])
            .args(&args)
            .arg("--")
            .args(&cmd)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env("TMPDIR", &tmp)
            .env_remove("NODE_OPTIONS")
            .output()
            .expect("leaktrail runs");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = watcher.join().expect("watcher");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let leaky = files_by_name(&report)
            .into_iter()
            .find(|(n, _)| n == "leaky.test.js")
            .map(|(_, f)| f["pid"].clone())
            .expect("leaky file tied to a PID");
        let worker = processes(&report)
            .into_iter()
            .find(|p| p["pid"] == leaky)
            .expect("leaky worker");
        if zero_disk {
            let new: Vec<&PathBuf> = seen.iter().filter(|p| !before.contains(p)).collect();
            assert!(new.is_empty(), "raw snapshot files: {new:?}");
            assert_eq!(worker["snapshots"].as_array().map(Vec::len), Some(0));
            // A fork per file: the leaky file's fork has its census after the file, and its
            // diff is against the forks' reference baseline unless it took that itself.
            let censuses = worker["censuses"].as_array().expect("censuses");
            assert!(
                censuses.len() >= 2 || worker["census_heap"]["reference"].is_string(),
                "{worker}"
            );
            for c in censuses {
                let boundary = c["boundary"].as_str().unwrap_or_default();
                assert!(
                    boundary.starts_with("before ") || boundary.starts_with("after "),
                    "{c}"
                );
                assert!(c["size"].as_u64().unwrap_or(0) > 1 << 20, "{c}");
            }
            let cost = &report["snapshot_cost"];
            assert!(cost["snapshots"].as_u64().unwrap_or(0) >= 2, "{cost}");
            assert!(cost["snapshots"].as_u64().unwrap_or(0) <= 3, "{cost}");
            verdicts.push(worker["census_heap"]["diff"]["verdict"]["kind"].clone());
        } else {
            assert!(
                !seen.is_empty(),
                "the file-based run wrote no snapshot file"
            );
            verdicts.push(worker["heap"]["diff"]["verdict"]["kind"].clone());
        }
    }
    assert_eq!(verdicts[0], "runtime_data", "{verdicts:?}");
    assert_eq!(verdicts[0], verdicts[1], "{verdicts:?}");

    // Every pipe busy: the command first claims all four itself and never writes into
    // them (a writer that died after claiming one). Each worker waits its short wait,
    // skips the snapshot and says so; the run is not held up, and trace's end does not
    // wait on the readers of the claimed pipes.
    let _run = one_at_a_time();
    let hold = r#"d="$LEAKTRAIL_SNAPSHOT_FIFOS"; n=0
for f in "$d"/free-*.fifo; do n=$((n+1)); mv "$f" "$d/busy.$$.0.$n.fifo"; done
LEAKTRAIL_SNAPSHOT_PIPE_WAIT_MS=300 "$@"; exit $?"#;
    let mut held = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        hold.to_owned(),
        "sh".to_owned(),
    ];
    held.extend(cmd.iter().cloned());
    let report = trace_passing(
        &dir,
        &[
            "--interval",
            "200ms",
            "--snapshot-every",
            "2s",
            "--no-raw-snapshots",
        ],
        &held,
    );
    // No bound on the time: a run on a loaded machine may be slow. A trace that waited
    // for readers of pipes never written would not report them lost (checked below).
    let cost = &report["snapshot_cost"];
    assert_eq!(cost["snapshots"].as_u64(), Some(0), "{cost}");
    assert!(cost["skipped_pipes_busy"].as_u64() >= Some(2), "{cost}");
    let skipped = not_measured(&report)
        .into_iter()
        .filter(|l| l.starts_with("Heap diff, snapshot skipped: PID "))
        .filter(|l| l.contains("trace's census pipes stayed busy"))
        .count();
    assert!(skipped >= 2, "{}", report["not_measured"]);
    // Which file a worker skipped its baseline before depends on the runner's order.
    let worker = processes(&report)
        .into_iter()
        .find(|p| {
            p["notes"].as_array().is_some_and(|n| {
                n.iter().any(|n| {
                    n.as_str().is_some_and(|n| {
                        n.starts_with("no snapshot before ") && n.contains("census pipes")
                    })
                })
            })
        })
        .unwrap_or_else(|| panic!("no worker says it skipped a snapshot: {report}"));
    assert!(
        worker["censuses"].as_array().is_none_or(Vec::is_empty),
        "{worker}"
    );
    // The claims nobody wrote into are said too, not dropped.
    let lost = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter(|w| {
            w.as_str()
                .is_some_and(|w| w.contains("wrote nothing into it"))
        })
        .count();
    assert_eq!(lost, 4, "{}", report["warnings"]);
}

#[test]
fn two_runs_of_one_runner_in_one_trace_each_take_their_own_reference() {
    let Some(dir) = project("two_runs_of_one_runner_in_one_trace_each_take_their_own_reference")
    else {
        return;
    };
    let _run = one_at_a_time();
    // `npm test` running the suite twice, as two node --test runs under one shell: each
    // run's file processes answer to their own node --test process, whose start-up is
    // theirs. Keyed by the runner alone, the second run found the first's reference
    // claimed and took none.
    let node = crate::common::node().display().to_string();
    let run = format!("{node} --test test/math.test.js test/dates.test.js");
    let cmd = vec!["sh".to_owned(), "-c".to_owned(), format!("{run} && {run}")];
    let out_dir = OutDir::new();
    let report = trace_passing(
        &dir,
        &[
            "--interval",
            "200ms",
            "--snapshot-every",
            "2s",
            "--out",
            &out_dir.arg(),
        ],
        &cmd,
    );
    let all = processes(&report);
    let mut coordinators: Vec<i64> = Vec::new();
    for p in &all {
        for s in p["snapshots"].as_array().expect("snapshots") {
            if s["reference_of"] == "node --test" {
                // The file process's parent: its own run's node --test.
                assert_eq!(s["reference_coordinator"], p["ppid"], "{p}");
                coordinators.extend(s["reference_coordinator"].as_i64());
            }
        }
    }
    coordinators.sort_unstable();
    coordinators.dedup();
    assert_eq!(coordinators.len(), 2, "one reference per run: {all:?}");
    // Each coordinator is a node --test main process of the trace.
    for c in &coordinators {
        let p = process_with(&all, *c, "a node --test run");
        assert!(
            p["command"].to_string().contains("--test"),
            "{c}: {}",
            p["command"]
        );
    }
}

#[test]
fn the_leaky_files_kept_memory_is_named_by_its_allocation_site_without_a_snapshot() {
    let Some(dir) =
        project("the_leaky_files_kept_memory_is_named_by_its_allocation_site_without_a_snapshot")
    else {
        return;
    };
    let files = [
        "test/leaky.test.js",
        "test/math.test.js",
        "test/strings.test.js",
    ];
    // A process per file (node --test), workers that run several (Jest), worker threads,
    // whose own isolate the profiler runs in (Vitest threads), and test files whose
    // script V8 does not name (Mocha imports them).
    for name in ["node-test", "jest", "vitest-threads", "mocha"] {
        let _run = one_at_a_time();
        let mut cmd = runner(name);
        if name == "node-test" {
            // node --test runs the files named after --test instead of test/.
            cmd.truncate(2);
        }
        if name == "mocha" {
            // The files named, not .mocharc.json's spec too (and its 10 s timeout).
            cmd.extend(["--no-config", "--timeout", "60000"].map(String::from));
        }
        cmd.extend(files.iter().map(|f| f.to_string()));
        // No --snapshot-every: the sampling heap profiler is the default evidence.
        let report = trace_passing(&dir, &["--interval", "200ms"], &cmd);
        let kept = report["allocations"].as_array().expect("allocations");
        let (_, leaky) = files_by_name(&report)
            .into_iter()
            .find(|(n, _)| n == "leaky.test.js")
            .unwrap_or_else(|| panic!("{name}: leaky.test.js reported"));
        let read = kept
            .iter()
            .find(|k| {
                k["file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with("/leaky.test.js"))
            })
            .unwrap_or_else(|| panic!("{name}: the leaky file's worker was read: {kept:?}"));
        // Read in the worker (and thread) that ran it.
        assert_eq!(read["pid"], leaky["pid"], "{name}: {read}");
        assert_eq!(
            read["thread"].as_u64().unwrap_or(0),
            leaky["thread"].as_u64().unwrap_or(0),
            "{name}: {read}"
        );
        // Its top site is the test's own function that built the leaked entries, holding
        // most of the ~47 MiB it keeps.
        let top = &read["sites"][0];
        assert_eq!(top["function"], "audit", "{name}: {read}");
        if name == "mocha" {
            // Not Mocha's own callFn, which called it: the function, in a script V8 left
            // unnamed (the read says which file the worker ran).
            assert_eq!(top["url"], "", "{name}: {top}");
            assert_eq!(top["unnamed_script"], true, "{name}: {top}");
        } else {
            assert!(
                top["url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with("test/leaky.test.js")),
                "{name}: {top}"
            );
        }
        assert!(top["bytes"].as_u64() > Some(30 << 20), "{name}: {top}");
        // Cheap enough to leave on: a read, not a snapshot of the heap.
        assert!(read["read_seconds"].as_f64() < Some(5.0), "{name}: {read}");
        // A clean file's worker may be read too when its first file's start-up (a Jest
        // worker loading its runtime and environment) grew it by --snapshot-growth; but
        // no clean test file's own code keeps memory.
        for k in kept.iter().filter(|k| k != &read) {
            for s in k["sites"].as_array().expect("sites") {
                let in_tests = s["url"].as_str().is_some_and(|u| u.contains("/test/"));
                assert!(
                    !in_tests || s["bytes"].as_u64() < Some(8 << 20),
                    "{name}: {k}"
                );
            }
        }
        // No snapshot was taken for it.
        assert!(report["snapshot_cost"].is_null(), "{name}");
    }
    // Off on request.
    let _run = one_at_a_time();
    let mut cmd = runner("node-test");
    cmd.truncate(2);
    cmd.extend(files.iter().map(|f| f.to_string()));
    let report = trace_passing(
        &dir,
        &["--interval", "200ms", "--no-allocation-sampling"],
        &cmd,
    );
    assert_eq!(report["allocations"], serde_json::json!([]));
}
