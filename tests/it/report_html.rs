//! `report.html` as a browser sees it: headless Chromium loads the report of a real run and
//! the chart is there, with a dot per sample and the fitted line. Skipped when Chromium is
//! not installed, except on CI (`CI` set), where a missing browser is a failure.

use crate::common;

use common::*;

#[test]
fn the_chart_renders_with_a_dot_per_sample() {
    let _shared = crate::common::shared();
    let Some(browser) = chromium_for("the_chart_renders_with_a_dot_per_sample") else {
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
    let dom = headless_chromium(&browser, profile.path())
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

/// The sentences are written in Markdown for report.md; report.html renders their code
/// spans as `<code>` instead of showing the backticks (no browser needed to check it).
#[test]
fn code_spans_render_as_code_not_backticks() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let run = leaktrail(&[
        "run",
        "--iterations",
        "300",
        "--max-overhead",
        "none",
        "--out",
        s(&out),
        "--",
        "node",
        "-e",
        "globalThis.kept = []; let i = 0; setInterval(() => { i++; kept.push('x'.repeat(2000) + i); console.log('iteration=' + i); }, 2);",
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    // The culprit sentence names the array in a code span in Markdown…
    assert!(stdout.contains("`kept`"), "{stdout}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    // …and in HTML as code, with no backtick left anywhere in the page.
    assert!(html.contains("<code>kept</code>"), "{html}");
    assert!(!html.contains('`'), "raw backticks in {html}");
}
