//! `leaktrail trace` on the real test runners of `scenarios/test-project`: the project,
//! each runner's command, one run at a time, and reading the JSON report.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::{node, scenarios_dir};

/// Runner processes use both cores: one run at a time ([`super::measured`]).
pub fn one_at_a_time() -> std::sync::RwLockWriteGuard<'static, ()> {
    super::measured()
}

/// The test project with its runners installed; `None`, said loudly, when they are not
/// (a failure under CI).
pub fn project(test: &str) -> Option<PathBuf> {
    let dir = scenarios_dir().join("test-project");
    let runners = [
        "node_modules/jest/bin/jest.js",
        "node_modules/vitest/vitest.mjs",
        "node_modules/mocha/bin/mocha.js",
    ];
    let missing: Vec<&str> = runners
        .iter()
        .copied()
        .filter(|r| !dir.join(r).is_file())
        .collect();
    if missing.is_empty() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{}: {missing:?} missing: .ci/run must run `npm ci --ignore-scripts` there",
        dir.display()
    );
    eprintln!(
        "SKIPPED: {test}: the test runners are not installed (cd {} && npm ci --ignore-scripts)",
        dir.display()
    );
    None
}

/// The command of each runner, run from the project with two workers.
pub fn runner(name: &str) -> Vec<String> {
    let args: &[&str] = match name {
        "jest" => &["node_modules/jest/bin/jest.js", "--maxWorkers=2"],
        "vitest-forks" => &[
            "node_modules/vitest/vitest.mjs",
            "run",
            "--maxWorkers=2",
            "--pool=forks",
        ],
        "vitest-threads" => &[
            "node_modules/vitest/vitest.mjs",
            "run",
            "--maxWorkers=2",
            "--pool=threads",
        ],
        "mocha" => &[
            "node_modules/mocha/bin/mocha.js",
            "--parallel",
            "--jobs",
            "2",
        ],
        "node-test" => &["--test", "test/"],
        _ => panic!("no runner {name}"),
    };
    let mut cmd = vec![node().display().to_string()];
    cmd.extend(args.iter().map(|a| a.to_string()));
    if name == "jest" {
        // A cache of its own, last: Jest runs in band when the durations it cached for
        // the files are all short, so a quick run of a few files by one test would put
        // another test's full run in one process.
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("jest-cache-{}-{n}", std::process::id()));
        cmd.push(format!("--cacheDirectory={}", cache.display()));
    }
    cmd
}

/// `leaktrail trace --format json ARGS -- CMD` in `dir`.
pub fn trace(dir: &Path, args: &[&str], cmd: &[String]) -> (Output, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .args(["trace", "--format", "json"])
        .args(args)
        .arg("--")
        .args(cmd)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("NODE_OPTIONS")
        .output()
        .expect("leaktrail runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

/// [`trace`] of a command that must pass: its exit status is 0.
pub fn trace_passing(dir: &Path, args: &[&str], cmd: &[String]) -> serde_json::Value {
    let (out, report) = trace(dir, args, cmd);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

/// Every process of every lane of a trace report.
pub fn processes(report: &serde_json::Value) -> Vec<&serde_json::Value> {
    report["lanes"]
        .as_array()
        .expect("lanes")
        .iter()
        .flat_map(|l| l["processes"].as_array().expect("processes"))
        .collect()
}

/// The files of the report, by file name.
pub fn files_by_name(report: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    report["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let name = f["file"]
                .as_str()
                .expect("file")
                .rsplit('/')
                .next()
                .unwrap_or("");
            (name.to_owned(), f)
        })
        .collect()
}

/// The eight test files of `scenarios/test-project/test`.
pub const FILES: [&str; 8] = [
    "leaky.test.js",
    "modules.test.js",
    "slow.test.js",
    "math.test.js",
    "strings.test.js",
    "dates.test.js",
    "parse.test.js",
    "shapes.test.js",
];

/// The label trace gives a process's role, or "" without one.
pub fn role_of(p: &serde_json::Value) -> (bool, bool, String) {
    let r = &p["role"];
    (
        r["runs_tests"] == true,
        r["coordinates"] == true,
        r["runner"].as_str().unwrap_or("").to_owned(),
    )
}

/// The runner a `runner(name)` is, as trace names it: `jest`, `vitest`, `mocha`,
/// `node --test`.
pub fn runner_name(name: &str) -> &str {
    match name {
        "node-test" => "node --test",
        _ => name.split('-').next().unwrap_or(name),
    }
}

/// `runner(name)` with `args` after it (test files, runner options).
pub fn runner_with(name: &str, args: &[&str]) -> Vec<String> {
    let mut cmd = runner(name);
    cmd.extend(args.iter().map(|a| a.to_string()));
    cmd
}

/// The process with `pid` among `all`; a panic naming `what` when there is none.
pub fn process_with<'a>(
    all: &[&'a serde_json::Value],
    pid: i64,
    what: &str,
) -> &'a serde_json::Value {
    all.iter()
        .find(|p| p["pid"] == pid)
        .copied()
        .unwrap_or_else(|| panic!("{what}: PID {pid} listed: {all:?}"))
}

/// The lines of the report's `not_measured`.
pub fn not_measured(report: &serde_json::Value) -> Vec<&str> {
    report["not_measured"]
        .as_array()
        .expect("not_measured")
        .iter()
        .filter_map(|l| l.as_str())
        .collect()
}

/// A temporary `--out` folder for a trace run, and the report it holds.
pub struct OutDir {
    tmp: tempfile::TempDir,
}

impl OutDir {
    /// A new, empty one.
    pub fn new() -> OutDir {
        OutDir {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The `--out` path (inside the temporary folder, not yet created).
    pub fn path(&self) -> PathBuf {
        self.tmp.path().join("out")
    }

    /// The `--out` path as an argument.
    pub fn arg(&self) -> String {
        self.path().to_str().expect("utf-8").to_owned()
    }

    /// The Markdown report the run wrote.
    pub fn report_md(&self) -> String {
        std::fs::read_to_string(self.path().join("report.md")).expect("report.md")
    }
}
