//! `report.html` as a browser sees it: headless Chromium loads the report of a real run and
//! the chart is there, with a dot per sample and the fitted line. Skipped when Chromium is
//! not installed, except on CI (`CI` set), where a missing browser is a failure.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("LEAKTRAIL_CHROMIUM").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
        Some(PathBuf::from("/usr/bin/google-chrome")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

#[test]
fn the_chart_renders_with_a_dot_per_sample() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is needed on CI (set LEAKTRAIL_CHROMIUM or install chromium)"
        );
        eprintln!("skipped: no Chromium");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let run = leaktrail(&[
        "run",
        "--iterations",
        "300",
        "--max-overhead",
        "none",
        "--snapshots",
        "0",
        "--out",
        s(&out),
        "--",
        "node",
        "-e",
        "globalThis.kept = []; let i = 0; setInterval(() => { i++; kept.push('x'.repeat(2000) + i); console.log('iteration=' + i); }, 2);",
    ]);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let samples: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("samples.json")).expect("samples.json"),
    )
    .expect("json");
    let n = samples["run"]["samples"].as_array().map_or(0, Vec::len);
    let profile = tempfile::tempdir().expect("profile dir");
    let dom = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", out.join("report.html").display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<svg"), "no chart in {dom}");
    let dots = dom
        .split("<g fill=\"#1f77b4\" class=\"samples\">")
        .nth(1)
        .and_then(|g| g.split("</g>").next())
        .map_or(0, |g| g.matches("<circle").count());
    assert!(n > 20 && dots == n, "{dots} dots for {n} samples");
    assert!(dom.contains("class=\"fit\""), "the fitted line");
    assert!(dom.contains("FAIL — exit 1") && dom.contains("threads back to baseline"));
}
