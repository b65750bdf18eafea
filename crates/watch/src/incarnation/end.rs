//! How an incarnation ended: its exit status, a signal, the OOM killer, V8 running out of
//! heap — or the watcher stopping it (a started command) or leaving it (a running process).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use leaktrail_store::{now_ms, EndReason, IncarnationEnd};

use super::{Incarnation, LEFTOVER_GRACE};
use crate::node_process;

impl Incarnation {
    /// How the process ended, when it has.
    pub(super) fn ended(&mut self) -> Option<IncarnationEnd> {
        use std::os::unix::process::ExitStatusExt;
        if self.exiting.load(Ordering::SeqCst) {
            // Node waits for the debugger at exit: let it go.
            if let Some(i) = self.inspector.take() {
                i.disconnect();
            }
        }
        match self.child.as_mut() {
            Some(child) => {
                let status = child.try_wait().ok().flatten()?;
                // What the command left running in its group (workers, a `sh -c` child)
                // goes with it: it may hold the service's port and fail the restart.
                leaktrail_process::stop_group(child, LEFTOVER_GRACE);
                // The stderr reader ends when the pipe closes: its tail may still lack the
                // last lines (a V8 out-of-memory report) when the exit is seen.
                if let Some(reader) = self.stderr_reader.take() {
                    let until = Instant::now() + Duration::from_secs(1);
                    while !reader.is_finished() && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                let tail = self
                    .stderr_tail
                    .lock()
                    .map(|t| t.clone())
                    .unwrap_or_default();
                let oom = self.oom.saw_a_kill();
                let reason = if tail
                    .iter()
                    .any(|l| l.contains("JavaScript heap out of memory"))
                {
                    EndReason::V8HeapOom
                } else if status.signal() == Some(9) && oom {
                    EndReason::OomKill
                } else if status.signal().is_some() {
                    EndReason::Signal
                } else {
                    EndReason::Exited
                };
                Some(IncarnationEnd {
                    ended_at: now_ms(),
                    exit_code: status.code().map(i64::from),
                    signal: status.signal().map(i64::from),
                    reason,
                })
            }
            None => {
                if node_process::alive(self.pid) {
                    return None;
                }
                // Not our child: no exit status, but the OOM killer leaves its count.
                let reason = if self.oom.saw_a_kill() {
                    EndReason::OomKill
                } else {
                    EndReason::Exited
                };
                Some(IncarnationEnd {
                    ended_at: now_ms(),
                    exit_code: None,
                    signal: None,
                    reason,
                })
            }
        }
    }

    /// Stops watching: a started command is stopped, a running process left alone.
    pub(super) fn stop_watching(&mut self) -> IncarnationEnd {
        if let Some(i) = self.inspector.take() {
            i.disconnect();
        }
        match self.child.as_mut() {
            Some(child) => {
                use std::os::unix::process::ExitStatusExt;
                leaktrail_process::stop_group(child, Duration::from_secs(5));
                let status = child.wait().ok();
                IncarnationEnd {
                    ended_at: now_ms(),
                    exit_code: status.and_then(|s| s.code()).map(i64::from),
                    signal: status.and_then(|s| s.signal()).map(i64::from),
                    reason: EndReason::Stopped,
                }
            }
            None => IncarnationEnd {
                ended_at: now_ms(),
                exit_code: None,
                signal: None,
                reason: EndReason::Detached,
            },
        }
    }
}
