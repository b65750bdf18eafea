//! Test files tied to the process and thread that ran them, by a preload.
//!
//! Trace writes `preload.js` ([`PRELOAD`]) into a private temporary directory of its own
//! (0700; never into the user's project) and adds `--require <it>` to `NODE_OPTIONS`, with
//! `LEAKTRAIL_TRACE_EVENTS` naming an events file beside it (0600). Every Node process of
//! the tree loads it; in the workers of the runners it knows (Jest, Vitest forks and
//! threads, Mocha `--parallel`, `node --test`'s file processes) it appends one JSON line
//! at the start and at the end of each test file: runner, file, PID, thread id, time, heap
//! used and RSS (after a full garbage collection). [`FileHooks::read`] pairs them into
//! [`FileSpan`]s with a PID. It also writes one `role` line when a process knows what it
//! is (a worker, or a runner's coordinator), which trace reads while the command runs
//! ([`crate::roles`]), and in a worker thread that runs test files a `heap` line every
//! interval with that thread's own heap ([`crate::threads`]).
//! The user's configuration is not touched.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::allocations::{AllocationSite, KeptAllocations};
use crate::boundaries::{BoundarySnapshot, SkipReason, SkippedSnapshot};
use crate::files::{FileSource, FileSpan, WorkerRun};

/// The preload's source.
pub const PRELOAD: &str = include_str!("preload.js");

/// The environment variable that names the events file.
pub const EVENTS_ENV: &str = "LEAKTRAIL_TRACE_EVENTS";

/// The private directory holding the preload and its events file.
pub struct FileHooks {
    dir: tempfile::TempDir,
    preload: PathBuf,
    events: PathBuf,
}

/// One line of the events file.
#[derive(Debug, Deserialize)]
struct Event {
    runner: String,
    event: String,
    #[serde(default)]
    file: String,
    pid: i32,
    #[serde(default)]
    ppid: i32,
    tid: u32,
    t: f64,
    #[serde(default)]
    heap: u64,
    #[serde(default)]
    rss: u64,
    #[serde(default)]
    argv: Vec<String>,
    /// A snapshot's file name, as written into the diagnostic directory.
    #[serde(default)]
    name: String,
    /// A snapshot's place: `before` or `after` its file.
    #[serde(default)]
    at: String,
    /// How long a snapshot took to write, milliseconds.
    #[serde(default)]
    ms: f64,
    /// A skipped snapshot's estimated write time, milliseconds.
    #[serde(default)]
    estimate_ms: f64,
    /// The snapshot time the budget allowed the worker then, milliseconds.
    #[serde(default)]
    allowed_ms: f64,
    /// Why a snapshot was skipped: `budget`, `pipes-busy` or `pipes-gone`.
    #[serde(default)]
    reason: String,
    /// How long a skipped snapshot waited for one of trace's pipes, milliseconds.
    #[serde(default)]
    waited_ms: f64,
    /// The pipes trace had when a snapshot was skipped.
    #[serde(default)]
    pipes: usize,
    /// A snapshot is its runner's reference baseline ([`crate::boundaries`]).
    #[serde(default)]
    reference: bool,
    /// The PID of the runner process the worker answers to (its reference baseline is
    /// that runner's).
    #[serde(default)]
    coordinator: Option<i32>,
    /// An `allocations` line's sites ([`crate::allocations`]).
    #[serde(default)]
    sites: Vec<AllocationSite>,
    /// The file after which the previous `allocations` read was.
    #[serde(default)]
    since: Option<String>,
    /// The heap an `allocations` read counts growth from, bytes.
    #[serde(default)]
    base_heap: u64,
    /// Live bytes an `allocations` read's samples stand for.
    #[serde(default)]
    sampled_bytes: u64,
    /// How many samples they are.
    #[serde(default)]
    samples: u64,
}

/// A worker process as its own file events describe it: enough to list a worker that
/// started and ended between two of trace's samples of `/proc`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportedProcess {
    /// Its process id.
    pub pid: i32,
    /// Its parent's.
    pub ppid: i32,
    /// Its command line.
    pub command: Vec<String>,
    /// RSS at each of its events: seconds from the command's start and bytes.
    pub rss: Vec<(f64, u64)>,
}

/// One sample of a worker thread's own heap, taken by the preload in that thread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThreadHeapSample {
    /// Its process.
    pub pid: i32,
    /// The thread (never 0: main threads' memory comes from `/proc`).
    pub thread: u32,
    /// Seconds from the command's start.
    pub t: f64,
    /// The heap its isolate used, bytes.
    pub heap: u64,
}

/// What the workers reported.
#[derive(Debug, Default)]
pub struct HookEvents {
    /// Worker threads' own heap, sampled in each thread while it ran test files.
    pub thread_heap: Vec<ThreadHeapSample>,
    /// Test files with the worker that ran them.
    pub files: Vec<FileSpan>,
    /// The workers (main threads' PIDs), in order of their first event.
    pub processes: Vec<ReportedProcess>,
    /// The snapshots workers wrote between files.
    pub snapshots: Vec<BoundarySnapshot>,
    /// The snapshots workers skipped for `--snapshot-budget`.
    pub skipped: Vec<SkippedSnapshot>,
    /// Where grown workers' kept memory was allocated ([`crate::allocations`]).
    pub allocations: Vec<KeptAllocations>,
    /// Workers whose allocation profiler could not start: PID, thread, why.
    pub allocations_off: Vec<(i32, u32, String)>,
    /// Lines that could not be read.
    pub unreadable: usize,
    /// Why the first unreadable line could not be read, with its first characters: what
    /// a bug report needs.
    pub first_unreadable: Option<String>,
}

/// `value` quoted for `NODE_OPTIONS` when it holds spaces, quotes or backslashes.
pub fn quote_node_option(value: &str) -> String {
    if value.contains([' ', '"', '\\', '\t']) {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_owned()
    }
}

impl FileHooks {
    /// Writes the preload and an empty events file into a new private temporary directory.
    pub fn new() -> std::io::Result<FileHooks> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("leaktrail-hooks-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let preload = dir.path().join("preload.js");
        leaktrail_private_files::write_file(&preload, PRELOAD)?;
        let events = dir.path().join("events.jsonl");
        leaktrail_private_files::write_file(&events, "")?;
        Ok(FileHooks {
            dir,
            preload,
            events,
        })
    }

    /// `NODE_OPTIONS` with `--require <preload>` added after what is there.
    pub fn node_options(&self, existing: Option<&str>) -> String {
        let ours = format!(
            "--require {}",
            quote_node_option(&self.preload.to_string_lossy())
        );
        match existing.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => format!("{e} {ours}"),
            None => ours,
        }
    }

    /// The events file, for [`EVENTS_ENV`].
    pub fn events_path(&self) -> &Path {
        &self.events
    }

    /// The files and processes the workers reported; `started_unix_ms` turns their times
    /// into seconds of the trace. Lines that cannot be read are counted, not fatal.
    pub fn read(&self, started_unix_ms: u64) -> HookEvents {
        let text = std::fs::read_to_string(&self.events).unwrap_or_default();
        pair_events(&text, started_unix_ms)
    }

    /// Removes the directory.
    pub fn close(self) -> std::io::Result<()> {
        self.dir.close()
    }
}

/// Pairs start and end lines per (PID, thread, file) in order, and gathers each PID's
/// events into a [`ReportedProcess`].
fn pair_events(text: &str, started_unix_ms: u64) -> HookEvents {
    let seconds = |ms: f64| (ms - started_unix_ms as f64) / 1000.0;
    let mut spans: Vec<FileSpan> = Vec::new();
    let mut processes: Vec<ReportedProcess> = Vec::new();
    let mut snapshots = Vec::new();
    let mut skipped = Vec::new();
    let mut allocations = Vec::new();
    let mut allocations_off = Vec::new();
    let mut thread_heap = Vec::new();
    let mut bad = 0;
    let mut first_unreadable = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let e = match serde_json::from_str::<Event>(line) {
            Ok(e) => e,
            Err(error) => {
                bad += 1;
                if first_unreadable.is_none() {
                    let start: String = line.chars().take(120).collect();
                    first_unreadable = Some(format!("{error} ({} bytes: {start}…)", line.len()));
                }
                continue;
            }
        };
        // What a process is, said while it ran: read live by [`crate::roles`].
        if e.event == "role" {
            continue;
        }
        if e.event == "heap" {
            // Only threads sample their own heap; a main thread's line would be a bug.
            if e.tid > 0 {
                thread_heap.push(ThreadHeapSample {
                    pid: e.pid,
                    thread: e.tid,
                    t: seconds(e.t),
                    heap: e.heap,
                });
            } else {
                bad += 1;
            }
            continue;
        }
        if e.event == "snapshot" {
            snapshots.push(BoundarySnapshot {
                pid: e.pid,
                thread: e.tid,
                name: e.name,
                at: e.at,
                file: e.file,
                t: seconds(e.t),
                seconds: e.ms / 1000.0,
                reference_coordinator: e.coordinator.filter(|_| e.reference),
                reference_of: e.reference.then_some(e.runner),
            });
            continue;
        }
        if e.event == "allocations" {
            allocations.push(KeptAllocations {
                pid: e.pid,
                thread: e.tid,
                runner: e.runner,
                file: e.file,
                since: e.since,
                t: seconds(e.t),
                read_seconds: e.ms / 1000.0,
                heap: e.heap,
                base_heap: e.base_heap,
                sampled_bytes: e.sampled_bytes,
                samples: e.samples,
                sites: e.sites,
            });
            continue;
        }
        if e.event == "allocations-off" {
            allocations_off.push((e.pid, e.tid, e.reason));
            continue;
        }
        if e.event == "snapshot-skipped" {
            let why = match e.reason.as_str() {
                "pipes-busy" => SkipReason::PipesBusy {
                    waited_seconds: e.waited_ms / 1000.0,
                    pipes: e.pipes,
                },
                "pipes-gone" => SkipReason::PipesGone,
                _ => SkipReason::Budget {
                    estimate_seconds: e.estimate_ms / 1000.0,
                    allowed_seconds: e.allowed_ms / 1000.0,
                },
            };
            skipped.push(SkippedSnapshot {
                pid: e.pid,
                thread: e.tid,
                at: e.at,
                file: e.file,
                t: seconds(e.t),
                heap: e.heap,
                why,
            });
            continue;
        }
        match processes.iter_mut().find(|p| p.pid == e.pid) {
            Some(p) => p.rss.push((seconds(e.t), e.rss)),
            None => processes.push(ReportedProcess {
                pid: e.pid,
                ppid: e.ppid,
                command: e.argv.clone(),
                rss: vec![(seconds(e.t), e.rss)],
            }),
        }
        let open = spans.iter_mut().rev().find(|s| {
            s.end.is_none()
                && s.file == e.file
                && s.worker
                    .as_ref()
                    .is_some_and(|w| w.pid == e.pid && w.thread == e.tid)
        });
        match (e.event.as_str(), open) {
            ("end", Some(s)) => {
                s.end = Some(seconds(e.t));
                if let Some(w) = s.worker.as_mut() {
                    w.heap_end = Some(e.heap);
                    w.rss_end = Some(e.rss);
                }
            }
            ("start", _) => spans.push(FileSpan {
                file: e.file,
                source: FileSource::Preload,
                start: Some(seconds(e.t)),
                end: None,
                status: None,
                worker: Some(WorkerRun {
                    runner: e.runner,
                    pid: e.pid,
                    thread: e.tid,
                    heap_start: e.heap,
                    rss_start: e.rss,
                    heap_end: None,
                    rss_end: None,
                }),
            }),
            _ => bad += 1,
        }
    }
    HookEvents {
        thread_heap,
        files: spans,
        processes,
        snapshots,
        skipped,
        allocations,
        allocations_off,
        unreadable: bad,
        first_unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn pairs_starts_and_ends_per_thread() {
        let line = |event: &str, file: &str, tid: u32, t: f64, heap: u64| {
            format!(
                r#"{{"runner":"vitest","event":"{event}","file":"{file}","pid":7,"tid":{tid},"t":{t},"heap":{heap},"rss":100}}"#
            )
        };
        let text = [
            line("start", "/w/a.test.js", 1, 1500.0, 10),
            line("start", "/w/b.test.js", 2, 1600.0, 10),
            "not json".to_owned(),
            line("end", "/w/a.test.js", 1, 2500.0, 50),
            line("start", "/w/a.test.js", 1, 3000.0, 50),
            r#"{"runner":"vitest","event":"role","role":"worker","pid":7,"tid":1,"t":1400}"#
                .to_owned(),
            r#"{"runner":"vitest","event":"snapshot","at":"after","file":"/w/a.test.js","name":"Heap.1.2.7.0.1001.heapsnapshot","pid":7,"tid":0,"t":2600,"ms":250}"#
                .to_owned(),
            r#"{"runner":"vitest","event":"snapshot-skipped","reason":"budget","at":"after","file":"/w/a.test.js","heap":2097152,"pid":7,"tid":0,"t":3000,"estimate_ms":1500,"allowed_ms":500}"#
                .to_owned(),
            r#"{"runner":"vitest","event":"snapshot-skipped","reason":"pipes-busy","at":"before","file":"/w/b.test.js","heap":1048576,"pid":7,"tid":2,"t":3500,"waited_ms":10000,"pipes":4}"#
                .to_owned(),
            r#"{"runner":"vitest","event":"heap","heap":4096,"pid":7,"tid":2,"t":1700}"#
                .to_owned(),
            r#"{"runner":"vitest","event":"allocations","file":"/w/leaky.test.js","heap":62914560,"base_heap":12582912,"since":null,"sampled_bytes":49283072,"samples":1504,"sites":[{"function":"audit","url":"/w/leaky.test.js","line":8,"column":15,"bytes":48234496,"samples":1472},{"function":"run","url":"file:///w/node_modules/vitest/x.js","line":1,"column":-195,"bytes":32768,"samples":1}],"pid":7,"tid":2,"t":3600,"ms":120}"#
                .to_owned(),
            r#"{"runner":"vitest","event":"allocations-off","reason":"no inspector","pid":7,"tid":3,"t":3700}"#
                .to_owned(),
        ]
        .join("\n");
        let events = pair_events(&text, 1000);
        assert_eq!(events.unreadable, 1);
        assert!(
            events
                .first_unreadable
                .as_deref()
                .is_some_and(|w| w.contains(" bytes: ")),
            "{:?}",
            events.first_unreadable
        );
        let kept = &events.allocations;
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!((kept[0].pid, kept[0].thread, kept[0].t), (7, 2, 2.6));
        assert_eq!((kept[0].heap, kept[0].base_heap), (60 << 20, 12 << 20));
        assert_eq!(kept[0].sites[0].label(), "audit /w/leaky.test.js:8");
        // A position V8 gives before its loader's wrapper does not cost the line.
        assert_eq!(kept[0].sites[1].column, -195);
        assert!((kept[0].read_seconds - 0.12).abs() < 1e-9);
        assert_eq!(events.allocations_off, [(7, 3, "no inspector".to_owned())]);
        assert_eq!(
            events.thread_heap,
            [ThreadHeapSample {
                pid: 7,
                thread: 2,
                t: 0.7,
                heap: 4096
            }]
        );
        assert_eq!(events.processes.len(), 1);
        assert_eq!(
            events.snapshots,
            [BoundarySnapshot {
                pid: 7,
                thread: 0,
                name: "Heap.1.2.7.0.1001.heapsnapshot".to_owned(),
                at: "after".to_owned(),
                file: "/w/a.test.js".to_owned(),
                t: 1.6,
                seconds: 0.25,
                reference_of: None,
                reference_coordinator: None,
            }]
        );
        assert_eq!(
            events.skipped,
            [
                SkippedSnapshot {
                    pid: 7,
                    thread: 0,
                    at: "after".to_owned(),
                    file: "/w/a.test.js".to_owned(),
                    t: 2.0,
                    heap: 2 * 1024 * 1024,
                    why: SkipReason::Budget {
                        estimate_seconds: 1.5,
                        allowed_seconds: 0.5,
                    },
                },
                SkippedSnapshot {
                    pid: 7,
                    thread: 2,
                    at: "before".to_owned(),
                    file: "/w/b.test.js".to_owned(),
                    t: 2.5,
                    heap: 1024 * 1024,
                    why: SkipReason::PipesBusy {
                        waited_seconds: 10.0,
                        pipes: 4,
                    },
                }
            ]
        );
        let notes: Vec<String> = events
            .skipped
            .iter()
            .map(crate::boundaries::skipped_note)
            .collect();
        assert_eq!(
            notes[0],
            "no snapshot after /w/a.test.js (2.0 MiB of heap): writing it would have taken about 1.5 s, over the 0.5 s --snapshot-budget allowed by then"
        );
        assert_eq!(
            notes[1],
            "no snapshot of thread 2 before /w/b.test.js (1.0 MiB of heap): all 4 of trace's census pipes stayed busy for 10.0 s (trace parses at most 4 streamed snapshots at once, to bound its memory), so the worker went on without it rather than hold up the tests"
        );
        assert!(
            crate::boundaries::is_budget_note(&notes[0])
                && !crate::boundaries::is_pipe_note(&notes[0])
        );
        assert!(
            crate::boundaries::is_pipe_note(&notes[1])
                && !crate::boundaries::is_budget_note(&notes[1])
        );
        assert_eq!(
            events.processes[0].rss,
            [(0.5, 100), (0.6, 100), (1.5, 100), (2.0, 100)]
        );
        let got: Vec<_> = events
            .files
            .iter()
            .map(|s| {
                let w = s.worker.as_ref().expect("worker");
                (s.file.as_str(), w.thread, s.start, s.end, w.heap_end)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/w/a.test.js", 1, Some(0.5), Some(1.5), Some(50)),
                ("/w/b.test.js", 2, Some(0.6), None, None),
                ("/w/a.test.js", 1, Some(2.0), None, None),
            ]
        );
    }

    #[test]
    fn private_files_and_quoted_options() {
        let hooks = FileHooks::new().expect("hooks");
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(hooks.dir.path()), 0o700);
        assert_eq!(mode(&hooks.preload), 0o600);
        assert_eq!(mode(hooks.events_path()), 0o600);
        assert!(hooks
            .node_options(Some("--max-old-space-size=64"))
            .starts_with("--max-old-space-size=64 --require /"));
        assert_eq!(quote_node_option("/a b/p.js"), "\"/a b/p.js\"");
        let dir = hooks.dir.path().to_path_buf();
        hooks.close().expect("removed");
        assert!(!dir.exists());
    }
}
