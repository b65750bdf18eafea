//! Heap snapshots of test workers between test files, and what snapshots cost.
//!
//! A signal snapshot on a clock lands wherever the worker is: mid-test, pausing it for
//! seconds (a 160 MB Jest worker took 9–33 s), long enough to push tests past their
//! timeouts. So in a test run trace's preload ([`crate::hooks`]) snapshots each worker's
//! main thread itself, synchronously, where no test is running, and lazily: after a file
//! once its heap after a full GC has grown by `snapshot_growth` since its first file's start
//! (then since its last snapshot) and `snapshot_every` has passed since its last such
//! snapshot. A worker that does not grow has nothing for a diff to explain, and takes no
//! snapshot ([`crate::lazy`] says so). The runner waits for the worker's answer meanwhile,
//! so the pause delays the next file, never a test.
//!
//! A "before" cannot be taken once growth is seen, and a baseline in every worker before
//! its first file cost more than the tests where every file gets a fresh fork or thread
//! (eight baselines for eight files, written one after another by the threads of one
//! Vitest process). But a worker's heap before its first file is its runner's start-up —
//! the same code in every fresh worker of that runner — so one fresh worker per runner and
//! kind (process or worker thread), the first to claim it, takes that snapshot: the
//! reference baseline (`reference_of` on [`crate::snapshots::SnapshotFile`]). A worker that
//! grows with no snapshot of its own before (a leak in its first file, or a fork per file)
//! is diffed against it: its growth by class, the runner's start-up taken out.
//!
//! The preload learns where to write ([`DIR_ENV`]: the private diagnostic directory, under
//! Node's own snapshot names, so [`crate::snapshots`] collects them like signal ones) and
//! how often ([`EVERY_ENV`]) from the environment, and says in a `snapshot` line when it
//! began and how long it took ([`BoundarySnapshot`]). A worker thread that runs test
//! files (Vitest's threads pool) does the same from inside the thread, which writes that
//! thread's own heap, into the thread's own lane ([`crate::threads`]); its process's main
//! thread only schedules and is not snapshotted. Processes whose main thread the preload
//! does not hook — plain Node commands, coordinators on request, a trace with
//! `--no-file-hooks` or `--snapshot-at clock` — keep the signal on a clock, whose cost is
//! estimated from the signal to the file's last write.
//!
//! A leaking worker's snapshot can cost more than its tests (a 60 MB heap took about 5 s
//! on a busy 2-core machine, the whole Jest run 5 s). `snapshot_budget` ([`BUDGET_ENV`])
//! caps a worker's snapshot time at a share of its time since its first file: a growth
//! snapshot whose write time, estimated per byte of heap from the worker's last snapshot
//! (or else the reference baseline's), would go over it is skipped, and the worker says so ([`skipped_note`]). Off by default: the
//! snapshot it skips is the one that explains the leak.

use leaktrail_analysis::units::plural_s;
use serde::Serialize;

use crate::model::ProcessRecord;
use crate::snapshots::{SnapshotFile, SnapshotTaken};
use crate::streamed::StreamedCensus;
use crate::threads::ThreadRecord;

/// A snapshot a worker skipped, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SkippedSnapshot {
    /// The worker.
    pub pid: i32,
    /// Its thread: 0 for the main thread, else the worker thread whose own heap it would
    /// have held (a process's threads snapshot themselves apart, and their notes are filed
    /// under the process).
    pub thread: u32,
    /// `before` or `after` `file`.
    pub at: String,
    /// The test file it would have preceded or followed.
    pub file: String,
    /// When, seconds from the command's start.
    pub t: f64,
    /// Its heap then, bytes.
    pub heap: u64,
    /// Why it was skipped.
    pub why: SkipReason,
}

/// Why a worker skipped a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub enum SkipReason {
    /// It would have cost more than `--snapshot-budget` allowed.
    Budget {
        /// The write time estimated from its baseline's, seconds.
        estimate_seconds: f64,
        /// The snapshot time the budget allowed it by then, seconds.
        allowed_seconds: f64,
    },
    /// `--no-raw-snapshots`: every one of trace's pipes stayed busy with other snapshots
    /// for as long as a worker waits ([`crate::streamed::PIPE_WAIT`]): trace's limit,
    /// not the tests'.
    PipesBusy {
        /// How long it waited, seconds.
        waited_seconds: f64,
        /// The pipes trace had then.
        pipes: usize,
    },
    /// `--no-raw-snapshots`: trace's pipes were gone (trace was ending).
    PipesGone,
}

/// A heap snapshot a worker wrote itself between two test files
/// (below).
#[derive(Clone, Debug, PartialEq)]
pub struct BoundarySnapshot {
    /// The writer.
    pub pid: i32,
    /// The writer's thread: 0 for a main thread, else a worker thread, whose own heap it
    /// holds.
    pub thread: u32,
    /// The name it was written under in the diagnostic directory.
    pub name: String,
    /// `before` or `after` `file`.
    pub at: String,
    /// The test file it was taken next to.
    pub file: String,
    /// When it began, seconds from the command's start.
    pub t: f64,
    /// How long the worker spent writing it, seconds.
    pub seconds: f64,
    /// For the reference baseline (one fresh worker per runner, before its first file,
    /// below): the runner.
    pub reference_of: Option<String>,
    /// For the reference baseline: the PID of the runner process it stands for
    /// ([`SnapshotTaken::reference_coordinator`]).
    pub reference_coordinator: Option<i32>,
}

/// The environment variable naming the directory workers write their snapshots into.
pub const DIR_ENV: &str = "LEAKTRAIL_SNAPSHOT_DIR";

/// The environment variable giving the least time between two growth snapshots of a
/// worker, ms.
pub const EVERY_ENV: &str = "LEAKTRAIL_SNAPSHOT_EVERY_MS";

/// The environment variable giving the share of a worker's time its snapshots may take.
pub const BUDGET_ENV: &str = "LEAKTRAIL_SNAPSHOT_BUDGET";

/// The environment variable giving how much a worker's heap grows before it is
/// snapshotted again, bytes.
pub const GROWTH_ENV: &str = "LEAKTRAIL_SNAPSHOT_GROWTH_BYTES";

/// What the snapshots of a run cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SnapshotCost {
    /// `files` (workers snapshot themselves between files) or `clock` (a signal every
    /// `snapshot_every`).
    pub mode: String,
    /// Snapshots collected.
    pub snapshots: usize,
    /// Of those, taken between test files.
    pub at_file_boundaries: usize,
    /// Time processes spent paused writing them, seconds, summed over processes.
    pub write_seconds: f64,
    /// The longest single write, seconds.
    pub longest_write_seconds: f64,
    /// Bytes written.
    pub bytes: u64,
    /// Snapshots workers skipped because they would have cost more than
    /// `--snapshot-budget` allowed.
    pub skipped_for_budget: usize,
    /// `--no-raw-snapshots`: snapshots workers skipped because trace's census pipes
    /// stayed busy (trace's limit, not the tests').
    pub skipped_pipes_busy: usize,
    /// `--no-raw-snapshots`: snapshots workers skipped because trace's census pipes were
    /// gone (trace was ending: the command had exited and its stragglers were stopping).
    pub skipped_pipes_gone: usize,
    /// The run's wall time, seconds, snapshots included.
    pub wall_seconds: f64,
}

impl SnapshotCost {
    /// One sentence for the text report.
    pub fn sentence(&self) -> String {
        let mode = match self.mode.as_str() {
            "files" => format!("{} of them between test files", self.at_file_boundaries),
            _ => "on a clock".to_owned(),
        };
        let mut skipped = String::new();
        if self.skipped_for_budget > 0 {
            skipped += &format!(
                "; {} skipped for --snapshot-budget",
                self.skipped_for_budget
            );
        }
        if self.skipped_pipes_busy > 0 {
            skipped += &format!(
                "; {} skipped because trace's census pipes were busy",
                self.skipped_pipes_busy
            );
        }
        if self.skipped_pipes_gone > 0 {
            skipped += &format!(
                "; {} skipped because trace's census pipes were gone (trace was ending)",
                self.skipped_pipes_gone
            );
        }
        if !skipped.is_empty() {
            skipped += " (listed under what was not measured)";
        }
        format!(
            "Snapshot cost: {} snapshot{} ({mode}), {:.1} MiB; processes paused {:.1} s writing them (longest {:.1} s) in a run of {:.1} s{skipped}.",
            self.snapshots,
            plural_s(self.snapshots),
            self.bytes as f64 / (1024.0 * 1024.0),
            self.write_seconds,
            self.longest_write_seconds,
            self.wall_seconds
        )
    }
}

/// Completes each snapshot `pid` wrote with what it said of it ([`BoundarySnapshot`],
/// matched by PID and name): when it began, how long it took, which file it followed or
/// preceded. A signal snapshot's write time is estimated from the signal to its mtime.
pub fn account(pid: i32, snapshots: &mut [SnapshotFile], written: &[BoundarySnapshot]) {
    for s in snapshots.iter_mut() {
        if !account_taken(pid, &mut s.taken, written) {
            s.taken.write_seconds = s
                .taken
                .requested_at
                .zip(s.written_at)
                .map(|(asked, done)| (done - asked).max(0.0));
        }
    }
}

/// Completes each census of a snapshot `pid` streamed (`--no-raw-snapshots`) with what
/// the worker said of it, matched by PID and pipe name.
pub fn account_streamed(pid: i32, censuses: &mut [StreamedCensus], written: &[BoundarySnapshot]) {
    for c in censuses.iter_mut() {
        account_taken(pid, &mut c.taken, written);
    }
}

/// Completes `taken` with what worker `pid` said of it, if it said anything (then true).
fn account_taken(pid: i32, taken: &mut SnapshotTaken, written: &[BoundarySnapshot]) -> bool {
    let Some(b) = written
        .iter()
        .find(|b| b.pid == pid && b.name == taken.written_as)
    else {
        return false;
    };
    taken.requested_at = Some(b.t);
    taken.write_seconds = Some(b.seconds);
    taken.boundary = Some(format!("{} {}", b.at, b.file));
    taken.reference_of = b.reference_of.clone();
    taken.reference_coordinator = b.reference_coordinator;
    true
}

/// The note a worker gets for a snapshot it skipped: which, and why.
pub fn skipped_note(s: &SkippedSnapshot) -> String {
    let of = match s.thread {
        0 => String::new(),
        t => format!("of thread {t} "),
    };
    let which = format!(
        "no snapshot {of}{} {} ({:.1} MiB of heap)",
        s.at,
        s.file,
        s.heap as f64 / (1024.0 * 1024.0)
    );
    match &s.why {
        SkipReason::Budget {
            estimate_seconds,
            allowed_seconds,
        } => format!(
            "{which}: writing it would have taken about {estimate_seconds:.1} s, over the {allowed_seconds:.1} s --snapshot-budget allowed by then"
        ),
        SkipReason::PipesBusy {
            waited_seconds,
            pipes,
        } => format!(
            "{which}: all {pipes} of trace's census pipes stayed busy for {waited_seconds:.1} s (trace parses at most {} streamed snapshots at once, to bound its memory), so the worker went on without it rather than hold up the tests",
            crate::streamed::SLOTS
        ),
        SkipReason::PipesGone => {
            format!("{which}: trace's census pipes were already gone (trace was ending)")
        }
    }
}

/// Whether a worker's note is one of [`skipped_note`]'s for `--snapshot-budget`.
pub fn is_budget_note(note: &str) -> bool {
    note.starts_with("no snapshot ") && note.ends_with("--snapshot-budget allowed by then")
}

/// Whether a worker's note is one of [`skipped_note`]'s for trace's own pipes.
pub fn is_pipe_note(note: &str) -> bool {
    note.starts_with("no snapshot ") && note.contains("trace's census pipes")
}

/// The thread a [`skipped_note`] names: 0 for a main thread's.
fn note_thread(note: &str) -> u32 {
    note.strip_prefix("no snapshot of thread ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// Whether a process's notes say a snapshot of `thread` (0: its main thread; a worker
/// thread's notes are filed under its process) was skipped, for the budget or for trace's
/// pipes: then it may have grown without a snapshot to show it.
pub fn skipped_a_snapshot(notes: &[String], thread: u32) -> bool {
    notes
        .iter()
        .any(|n| (is_budget_note(n) || is_pipe_note(n)) && note_thread(n) == thread)
}

/// The cost of the snapshots of `processes` and their worker `threads`, in a run of `wall_seconds`; `files` when
/// workers were asked to snapshot themselves between files; `skipped`: those workers skipped.
pub fn cost(
    processes: &[ProcessRecord],
    threads: &[ThreadRecord],
    files: bool,
    skipped: &[SkippedSnapshot],
    wall_seconds: f64,
) -> SnapshotCost {
    let count = |f: fn(&SkipReason) -> bool| skipped.iter().filter(|s| f(&s.why)).count();
    SnapshotCost {
        skipped_for_budget: count(|w| matches!(w, SkipReason::Budget { .. })),
        skipped_pipes_busy: count(|w| matches!(w, SkipReason::PipesBusy { .. })),
        skipped_pipes_gone: count(|w| matches!(w, SkipReason::PipesGone)),
        // Streamed snapshots (`--no-raw-snapshots`) cost the same pause; their bytes went
        // down a pipe.
        ..summed(
            processes
                .iter()
                .flat_map(|p| p.snapshots.iter().map(|s| &s.taken))
                .chain(
                    threads
                        .iter()
                        .flat_map(|t| t.snapshots.iter().map(|s| &s.taken)),
                )
                .chain(
                    processes
                        .iter()
                        .flat_map(|p| p.censuses.iter().map(|c| &c.taken)),
                )
                .chain(
                    threads
                        .iter()
                        .flat_map(|t| t.censuses.iter().map(|c| &c.taken)),
                ),
            files,
            wall_seconds,
        )
    }
}

fn summed<'a>(
    all: impl Iterator<Item = &'a SnapshotTaken>,
    files: bool,
    wall_seconds: f64,
) -> SnapshotCost {
    let mut c = SnapshotCost {
        mode: if files { "files" } else { "clock" }.to_owned(),
        wall_seconds,
        ..SnapshotCost::default()
    };
    for s in all {
        c.snapshots += 1;
        c.at_file_boundaries += usize::from(s.boundary.is_some());
        let w = s.write_seconds.unwrap_or(0.0);
        c.write_seconds += w;
        c.longest_write_seconds = c.longest_write_seconds.max(w);
        c.bytes += s.size;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, requested: Option<f64>, written: Option<f64>) -> SnapshotFile {
        SnapshotFile {
            path: name.into(),
            written_at: written,
            taken: SnapshotTaken {
                seq: 1,
                t: 9.0,
                requested_at: requested,
                size: 1024 * 1024,
                written_as: name.to_owned(),
                ..SnapshotTaken::default()
            },
        }
    }

    #[test]
    fn accounts_boundary_and_signal_snapshots() {
        let mut snapshots = vec![
            file("Heap.1.2.7.0.1001.heapsnapshot", None, Some(2.0)),
            file("Heap.1.2.7.0.001.heapsnapshot", Some(3.0), Some(4.5)),
        ];
        let written = [BoundarySnapshot {
            pid: 7,
            thread: 0,
            name: "Heap.1.2.7.0.1001.heapsnapshot".to_owned(),
            at: "after".to_owned(),
            file: "/w/a.test.js".to_owned(),
            t: 1.5,
            seconds: 0.25,
            reference_of: None,
            reference_coordinator: None,
        }];
        account(7, &mut snapshots, &written);
        let s = &snapshots;
        assert_eq!(s[0].taken.requested_at, Some(1.5));
        assert_eq!(s[0].taken.boundary.as_deref(), Some("after /w/a.test.js"));
        assert_eq!(s[1].taken.write_seconds, Some(1.5));
        // Another PID's account is not this one's.
        let mut other = vec![file("Heap.1.2.7.0.1001.heapsnapshot", None, None)];
        account(8, &mut other, &written);
        assert_eq!(other[0].taken.boundary, None);
        let c = SnapshotCost {
            skipped_for_budget: 1,
            ..summed(snapshots.iter().map(|s| &s.taken), true, 10.0)
        };
        assert_eq!(c.snapshots, 2);
        assert_eq!(c.at_file_boundaries, 1);
        assert!((c.write_seconds - 1.75).abs() < 1e-9);
        assert!((c.longest_write_seconds - 1.5).abs() < 1e-9);
        assert_eq!(
            c.sentence(),
            "Snapshot cost: 2 snapshots (1 of them between test files), 2.0 MiB; processes paused 1.8 s writing them (longest 1.5 s) in a run of 10.0 s; 1 skipped for --snapshot-budget (listed under what was not measured)."
        );
        let c = SnapshotCost {
            skipped_pipes_busy: 2,
            ..c
        };
        assert!(
            c.sentence().ends_with("; 1 skipped for --snapshot-budget; 2 skipped because trace's census pipes were busy (listed under what was not measured)."),
            "{}",
            c.sentence()
        );
    }

    fn skipped(thread: u32, why: SkipReason) -> SkippedSnapshot {
        SkippedSnapshot {
            pid: 7,
            thread,
            at: "after".to_owned(),
            file: "/w/a.test.js".to_owned(),
            t: 2.0,
            heap: 1 << 20,
            why,
        }
    }

    #[test]
    fn pipes_gone_are_not_counted_as_busy() {
        // Two workers found trace's pipes gone as it ended, one found them busy: the busy
        // count is trace's limit on parallel censuses, the gone one its ending.
        let busy = SkipReason::PipesBusy {
            waited_seconds: 10.0,
            pipes: 4,
        };
        let all = [
            skipped(0, SkipReason::PipesGone),
            skipped(0, busy),
            skipped(2, SkipReason::PipesGone),
        ];
        let c = cost(&[], &[], true, &all, 10.0);
        assert_eq!(
            (
                c.skipped_for_budget,
                c.skipped_pipes_busy,
                c.skipped_pipes_gone
            ),
            (0, 1, 2)
        );
        assert!(
            c.sentence().ends_with("; 1 skipped because trace's census pipes were busy; 2 skipped because trace's census pipes were gone (trace was ending) (listed under what was not measured)."),
            "{}",
            c.sentence()
        );
    }

    #[test]
    fn a_skipped_snapshot_of_a_thread_names_the_thread() {
        let budget = SkipReason::Budget {
            estimate_seconds: 1.5,
            allowed_seconds: 0.5,
        };
        let of_thread = skipped_note(&skipped(3, budget.clone()));
        assert!(
            of_thread.starts_with("no snapshot of thread 3 after /w/a.test.js (1.0 MiB of heap): "),
            "{of_thread}"
        );
        assert!(is_budget_note(&of_thread));
        let notes = vec![of_thread];
        // Filed under the process, it is the thread's, not its main thread's or another
        // thread's.
        assert!(skipped_a_snapshot(&notes, 3));
        assert!(!skipped_a_snapshot(&notes, 0) && !skipped_a_snapshot(&notes, 2));
        let main = vec![skipped_note(&skipped(0, budget))];
        assert!(skipped_a_snapshot(&main, 0) && !skipped_a_snapshot(&main, 3));
    }
}
