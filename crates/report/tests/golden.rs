//! Golden output of the `run` renderers: the table, Markdown, JSON, HTML and JUnit reports
//! of runs made up here (a leak with its culprit, a clean run, a fault, a run stopped by a
//! signal), compared with their reviewed files in `tests/snapshots/` (insta), so a change
//! in what a report says shows as a diff. CONTRIBUTING.md says how to accept one.
//!
//! Everything rendered is fixed: the samples are computed, not measured, and the culprit
//! comes from the small snapshots kept in `fuzz/seeds/`, so no normaliser is needed.

use leaktrail_analysis::{EarlierSnapshot, HeapAnalysis, LeakReport};
use leaktrail_harness::{
    assess, check_expect_freed, check_threads, ExitInfo, GrowthFloor, MemoryReading, Per,
    RecordedProfiles, RunResult, Sample,
};
use leaktrail_report::{render_run, render_run_html, render_run_junit, Format, RenderOptions};
use leaktrail_snapshot::HeapSnapshot;

/// 40 samples, 10 iterations apart: a V8 heap that grows by `growth` bytes an iteration
/// over a fixed wobble, RSS above it, PSS read on every tenth sample.
fn samples(growth: u64) -> Vec<Sample> {
    (0..40u64)
        .map(|i| {
            let wobble = (i * 7919) % 13 * 1000;
            let heap = 8_000_000 + growth * 10 * i + wobble;
            Sample {
                t: i as f64 * 0.25,
                iteration: Some(i * 10),
                memory: MemoryReading {
                    heap_used: Some(heap),
                    heap_total: Some(heap + 2_000_000),
                    external: Some(1_500_000),
                    rss: 40_000_000 + heap,
                    anon: 30_000_000 + heap,
                    pss: (i % 10 == 0).then_some(38_000_000 + heap),
                    threads: 11,
                },
                processes: 1,
                after_snapshot: false,
            }
        })
        .collect()
}

/// A finished run of `samples`.
fn run_result(samples: Vec<Sample>) -> RunResult {
    RunResult {
        samples,
        cheap_points: Vec::new(),
        cheap_seconds: 0.0,
        density_points: 0,
        density_stood_in: 0,
        exit: ExitInfo {
            code: None,
            signal: Some(15),
            stopped_by_harness: true,
        },
        stderr_tail: Vec::new(),
        stdout_tail: vec!["iteration=390".to_owned()],
        interrupted: None,
        inspector_url: Some("ws://127.0.0.1:9229/0f3c".to_owned()),
        snapshots: Vec::new(),
        wall_seconds: 10.5,
        sampling_seconds: 0.21,
        snapshot_seconds: 0.0,
        fault: None,
        last_iteration: Some(395),
        skipped_samples: 0,
        pss_seconds: 0.02,
        aftermath_seconds: 0.01,
        overhead_budget: Some(0.05),
        end_snapshot: None,
        snapshots_skipped: Vec::new(),
        profiles: RecordedProfiles::default(),
        uninspected_node: None,
        worker_heaps: Vec::new(),
    }
}

/// The leaks analysis of the three snapshots of `fuzz/seeds/leak-three.heapsnapshot`
/// (NUL-separated): `StreamEntry` objects accumulating in a `Map`.
fn culprit() -> LeakReport {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/seeds/leak-three.heapsnapshot"
    );
    let bytes = std::fs::read(seed).expect("read leak-three");
    let snaps: Vec<HeapSnapshot> = bytes
        .split(|&b| b == 0)
        .enumerate()
        .map(|(i, part)| {
            HeapSnapshot::from_bytes(part, &format!("s{}.heapsnapshot", i + 1))
                .expect("the seed parses")
        })
        .collect();
    let [a, b, last]: [HeapSnapshot; 3] = snaps.try_into().expect("three snapshots");
    let earlier = vec![
        EarlierSnapshot::of(a, "s1.heapsnapshot"),
        EarlierSnapshot::of(b, "s2.heapsnapshot"),
    ];
    let analysis = HeapAnalysis::new(&last);
    LeakReport::find(&earlier, &analysis, "s3.heapsnapshot", 10)
}

/// The floor `run` uses by default with iterations: 1 KiB an iteration.
const FLOOR: GrowthFloor = GrowthFloor {
    bytes: 1024.0,
    per: Per::Iteration,
};

/// Renders one run in every format, each checked against `<name>-<format>`.
fn golden_run(name: &str, result: &RunResult, culprit: Option<&LeakReport>, fault: Option<&str>) {
    let mut assessment = assess(result, FLOOR, None, 0.05);
    check_threads(result, &mut assessment, 0);
    for (format, label) in [
        (Format::Table, "table"),
        (Format::Markdown, "markdown"),
        (Format::Json, "json"),
    ] {
        let opts = RenderOptions {
            format,
            color: false,
            top: 10,
            min_bytes: 0,
        };
        let out = render_run(result, &assessment, culprit, fault, opts);
        insta::assert_snapshot!(format!("{name}-{label}"), out);
    }
    let html = render_run_html(result, &assessment, culprit, fault);
    insta::assert_snapshot!(format!("{name}-html"), html);
    let junit = render_run_junit("node app.js", result, &assessment, culprit, fault);
    insta::assert_snapshot!(format!("{name}-junit"), junit);
}

#[test]
fn a_leak_with_its_culprit() {
    let culprit = culprit();
    golden_run("run-leak", &run_result(samples(4096)), Some(&culprit), None);
}

#[test]
fn a_leak_in_colour() {
    let result = run_result(samples(4096));
    let assessment = assess(&result, FLOOR, None, 0.05);
    let opts = RenderOptions {
        format: Format::Table,
        color: true,
        top: 10,
        min_bytes: 0,
    };
    let out = render_run(&result, &assessment, None, None, opts);
    insta::assert_snapshot!("run-leak-colour", out.replace('\x1b', "<ESC>"));
}

#[test]
fn a_clean_run() {
    golden_run("run-clean", &run_result(samples(0)), None, None);
}

#[test]
fn a_clean_run_that_expected_a_class_freed_without_an_end_snapshot() {
    let result = run_result(samples(0));
    let mut assessment = assess(&result, FLOOR, None, 0.05);
    check_expect_freed(&result, &mut assessment, &["Session".to_owned()]);
    let opts = RenderOptions {
        format: Format::Table,
        color: false,
        top: 10,
        min_bytes: 0,
    };
    let out = render_run(&result, &assessment, None, None, opts);
    insta::assert_snapshot!("run-expect-freed-table", out);
    let junit = render_run_junit("node app.js", &result, &assessment, None, None);
    insta::assert_snapshot!("run-expect-freed-junit", junit);
}

#[test]
fn a_fault_after_a_few_samples() {
    let mut result = run_result(samples(0).into_iter().take(6).collect());
    result.exit = ExitInfo {
        code: Some(1),
        signal: None,
        stopped_by_harness: false,
    };
    result.stderr_tail = vec![
        "TypeError: cannot read properties of undefined (reading 'id')".to_owned(),
        "    at handler (/srv/app.js:12:9)".to_owned(),
    ];
    result.fault = Some("the workload exited with status 1".to_owned());
    let fault = result.fault.clone();
    golden_run("run-fault", &result, None, fault.as_deref());
}

#[test]
fn a_fault_before_any_sample() {
    let mut result = run_result(Vec::new());
    result.stdout_tail = Vec::new();
    result.stderr_tail = vec!["node: bad option: --frobnicate".to_owned()];
    golden_run(
        "run-no-sample",
        &result,
        None,
        Some("the workload exited with status 9 before the first sample"),
    );
}

#[test]
fn a_run_stopped_by_a_signal() {
    let mut result = run_result(samples(4096).into_iter().take(20).collect());
    result.interrupted = Some(2);
    result.wall_seconds = 5.0;
    golden_run("run-stopped", &result, None, None);
}
