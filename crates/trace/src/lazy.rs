//! What lazy snapshots at file boundaries left out, said loudly.
//!
//! At file boundaries a test worker is snapshotted only once it grows
//! ([`crate::boundaries`]): in a clean run most workers have no snapshot at all, one fresh
//! worker per runner has only the reference baseline, and a worker that grew once has one
//! snapshot, diffed against that reference. [`lazy`] sorts the test workers (processes and
//! worker threads) into these, so that the report says "no snapshot: did not grow" instead
//! of leaving a missing heap diff to look like something not looked at.

use leaktrail_analysis::units::{agree, plural_s, signed_bytes};

use crate::files::FileAttribution;
use crate::snapshots::SnapshotFile;
use crate::streamed::StreamedCensus;
use crate::summary::ReferenceKey;
use crate::tracer::TraceRun;

/// One test worker: a process that runs test files in its main thread, or a worker thread.
struct Worker {
    /// `PID 41` or `thread 2 of PID 41`.
    who: String,
    pid: i32,
    thread: u32,
    /// Its own snapshots (or censuses).
    taken: usize,
    /// Of which its runner's reference baseline.
    reference: bool,
    /// A snapshot of it (its own: its main thread's, or this worker thread's) was
    /// skipped: it may have grown.
    skipped: bool,
    /// Its runner, kind and coordinator: whose reference it is diffed against.
    key: ReferenceKey,
}

/// The test workers of a run with snapshots at file boundaries, sorted by what was taken.
pub struct Lazy {
    workers: Vec<Worker>,
    /// What each worker's files kept: (PID, thread, first file's heap at its start, the
    /// highest heap at a file's end), after a full GC.
    kept: Vec<(i32, u32, u64, u64)>,
    /// Whose reference baselines were collected: their key, the reference.
    references: Vec<(ReferenceKey, String)>,
}

/// The key of the reference baseline among `s` or `c`, if one is.
fn reference_key(s: &[SnapshotFile], c: &[StreamedCensus], thread: bool) -> Option<ReferenceKey> {
    s.iter()
        .map(|s| &s.taken)
        .chain(c.iter().map(|c| &c.taken))
        .find_map(|taken| ReferenceKey::of_reference(taken, thread))
}

/// Sorts the test workers of `run` by the snapshots they took; `files` give what their
/// files kept.
pub fn lazy(run: &TraceRun, files: &[FileAttribution]) -> Lazy {
    let mut workers = Vec::new();
    let mut references = Vec::new();
    for p in &run.processes {
        let Some(role) = p.role.as_ref().filter(|r| r.runs_tests && !r.in_threads) else {
            continue;
        };
        let reference = reference_key(&p.snapshots, &p.censuses, false);
        if let Some(key) = &reference {
            references.push((key.clone(), format!("PID {}, {}", p.pid, role.runner)));
        }
        workers.push(Worker {
            who: format!("PID {}", p.pid),
            pid: p.pid,
            thread: 0,
            taken: p.snapshots.len() + p.censuses.len(),
            reference: reference.is_some(),
            skipped: crate::boundaries::skipped_a_snapshot(&p.notes, 0),
            key: ReferenceKey::process(&role.runner, p),
        });
    }
    for t in &run.threads {
        let reference = reference_key(&t.snapshots, &t.censuses, true);
        if let Some(key) = &reference {
            references.push((
                key.clone(),
                format!("thread {} of PID {}, {} threads", t.thread, t.pid, t.runner),
            ));
        }
        workers.push(Worker {
            who: format!("thread {} of PID {}", t.thread, t.pid),
            pid: t.pid,
            thread: t.thread,
            taken: t.snapshots.len() + t.censuses.len(),
            reference: reference.is_some(),
            skipped: run.processes.iter().any(|p| {
                p.pid == t.pid && crate::boundaries::skipped_a_snapshot(&p.notes, t.thread)
            }),
            key: ReferenceKey::thread(t),
        });
    }
    let mut kept: Vec<(i32, u32, u64, u64)> = Vec::new();
    let mut spans: Vec<_> = files
        .iter()
        .filter_map(|f| f.span.worker.as_ref().zip(f.span.start))
        .collect();
    spans.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (w, _) in spans {
        let end = w.heap_end.unwrap_or(w.heap_start);
        match kept.iter_mut().find(|k| (k.0, k.1) == (w.pid, w.thread)) {
            Some(k) => k.3 = k.3.max(end),
            None => kept.push((w.pid, w.thread, w.heap_start, end)),
        }
    }
    Lazy {
        workers,
        kept,
        references,
    }
}

impl Lazy {
    /// `pid` runs test files in its main thread: its snapshots are accounted for here.
    pub fn covers(&self, pid: i32) -> bool {
        self.workers.iter().any(|w| w.pid == pid && w.thread == 0)
    }

    /// What its files kept, after a full GC: the highest heap at a file's end minus its
    /// first file's heap at its start.
    fn kept_by(&self, w: &Worker) -> Option<i64> {
        self.kept
            .iter()
            .find(|k| (k.0, k.1) == (w.pid, w.thread))
            .map(|k| k.3 as i64 - k.2 as i64)
    }

    /// The report's sentences: who has no snapshot (did not grow), who only the reference
    /// baseline, who grew once and was diffed against the reference.
    pub fn sentences(&self) -> Vec<String> {
        let mut out = Vec::new();
        let named = |ws: &[&Worker]| -> String {
            ws.iter()
                .map(|w| match self.kept_by(w) {
                    Some(k) => format!("{} (kept at most {})", w.who, signed_bytes(k)),
                    None => w.who.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        // A worker whose snapshot was skipped may have grown: it is said under what was
        // not measured, not here.
        let none: Vec<&Worker> = self
            .workers
            .iter()
            .filter(|w| w.taken == 0 && !w.skipped)
            .collect();
        if !none.is_empty() {
            out.push(format!(
                "No snapshot: did not grow — {} test worker{} whose heap after a full GC never grew by --snapshot-growth from the start of {} first file, so there was nothing for a heap diff to explain (budget skips, if any, are listed apart): {}.",
                none.len(),
                plural_s(none.len()),
                agree(none.len(), "its", "their"),
                named(&none)
            ));
        }
        let reference_only: Vec<&Worker> = self
            .workers
            .iter()
            .filter(|w| w.taken == 1 && w.reference && !w.skipped)
            .collect();
        if !reference_only.is_empty() {
            out.push(format!(
                "Reference baseline only: {} — the one fresh worker per runner snapshotted before its first file (a worker's heap then is its runner's start-up), which a worker that grows without a snapshot of its own before is diffed against; it did not grow itself.",
                named(&reference_only)
            ));
        }
        let once: Vec<&Worker> = self
            .workers
            .iter()
            .filter(|w| w.taken == 1 && !w.reference)
            .collect();
        // One sentence per reference (or none): a worker is diffed against its own
        // runner's, of its kind.
        let mut groups: Vec<(Option<&str>, Vec<&Worker>)> = Vec::new();
        for w in once {
            let reference = self
                .references
                .iter()
                .find(|(key, _)| w.key.matches(key))
                .map(|(_, r)| r.as_str());
            match groups.iter_mut().find(|(r, _)| *r == reference) {
                Some((_, ws)) => ws.push(w),
                None => groups.push((reference, vec![w])),
            }
        }
        for (reference, ws) in groups {
            let against = match reference {
                None => "no reference baseline of its runner was collected, so it has no heap diff"
                    .to_owned(),
                Some(r) => format!(
                    "its heap diff is against its runner's reference baseline ({r}), a fresh worker's heap, not its own before"
                ),
            };
            out.push(format!(
                "One snapshot: {} grew (after a full GC, by --snapshot-growth from its first file's start) and not as much again; a worker is snapshotted only once it has grown, so it has no snapshot of its own from before: {against}.",
                named(&ws)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{attribute, FileSource, FileSpan, WorkerRun};
    use crate::model::ProcessRecord;
    use crate::roles::Role;
    use crate::snapshots::SnapshotTaken;
    use crate::tracer::CommandExit;

    const MIB: u64 = 1 << 20;

    fn snapshot(reference: bool) -> SnapshotFile {
        SnapshotFile {
            path: "w/1-1.heapsnapshot".into(),
            written_at: None,
            taken: SnapshotTaken {
                seq: 1,
                t: 1.0,
                requested_at: Some(1.0),
                write_seconds: Some(0.5),
                boundary: Some("before /w/a.test.js".to_owned()),
                reference_of: reference.then(|| "vitest".to_owned()),
                // The workers' parent (below).
                reference_coordinator: reference.then_some(1),
                size: MIB,
                written_as: String::new(),
            },
        }
    }

    fn worker(pid: i32, snapshots: Vec<SnapshotFile>) -> ProcessRecord {
        let mut p = ProcessRecord::seen(pid, 1, vec!["node".to_owned()], "forks", 0.1);
        p.node = true;
        p.role = Some(Role {
            runner: "vitest".to_owned(),
            runs_tests: true,
            coordinates: false,
            in_threads: false,
        });
        p.snapshots = snapshots;
        p
    }

    /// `worker` answering to the runner process `coordinator`.
    fn worker_of(coordinator: i32, pid: i32, snapshots: Vec<SnapshotFile>) -> ProcessRecord {
        let mut p = worker(pid, snapshots);
        p.ppid = coordinator;
        for s in &mut p.snapshots {
            if s.taken.reference_coordinator.is_some() {
                s.taken.reference_coordinator = Some(coordinator);
            }
        }
        p
    }

    fn run_of(processes: Vec<ProcessRecord>) -> TraceRun {
        TraceRun {
            command: Vec::new(),
            exit: CommandExit::default(),
            started_unix_ms: 0,
            wall_seconds: 3.0,
            interval_seconds: 0.2,
            snapshot_every_seconds: Some(2.0),
            snapshot_coordinators: false,
            snapshots_streamed: false,
            file_hooks: true,
            lane_rule: "script".to_owned(),
            processes,
            tree_rss: Vec::new(),
            tap_files: Vec::new(),
            worker_files: Vec::new(),
            threads: Vec::new(),
            signals_forwarded: Vec::new(),
            sampling_seconds: 0.0,
            snapshot_cost: None,
            allocations: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn two_runs_of_one_runner_each_have_their_own_reference() {
        // `npm test` running Vitest twice: coordinators 10 and 20, a reference under each,
        // and a worker of the second run that grew. It is diffed against its own run's
        // reference (PID 21), not the first run's (PID 11), whose start-up may differ.
        let grown = {
            let mut s = snapshot(false);
            s.taken.boundary = Some("after /w/leaky.test.js".to_owned());
            s
        };
        let processes = vec![
            worker_of(10, 11, vec![snapshot(true)]),
            worker_of(20, 21, vec![snapshot(true)]),
            worker_of(20, 22, vec![grown]),
        ];
        let said = lazy(&run_of(processes), &[]).sentences();
        let once = said
            .iter()
            .find(|s| s.starts_with("One snapshot: PID 22"))
            .expect("PID 22 grew once");
        assert!(
            once.contains("reference baseline (PID 21, vitest)"),
            "{once}"
        );
        // A worker of a run whose reference was never taken has none, rather than another
        // run's.
        let processes = vec![
            worker_of(10, 11, vec![snapshot(true)]),
            worker_of(
                20,
                22,
                vec![{
                    let mut s = snapshot(false);
                    s.taken.boundary = Some("after /w/leaky.test.js".to_owned());
                    s
                }],
            ),
        ];
        let said = lazy(&run_of(processes), &[]).sentences();
        assert!(
            said.iter().any(|s| s.starts_with("One snapshot: PID 22")
                && s.contains("no reference baseline of its runner was collected")),
            "{said:?}"
        );
    }

    fn span(pid: i32, file: &str, kept_mib: u64) -> FileSpan {
        FileSpan {
            file: format!("/w/{file}"),
            source: FileSource::Preload,
            start: Some(1.0),
            end: Some(2.0),
            status: None,
            worker: Some(WorkerRun {
                runner: "vitest".to_owned(),
                pid,
                thread: 0,
                heap_start: 10 * MIB,
                rss_start: 0,
                heap_end: Some((10 + kept_mib) * MIB),
                rss_end: None,
            }),
        }
    }

    #[test]
    fn says_who_took_no_snapshot_only_the_reference_or_one() {
        let processes = vec![
            worker(41, vec![snapshot(true)]),
            worker(
                42,
                vec![{
                    let mut s = snapshot(false);
                    s.taken.boundary = Some("after /w/leaky.test.js".to_owned());
                    s
                }],
            ),
            worker(43, Vec::new()),
        ];
        let spans = vec![
            span(41, "a.test.js", 1),
            span(42, "leaky.test.js", 47),
            span(43, "b.test.js", 2),
        ];
        let files = attribute(spans, &processes, &[], 2.0);
        let run = run_of(processes);
        let l = lazy(&run, &files);
        assert!(l.covers(43) && !l.covers(7));
        let said = l.sentences();
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(
            said[0].starts_with("No snapshot: did not grow — 1 test worker whose heap")
                && said[0].contains("start of its first file")
                && said[0].ends_with(": PID 43 (kept at most +2.0 MiB)."),
            "{}",
            said[0]
        );
        assert!(
            said[1].starts_with("Reference baseline only: PID 41 (kept at most +1.0 MiB) — "),
            "{}",
            said[1]
        );
        assert!(
            said[2].starts_with("One snapshot: PID 42 (kept at most +47.0 MiB) grew")
                && said[2].contains("against its runner's reference baseline (PID 41, vitest)"),
            "{}",
            said[2]
        );
    }
}
