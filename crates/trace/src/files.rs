//! Test files and the memory growth attributed to each.
//!
//! Four sources name test files: the workers of Jest, Vitest and Mocha through trace's
//! preload ([`crate::hooks`]: file, PID, thread, start and end, heap and RSS), TAP on
//! stdout ([`crate::tap`]), a JSON reporter file (`--files-from`, [`crate::reporter`]) and
//! the processes of `node --test`, which runs every file in a process of its own (found by
//! `NODE_TEST_CONTEXT` in the process's environment; the file is its script argument).
//!
//! How growth is attributed, most direct first ([`Attribution`]):
//! - `own_process`: the file ran in a process of its own: its growth is that process's
//!   RSS rise after start-up (peak minus its baseline, [`crate::baseline`]) and its peak
//!   that process's peak. When the preload in that process reported the file too (source
//!   `preload`), its heap kept comes from there; a `node --test` file process no sample
//!   saw is known from the preload alone and measured as `worker`.
//! - `worker`: a runner's worker (process, or thread of one) said when it started and
//!   ended the file: its RSS growth is that process's highest RSS inside the file's window
//!   (samples and the RSS at its end) minus its RSS at the start, and its heap growth the
//!   heap used at its end minus at its start, both after a full garbage collection: what
//!   the file kept in its worker's heap (a thread's own heap, for Vitest threads).
//! - `window`: the file's start and end times are known and no other file ran at the same
//!   time: its growth is the change of the whole tree's RSS from the last sample at or
//!   before its start to the last sample at or before its end.
//! - `window_shared`: the same, but other files ran at the same time (parallel workers):
//!   the change belongs to all of them together (`concurrent_files` says how many others).
//! - `too_short`: no sample fell inside the window (the file ran for less than one
//!   interval): nothing is attributed.
//! - `no_times`: the source gave no times: listed, not attributed.

use serde::Serialize;

use crate::model::{ProcessRecord, RssPoint};

/// Where a test file was named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileSource {
    /// A TAP subtest on stdout.
    Tap,
    /// The `--files-from` reporter file.
    Reporter,
    /// A `node --test` child process running it.
    Process,
    /// A runner's worker, through trace's preload.
    Preload,
}

/// The worker that ran a file, as the preload reported it.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerRun {
    /// `jest`, `vitest` or `mocha`.
    pub runner: String,
    /// The worker's process.
    pub pid: i32,
    /// Its thread (0: the main thread).
    pub thread: u32,
    /// Heap used at the file's start, after a full GC, bytes.
    pub heap_start: u64,
    /// RSS at the file's start, bytes.
    pub rss_start: u64,
    /// Heap used at its end, after a full GC; null when no end was reported.
    pub heap_end: Option<u64>,
    /// RSS at its end; null when no end was reported.
    pub rss_end: Option<u64>,
}

/// A test file and when it ran, as its source says.
#[derive(Clone, Debug, Serialize)]
pub struct FileSpan {
    /// The file as named by the source.
    pub file: String,
    /// Where it was named.
    pub source: FileSource,
    /// Seconds from the command's start, when known.
    pub start: Option<f64>,
    /// Seconds from the command's start, when known.
    pub end: Option<f64>,
    /// `passed`, `failed`, … as the source says.
    pub status: Option<String>,
    /// The worker that ran it (source `preload`).
    pub worker: Option<WorkerRun>,
}

/// How a file's growth was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// The growth of the process that ran only this file.
    OwnProcess,
    /// The growth of its worker over the file's own start and end.
    Worker,
    /// The tree's RSS change over the file's time window, no other file running.
    Window,
    /// The tree's RSS change over the window, shared with files running at the same time.
    WindowShared,
    /// The window held no sample.
    TooShort,
    /// No times known.
    NoTimes,
}

/// A test file with the growth attributed to it.
#[derive(Clone, Debug, Serialize)]
pub struct FileAttribution {
    /// The file.
    #[serde(flatten)]
    pub span: FileSpan,
    /// How the growth was measured.
    pub attribution: Attribution,
    /// The process that ran it, for `own_process` and `worker`.
    pub pid: Option<i32>,
    /// The thread of that process that ran it (`worker`; 0 is the main thread).
    pub thread: Option<u32>,
    /// RSS growth attributed, bytes (null for `too_short` and `no_times`).
    pub rss_delta: Option<i64>,
    /// Heap growth in its worker from its start to its end, both after a full GC, bytes
    /// (`worker` with an end only).
    pub heap_delta: Option<i64>,
    /// Peak RSS of its own process, or of its worker during the file, bytes.
    pub peak_rss: Option<u64>,
    /// Other files whose windows overlap this one (for `worker`: in the same process,
    /// whose RSS they share).
    pub concurrent_files: usize,
}

/// True when two names of a file refer to the same one (`./a.test.js`, `/w/a.test.js`).
fn same_file(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_start_matches("./"), b.trim_start_matches("./"));
    a == b || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
}

/// The tree's RSS at `t`: the last sample at or before it, else the first.
fn tree_at(tree: &[RssPoint], t: f64) -> Option<u64> {
    tree.iter()
        .rev()
        .find(|p| p.t <= t)
        .or_else(|| tree.first())
        .map(|p| p.rss)
}

/// A file its worker reported: growth inside that worker over the file's window.
fn in_worker(
    span: &FileSpan,
    i: usize,
    hooked: &[FileSpan],
    processes: &[ProcessRecord],
) -> FileAttribution {
    let mut a = FileAttribution {
        span: span.clone(),
        attribution: Attribution::Worker,
        pid: None,
        thread: None,
        rss_delta: None,
        heap_delta: None,
        peak_rss: None,
        concurrent_files: 0,
    };
    let Some(w) = &span.worker else {
        return a;
    };
    a.pid = Some(w.pid);
    a.thread = Some(w.thread);
    a.heap_delta = w.heap_end.map(|h| h as i64 - w.heap_start as i64);
    let start = span.start.unwrap_or(f64::NEG_INFINITY);
    let end = span.end.unwrap_or(f64::INFINITY);
    a.concurrent_files = hooked
        .iter()
        .enumerate()
        .filter(|(j, o)| {
            *j != i
                && o.worker.as_ref().is_some_and(|ow| ow.pid == w.pid)
                && o.start.unwrap_or(f64::NEG_INFINITY) < end
                && o.end.unwrap_or(f64::INFINITY) > start
        })
        .count();
    // The worker's samples inside the window (a PID may be reused: the record that ran
    // then), and the RSS the preload read at the end.
    let inside = processes
        .iter()
        .filter(|p| p.pid == w.pid && p.start <= start + 0.01)
        .flat_map(|p| p.samples.iter())
        .filter(|s| s.t >= start && s.t <= end)
        .map(|s| s.rss);
    let peak = inside.chain(w.rss_end).chain([w.rss_start]).max();
    a.peak_rss = peak;
    a.rss_delta = peak.map(|p| p as i64 - w.rss_start as i64);
    a
}

/// Attributes growth to every named file; `spans` come from TAP and the reporter file;
/// `settle` is the settle time of a process's start-up, seconds.
pub fn attribute(
    spans: Vec<FileSpan>,
    processes: &[ProcessRecord],
    tree: &[RssPoint],
    settle: f64,
) -> Vec<FileAttribution> {
    let mut out: Vec<FileAttribution> = Vec::new();
    let (hooked, spans): (Vec<FileSpan>, Vec<FileSpan>) =
        spans.into_iter().partition(|s| s.worker.is_some());
    // A `node --test` file process that also reported its file through the preload: the
    // growth of its own process, with the file's own start, end and heap kept.
    let reported = |p: &ProcessRecord, file: &str| {
        hooked
            .iter()
            .find(|s| s.worker.as_ref().is_some_and(|w| w.pid == p.pid) && same_file(&s.file, file))
    };
    let mut own_pids = Vec::new();
    for p in processes {
        let Some(file) = &p.test_file else { continue };
        own_pids.push(p.pid);
        let (span, heap_delta) = match reported(p, file) {
            Some(s) => (
                s.clone(),
                s.worker
                    .as_ref()
                    .and_then(|w| w.heap_end.map(|h| h as i64 - w.heap_start as i64)),
            ),
            None => (
                FileSpan {
                    file: file.clone(),
                    source: FileSource::Process,
                    start: Some(p.start),
                    end: p.end.or(p.samples.last().map(|s| s.t)),
                    status: None,
                    worker: None,
                },
                None,
            ),
        };
        out.push(FileAttribution {
            span,
            attribution: Attribution::OwnProcess,
            pid: Some(p.pid),
            thread: None,
            rss_delta: p.growth(settle),
            heap_delta,
            peak_rss: Some(p.peak_rss),
            concurrent_files: 0,
        });
    }
    for (i, span) in hooked.iter().enumerate() {
        if span
            .worker
            .as_ref()
            .is_some_and(|w| own_pids.contains(&w.pid))
        {
            continue;
        }
        out.push(in_worker(span, i, &hooked, processes));
    }
    let mut windowed: Vec<FileSpan> = Vec::new();
    for span in spans {
        // A file that had its own process or worker keeps that measure; the reporter or
        // TAP adds its status.
        let mut known = false;
        for own in out
            .iter_mut()
            .filter(|a| same_file(&a.span.file, &span.file))
        {
            known = true;
            if own.span.status.is_none() {
                own.span.status.clone_from(&span.status);
            }
        }
        if known {
            continue;
        }
        windowed.push(span);
    }
    for (i, span) in windowed.iter().enumerate() {
        let (attribution, rss_delta, concurrent) = match (span.start, span.end) {
            (Some(start), Some(end)) => {
                let concurrent = windowed
                    .iter()
                    .enumerate()
                    .filter(|(j, o)| {
                        *j != i
                            && matches!((o.start, o.end), (Some(s), Some(e)) if s < end && e > start)
                    })
                    .count();
                if !tree.iter().any(|p| p.t > start && p.t <= end) {
                    (Attribution::TooShort, None, concurrent)
                } else {
                    let delta = match (tree_at(tree, start), tree_at(tree, end)) {
                        (Some(a), Some(b)) => Some(b as i64 - a as i64),
                        _ => None,
                    };
                    let kind = if concurrent == 0 {
                        Attribution::Window
                    } else {
                        Attribution::WindowShared
                    };
                    (kind, delta, concurrent)
                }
            }
            _ => (Attribution::NoTimes, None, 0),
        };
        out.push(FileAttribution {
            span: span.clone(),
            attribution,
            pid: None,
            thread: None,
            rss_delta,
            heap_delta: None,
            peak_rss: None,
            concurrent_files: concurrent,
        });
    }
    out.sort_by(|a, b| {
        let key = |x: &FileAttribution| x.span.start.unwrap_or(f64::INFINITY);
        key(a)
            .total_cmp(&key(b))
            .then_with(|| a.span.file.cmp(&b.span.file))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Vec<RssPoint> {
        (0..10)
            .map(|i| RssPoint {
                t: i as f64,
                rss: 100 + 10 * i as u64,
                cpu: None,
            })
            .collect()
    }

    fn span(file: &str, start: Option<f64>, end: Option<f64>) -> FileSpan {
        FileSpan {
            file: file.into(),
            source: FileSource::Reporter,
            start,
            end,
            status: Some("passed".into()),
            worker: None,
        }
    }

    #[test]
    fn windows() {
        let files = attribute(
            vec![
                span("a.test.js", Some(0.5), Some(3.2)),
                span("b.test.js", Some(4.0), Some(6.5)),
                span("c.test.js", Some(5.0), Some(7.0)),
                span("d.test.js", Some(8.1), Some(8.6)),
                span("e.test.js", None, None),
            ],
            &[],
            &tree(),
            crate::DEFAULT_SETTLE_SECONDS,
        );
        let got: Vec<_> = files
            .iter()
            .map(|f| {
                (
                    f.span.file.as_str(),
                    f.attribution,
                    f.rss_delta,
                    f.concurrent_files,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a.test.js", Attribution::Window, Some(30), 0),
                ("b.test.js", Attribution::WindowShared, Some(20), 1),
                ("c.test.js", Attribution::WindowShared, Some(20), 1),
                ("d.test.js", Attribution::TooShort, None, 0),
                ("e.test.js", Attribution::NoTimes, None, 0),
            ]
        );
    }

    #[test]
    fn names_match_across_sources() {
        assert!(same_file("./test/a.test.js", "/w/test/a.test.js"));
        assert!(same_file("/w/a.test.js", "a.test.js"));
        assert!(!same_file("/w/ba.test.js", "a.test.js"));
    }
}
