//! The heap snapshot at the end of a run, for `--expect-freed`.
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
//!   evaluated over the inspector can run in the middle of Node's own start-up.
//! - **leaktrail stops it** (the iteration or time bound): the workload is in the middle
//!   of a step, whose objects are alive. Two snapshots are taken, the second after the
//!   workload has moved on (two more iteration lines, or one interval); only objects
//!   already in the first count as survivors, so the step in flight is not blamed.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::Serialize;

use leaktrail_inspector::Inspector;

use super::{Event, HarnessError, Session};

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
}

/// How long to wait for the workload to move on between the two snapshots.
const MOVE_ON_TIMEOUT: Duration = Duration::from_secs(10);

impl Session<'_> {
    /// Opens the session kept for the end snapshot, when one is asked for.
    pub(super) fn open_end_session(&mut self, url: &str) -> Result<(), HarnessError> {
        if self.config.end_snapshot.is_some() && self.end_session.is_none() {
            let session = Inspector::connect(url).map_err(|source| HarnessError::Inspector {
                command: self.command_line.clone(),
                source,
            })?;
            self.end_session = Some(session);
        }
        Ok(())
    }

    /// At Node's exit, while it waits for the debugger: the one snapshot needed. The end
    /// session is closed after it, so that Node finishes exiting.
    pub(super) fn end_snapshot_at_exit(&mut self) {
        if let (None, Some(path)) = (&self.result.end_snapshot, self.config.end_snapshot.clone()) {
            let mut session = self.end_session.take();
            if self.take(session.as_mut(), &path) {
                self.result.end_snapshot = Some(EndSnapshot {
                    path,
                    earlier: None,
                    at_exit: true,
                });
            }
            self.end_session = session;
        }
        self.close_end_session();
    }

    /// Closes the end session (Node, at exit, waits while it is attached).
    pub(super) fn close_end_session(&mut self) {
        if let Some(session) = self.end_session.take() {
            session.disconnect();
        }
    }

    /// Before leaktrail stops the workload: two snapshots over the sampling session, the
    /// workload moving on in between.
    pub(super) fn end_snapshot_before_stop(&mut self, rx: &Receiver<Event>) {
        let Some(path) = self.config.end_snapshot.clone() else {
            return;
        };
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
            match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(Event::Iteration(..)) => {
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
