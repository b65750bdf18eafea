//! Test support: real snapshots written by Node from the repository's scenarios
//! (`scenarios/`), and a runner for the built `leaktrail` binary.

#![allow(dead_code)]

pub mod cgroup;
pub mod http;
pub mod runners;
pub mod store;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Tests that measure a real workload (`run`, `trace`, `watch`: samples, timings, an
/// overhead budget) or load both cores (test runners' workers) run alone ([`measured`]);
/// every other test runs beside its like ([`shared`]). Beside another test, a fast loop
/// got too few samples, a budget test too few points, and a process's start-up outlasted
/// its settle time. (When each file was a test binary of its own, cargo ran them one
/// after another, and these ran one at a time within theirs.)
static TESTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Runs a measured test alone until the guard is dropped; not reentrant: take it once
/// per test, and never with [`shared`].
pub fn measured() -> std::sync::RwLockWriteGuard<'static, ()> {
    TESTS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Lets a test run beside others, but never beside a measured one.
pub fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    TESTS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The scenarios folder: the repository's own `scenarios/`, or `$LEAKTRAIL_SCENARIOS`.
pub fn scenarios_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LEAKTRAIL_SCENARIOS") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Installs the pinned packages of the npm scenarios (`scenarios/npm`, `npm ci`) once, if
/// they are not all there: a plain clone has no `node_modules`, and one installed before a
/// scenario added a package lacks that package (its scenario would fail to load). Fails
/// the test with npm's message when the registry cannot be reached.
pub fn ensure_npm_scenarios() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = scenarios_dir().join("npm");
        if npm_dependencies_installed(&dir) {
            return;
        }
        eprintln!(
            "installing the npm scenarios' packages: npm ci in {}",
            dir.display()
        );
        let out = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm runs (the npm scenarios need it)");
        assert!(
            out.status.success(),
            "npm ci in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Whether every dependency `package.json` in `dir` names has its folder under
/// `node_modules`, at the version asked for (the scenarios pin exact versions).
fn npm_dependencies_installed(dir: &Path) -> bool {
    let version = |p: &Path| -> Option<String> {
        let text = std::fs::read_to_string(p).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["version"].as_str().map(str::to_owned)
    };
    let Ok(text) = std::fs::read_to_string(dir.join("package.json")) else {
        return false;
    };
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let Some(deps) = manifest["dependencies"].as_object() else {
        return dir.join("node_modules").is_dir();
    };
    deps.iter().all(|(name, wanted)| {
        let installed = version(&dir.join("node_modules").join(name).join("package.json"));
        installed.is_some()
            && wanted
                .as_str()
                .is_none_or(|w| installed.as_deref() == Some(w))
    })
}

/// The Node binary.
pub fn node() -> PathBuf {
    std::env::var_os("LEAKTRAIL_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"))
}

/// One manifest entry.
pub struct ScenarioSpec {
    pub culprit_classes: Vec<String>,
    pub retainer_hint: Option<String>,
    pub kind: String,
}

/// Reads the manifest entry of `file`.
pub fn manifest(file: &str) -> ScenarioSpec {
    let text = std::fs::read_to_string(scenarios_dir().join("manifest.json"))
        .expect("manifest.json readable");
    let all: serde_json::Value = serde_json::from_str(&text).expect("manifest.json is JSON");
    let entry = all
        .as_array()
        .expect("manifest is an array")
        .iter()
        .find(|e| e["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in manifest"));
    ScenarioSpec {
        culprit_classes: entry["culprit_classes"]
            .as_array()
            .expect("culprit_classes")
            .iter()
            .map(|v| v.as_str().expect("class name").to_owned())
            .collect(),
        retainer_hint: entry["retainer_hint"].as_str().map(str::to_owned),
        kind: entry["kind"].as_str().expect("kind").to_owned(),
    }
}

/// `node NODE_ARGS runner.js SCENARIO --iterations N --snapshot-at AT --snapshot-dir DIR`.
pub fn snapshotting_runner(
    node_args: &[&str],
    scenario: &str,
    iterations: u32,
    at: &[u32],
    dir: &Path,
) -> Command {
    let list = at.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let mut cmd = Command::new(node());
    cmd.args(node_args)
        .arg(scenarios_dir().join("runner.js"))
        .arg(scenarios_dir().join(format!("{scenario}.js")))
        .args([
            "--iterations",
            &iterations.to_string(),
            "--snapshot-at",
            &list,
            "--snapshot-dir",
        ])
        .arg(dir);
    cmd
}

/// Runs a scenario with the scenarios' runner and returns its snapshots at `at`, in order.
/// `scenario` is the file without `.js`, relative to the scenarios folder
/// (`npm/clean-npm-service` too); the runner names snapshots after the file name alone.
pub fn scenario_snapshots(dir: &Path, scenario: &str, at: &[u32]) -> Vec<PathBuf> {
    if scenario.starts_with("npm/") {
        ensure_npm_scenarios();
    }
    let iterations = at.iter().max().copied().unwrap_or(0).max(1);
    let name = scenario.rsplit('/').next().unwrap_or(scenario);
    let out = snapshotting_runner(&["--expose-gc"], scenario, iterations, at, dir)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "runner failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    at.iter()
        .map(|n| dir.join(format!("{name}-{n}.heapsnapshot")))
        .collect()
}

/// Runs a Node script given on the command line in `dir`.
pub fn node_eval(dir: &Path, script: &str) -> Output {
    let out = Command::new(node())
        .arg("-e")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the built `leaktrail` with `args`.
pub fn leaktrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("leaktrail runs")
}

/// Runs `leaktrail` and parses its JSON output; fails the test on a non-zero exit.
pub fn leaktrail_json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = leaktrail(&all);
    assert!(
        out.status.success(),
        "leaktrail {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// A path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A Chromium to drive headless: `$LEAKTRAIL_CHROMIUM`, else Debian's or Google's.
pub fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("LEAKTRAIL_CHROMIUM").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
        Some(PathBuf::from("/usr/bin/google-chrome")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

/// Whether a test can use something it needs from the machine (`available`): when it
/// cannot, says `SKIPPED` loudly on stderr with how to install it, and fails under CI
/// (`CI` set), where `.ci/run` installs everything.
pub fn needs(available: bool, test: &str, what: &str, how: &str) -> bool {
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: {what} is needed under CI: {how}"
        );
        eprintln!("SKIPPED: {test}: no {what} ({how})");
    }
    available
}

/// A Chromium for `test`, or `None` said loudly ([`needs`]).
pub fn chromium_for(test: &str) -> Option<PathBuf> {
    let found = chromium();
    needs(
        found.is_some(),
        test,
        "Chromium",
        "apt-get install chromium, or set LEAKTRAIL_CHROMIUM",
    )
    .then_some(found)
    .flatten()
}

/// Whether `python3` can import `module`, or said loudly when not ([`needs`]).
pub fn python_module_for(test: &str, module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    needs(
        ok,
        test,
        &format!("python3 module {module}"),
        &format!("apt-get install python3-{}", module.replace('_', "-")),
    )
}

/// `browser` headless with a fresh profile in `profile`, and none of the background
/// connections this machine's closed network refuses.
pub fn headless_chromium(browser: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// `node NODE_ARGS runner.js SCENARIO.js --forever RUNNER_ARGS`, as a command line.
pub fn forever_runner(node_args: &[&str], scenario: &str, runner_args: &[&str]) -> Vec<String> {
    let dir = scenarios_dir();
    let mut cmd = vec![node().display().to_string()];
    cmd.extend(node_args.iter().map(|a| a.to_string()));
    cmd.push(dir.join("runner.js").display().to_string());
    cmd.push(dir.join(format!("{scenario}.js")).display().to_string());
    cmd.push("--forever".into());
    cmd.extend(runner_args.iter().map(|a| a.to_string()));
    cmd
}

/// Runs `leaktrail run --format json ARGS -- COMMAND`; returns the exit code and the report.
pub fn run_json<S: AsRef<str>>(args: &[&str], command: &[S]) -> (Option<i32>, serde_json::Value) {
    let mut all: Vec<&str> = vec!["run", "--format", "json"];
    all.extend_from_slice(args);
    all.push("--");
    all.extend(command.iter().map(AsRef::as_ref));
    let out = leaktrail(&all);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

/// Every file under `dir` whose name says it is (or was being written as) a heap snapshot.
pub fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            found.extend(snapshot_files(&path));
        } else if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("heapsnapshot"))
        {
            found.push(path);
        }
    }
    found
}
