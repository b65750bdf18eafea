//! `leaktrail run` on real workloads: Node scenarios through the inspector, a crash, and a
//! process that is not Node.

use crate::common;

use common::*;

fn runner_args(scenario: &str) -> Vec<String> {
    forever_runner(&["--expose-gc"], scenario, &["--print-every", "25"])
}

/// `node --expose-gc runner.js SCENARIO --iterations 3000 --print-every 25` as one line,
/// for a shell or an npm script.
fn runner_line(scenario: &str) -> String {
    let dir = scenarios_dir();
    format!(
        "{} --expose-gc {} {} --iterations 3000 --print-every 25",
        node().display(),
        dir.join("runner.js").display(),
        dir.join(format!("{scenario}.js")).display()
    )
}

#[test]
fn a_leaking_scenario_fails_with_its_culprit() {
    let _measured = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let (code, report) = run_json(
        &["--iterations", "2000", "--out", s(&out)],
        &runner_args("stream-registry-no-ttl"),
    );
    assert_eq!(code, Some(1), "{}", report["assessment"]["sentence"]);
    assert_eq!(report["assessment"]["grows"], "v8_heap");
    // A leak of 5 KB an iteration is clear long before 2000: where the verdict held is
    // a sample's iteration within the run.
    let decided = report["assessment"]["decided_after"]
        .as_f64()
        .expect("a decided run says where");
    let iterations: Vec<f64> = report["run"]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(|s| s["iteration"].as_f64())
        .collect();
    assert!(iterations.contains(&decided), "{decided} {iterations:?}");
    assert!(decided < 2000.0, "{decided}");
    let culprit = &report["culprit"]["clusters"][0];
    let spec = manifest("stream-registry-no-ttl.js");
    assert!(
        spec.culprit_classes
            .iter()
            .any(|c| c == culprit["class"].as_str().unwrap_or("")),
        "{culprit}"
    );
    // The outputs are written, private where they hold heap contents.
    for f in [
        "samples.csv",
        "samples.json",
        "report.md",
        "report.html",
        "junit.xml",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
    assert!(
        junit.contains("failures=\"1\"") && junit.contains("<failure message=\"Leak:"),
        "{junit}"
    );
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        md.contains(&format!("The verdict held from iteration {decided} on")),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert!(
        html.contains("<svg") && html.contains("<polyline") && html.contains("Culprit:"),
        "html report"
    );
    let csv = std::fs::read_to_string(out.join("samples.csv")).expect("csv");
    let samples = report["run"]["samples"].as_array().map_or(0, Vec::len);
    assert!(samples >= 8, "{samples} samples");
    assert_eq!(
        csv.lines().count(),
        samples + 1,
        "a header and one line per sample"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).expect("dir").permissions().mode() & 0o777,
            0o700
        );
        let snaps: Vec<_> = std::fs::read_dir(&out)
            .expect("dir")
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "heapsnapshot"))
            .collect();
        assert_eq!(snaps.len(), 3);
        for s in snaps {
            assert_eq!(
                s.metadata().expect("meta").permissions().mode() & 0o777,
                0o600
            );
        }
    }
}

#[test]
fn a_bounded_cache_passes() {
    let _measured = measured();
    // A short run: every sample point, so that the clean verdict does not depend on how
    // many samples the overhead budget affords on a loaded machine.
    let (code, report) = run_json(
        &["--iterations", "3000", "--max-overhead", "none"],
        &runner_args("lru-cache-bounded"),
    );
    assert_eq!(code, Some(0), "{}", report["assessment"]["sentence"]);
    assert_eq!(report["assessment"]["outcome"], "no_leak");
}

#[test]
fn a_crash_is_a_fault_with_its_status_and_stderr() {
    let _measured = measured();
    let command: Vec<String> = [
        "node",
        "-e",
        "let i = 0; const t = setInterval(() => { i++; console.log('iteration=' + i); if (i === 30) { console.error('boom: out of widgets'); process.exit(7); } }, 2);",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, report) = run_json(&["--iterations", "1000"], &command);
    assert_eq!(code, Some(2));
    let fault = report["fault"].as_str().expect("fault");
    assert!(fault.contains("exit status 7"), "{fault}");
    let stderr: Vec<String> = report["run"]["stderr_tail"]
        .as_array()
        .expect("tail")
        .iter()
        .map(|l| l.as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        stderr.iter().any(|l| l.contains("boom: out of widgets")),
        "{stderr:?}"
    );
    assert!(
        !report["run"]["samples"]
            .as_array()
            .expect("samples")
            .is_empty(),
        "what was collected is kept"
    );
}

#[test]
fn a_process_that_is_not_node_is_judged_by_rss() {
    let _measured = measured();
    // A shell-free Python program that keeps 256 KiB per iteration.
    let script = "import sys, time\nkeep = []\nfor i in range(1, 100000):\n    keep.append(bytearray(262144))\n    keep[-1][::4096] = b'x' * 64\n    print(f'iteration={i}', flush=True)\n    time.sleep(0.005)\n";
    let command: Vec<String> = ["python3", "-c", script]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Long enough for the overhead budget to afford a score of samples. (Sampling every
    // line instead lets leaktrail fall behind the workload on a loaded machine: each RSS is
    // then read iterations after the line it is filed under, which inflates the slope.)
    let (code, report) = run_json(
        &["--iterations", "400", "--max-growth", "64KB/iter"],
        &command,
    );
    assert_eq!(code, Some(1), "{}", report["assessment"]["sentence"]);
    assert_eq!(report["assessment"]["grows"], "native");
    assert!(
        report["run"]["samples"][0]["heap_used"].is_null(),
        "no inspector for a non-Node process"
    );
    let slope = report["assessment"]["primary"]["verdict"]["slope"]["slope"]
        .as_f64()
        .expect("slope");
    assert!(slope > 200.0 * 1024.0 && slope < 330.0 * 1024.0, "{slope}");
}

#[test]
fn node_behind_a_shell_is_judged_by_rss_and_the_report_says_how_to_look_inside() {
    let _measured = measured();
    let inner = runner_line("stream-registry-no-ttl");
    let command = vec!["sh".to_owned(), "-c".to_owned(), inner];
    let (code, report) = run_json(&[], &command);
    let sentence = report["assessment"]["sentence"].as_str().expect("sentence");
    assert_eq!(code, Some(1), "{sentence}");
    // RSS cannot tell the heap from native memory: it says so, not "native".
    assert!(!sentence.contains("native (resident)"), "{sentence}");
    assert!(
        sentence.contains("Judged by RSS only: the process tree runs Node (PID ")
            && sentence.contains("add --node"),
        "{sentence}"
    );
    assert!(report["run"]["uninspected_node"]["pid"].as_i64().is_some());
    // As it says: with --node the inspector goes through the shell to Node.
    let (code, report) = run_json(&["--node"], &command);
    let sentence = report["assessment"]["sentence"].as_str().expect("sentence");
    assert_eq!(code, Some(1), "{sentence}");
    assert!(
        report["run"]["samples"][0]["heap_used"].as_u64().is_some(),
        "{sentence}"
    );
    assert!(report["run"]["uninspected_node"].is_null());
    assert_eq!(report["assessment"]["grows"], "v8_heap", "{sentence}");
}

#[test]
fn a_leak_test_started_through_npm_run_is_judged_in_the_scripts_own_node() {
    let _measured = measured();
    // npm is Node too, and opens its inspector first: the workload is the Node process
    // its script starts (through `sh -c`). Judged in npm, this leak read as no leak.
    let project = npm_project(&runner_line("stream-registry-no-ttl"));
    let prefix = project.path().display().to_string();
    let command = ["npm", "--prefix", prefix.as_str(), "run", "leak"];
    let (code, report) = run_json(&[], &command);
    let sentence = report["assessment"]["sentence"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(code, Some(1), "{sentence}");
    assert!(
        report["run"]["samples"][0]["heap_used"].as_u64().is_some(),
        "the heap of the script's Node: {sentence}"
    );
    assert_eq!(report["assessment"]["grows"], "v8_heap", "{sentence}");
    assert_eq!(
        report["culprit"]["clusters"][0]["class"], "StreamEntry",
        "{}",
        report["culprit"]["summary"]
    );
}

#[test]
fn a_launcher_in_front_of_node_is_passed_over_for_the_node_it_starts() {
    let _measured = measured();
    // What `cross-env NODE_ENV=test node load.js` does: a Node program that starts the
    // workload's Node with its arguments and waits for it. Named so, it is a launcher.
    let bin = tempfile::tempdir().expect("tempdir");
    let launcher = bin.path().join("cross-env.js");
    std::fs::write(
        &launcher,
        "const { spawnSync } = require('child_process');\n\
         const [cmd, ...args] = process.argv.slice(2);\n\
         process.exitCode = spawnSync(cmd, args, { stdio: 'inherit' }).status;\n",
    )
    .expect("write");
    let dir = scenarios_dir();
    let command: Vec<String> = vec![
        node().display().to_string(),
        launcher.display().to_string(),
        node().display().to_string(),
        "--expose-gc".into(),
        dir.join("runner.js").display().to_string(),
        dir.join("stream-registry-no-ttl.js").display().to_string(),
        "--iterations".into(),
        "3000".into(),
        "--print-every".into(),
        "25".into(),
    ];
    let (code, report) = run_json(&[], &command);
    let sentence = report["assessment"]["sentence"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(code, Some(1), "{sentence}");
    assert_eq!(report["assessment"]["grows"], "v8_heap", "{sentence}");
    assert_eq!(
        report["culprit"]["clusters"][0]["class"], "StreamEntry",
        "{}",
        report["culprit"]["summary"]
    );
}

#[test]
fn a_script_npm_runs_that_is_not_node_is_judged_by_rss() {
    let _measured = measured();
    // npm's own inspector is passed over; no Node process follows it, so the lines are
    // sampled by RSS (before: waiting for an inspector, not one sample). npm runs a
    // script in its package's folder.
    let project = npm_project("python3 leak.py");
    std::fs::write(
        project.path().join("leak.py"),
        "import time\nkeep = []\nfor i in range(1, 401):\n    keep.append(bytearray(262144))\n    keep[-1][::4096] = b'x' * 64\n    print(f'iteration={i}', flush=True)\n    time.sleep(0.005)\n",
    )
    .expect("write");
    let prefix = project.path().display().to_string();
    let command = ["npm", "--prefix", prefix.as_str(), "run", "leak"];
    let (code, report) = run_json(&["--max-growth", "64KB/iter"], &command);
    let sentence = &report["assessment"]["sentence"];
    assert_eq!(code, Some(1), "{sentence}");
    assert_eq!(report["assessment"]["grows"], "native", "{sentence}");
    assert!(
        report["run"]["samples"].as_array().map_or(0, Vec::len) >= 8,
        "{sentence}"
    );
    // It ends by itself, with no snapshot: with no inspector there is none however long
    // it runs, so no "run it longer" note (there was one).
    assert!(
        !sentence.as_str().unwrap_or("").contains("heap snapshots"),
        "{sentence}"
    );
}

/// A project folder whose package.json has one script, `leak`, that runs `script`.
fn npm_project(script: &str) -> tempfile::TempDir {
    let project = tempfile::tempdir().expect("tempdir");
    let package = serde_json::json!({
        "name": "leak-test", "version": "1.0.0", "private": true,
        "scripts": { "leak": script }
    });
    std::fs::write(project.path().join("package.json"), package.to_string()).expect("write");
    project
}
