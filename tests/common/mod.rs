//! Test support: real snapshots written by Node from the shared scenarios, and a runner for
//! the built `leaktrail` binary.

#![allow(dead_code)]

pub mod http;
pub mod store;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shared scenarios folder (`../shared/scenarios` beside the repository, or
/// `$LEAKTRAIL_SCENARIOS`).
pub fn scenarios_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LEAKTRAIL_SCENARIOS") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/scenarios")
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

/// Runs a scenario with the shared runner and returns its snapshots at `at`, in order.
pub fn scenario_snapshots(dir: &Path, scenario: &str, at: &[u32]) -> Vec<PathBuf> {
    let list = at.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let iterations = at.iter().max().copied().unwrap_or(0).max(1);
    let out = Command::new(node())
        .arg("--expose-gc")
        .arg(scenarios_dir().join("runner.js"))
        .arg(scenarios_dir().join(format!("{scenario}.js")))
        .args([
            "--iterations",
            &iterations.to_string(),
            "--snapshot-at",
            &list,
            "--snapshot-dir",
        ])
        .arg(dir)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "runner failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    at.iter()
        .map(|n| dir.join(format!("{scenario}-{n}.heapsnapshot")))
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
