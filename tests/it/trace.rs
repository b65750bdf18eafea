//! `leaktrail trace` on real process trees: a Node parent forking scenario workers (one
//! leaking application objects, one growing its module graph, one clean), `node --test` as
//! a real runner, TAP on stdout, and the exit status passed through.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use common::*;

/// The tests here run whole process trees; on a small machine, parallel trees slow heap
/// snapshots down by seconds. One at a time, with every other measured test.
fn one_at_a_time() -> std::sync::RwLockWriteGuard<'static, ()> {
    measured()
}

/// A lane script: forks one worker per scenario, lets them run, stops them, writes a
/// Jest-style JSON report of the "files" it ran, and exits 7.
const PARENT: &str = r#"
const { fork } = require('child_process');
const path = require('path');
const fs = require('fs');
const [dir, report, ms] = process.argv.slice(2);
const names = ['stream-registry-no-ttl', 'module-growth', 'lru-cache-bounded'];
const started = Date.now();
const workers = names.map((n) =>
  fork(path.join(dir, 'runner.js'), [path.join(dir, n + '.js'), '--forever'], { stdio: 'ignore' }));
setTimeout(() => {
  for (const w of workers) w.kill('SIGKILL');
  const ended = Date.now();
  fs.writeFileSync(report, JSON.stringify({ testResults: names.map((n) => (
    { name: n + '.test.js', startTime: started, endTime: ended, status: 'passed' })) }));
  setTimeout(() => process.exit(7), 100);
}, Number(ms));
"#;

/// `leaktrail trace --format json ARGS` in `dir`, ARGS with the command after `--`:
/// [`common::runners::trace`] with the flags and the command split.
fn trace(args: &[&str], dir: &Path) -> (Output, serde_json::Value) {
    let at = args
        .iter()
        .position(|a| *a == "--")
        .expect("a command after --");
    let command: Vec<String> = args[at + 1..].iter().map(|a| a.to_string()).collect();
    common::runners::trace(dir, &args[..at], &command)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("exists").permissions().mode() & 0o777
}

fn processes(report: &serde_json::Value) -> Vec<&serde_json::Value> {
    report["lanes"]
        .as_array()
        .expect("lanes")
        .iter()
        .flat_map(|l| l["processes"].as_array().expect("processes"))
        .collect()
}

fn command_of(p: &serde_json::Value) -> String {
    p["command"]
        .as_array()
        .expect("command")
        .iter()
        .map(|a| a.as_str().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_forking_lane_is_followed_per_pid_with_snapshot_verdicts() {
    let _tree = one_at_a_time();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("parent.js"), PARENT).expect("write parent");
    let out_dir = dir.join("out");
    let report_file = dir.join("report.json");
    let scenarios = scenarios_dir();
    assert!(
        scenarios.join("runner.js").is_file(),
        "{}: no runner.js (the repository's scenarios/ folder, or LEAKTRAIL_SCENARIOS)",
        scenarios.display()
    );
    let node = node();
    let (out, report) = trace(
        &[
            "--interval",
            "200ms",
            "--snapshot-every",
            "1500ms",
            "--out",
            s(&out_dir),
            "--files-from",
            s(&report_file),
            "--",
            s(&node),
            "parent.js",
            s(&scenarios),
            s(&report_file),
            "12000",
        ],
        dir,
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "the command's status is passed through: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["schema"], "leaktrail.trace/1");
    assert_eq!(report["exit"]["code"], 7);
    assert_eq!(report["exit_status"], 7);

    // Every PID: the parent and its three workers, in lanes by script.
    let all = processes(&report);
    assert_eq!(all.len(), 4, "{all:?}");
    let parent = all
        .iter()
        .find(|p| command_of(p).contains("parent.js"))
        .expect("the parent");
    assert_eq!(parent["lane"], "parent");
    for scenario in [
        "stream-registry-no-ttl",
        "module-growth",
        "lru-cache-bounded",
    ] {
        let p = all
            .iter()
            .find(|p| command_of(p).contains(&format!("{scenario}.js")))
            .unwrap_or_else(|| panic!("worker {scenario} traced"));
        let pid = p["pid"].as_i64().expect("pid");
        assert_eq!(p["ppid"], parent["pid"], "{scenario}");
        assert_eq!(p["lane"], "runner");
        assert_eq!(p["node"], true);
        assert!(
            p["samples"].as_array().expect("samples").len() >= 10,
            "{scenario}: {p}"
        );
        assert!(
            p["peak_rss"].as_u64().expect("peak") > 10 << 20,
            "{scenario}"
        );
        assert!(p["end"].as_f64().is_some(), "{scenario} ended");
        // Snapshots in the lane directory, named by PID and sequence, private.
        let snaps = p["snapshots"].as_array().expect("snapshots");
        assert!(snaps.len() >= 2, "{scenario}: {snaps:?}");
        for (i, snap) in snaps.iter().enumerate() {
            let path = Path::new(snap["path"].as_str().expect("path"));
            assert_eq!(path.parent(), Some(out_dir.join("runner").as_path()));
            assert_eq!(
                path.file_name().and_then(|n| n.to_str()),
                Some(format!("{pid}-{}.heapsnapshot", i + 1).as_str())
            );
            assert_eq!(mode(path), 0o600);
        }
        let heap = &p["heap"]["diff"];
        let kind = heap["verdict"]["kind"].as_str().unwrap_or("no diff");
        match scenario {
            "stream-registry-no-ttl" => {
                assert_eq!(kind, "runtime_data", "{}", heap["verdict"]);
                let culprits = manifest("stream-registry-no-ttl.js").culprit_classes;
                let top: Vec<&str> = heap["classes"]
                    .as_array()
                    .expect("classes")
                    .iter()
                    .filter_map(|c| c["class"].as_str())
                    .collect();
                assert!(
                    top.iter().any(|c| culprits.iter().any(|k| k == c)),
                    "a culprit class among the top ones: {top:?}"
                );
            }
            "module-growth" => assert_eq!(kind, "module_graph", "{}", heap["verdict"]),
            _ => assert_ne!(
                kind, "runtime_data",
                "the clean worker: {}",
                heap["verdict"]
            ),
        }
    }
    assert_eq!(mode(&out_dir), 0o700);
    assert_eq!(mode(&out_dir.join("runner")), 0o700);
    // The private directory Node wrote into is gone.
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("out")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The reporter's files, attributed by their (overlapping) time windows.
    let files = report["files"].as_array().expect("files");
    assert_eq!(files.len(), 3, "{files:?}");
    for f in files {
        assert_eq!(f["source"], "reporter");
        assert_eq!(f["attribution"], "window_shared");
        assert_eq!(f["concurrent_files"], 2);
        assert!(f["rss_delta"].as_i64().is_some());
    }

    // The same report is kept, privately, with a Markdown one.
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("trace.json")).expect("kept"))
            .expect("JSON");
    assert_eq!(kept, report);
    assert_eq!(mode(&out_dir.join("trace.json")), 0o600);
    let md = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("## Trace:") && md.contains("Runtime data leak"),
        "{md}"
    );

    // The lane directory is what `diff --lane-dir` reads.
    let stream_pid = all
        .iter()
        .find(|p| command_of(p).contains("stream-registry-no-ttl.js"))
        .and_then(|p| p["pid"].as_i64())
        .expect("pid")
        .to_string();
    let lanes = leaktrail_json(&[
        "diff",
        "--lane-dir",
        s(&out_dir.join("runner")),
        "--pid",
        &stream_pid,
    ]);
    assert_eq!(lanes["lanes"][0]["diff"]["verdict"]["kind"], "runtime_data");
}

/// Grows by 20 MiB for every second of the process's age until it is 4.5 s old: by age,
/// not by timer ticks, so that a slow machine changes the number of ticks, not the growth
/// after the 2 s settle time (about 50 MiB).
const GROWING_TEST: &str = r#"
const test = require('node:test');
const keep = [];
test('keeps growing', async () => {
  while (process.uptime() < 4.5) {
    while (keep.length < process.uptime() * 20) keep.push(Buffer.alloc(1 << 20, 1));
    await new Promise((r) => setTimeout(r, 50));
  }
});
"#;

const FAILING_TEST: &str = r#"
const test = require('node:test');
const assert = require('node:assert');
test('fails', async () => {
  await new Promise((r) => setTimeout(r, 300));
  assert.strictEqual(1, 2);
});
"#;

#[test]
fn node_test_runner_files_and_exit_status() {
    let _tree = one_at_a_time();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("grows.test.js"), GROWING_TEST).expect("write");
    std::fs::write(dir.join("fails.test.js"), FAILING_TEST).expect("write");
    let node = node();
    let (out, report) = trace(
        &[
            "--interval",
            "100ms",
            "--",
            s(&node),
            "--test",
            "grows.test.js",
            "fails.test.js",
        ],
        dir,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "node --test failed, and so does trace"
    );
    assert_eq!(report["exit"]["code"], 1);
    let all = processes(&report);
    let files = report["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{files:?}");
    for name in ["grows.test.js", "fails.test.js"] {
        let f = files
            .iter()
            .find(|f| f["file"].as_str().is_some_and(|n| n.ends_with(name)))
            .unwrap_or_else(|| panic!("{name} attributed: {files:?}"));
        // Named by the preload in the file's process, measured as its own process.
        assert_eq!(f["source"], "preload");
        assert_eq!(f["attribution"], "own_process");
        let pid = &f["pid"];
        let p = all
            .iter()
            .find(|p| p["pid"] == *pid)
            .expect("the file's process is traced");
        assert!(command_of(p).ends_with(name), "{}", command_of(p));
        assert_eq!(p["test_file"], f["file"]);
        assert_eq!(p["lane"], name.trim_end_matches(".js"));
        if name == "grows.test.js" {
            // Its own process's growth after start-up: only what it kept after 2 s of age.
            assert!(f["rss_delta"].as_i64().expect("growth") > 30 << 20, "{f}");
            assert_eq!(p["baseline"]["rule"], "settled", "{p}");
        }
    }
    let runner = all
        .iter()
        .find(|p| p["lane"] == "node-test")
        .expect("the runner itself");
    assert!(runner["test_file"].is_null());
    assert!(report["not_measured"]
        .as_array()
        .expect("list")
        .iter()
        .any(|l| l.as_str().is_some_and(|l| l.contains("snapshots are off"))));

    // --fail-on-growth fails a passing suite whose file grew too much…
    let (out, report) = trace(
        &[
            "--interval",
            "100ms",
            "--fail-on-growth",
            "30MB",
            "--",
            s(&node),
            "--test",
            "grows.test.js",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", report["fail_on_growth"]);
    assert_eq!(report["exit"]["code"], 0);
    assert_eq!(report["fail_on_growth"]["failed"], true);
    let grown = report["files"][0]["pid"].clone();
    assert!(report["fail_on_growth"]["exceeded"]
        .as_array()
        .expect("exceeded")
        .contains(&grown));
    // …and not under a higher limit.
    let (out, report) = trace(
        &[
            "--interval",
            "100ms",
            "--fail-on-growth",
            "2GB",
            "--",
            s(&node),
            "--test",
            "grows.test.js",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", report["fail_on_growth"]);
    assert_eq!(report["fail_on_growth"]["failed"], false);
}

/// Start-up that allocates (a 30 MiB fixture loaded at require time), then a test that
/// stays flat for 3 s.
const FLAT_AFTER_START_UP_TEST: &str = r#"
const test = require('node:test');
const fixture = [];
for (let i = 0; i < 30; i++) fixture.push(Buffer.alloc(1 << 20, 1));
test('flat', async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setTimeout(r, 100));
  if (fixture.length !== 30) throw new Error('lost the fixture');
});
"#;

const QUICK_TEST: &str = r#"
const test = require('node:test');
test('quick', () => {});
"#;

/// A plain script: 30 MiB at start-up, then flat until it is 4 s old.
const FLAT_AFTER_START_UP: &str = r#"
const keep = [];
for (let i = 0; i < 30; i++) keep.push(Buffer.alloc(1 << 20, 1));
setTimeout(() => {}, Math.max(0, 4000 - process.uptime() * 1000));
"#;

/// 30 MiB at start-up, then 20 MiB for every second of age until it is 5 s old (by age,
/// so that a slow machine cannot shrink the growth): about 60 MiB after the settle time.
const GROWING_AFTER_START_UP: &str = r#"
const keep = [];
for (let i = 0; i < 30; i++) keep.push(Buffer.alloc(1 << 20, 1));
const target = () => 30 + Math.floor(process.uptime() * 20);
const t = setInterval(() => {
  while (keep.length < target()) keep.push(Buffer.alloc(1 << 20, 1));
  if (process.uptime() >= 5) clearInterval(t);
}, 50);
"#;

#[test]
fn fail_on_growth_counts_from_after_start_up() {
    let _tree = one_at_a_time();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("flat.test.js"), FLAT_AFTER_START_UP_TEST).expect("write");
    std::fs::write(dir.join("quick.test.js"), QUICK_TEST).expect("write");
    std::fs::write(dir.join("flat.js"), FLAT_AFTER_START_UP).expect("write");
    std::fs::write(dir.join("grows.js"), GROWING_AFTER_START_UP).expect("write");
    let node = node();
    let gate = |args: &[&str]| {
        let mut all = vec!["--interval", "100ms", "--fail-on-growth", "10MB", "--"];
        all.extend_from_slice(args);
        trace(&all, dir)
    };

    // A clean `node --test` run: the runner, a file that loads 30 MiB then stays flat,
    // a file over in a moment. Node's start-up and the fixture are not growth.
    let (out, report) = gate(&[s(&node), "--test", "flat.test.js", "quick.test.js"]);
    assert_eq!(out.status.code(), Some(0), "{}", report["fail_on_growth"]);
    assert_eq!(report["fail_on_growth"]["exceeded"], serde_json::json!([]));
    assert_eq!(report["settle_seconds"], 2.0);
    let all = processes(&report);
    // The runner and the flat file's process; the quick file's is over in a moment, and on
    // a loaded machine sampling every 100 ms may not see it at all (it is then listed as
    // possibly missed, not as a process).
    assert!((2..=3).contains(&all.len()), "{all:?}");
    for p in &all {
        if let Some(g) = p["growth"].as_i64() {
            assert!(g <= 10 << 20, "{p}");
        }
    }
    let flat = all
        .iter()
        .find(|p| p["lane"] == "flat.test")
        .expect("the flat file's process");
    assert_eq!(flat["baseline"]["rule"], "settled", "{flat}");
    // The fixture is in the baseline: a Node bootstrap plus 30 MiB.
    assert!(
        flat["baseline"]["rss"].as_u64().expect("baseline") > 50 << 20,
        "{flat}"
    );

    // A plain script that allocates at start-up, then stays flat.
    let (out, report) = gate(&[s(&node), "flat.js"]);
    assert_eq!(out.status.code(), Some(0), "{}", report["fail_on_growth"]);
    let p = processes(&report)[0];
    assert_eq!(p["baseline"]["rule"], "settled", "{p}");
    assert!(p["growth"].as_i64().expect("growth") <= 10 << 20, "{p}");

    // The same start-up, then growth that goes on after it: trace fails.
    let (out, report) = gate(&[s(&node), "grows.js"]);
    assert_eq!(out.status.code(), Some(1), "{}", report["fail_on_growth"]);
    assert_eq!(report["exit"]["code"], 0);
    assert_eq!(report["fail_on_growth"]["failed"], true);
    let p = processes(&report)[0];
    assert_eq!(
        report["fail_on_growth"]["exceeded"],
        serde_json::json!([p["pid"]])
    );
    assert_eq!(p["baseline"]["rule"], "settled", "{p}");
    assert!(p["growth"].as_i64().expect("growth") > 30 << 20, "{p}");
}

/// Prints TAP naming two files, growing in the first; then spawns a Node child with its
/// own environment (no NODE_OPTIONS) that lives a while and exits 0: trace must not send
/// it SIGUSR2, whose default action would kill it.
const TAP_AND_BARE_CHILD: &str = r#"
const { spawnSync } = require('child_process');
const keep = [];
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
console.log('TAP version 13');
console.log('# Subtest: unit/grow.test.js');
for (let i = 0; i < 10; i++) { keep.push(Buffer.alloc(4 << 20, 1)); sleep(60); }
console.log('ok 1 - unit/grow.test.js');
console.log('# Subtest: unit/flat.test.js');
sleep(700);
console.log('ok 2 - unit/flat.test.js');
console.log('OPTIONS=' + process.env.NODE_OPTIONS);
const r = spawnSync(process.execPath, ['-e', 'setTimeout(() => {}, 2500)'], { env: { PATH: process.env.PATH } });
process.exit(r.status === null ? 100 : r.status);
"#;

#[test]
fn tap_files_node_options_and_processes_without_a_handler() {
    let _tree = one_at_a_time();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("tap.js"), TAP_AND_BARE_CHILD).expect("write");
    let node = node();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .args([
            "trace",
            "--format",
            "json",
            "--interval",
            "100ms",
            "--snapshot-every",
            "500ms",
            "--",
            s(&node),
            "tap.js",
        ])
        .current_dir(dir)
        .env("NODE_OPTIONS", "--max-old-space-size=200")
        .output()
        .expect("leaktrail runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        out.status.code(),
        Some(0),
        "the child without a handler survived: {stderr}"
    );
    // The command's stdout is passed on (to stderr), and the user's NODE_OPTIONS are kept.
    assert!(
        stderr.contains(
            "OPTIONS=--max-old-space-size=200 --heapsnapshot-signal=SIGUSR2 --diagnostic-dir="
        ),
        "{stderr}"
    );
    let all = processes(&report);
    let bare = all
        .iter()
        .find(|p| p["lane"] == "eval")
        .expect("the bare child is traced");
    assert_eq!(bare["snapshots"].as_array().map(Vec::len), Some(0));
    assert!(
        bare["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("no SIGUSR2 handler")),
        "{bare}"
    );
    let files = report["files"].as_array().expect("files");
    let names: Vec<&str> = files.iter().filter_map(|f| f["file"].as_str()).collect();
    assert_eq!(names, ["unit/grow.test.js", "unit/flat.test.js"]);
    for f in files {
        assert_eq!(f["source"], "tap");
        assert_eq!(f["attribution"], "window");
        assert_eq!(f["status"], "passed");
    }
    let grow = files[0]["rss_delta"].as_i64().expect("grow");
    let flat = files[1]["rss_delta"].as_i64().expect("flat");
    assert!(grow > 20 << 20, "grow.test.js grew by {grow}");
    assert!(flat < grow / 2, "flat.test.js grew by {flat}");
}

#[test]
fn signals_bad_commands_and_bad_input() {
    let _tree = one_at_a_time();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // Death by a signal is passed through as 128 + N.
    let (out, report) = trace(&["--", "sh", "-c", "kill -TERM $$"], dir);
    assert_eq!(out.status.code(), Some(143));
    assert_eq!(report["exit"]["signal"], 15);

    // Ctrl-C reaches leaktrail, not the command's own process group: it is passed on, and
    // the report still comes.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .args([
            "trace",
            "--format",
            "json",
            "--interval",
            "100ms",
            "--",
            "sleep",
            "30",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("leaktrail starts");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let out = child.wait_with_output().expect("leaktrail ends");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["signals_forwarded"], serde_json::json!([2]));
    assert_eq!(report["exit"]["signal"], 2);

    let out = leaktrail(&["trace", "--", "/nonexistent/leaktrail-no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot start `/nonexistent/leaktrail-no-such-command`"),
        "{err}"
    );

    let out = leaktrail(&["trace", "--lane-by", "regex:(", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular expression"));

    let out = leaktrail(&["trace", "--interval", "0s", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than zero"));

    let out = leaktrail(&["trace", "--fail-on-growth", "lots", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a size"));

    // An unreadable reporter file: the report still comes, the file is named, exit 2.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"testResults\": [").expect("write");
    let (out, report) = trace(&["--files-from", s(&bad), "--", "true"], dir);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(report["exit"]["code"], 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json: not JSON"), "{err}");
    assert!(report["warnings"][0]
        .as_str()
        .is_some_and(|w| w.contains("bad.json")));
    // A failing command keeps its own status over the reporter's problem.
    let (out, _) = trace(
        &[
            "--files-from",
            s(&dir.join("missing.json")),
            "--",
            "sh",
            "-c",
            "exit 3",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(3));
}
