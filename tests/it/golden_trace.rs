//! Golden output of `trace`'s report for a Vitest threads-pool run: the worker threads table
//! (a lane per thread, its own heap and verdict) and the `--fail-on-growth` sentence that a
//! thread's own heap trips (RSS is per process and cannot), in the three formats. The run is
//! built by hand — one process, two threads, one keeping 48 MiB over its file — so the
//! output is the same on every machine; a change in what the report prints shows as a diff
//! in `tests/snapshots/` (CONTRIBUTING.md says how to accept one).

use leaktrail_report::{render_trace, Format, RenderOptions};
use leaktrail_trace::allocations::{AllocationSite, KeptAllocations};
use leaktrail_trace::files::{FileSource, FileSpan, WorkerRun};
use leaktrail_trace::roles::Role;
use leaktrail_trace::threads::{HeapPoint, ThreadRecord};
use leaktrail_trace::{
    CommandExit, ProcessRecord, RssPoint, SummaryOptions, TraceReport, TraceRun,
};

const MIB: u64 = 1 << 20;

/// A file run in thread `thread` of PID 4242, from `start` to `end` s, its own heap after a
/// full GC at each, MiB.
fn span(file: &str, thread: u32, (start, end): (f64, f64), (from, to): (u64, u64)) -> FileSpan {
    FileSpan {
        file: format!("/w/test/{file}"),
        source: FileSource::Preload,
        start: Some(start),
        end: Some(end),
        status: None,
        worker: Some(WorkerRun {
            runner: "vitest".to_owned(),
            pid: 4242,
            thread,
            heap_start: from * MIB,
            rss_start: 90 * MIB,
            heap_end: Some(to * MIB),
            rss_end: Some(140 * MIB),
        }),
    }
}

/// Thread `thread`'s lane: its own heap at its file's start and end (after a GC) and one
/// sample between, at `mid`.
fn thread(
    thread: u32,
    file: &str,
    (start, mid, end): (f64, f64, f64),
    heap: [u64; 3],
) -> ThreadRecord {
    let point = |t: f64, mib: u64, after_gc: bool| HeapPoint {
        t,
        heap: mib * MIB,
        after_gc,
    };
    ThreadRecord {
        pid: 4242,
        thread,
        lane: format!("vitest.thread-{thread}"),
        runner: "vitest".to_owned(),
        files: vec![format!("/w/test/{file}")],
        start,
        end,
        heap_samples: vec![
            point(start, heap[0], true),
            point(mid, heap[1], false),
            point(end, heap[2], true),
        ],
        peak_heap: heap.iter().max().copied().unwrap_or(0) * MIB,
        snapshots: Vec::new(),
        censuses: Vec::new(),
    }
}

fn run() -> TraceRun {
    let command: Vec<String> = [
        "node",
        "node_modules/vitest/vitest.mjs",
        "run",
        "--pool=threads",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut p = ProcessRecord::seen(4242, 4240, command.clone(), "vitest", 0.1);
    p.node = true;
    p.role = Some(Role {
        runner: "vitest".to_owned(),
        runs_tests: true,
        coordinates: true,
        in_threads: true,
    });
    p.samples = [(0.2, 60), (1.0, 90), (2.0, 120), (3.0, 140), (4.0, 141)]
        .map(|(t, mib)| RssPoint {
            t,
            rss: mib * MIB,
            cpu: None,
        })
        .to_vec();
    p.peak_rss = 141 * MIB;
    p.end = Some(4.2);
    TraceRun {
        command,
        exit: CommandExit {
            code: Some(0),
            signal: None,
            status: 0,
        },
        started_unix_ms: 1_796_000_000_000,
        wall_seconds: 4.3,
        interval_seconds: 0.2,
        snapshot_every_seconds: None,
        snapshot_coordinators: false,
        snapshots_streamed: false,
        file_hooks: true,
        lane_rule: "script".to_owned(),
        processes: vec![p],
        tree_rss: vec![RssPoint {
            t: 3.0,
            rss: 140 * MIB,
            cpu: None,
        }],
        tap_files: Vec::new(),
        worker_files: vec![
            span("leaky.test.js", 2, (1.0, 4.0), (10, 58)),
            span("math.test.js", 3, (1.1, 1.6), (10, 11)),
        ],
        threads: vec![
            // Its start-up (the file's imports) is over by 3.0 s, its settle time: what
            // --fail-on-growth counts is the rise after it.
            thread(2, "leaky.test.js", (1.0, 3.0, 4.0), [10, 12, 58]),
            thread(3, "math.test.js", (1.1, 1.35, 1.6), [10, 14, 11]),
        ],
        signals_forwarded: Vec::new(),
        sampling_seconds: 0.01,
        snapshot_cost: None,
        // The leaky thread, read after its file: the test's own function holds most of it.
        allocations: vec![KeptAllocations {
            pid: 4242,
            thread: 2,
            runner: "vitest".to_owned(),
            file: "/w/test/leaky.test.js".to_owned(),
            since: None,
            t: 4.0,
            read_seconds: 0.12,
            heap: 58 * MIB,
            base_heap: 10 * MIB,
            sampled_bytes: 47 * MIB,
            samples: 1504,
            sites: vec![
                AllocationSite {
                    function: "audit".to_owned(),
                    url: "/w/test/leaky.test.js".to_owned(),
                    line: 8,
                    column: 15,
                    bytes: 46 * MIB,
                    samples: 1472,
                    unnamed_script: false,
                    source_mapped: false,
                },
                AllocationSite {
                    function: String::new(),
                    url: String::new(),
                    line: 0,
                    column: 0,
                    bytes: MIB,
                    samples: 32,
                    unnamed_script: false,
                    source_mapped: false,
                },
            ],
        }],
        warnings: Vec::new(),
    }
}

#[test]
fn trace_threads_table_prints_its_golden_output() {
    let _shared = crate::common::shared();
    let options = SummaryOptions {
        top: 5,
        fail_on_growth: Some(32 * MIB),
        ..SummaryOptions::default()
    };
    let report = TraceReport::build(run(), None, &options);
    // The process's RSS, counted from after its start-up (2 s), grew by 1 MiB: only the
    // leaky thread's own heap, which grew 46 MiB after its start-up (the rule RSS is
    // measured by), fails the run.
    let gate = report.fail_on_growth.as_ref().expect("gate");
    assert!(gate.exceeded.is_empty(), "{:?}", gate.exceeded);
    assert_eq!(gate.exceeded_threads, ["thread 2 of PID 4242"]);
    assert!(gate.failed);
    assert_eq!(report.exit_status, 1);
    for (name, format) in [
        ("table", Format::Table),
        ("markdown", Format::Markdown),
        ("json", Format::Json),
    ] {
        let out = render_trace(
            &report,
            RenderOptions {
                format,
                color: false,
                top: 5,
                min_bytes: 0,
            },
        );
        insta::assert_snapshot!(format!("trace-threads-{name}"), out);
    }
}
