//! Test files and the memory growth attributed to each.
//!
//! Three sources name test files: TAP on stdout ([`crate::tap`]), a JSON reporter file
//! (`--files-from`, [`crate::reporter`]) and the processes of `node --test`, which runs
//! every file in a process of its own (found by `NODE_TEST_CONTEXT` in the process's
//! environment; the file is its script argument).
//!
//! How growth is attributed, most direct first ([`Attribution`]):
//! - `own_process`: the file ran in a process of its own: its growth is that process's
//!   RSS rise after start-up (peak minus its baseline, [`crate::baseline`]) and its peak
//!   that process's peak.
//! - `window`: the file's start and end times are known and no other file ran at the same
//!   time: its growth is the change of the whole tree's RSS from the last sample at or
//!   before its start to the last sample at or before its end.
//! - `window_shared`: the same, but other files ran at the same time (parallel workers):
//!   the change belongs to all of them together (`concurrent_files` says how many others).
//! - `too_short`: no sample fell inside the window (the file ran for less than one
//!   interval): nothing is attributed.
//! - `no_times`: the source gave no times: listed, not attributed.

use serde::Serialize;

use crate::tracer::{ProcessRecord, RssPoint};

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
}

/// How a file's growth was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// The growth of the process that ran only this file.
    OwnProcess,
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
    /// The process that ran it, for `own_process`.
    pub pid: Option<i32>,
    /// RSS growth attributed, bytes (null for `too_short` and `no_times`).
    pub rss_delta: Option<i64>,
    /// Peak RSS of its own process, bytes (`own_process` only).
    pub peak_rss: Option<u64>,
    /// Other files whose windows overlap this one.
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

/// Attributes growth to every named file; `spans` come from TAP and the reporter file;
/// `settle` is the settle time of a process's start-up, seconds.
pub fn attribute(
    spans: Vec<FileSpan>,
    processes: &[ProcessRecord],
    tree: &[RssPoint],
    settle: f64,
) -> Vec<FileAttribution> {
    let mut out: Vec<FileAttribution> = Vec::new();
    for p in processes {
        let Some(file) = &p.test_file else { continue };
        out.push(FileAttribution {
            span: FileSpan {
                file: file.clone(),
                source: FileSource::Process,
                start: Some(p.start),
                end: p.end.or(p.samples.last().map(|s| s.t)),
                status: None,
            },
            attribution: Attribution::OwnProcess,
            pid: Some(p.pid),
            rss_delta: p.growth(settle),
            peak_rss: Some(p.peak_rss),
            concurrent_files: 0,
        });
    }
    let mut windowed: Vec<FileSpan> = Vec::new();
    for span in spans {
        // A file that had its own process keeps that measure; the reporter adds its status.
        if let Some(own) = out.iter_mut().find(|a| same_file(&a.span.file, &span.file)) {
            if own.span.status.is_none() {
                own.span.status = span.status;
            }
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
            rss_delta,
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
