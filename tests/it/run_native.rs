//! `leaktrail run` on a leak of native memory only: a Node-API addon (scenarios/native)
//! that keeps what it allocates, with the JavaScript heap and V8's external memory flat.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;

use common::*;

/// Builds `scenarios/native/frame_cache.c` with the machine's C compiler against the
/// running Node's own headers, next to copies of the native workloads, in `dir`. `None`
/// (said loudly) when there is no compiler or no `node_api.h`.
fn build_addon(dir: &Path) -> Option<PathBuf> {
    let exec = Command::new(node())
        .args(["-p", "process.execPath"])
        .output()
        .expect("node runs");
    let exec = PathBuf::from(String::from_utf8_lossy(&exec.stdout).trim());
    let include = exec.parent()?.parent()?.join("include/node");
    if !include.join("node_api.h").is_file() {
        eprintln!(
            "SKIPPED: no {} (Node's headers), so no native addon to test with",
            include.join("node_api.h").display()
        );
        return None;
    }
    let source = scenarios_dir().join("native");
    for f in ["addon-frame-cache-leak.js", "addon-frame-cache-clean.js"] {
        std::fs::copy(source.join(f), dir.join(f)).expect("copy the workload");
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let built = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-I"])
        .arg(&include)
        .arg(source.join("frame_cache.c"))
        .arg("-o")
        .arg(dir.join("frame_cache.node"))
        .output();
    match built {
        Ok(out) if out.status.success() => Some(dir.to_owned()),
        Ok(out) => panic!(
            "{cc} could not build the addon: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            eprintln!("SKIPPED: no C compiler ({cc}: {e}), so no native addon to test with");
            None
        }
    }
}

/// Runs a native workload to its end under `leaktrail run`.
fn run_native(dir: &Path, workload: &str) -> (Option<i32>, serde_json::Value) {
    let command = vec![
        node().display().to_string(),
        "--expose-gc".to_owned(),
        scenarios_dir().join("runner.js").display().to_string(),
        dir.join(workload).display().to_string(),
        "--iterations".to_owned(),
        "3000".to_owned(),
        "--print-every".to_owned(),
        "25".to_owned(),
    ];
    run_json(&[], &command)
}

#[test]
fn an_addon_that_keeps_native_memory_is_a_native_leak_at_its_own_pace() {
    let _turn = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(dir) = build_addon(dir.path()) else {
        return;
    };
    let (code, report) = run_native(&dir, "addon-frame-cache-leak.js");
    let a = &report["assessment"];
    assert_eq!(code, Some(1), "{}", a["sentence"]);
    assert_eq!(a["grows"], "native", "{}", a["sentence"]);
    // 64 KiB a request, all of it outside the heap. Every snapshot step taken out whole
    // read 21–25 KiB here (what each of leaktrail's snapshots left in the process's
    // malloc arena, the addon allocated from before its memory grew again).
    let rss = a["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["series"] == "rss"))
        .unwrap_or_else(|| panic!("an RSS series: {a}"));
    let slope = rss["verdict"]["slope"]["slope"].as_f64().expect("a slope") / 1024.0;
    assert!(
        (48.0..=72.0).contains(&slope),
        "{slope} KiB: {}",
        a["sentence"]
    );
}

#[test]
fn an_addon_that_frees_its_memory_passes() {
    let _turn = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(dir) = build_addon(dir.path()) else {
        return;
    };
    let (code, report) = run_native(&dir, "addon-frame-cache-clean.js");
    assert_eq!(code, Some(0), "{}", report["assessment"]["sentence"]);
}

/// Intl formatters kept per customer: small in the V8 heap, large in ICU's native memory.
/// The culprit is the cache in the heap; the verdict says RSS outgrows the heap because
/// what is kept holds native memory.
#[test]
fn kept_intl_formatters_are_named_and_their_native_memory_is_said() {
    let report = crate::run_shapes::assert_heap_leak_named("intl-formatter-per-user");
    let sentence = report["assessment"]["sentence"].as_str().unwrap_or("");
    assert!(sentence.contains("holds native memory too"), "{sentence}");
}

#[test]
fn intl_formatters_cached_by_locale_pass() {
    crate::run_shapes::assert_clean("intl-formatters-by-locale-clean");
}
