//! Worker threads as lanes of their own.
//!
//! Vitest's `threads` pool runs every test file in a worker thread of one process. Each
//! thread is a V8 isolate with a heap of its own, which `/proc` cannot see (RSS is per
//! process) and a signal snapshot does not hold (it is the main thread's heap): a 310 MiB
//! leak in one thread hid behind "no significant growth" of its process. Trace's preload
//! ([`crate::hooks`]) therefore measures each thread that runs test files from inside it —
//! its own heap every interval, after a full GC at each file boundary — and writes that
//! thread's own snapshots between files. [`threads`] gathers them into a [`ThreadRecord`]
//! per (PID, thread id), in the lane `<its process's lane>.thread-<id>`, which the summary
//! gives its own heap series, heap diff and verdict. RSS stays per process: a thread has
//! none of its own.

use serde::Serialize;

use crate::files::FileSpan;
use crate::hooks::ThreadHeapSample;
use crate::lane::sanitize;
use crate::model::ProcessRecord;
use crate::snapshots::SnapshotFile;
use crate::streamed::StreamedCensus;

/// One point of a thread's own heap.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HeapPoint {
    /// Seconds from the command's start.
    pub t: f64,
    /// The heap its isolate used, bytes.
    pub heap: u64,
    /// Measured after a full garbage collection (at a test file's start or end) rather
    /// than sampled on the clock.
    pub after_gc: bool,
}

/// One worker thread that ran test files, as a lane of its own.
#[derive(Clone, Debug, Serialize)]
pub struct ThreadRecord {
    /// Its process.
    pub pid: i32,
    /// Its thread id (never 0).
    pub thread: u32,
    /// Its lane: its process's lane and `.thread-<id>`; its snapshots' directory.
    pub lane: String,
    /// The runner whose files it ran.
    pub runner: String,
    /// The test files it ran, in order.
    pub files: Vec<String>,
    /// Its first measurement, seconds from the command's start.
    pub start: f64,
    /// Its last measurement.
    pub end: f64,
    /// Its own heap over time, earliest first: clock samples and file-boundary points.
    pub heap_samples: Vec<HeapPoint>,
    /// The highest heap measured, bytes.
    pub peak_heap: u64,
    /// Its own heap snapshots, earliest first.
    pub snapshots: Vec<SnapshotFile>,
    /// With `--no-raw-snapshots`: the censuses of the snapshots it streamed, earliest first.
    pub censuses: Vec<StreamedCensus>,
}

impl ThreadRecord {
    /// What its files kept in its own heap: after a full GC, at its last file's end minus
    /// at its first file's start, bytes; `None` without both.
    pub fn heap_kept(&self) -> Option<i64> {
        let mut gc = self.heap_samples.iter().filter(|p| p.after_gc);
        let first = gc.next()?;
        let last = gc.next_back()?;
        Some(last.heap as i64 - first.heap as i64)
    }
}

/// The lane of thread `thread` of a process in lane `process_lane`.
pub fn thread_lane(process_lane: &str, thread: u32) -> String {
    sanitize(&format!("{process_lane}.thread-{thread}"))
}

/// The lane of the process `pid` that was running at `t` (the latest one with that PID
/// otherwise), or `pid` itself when none is known.
fn process_lane(processes: &[ProcessRecord], pid: i32, t: f64) -> String {
    processes
        .iter()
        .rev()
        .find(|p| p.pid == pid && p.start <= t && p.end.is_none_or(|e| e >= t))
        .or_else(|| processes.iter().rev().find(|p| p.pid == pid))
        .map_or_else(|| pid.to_string(), |p| p.lane.clone())
}

/// The worker threads that ran test files: from the files they reported (`files`, their
/// heap at each start and end, after a GC), their own heap samples (`heap`) and the
/// snapshots they wrote (`snapshots`: PID, thread, file) or the censuses of those they
/// streamed (`censuses`), in order of their start.
pub fn threads(
    files: &[FileSpan],
    heap: &[ThreadHeapSample],
    snapshots: Vec<(i32, u32, SnapshotFile)>,
    censuses: Vec<(i32, u32, StreamedCensus)>,
    processes: &[ProcessRecord],
) -> Vec<ThreadRecord> {
    let mut out: Vec<ThreadRecord> = Vec::new();
    let entry = |out: &mut Vec<ThreadRecord>, pid: i32, thread: u32, t: f64, runner: &str| match out
        .iter()
        .position(|r| r.pid == pid && r.thread == thread)
    {
        Some(i) => i,
        None => {
            out.push(ThreadRecord {
                pid,
                thread,
                lane: thread_lane(&process_lane(processes, pid, t), thread),
                runner: runner.to_owned(),
                files: Vec::new(),
                start: t,
                end: t,
                heap_samples: Vec::new(),
                peak_heap: 0,
                snapshots: Vec::new(),
                censuses: Vec::new(),
            });
            out.len() - 1
        }
    };
    let mut points: Vec<(usize, HeapPoint)> = Vec::new();
    for f in files {
        let (Some(w), Some(start)) = (&f.worker, f.start) else {
            continue;
        };
        if w.thread == 0 {
            continue;
        }
        let i = entry(&mut out, w.pid, w.thread, start, &w.runner);
        points.push((
            i,
            HeapPoint {
                t: start,
                heap: w.heap_start,
                after_gc: true,
            },
        ));
        if let (Some(end), Some(h)) = (f.end, w.heap_end) {
            points.push((
                i,
                HeapPoint {
                    t: end,
                    heap: h,
                    after_gc: true,
                },
            ));
        }
        let r = &mut out[i];
        if !r.files.contains(&f.file) {
            r.files.push(f.file.clone());
        }
    }
    for s in heap {
        // A thread that sampled its heap but reported no file ran none: not a test lane.
        if let Some(i) = out
            .iter()
            .position(|r| r.pid == s.pid && r.thread == s.thread)
        {
            points.push((
                i,
                HeapPoint {
                    t: s.t,
                    heap: s.heap,
                    after_gc: false,
                },
            ));
        }
    }
    for (i, p) in points {
        let r = &mut out[i];
        r.heap_samples.push(p);
    }
    for r in out.iter_mut() {
        r.heap_samples.sort_by(|a, b| a.t.total_cmp(&b.t));
        r.start = r.heap_samples.first().map_or(r.start, |p| p.t);
        r.end = r.heap_samples.last().map_or(r.end, |p| p.t);
        r.peak_heap = r.heap_samples.iter().map(|p| p.heap).max().unwrap_or(0);
    }
    for (pid, thread, file) in snapshots {
        if let Some(r) = out.iter_mut().find(|r| r.pid == pid && r.thread == thread) {
            r.snapshots.push(file);
        }
    }
    for (pid, thread, census) in censuses {
        if let Some(r) = out.iter_mut().find(|r| r.pid == pid && r.thread == thread) {
            r.censuses.push(census);
        }
    }
    for r in out.iter_mut() {
        r.snapshots.sort_by_key(|s| s.taken.seq);
        r.censuses.sort_by_key(|s| s.taken.seq);
    }
    out.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.thread.cmp(&b.thread)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{FileSource, WorkerRun};

    fn span(file: &str, thread: u32, start: f64, end: f64, heap: (u64, u64)) -> FileSpan {
        FileSpan {
            file: file.to_owned(),
            source: FileSource::Preload,
            start: Some(start),
            end: Some(end),
            status: None,
            worker: Some(WorkerRun {
                runner: "vitest".to_owned(),
                pid: 7,
                thread,
                heap_start: heap.0,
                rss_start: 0,
                heap_end: Some(heap.1),
                rss_end: None,
            }),
        }
    }

    #[test]
    fn one_lane_per_thread_that_ran_files() {
        let files = [
            span("/w/leaky.test.js", 2, 1.0, 2.0, (10, 60)),
            span("/w/math.test.js", 3, 1.1, 1.5, (10, 11)),
            // A main thread's file is its process's, not a thread lane.
            span("/w/main.test.js", 0, 1.0, 1.2, (10, 11)),
        ];
        let heap = [
            ThreadHeapSample {
                pid: 7,
                thread: 2,
                t: 1.5,
                heap: 40,
            },
            // A thread that ran no file.
            ThreadHeapSample {
                pid: 7,
                thread: 9,
                t: 1.5,
                heap: 40,
            },
        ];
        let got = threads(&files, &heap, Vec::new(), Vec::new(), &[]);
        let lanes: Vec<(&str, u32, usize, f64, f64, u64)> = got
            .iter()
            .map(|r| {
                (
                    r.lane.as_str(),
                    r.thread,
                    r.heap_samples.len(),
                    r.start,
                    r.end,
                    r.peak_heap,
                )
            })
            .collect();
        assert_eq!(
            lanes,
            [
                ("7.thread-2", 2, 3, 1.0, 2.0, 60),
                ("7.thread-3", 3, 2, 1.1, 1.5, 11)
            ]
        );
        assert_eq!(got[0].files, ["/w/leaky.test.js"]);
        assert!(!got[0].heap_samples[1].after_gc);
        assert_eq!(thread_lane("vitest", 4), "vitest.thread-4");
    }
}
