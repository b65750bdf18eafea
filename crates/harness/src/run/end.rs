//! The heap snapshot at the end of a run, for `--expect-freed` and the culprit.
//!
//! Two ends are possible, and they need different care:
//! - **The workload ends by itself.** Node, with a debugger attached, stops at exit
//!   ("Waiting for the debugger to disconnect...") after its code, `exit` listeners
//!   included, has run: nothing is in flight any more, and the heap is intact (the
//!   inspector no longer evaluates code in the closed context, but it still takes heap
//!   snapshots). That is the moment to look. The sampling session is cut at that line (a
//!   sample in flight would never be answered), so a second, idle session is opened with
//!   the first and kept for this; Node waits as long as it is attached. Only
//!   `HeapProfiler.takeHeapSnapshot` is sent then: `collectGarbage` is never answered at
//!   exit (V8 runs it as a task the exiting loop no longer pumps), and V8 collects all
//!   garbage itself before it takes a snapshot. Nothing is evaluated in the workload: code
//!   evaluated over the inspector can run in the middle of Node's own start-up. The
//!   snapshot is taken by the stderr reader the moment it reads Node's exit line,
//!   **before** the sampling session is cut: when an inspector session closes, V8 forgets
//!   every object id (the session's heap profiler agent clears them), and the culprit
//!   compares this snapshot with earlier ones by id ([`AtExit`]).
//! - **leaktrail stops it** (the iteration or time bound): the workload is in the middle
//!   of a step, whose objects are alive. Two snapshots are taken, the second after the
//!   workload has moved on (two more iteration lines, or one interval); only objects
//!   already in the first count as survivors, so the step in flight is not blamed.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::Serialize;

use leaktrail_analysis::SnapshotCensus;
use leaktrail_inspector::Inspector;

use super::{streamed, Event, HarnessError, Session};
use crate::census_worker::CensusWorker;

/// The snapshot taken at the end of a run.
#[derive(Clone, Debug, Serialize)]
pub struct EndSnapshot {
    /// The snapshot.
    pub path: PathBuf,
    /// A snapshot taken a little earlier, when the workload was still running: only
    /// objects already in it are survivors. `None` when it was taken at exit.
    pub earlier: Option<PathBuf>,
    /// True when it was taken at the workload's exit, after its code had finished.
    pub at_exit: bool,
    /// Its census, when it was a zero-disk snapshot (then `path` is only its name).
    #[serde(skip)]
    pub census: Option<Box<SnapshotCensus>>,
}

/// How long to wait for the workload to move on between the two snapshots.
const MOVE_ON_TIMEOUT: Duration = Duration::from_secs(10);

/// The snapshot at the workload's exit, shared by the run and the stderr reader: whoever
/// sees Node exiting first takes it, once.
#[derive(Default)]
pub(super) struct AtExit {
    /// The idle session kept for it.
    session: Option<Inspector>,
    /// Where it goes.
    path: Option<PathBuf>,
    /// Its outcome once tried: the seconds it took, or why it failed.
    taken: Option<Result<f64, String>>,
    /// Zero-disk: the worker its census is taken by.
    census_by: Option<CensusWorker>,
    /// Zero-disk: its census.
    census: Option<SnapshotCensus>,
    /// Zero-disk: the run's censuses, the one at exit waits for the pending one.
    pub(super) streams: streamed::Streams,
    /// Why a snapshot would not fit in the workload's memory, as of the last sample: then
    /// none is taken at its exit.
    pub(super) no_room: Option<String>,
    /// Why none was taken at its exit, when it was for lack of memory.
    skipped: Option<String>,
}

impl AtExit {
    /// Takes the snapshot now, if there is a session for it and it was not tried yet,
    /// then closes the session (Node, at exit, waits while one is attached).
    pub(super) fn take_now(&mut self) {
        if self.taken.is_none() && self.skipped.is_none() {
            if let Some(why) = &self.no_room {
                self.skipped = Some(why.clone());
            } else if let (Some(session), Some(path)) = (self.session.as_mut(), self.path.as_ref())
            {
                let began = Instant::now();
                let taken = match &self.census_by {
                    Some(worker) => self
                        .streams
                        .at_exit(session, worker)
                        .map(|census| self.census = Some(census)),
                    None => session
                        .take_heap_snapshot(path)
                        .map(drop)
                        .map_err(|e| e.to_string()),
                };
                self.taken = Some(taken.map(|()| began.elapsed().as_secs_f64()));
            }
        }
        if let Some(session) = self.session.take() {
            session.disconnect();
        }
    }
}

impl Session<'_> {
    /// Opens the session kept for the end snapshot, when one is asked for.
    pub(super) fn open_end_session(&mut self, url: &str) -> Result<(), HarnessError> {
        let Some(path) = self.config.end_snapshot.clone() else {
            return Ok(());
        };
        let Ok(mut at_exit) = self.at_exit.lock() else {
            return Ok(());
        };
        if at_exit.session.is_none() && at_exit.taken.is_none() {
            let mut session = Inspector::connect(url).map_err(|error| HarnessError::Inspector {
                command: self.command_line.clone(),
                error,
            })?;
            // A big heap's snapshot on a busy machine is slow, not stuck.
            session.set_held_back(Some(self.held_back_source()));
            at_exit.session = Some(session);
            at_exit.path = Some(path);
            at_exit.census_by = self.config.census_worker.clone();
        }
        Ok(())
    }

    /// At Node's exit, while it waits for the debugger: the one snapshot needed (taken
    /// here unless the stderr reader took it already). The end session is closed after
    /// it, so that Node finishes exiting.
    pub(super) fn end_snapshot_at_exit(&mut self) {
        let (outcome, census, skipped) = match self.at_exit.lock() {
            Ok(mut at_exit) => {
                if self.result.end_snapshot.is_none() {
                    at_exit.take_now();
                }
                at_exit.session = None;
                (
                    at_exit.taken.take(),
                    at_exit.census.take(),
                    at_exit.skipped.take(),
                )
            }
            Err(_) => (None, None, None),
        };
        if let Some(why) = skipped {
            self.skip_snapshot(format!("no heap snapshot at the workload's exit: {why}"));
            return;
        }
        match (outcome, self.config.end_snapshot.clone()) {
            (Some(Ok(seconds)), Some(path)) => {
                self.result.snapshot_seconds += seconds;
                self.result.end_snapshot = Some(EndSnapshot {
                    // A zero-disk snapshot has a name, not a file.
                    path: match census {
                        Some(_) => PathBuf::from(streamed::END_NAME),
                        None => path,
                    },
                    earlier: None,
                    at_exit: true,
                    census: census.map(Box::new),
                });
            }
            (Some(Err(e)), _) => self.remember(format!("leaktrail: end snapshot failed: {e}")),
            _ => {}
        }
    }

    /// Closes the end session (Node, at exit, waits while it is attached).
    pub(super) fn close_end_session(&mut self) {
        if let Ok(mut at_exit) = self.at_exit.lock() {
            if let Some(session) = at_exit.session.take() {
                session.disconnect();
            }
        }
    }

    /// Before leaktrail stops the workload: two snapshots over the sampling session, the
    /// workload moving on in between.
    pub(super) fn end_snapshot_before_stop(&mut self, rx: &Receiver<Event>) {
        let Some(path) = self.config.end_snapshot.clone() else {
            return;
        };
        if let Some(short) = self.snapshot_shortfall() {
            self.skip_snapshot(format!("no heap snapshot at the run's end: {short}"));
            self.close_end_session();
            return;
        }
        // The two snapshots serve `--expect-freed`, which reads files: not zero-disk.
        if self.config.census_worker.is_some() {
            return self.close_end_session();
        }
        let earlier = path.with_extension("earlier.heapsnapshot");
        let mut inspector = self.inspector.take();
        let first = self.take(inspector.as_mut(), &earlier);
        self.inspector = inspector;
        if !first {
            return self.close_end_session();
        }
        // Let the workload finish the step in flight: two more iteration lines, or one
        // interval when sampling by time. If it exits meanwhile, its exit is the better
        // moment.
        let by_time = self.config.iteration_pattern.is_none();
        let until = Instant::now()
            + if by_time {
                self.config.interval.min(MOVE_ON_TIMEOUT)
            } else {
                MOVE_ON_TIMEOUT
            };
        let mut lines = 0;
        loop {
            // Events read ahead first: Node's exit line may be among them.
            let event = match self.backlog.pop_front() {
                Some(e) => Ok(e),
                None => rx.recv_timeout(until.saturating_duration_since(Instant::now())),
            };
            match event {
                Ok(Event::Iteration(n, at)) => {
                    // Still the workload's progress: labels and the last iteration.
                    self.line_read(n, at);
                    lines += 1;
                    if lines >= 2 {
                        break;
                    }
                }
                Ok(Event::Stderr(line)) => {
                    let exiting = line.contains("Waiting for the debugger to disconnect");
                    self.remember(line);
                    if exiting {
                        let _ = std::fs::remove_file(&earlier);
                        self.result.exit.stopped_by_harness = false;
                        if let Some(inspector) = self.inspector.take() {
                            inspector.disconnect();
                        }
                        return self.end_snapshot_at_exit();
                    }
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    if !by_time {
                        self.remember(
                            "leaktrail: no iteration line after the first end snapshot; survivors may include the step in flight".to_owned(),
                        );
                    }
                    break;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let mut inspector = self.inspector.take();
        let taken = self.take(inspector.as_mut(), &path);
        self.inspector = inspector;
        if taken {
            self.result.end_snapshot = Some(EndSnapshot {
                path,
                earlier: Some(earlier),
                at_exit: false,
                census: None,
            });
        } else {
            let _ = std::fs::remove_file(&earlier);
        }
        self.close_end_session();
    }

    /// Takes one snapshot over `inspector`; a failure is noted, not fatal.
    fn take(&mut self, inspector: Option<&mut Inspector>, path: &Path) -> bool {
        let Some(inspector) = inspector else {
            return false;
        };
        let began = Instant::now();
        let taken = inspector.take_heap_snapshot(path);
        self.result.snapshot_seconds += began.elapsed().as_secs_f64();
        match taken {
            Ok(_) => true,
            Err(e) => {
                self.remember(format!("leaktrail: end snapshot failed: {e}"));
                false
            }
        }
    }
}
