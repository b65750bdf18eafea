//! `leaktrail trace` on a suite shaped unlike the one it was built against:
//! `scenarios/test-project/other/` (a leak through a shared CommonJS library that tests
//! populate in `beforeEach`, one through an ES module cache, a clean file that churns
//! garbage, a clean file that loads libraries, ESM and nested async tests), under the
//! runner modes a project uses besides the tuned ones — Mocha serial (its default, every
//! file in one process), among others.
//!
//! Same runners and the same rule as `trace_runners.rs`: without them each test says
//! `SKIPPED` on stderr, and fails under CI.

use crate::common;

use common::runners::*;
use std::path::Path;

/// The second suite's files and what each keeps: the two leaks keep about 30 MiB each.
const OTHER: [(&str, bool); 5] = [
    ("sessions.test.js", true),
    ("cache.test.mjs", true),
    ("garbage.test.js", false),
    ("loader.test.js", false),
    ("nested.test.mjs", false),
];

/// The library file (under `other/lib/`) whose code allocated what a leaking file keeps.
fn leak_site(file: &str) -> &'static str {
    match file {
        "sessions.test.js" => "/other/lib/sessions.js",
        _ => "/other/lib/cache.mjs",
    }
}

/// The node command line of Mocha on the second suite, `args` after it.
fn mocha(args: &[&str]) -> Vec<String> {
    let mut cmd = vec![
        common::node().display().to_string(),
        "node_modules/mocha/bin/mocha.js".to_owned(),
    ];
    if !args.contains(&"--no-config") {
        cmd.extend(["--config", "other/.mocharc.json"].map(String::from));
    }
    cmd.extend(args.iter().map(|a| a.to_string()));
    cmd
}

/// Checks that every file of the second suite is tied to `pid` (when given) and in its
/// worker, that the leaking ones kept their leak and were read to their library's code,
/// and that the clean look-alikes kept little and were not read for their own code.
fn check_other_suite(what: &str, report: &serde_json::Value, pid: Option<i64>, dir: &Path) {
    let files = files_by_name(report);
    assert_eq!(files.len(), OTHER.len(), "{what}: {files:?}");
    let kept = report["allocations"].as_array().expect("allocations");
    for (name, leaks) in OTHER {
        let (_, f) = files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{what}: {name} reported: {files:?}"));
        assert_eq!(f["source"], "preload", "{what} {name}: {f}");
        assert_eq!(f["attribution"], "worker", "{what} {name}: {f}");
        if let Some(pid) = pid {
            assert_eq!(f["pid"], pid, "{what} {name}: {f}");
        }
        let heap = f["heap_delta"].as_i64().expect("heap_delta");
        let read = kept.iter().find(|k| {
            k["file"].as_str().is_some_and(|p| p.ends_with(name)) && k["pid"] == f["pid"]
        });
        if leaks {
            assert!(heap > 20 << 20, "{what} {name}: {f}");
            let read = read.unwrap_or_else(|| panic!("{what}: {name}'s worker read: {kept:?}"));
            let top = &read["sites"][0];
            let url = top["url"].as_str().unwrap_or("");
            assert!(
                url.ends_with(leak_site(name)) && url.contains(&*dir.to_string_lossy()),
                "{what} {name}: top site {top}"
            );
            assert!(top["bytes"].as_u64() > Some(16 << 20), "{what}: {top}");
        } else {
            assert!(heap < 8 << 20, "{what} {name}: {f}");
            assert!(read.is_none(), "{what} {name}: read {read:?}");
        }
    }
}

#[test]
fn mocha_serial_ties_every_file_to_its_one_process() {
    let Some(dir) = project("mocha_serial_ties_every_file_to_its_one_process") else {
        return;
    };
    let _run = one_at_a_time();
    // No --parallel: Mocha's default, every file run by its main process, one after
    // another. Trace listed no file at all and said so only at the report's end.
    let report = trace_passing(&dir, &["--interval", "200ms"], &mocha(&[]));
    let all = processes(&report);
    let runner = all
        .iter()
        .find(|p| p["command"].to_string().contains("mocha.js"))
        .unwrap_or_else(|| panic!("mocha's process listed: {all:?}"));
    assert_eq!(
        role_of(runner),
        (true, true, "mocha".to_owned()),
        "{runner}"
    );
    let pid = runner["pid"].as_i64().expect("pid");
    check_other_suite("mocha serial", &report, Some(pid), &dir);
    // The command column names the mode, and the file by the path typed: `nested.test.mjs`
    // alone would not say which suite's.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .args(["trace", "--interval", "200ms", "--"])
        .args(mocha(&["--no-config", "other/test/nested.test.mjs"]))
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .env_remove("NODE_OPTIONS")
        .output()
        .expect("leaktrail runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("[mocha serial] node mocha.js --no-config other/test/nested"),
        "{text}"
    );
}

/// The node command line of Vitest on the second suite, `args` after it.
fn vitest(args: &[&str]) -> Vec<String> {
    let mut cmd = vec![
        common::node().display().to_string(),
        "node_modules/vitest/vitest.mjs".to_owned(),
        "run".to_owned(),
        "--config".to_owned(),
        "other/vitest.config.mjs".to_owned(),
    ];
    cmd.extend(args.iter().map(|a| a.to_string()));
    cmd
}

#[test]
fn vitest_files_sent_to_a_worker_together_each_get_their_own_window() {
    let Some(dir) = project("vitest_files_sent_to_a_worker_together_each_get_their_own_window")
    else {
        return;
    };
    // Without isolation and with one worker, Vitest sends every file to its worker in one
    // run request, answered once at the end: each file was given the whole request's window
    // and charged what all of them kept (the clean ones ~60 MiB each).
    for (what, args) in [
        ("forks", ["--pool=forks", "--no-isolate", "--maxWorkers=1"]),
        (
            "threads",
            ["--pool=threads", "--no-isolate", "--no-file-parallelism"],
        ),
    ] {
        let _run = one_at_a_time();
        let report = trace_passing(&dir, &["--interval", "200ms"], &vitest(&args));
        let files = files_by_name(&report);
        let pid = files.first().map(|(_, f)| f["pid"].as_i64().expect("pid"));
        check_other_suite(what, &report, pid, &dir);
        // One after another, in one worker (and thread): the windows do not overlap.
        let mut windows: Vec<(f64, f64, i64)> = files
            .iter()
            .map(|(_, f)| {
                (
                    f["start"].as_f64().expect("start"),
                    f["end"].as_f64().expect("end"),
                    f["thread"].as_i64().expect("thread"),
                )
            })
            .collect();
        windows.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(
            windows
                .windows(2)
                .all(|w| w[0].1 <= w[1].0 && w[0].2 == w[1].2),
            "{what}: {windows:?}"
        );
    }
}

#[test]
fn a_site_in_a_file_the_runner_transformed_is_given_its_own_line() {
    let Some(dir) = project("a_site_in_a_file_the_runner_transformed_is_given_its_own_line") else {
        return;
    };
    // Where `render`, which builds the cached pages, begins in the file itself.
    let source = std::fs::read_to_string(dir.join("other/lib/cache.mjs")).expect("cache.mjs");
    let line = source
        .lines()
        .position(|l| l.starts_with("export function render("))
        .expect("render in cache.mjs") as u64
        + 1;
    // Vitest runs the ES module as its module runner transformed it (two lines further
    // down: the site said cache.mjs:12); node --test runs the file as it is.
    for (what, cmd) in [
        (
            "vitest forks",
            vitest(&["--pool=forks", "--maxWorkers=2", "test/cache.test.mjs"]),
        ),
        (
            "vitest threads",
            vitest(&["--pool=threads", "--maxWorkers=2", "test/cache.test.mjs"]),
        ),
        (
            "node --test",
            vec![
                common::node().display().to_string(),
                "--test".to_owned(),
                "other/test/cache.test.mjs".to_owned(),
            ],
        ),
    ] {
        let _run = one_at_a_time();
        let report = trace_passing(&dir, &["--interval", "200ms"], &cmd);
        let kept = report["allocations"].as_array().expect("allocations");
        let read = kept
            .iter()
            .find(|k| {
                k["file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with("/cache.test.mjs"))
            })
            .unwrap_or_else(|| panic!("{what}: cache.test.mjs's worker read: {kept:?}"));
        let top = &read["sites"][0];
        assert_eq!(top["function"], "render", "{what}: {top}");
        assert!(
            top["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/other/lib/cache.mjs")),
            "{what}: {top}"
        );
        assert_eq!(top["line"], line, "{what}: {top}");
        let mapped = what.starts_with("vitest");
        assert_eq!(top["source_mapped"] == true, mapped, "{what}: {top}");
        // Cheap still: the source maps are looked up at a read only.
        assert!(read["read_seconds"].as_f64() < Some(5.0), "{what}: {read}");
    }
}
