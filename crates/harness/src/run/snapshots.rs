//! When a session takes a heap snapshot, and taking it.

use std::path::PathBuf;
use std::time::Instant;

use leaktrail_inspector::InspectorError;

use crate::SnapshotShortfall;

use super::{
    gc, label, own_gc, schedule, streamed, HarnessError, RunSnapshot, Session, SnapshotPlan,
    WorkerHeaps, SETTLE_POINTS,
};

/// Worker threads read at a snapshot at most ([`crate::WorkerHeaps`]).
const MAX_WORKERS_READ: usize = 8;

/// Worker threads whose heaps are snapshotted too, at most, and their heaps' total: each
/// snapshot costs the worker a pause of about 85 ms a MiB, and its culprit is looked for
/// only when the workers leak ([`crate::worker_culprit_snapshots`]).
const MAX_WORKERS_SNAPSHOTTED: usize = 4;
const MAX_WORKER_HEAPS_SNAPSHOTTED: u64 = 256 << 20;

impl Session<'_> {
    /// True when a heap snapshot is due at a point at `iteration` (by time when `None`,
    /// now): that point is sampled whatever the budget, since the snapshot follows it.
    pub(super) fn snapshot_due(&self, iteration: Option<u64>) -> bool {
        self.settle == 0
            && self.can_snapshot()
            && self.schedule.is_due(
                &self.config.snapshots,
                self.point(iteration, self.start.elapsed().as_secs_f64()),
            )
    }

    /// True when this run takes heap snapshots: over the inspector, into files or a
    /// census process.
    pub(super) fn can_snapshot(&self) -> bool {
        self.inspector.is_some()
            && (self.config.census_worker.is_some() || self.config.snapshot_dir.is_some())
    }

    /// Where a sample point at `iteration` and `t` seconds lies in the run, for the
    /// snapshot schedule: the next sample's.
    pub(super) fn point(&self, iteration: Option<u64>, t: f64) -> schedule::Progress {
        schedule::Progress {
            fraction: self.progress(iteration, t),
            amount: iteration.map_or(t, |n| n as f64),
            samples: self.result.samples.len() + 1,
        }
    }

    /// How far the run is, 0 to 1, when a bound is known.
    pub(super) fn progress(&self, iteration: Option<u64>, t: f64) -> Option<f64> {
        if let (Some(limit), Some(n)) = (self.config.iterations, iteration) {
            return Some(n as f64 / limit.max(1) as f64);
        }
        self.config.duration.map(|d| t / d.as_secs_f64().max(1e-9))
    }

    /// Whether a snapshot now would not fit in the workload's memory, from the last
    /// sample ([`SnapshotShortfall`]; the workload's cgroup, else the machine).
    pub(super) fn snapshot_shortfall(&self) -> Option<SnapshotShortfall> {
        let memory = self.result.samples.last()?.memory;
        let room = leaktrail_sampler::memory_headroom(self.tree.root());
        SnapshotShortfall::of(&memory, self.snapshot_residue.most(), room)
    }

    /// Notes a snapshot not taken for lack of memory, with `why`.
    pub(super) fn skip_snapshot(&mut self, why: String) {
        self.remember(format!("leaktrail: {why}"));
        self.result.snapshots_skipped.push(why);
    }

    /// Keeps a snapshot taken; a doubling schedule forgets (and removes) the oldest.
    pub(super) fn keep_snapshot(&mut self, snapshot: RunSnapshot) {
        self.result.snapshots.push(snapshot);
        if self.result.snapshots.len() > schedule::Schedule::keep(&self.config.snapshots) {
            let old = self.result.snapshots.remove(0);
            if old.census.is_none() {
                let _ = std::fs::remove_file(old.path);
            }
        }
    }

    /// Takes a heap snapshot of each worker thread whose heap was just read, into files
    /// beside the main thread's, when they are few and small
    /// ([`MAX_WORKERS_SNAPSHOTTED`]); after the main thread's, so that its label is not
    /// shifted. A worker that does not answer, or a file that cannot be written, leaves
    /// this point without worker snapshots. Those of older points than the schedule keeps
    /// are removed.
    fn snapshot_workers(&mut self) {
        let (Some(inspector), Some(dir), None) = (
            self.inspector.as_mut(),
            self.config.snapshot_dir.as_ref(),
            self.config.census_worker.as_ref(),
        ) else {
            return;
        };
        let Some(point) = self.result.worker_heaps.last_mut() else {
            return;
        };
        let sessions = inspector.worker_sessions();
        if self.workers_done
            || sessions.len() != point.heaps.len()
            || sessions.len() > MAX_WORKERS_SNAPSHOTTED
            || point.heaps.iter().sum::<u64>() > MAX_WORKER_HEAPS_SNAPSHOTTED
            || !point.snapshots.is_empty()
        {
            return;
        }
        let mut taken = Vec::with_capacity(sessions.len());
        for (k, session) in sessions.iter().enumerate() {
            let path = dir.join(format!(
                "worker-{}-snapshot-{}.heapsnapshot",
                k + 1,
                self.taken
            ));
            match inspector.take_worker_heap_snapshot(session, &path) {
                Ok(Some(_)) => taken.push(path),
                _ => break,
            }
        }
        if taken.len() == sessions.len() {
            point.snapshots = taken;
        } else {
            for path in taken {
                let _ = std::fs::remove_file(path);
            }
        }
        let keep = schedule::Schedule::keep(&self.config.snapshots);
        let with: Vec<usize> = (0..self.result.worker_heaps.len())
            .filter(|&k| !self.result.worker_heaps[k].snapshots.is_empty())
            .collect();
        for &k in &with[..with.len().saturating_sub(keep)] {
            for path in std::mem::take(&mut self.result.worker_heaps[k].snapshots) {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    pub(super) fn maybe_snapshot(
        &mut self,
        progress: schedule::Progress,
        iteration: Option<u64>,
        t: f64,
    ) -> Result<(), HarnessError> {
        let worker = self.config.census_worker.as_ref();
        if !self.can_snapshot() {
            return Ok(());
        }
        if !self.schedule.due(&self.config.snapshots, progress) {
            return Ok(());
        }
        // V8 builds the snapshot in the workload's own memory, many times its heap: near
        // its limit, leaktrail's snapshot would get it OOM-killed, and the run would end
        // in what looks like the workload's own death.
        if let Some(short) = self.snapshot_shortfall() {
            let at = match iteration {
                Some(n) => format!("iteration {n}"),
                None => format!("{t:.0} s"),
            };
            self.skip_snapshot(format!("no heap snapshot at {at}: {short}"));
            return Ok(());
        }
        if let Some(s) = self.result.samples.last() {
            self.snapshot_residue.began(s.memory.rss);
        }
        if worker.is_some() {
            // The next census's window needs the highest id of the one before.
            self.collect_censuses();
        }
        self.taken += 1;
        let began = Instant::now();
        let sample = self.result.samples.len() - 1;
        let number = self.taken as u64;
        let snapshot = |path| RunSnapshot {
            path,
            census: None,
            iteration,
            sample,
            t,
            number,
        };
        let Some(inspector) = self.inspector.as_mut() else {
            return Ok(());
        };
        // Worker threads are followed from the first snapshot on, while they are a pool:
        // as many each time, a few. Dozens, or a number that changes, are workers started
        // and never ended, the threads check's finding; following them has Node keep a
        // session for each in the main thread, which changes what its snapshots hold.
        if !self.workers_done {
            if self.result.worker_heaps.is_empty() {
                // A Node without the domain has none to follow.
                let _ = inspector.follow_workers();
            }
            let workers = inspector.worker_count();
            let first = self.result.worker_heaps.first().map(|w| w.heaps.len());
            let heaps = (workers > 0 && workers <= MAX_WORKERS_READ)
                .then(|| inspector.worker_heaps())
                .flatten()
                .filter(|h| first.is_none_or(|n| n == h.len()));
            match heaps {
                Some(heaps) => self.result.worker_heaps.push(WorkerHeaps {
                    iteration,
                    t,
                    heaps,
                    snapshots: Vec::new(),
                }),
                None => {
                    inspector.unfollow_workers();
                    self.workers_done = true;
                }
            }
        }
        let mut inside_began = None;
        let taken = match (worker, self.config.snapshot_dir.as_ref()) {
            (Some(worker), _) => {
                let snapshot = snapshot(PathBuf::from(streamed::name(self.taken)));
                let doubling = self.config.snapshots == SnapshotPlan::Doubling;
                let window = streamed::window(&self.result.snapshots, doubling);
                match self.at_exit.lock() {
                    // Kept when its census is collected.
                    Ok(mut at_exit) => at_exit
                        .streams
                        .start(inspector, worker, snapshot, window.as_ref())
                        .map(|()| None),
                    Err(_) => Ok(None),
                }
            }
            (None, Some(dir)) => {
                let path = dir.join(format!("snapshot-{}.heapsnapshot", self.taken));
                let between = self.gc == gc::GcMethod::ExposedGc;
                // Numbered apart from the samples' answers.
                let seq = 1 << 40 | self.taken as u64;
                match gc::snapshot_inside(inspector, &path, seq, between) {
                    Ok(Some(written)) => {
                        inside_began = written.began;
                        Ok(0)
                    }
                    Ok(None) => inspector.take_heap_snapshot(&path),
                    Err(e) => Err(e),
                }
                .map(|_| Some(snapshot(path)))
                .map_err(streamed::StreamError::Inspector)
            }
            (None, None) => return Ok(()),
        };
        match taken {
            Ok(Some(snapshot)) => self.keep_snapshot(snapshot),
            Ok(None) => {}
            Err(streamed::StreamError::Inspector(InspectorError::Closed)) => {
                return Err(HarnessError::Inspector {
                    command: self.command_line.clone(),
                    error: InspectorError::Closed,
                })
            }
            // A snapshot cut off mid-stream is dropped (the client removes the file); the
            // run goes on.
            Err(streamed::StreamError::Inspector(e)) => {
                self.remember(format!("leaktrail: snapshot discarded: {e}"))
            }
            Err(streamed::StreamError::Census(e)) => {
                self.remember(format!("leaktrail: snapshot not taken: {e}"))
            }
        }
        if iteration.is_some() {
            // Labelled from the moment it began, when known, else from the moment it was
            // asked for; its own pause taken out.
            let target = label::Target::Snapshot(number);
            let from = inside_began.unwrap_or(began);
            let paused = from.elapsed().as_secs_f64();
            if let Some(n) = self.labeller.measured(target, from, paused) {
                self.label(target, n);
            }
        }
        self.snapshot_workers();
        own_gc(&mut self.own_gcs, began);
        self.result.snapshot_seconds += began.elapsed().as_secs_f64();
        // The workload was paused for the snapshot: that is no stall of its own.
        self.stall.restart(Instant::now());
        self.settle = SETTLE_POINTS;
        self.after_snapshot = true;
        self.aftermath.disturbed(began, Instant::now());
        Ok(())
    }
}
