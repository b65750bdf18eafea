//! Asking the workers for heap snapshots, and filing what comes back (files and streamed
//! censuses) under the process or thread that wrote it.

use std::time::Instant;

use leaktrail_sampler::process_info;

use super::{Tracer, THREADS_SKIP};
use crate::snapshots::{Collected, SNAPSHOT_SIGNAL};

impl Tracer<'_> {
    /// Sends the snapshot signal to every Node process that is due and not writing one.
    /// A process is due once it has run `snapshot_every`, and again `snapshot_every` after
    /// each of its snapshots is written: writing one pauses it (for seconds, for a large
    /// heap), and it must run between two snapshots for them to differ.
    pub(super) fn request_snapshots(&mut self, t: f64) {
        if self.config.snapshot_every.is_none() {
            return;
        }
        for r in self.processes.iter_mut() {
            if !r.node || r.end.is_some() || r.pending.is_some() || t < r.next_snapshot {
                continue;
            }
            // A worker the preload hooks snapshots itself between files: a signal would
            // land mid-test.
            if self.config.snapshot_at_files && self.roles.hooked_worker(r.pid) {
                r.snapshots_skipped = None;
                continue;
            }
            // Its test files run in worker threads, which snapshot their own heaps between
            // files; its main thread only schedules them (a signal snapshot holds the main
            // thread's heap alone, and stalls the scheduling of every file).
            if self.config.snapshot_at_files
                && !self.config.snapshot_coordinators
                && self.roles.thread_worker(r.pid)
            {
                r.snapshots_skipped = Some(THREADS_SKIP.to_owned());
                continue;
            }
            // Asked again at each sample: a worker may say what it is after it is due.
            match self
                .roles
                .snapshot_wanted(r.pid, self.config.snapshot_coordinators)
            {
                Ok(()) => r.snapshots_skipped = None,
                Err(why) => {
                    r.snapshots_skipped = Some(why);
                    continue;
                }
            }
            // Without a handler SIGUSR2 terminates the process: check before sending.
            let catches = process_info(r.pid).is_some_and(|i| i.catches(SNAPSHOT_SIGNAL));
            if !catches {
                r.notes.push("no SIGUSR2 handler (NODE_OPTIONS was not passed on to it, or was overridden): no snapshots".to_owned());
                r.next_snapshot = f64::INFINITY;
                continue;
            }
            let Some(pid) = rustix::process::Pid::from_raw(r.pid) else {
                continue;
            };
            if rustix::process::kill_process(pid, rustix::process::Signal::USR2).is_ok() {
                r.pending = Some(t);
            }
        }
    }

    /// Files the censuses streamed snapshots became with their process or thread.
    pub(super) fn file_streamed(&mut self, done: Vec<crate::streamed::Streamed>) {
        for s in done {
            match s.census {
                Ok(c) if s.thread != 0 => self.thread_censuses.push((s.pid, s.thread, c)),
                Ok(c) => {
                    match self.processes.iter_mut().rev().find(|r| r.pid == s.pid) {
                        Some(r) => r.censuses.push(c),
                        None => self.warnings.push(format!(
                            "PID {}: a streamed snapshot's census from a process trace never saw was dropped",
                            s.pid
                        )),
                    }
                }
                Err(e) => {
                    let note = format!("a streamed snapshot was lost: {e}");
                    self.warnings.push(format!("PID {} thread {}: {note}", s.pid, s.thread));
                    if let Some(r) = self.processes.iter_mut().rev().find(|r| r.pid == s.pid) {
                        r.notes.push(note);
                    }
                }
            }
        }
    }

    /// Moves finished snapshots into their lanes.
    pub(super) fn collect(&mut self, t: f64, last: bool) {
        if let Some(s) = &self.streamed {
            let done = s.poll();
            self.file_streamed(done);
        }
        let Some(snapshots) = &self.snapshots else {
            return;
        };
        let began = Instant::now();
        let processes = &self.processes;
        let threads = &self.thread_snapshots;
        let latest = |pid: i32| processes.iter().rev().find(|r| r.pid == pid);
        let events = snapshots.collect(
            t,
            &self.config.out_dir,
            |pid, thread| {
                let r = latest(pid)?;
                Some(match thread {
                    0 => (r.lane.clone(), r.snapshots.len() as u32),
                    _ => (
                        crate::threads::thread_lane(&r.lane, thread),
                        threads
                            .iter()
                            .filter(|(p, t, _)| (*p, *t) == (pid, thread))
                            .count() as u32,
                    ),
                })
            },
            |pid| latest(pid).is_some_and(|r| r.end.is_none()),
            last,
        );
        for e in events {
            // A worker thread's own snapshot: its thread's lane, not its process's.
            if let Collected::Snapshot { pid, thread, file } = e {
                if thread != 0 {
                    self.thread_snapshots.push((pid, thread, file));
                    continue;
                }
                self.file_snapshot(t, pid, Collected::Snapshot { pid, thread, file });
                continue;
            }
            let pid = match &e {
                Collected::Snapshot { pid, .. } | Collected::Discarded { pid, .. } => *pid,
            };
            self.file_snapshot(t, pid, e);
        }
        self.sampling_seconds += began.elapsed().as_secs_f64();
    }

    /// Files a collected snapshot (or its loss) with its process.
    pub(super) fn file_snapshot(&mut self, t: f64, pid: i32, e: Collected) {
        let Some(r) = self.processes.iter_mut().rev().find(|r| r.pid == pid) else {
            return;
        };
        let requested_at = r.pending.take();
        r.next_snapshot = t + self.config.snapshot_every.map_or(0.0, |d| d.as_secs_f64());
        match e {
            Collected::Snapshot { mut file, .. } => {
                file.taken.requested_at = requested_at;
                r.snapshots.push(file)
            }
            Collected::Discarded { reason, .. } => {
                let note = format!("a snapshot was discarded: {reason}");
                self.warnings.push(format!("PID {pid}: {note}"));
                r.notes.push(note);
            }
        }
    }
}
