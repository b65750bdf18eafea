//! Snapshots of one incarnation: whether one is due, taking it on a thread of its own,
//! collecting it, and storing the censuses the analyser hands back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leaktrail_analysis::{CensusLimits, LeakWindow, SnapshotCensus};
use leaktrail_harness::SnapshotShortfall;
use leaktrail_inspector::Inspector;
use leaktrail_sampler::process_info;
use leaktrail_store::{now_ms, Store};

use super::Incarnation;
use crate::analyser::{lock, Analyser, CensusResult, PendingSnapshot};
use crate::retention::enforce_budget;
use crate::schedule::{growing, scheduled_gap, SnapshotReason};
use crate::{node_process, CensusWorker, WatchConfig, WatchError, WatchEvent, WatchSummary};

/// How snapshots are taken of this process.
pub(super) enum SnapshotMethod {
    /// `HeapProfiler.takeHeapSnapshot` over the inspector.
    Inspector,
    /// Send this signal; Node writes `Heap.*.heapsnapshot` into `dir`.
    Signal { signal: i32, dir: PathBuf },
    /// None available.
    None,
}

/// A heap snapshot being taken on a thread of its own. V8 blocks the service's main thread
/// while it builds and serializes a snapshot (20–55 s on a 600 MB heap), and the
/// inspector answers nothing else meanwhile; the watcher's loop goes on sampling `/proc`
/// (RSS, anonymous memory, threads) at its pace, without the heap, and marks those
/// samples ([`SampleRecord::in_snapshot`](leaktrail_store::SampleRecord::in_snapshot)).
pub(super) struct SnapshotInFlight {
    file: String,
    path: PathBuf,
    /// When it was asked for, ms since the epoch.
    t: i64,
    reason: SnapshotReason,
    start: Instant,
    /// Makes the thread give up (a stop): the inspector call returns within 0.1 s.
    abort: Arc<AtomicBool>,
    /// The thread; it hands back the inspector it took the snapshot over.
    thread: std::thread::JoinHandle<SnapshotTaken>,
}

/// What a snapshot's thread hands back: the inspector it used, and whether the file is
/// complete.
type SnapshotTaken = (Option<Inspector>, Result<Taken, String>);

/// What a snapshot's thread made.
enum Taken {
    /// The raw file, for the analyser.
    File,
    /// The census, the snapshot streamed into its parser with no file; with the seconds
    /// the census took after the snapshot's last chunk.
    Census(Box<SnapshotCensus>, f64),
}

impl Incarnation {
    /// Whether a snapshot is due now, and why.
    pub(super) fn snapshot_due(&mut self, config: &WatchConfig) -> Option<SnapshotReason> {
        match self.snapshots {
            SnapshotMethod::None => return None,
            // A command just started has not yet set up its handler: the signal would
            // terminate it. Wait until its `SigCgt` shows the handler.
            SnapshotMethod::Signal { signal, .. }
                if !process_info(self.pid).is_some_and(|i| i.catches(signal)) =>
            {
                return None
            }
            _ => {}
        }
        let now = Instant::now();
        if self.last_snapshot.is_none() {
            return Some(SnapshotReason::First);
        }
        if now >= self.next_scheduled {
            return Some(SnapshotReason::Schedule);
        }
        let gap_ok = self
            .last_snapshot
            .is_none_or(|t| now.duration_since(t) >= config.min_snapshot_gap);
        if gap_ok && growing(&self.samples, config) {
            return Some(SnapshotReason::Growth);
        }
        None
    }

    /// Starts a snapshot on a thread of its own (see [`SnapshotInFlight`]); over the
    /// inspector, the watcher's inspector session goes with it and comes back when done.
    pub(super) fn start_snapshot(
        &mut self,
        config: &WatchConfig,
        store: &Store,
        analyser: &Analyser,
        reason: SnapshotReason,
        on_event: &mut impl FnMut(&WatchEvent),
    ) {
        self.seq += 1;
        let file = format!("{}-{}.heapsnapshot", self.file_prefix, self.seq);
        let path = store.snapshots_dir().join(&file);
        let abort = Arc::new(AtomicBool::new(false));
        let job: Box<dyn FnOnce() -> SnapshotTaken + Send> = match &self.snapshots {
            SnapshotMethod::Inspector => {
                let Some(inspector) = self.inspector.take() else {
                    on_event(&WatchEvent::Warning(format!(
                        "snapshot {file} failed and was discarded: the inspector is gone"
                    )));
                    self.snapshot_done(config, reason, Instant::now(), Duration::ZERO);
                    return;
                };
                let (path, abort) = (path.clone(), abort.clone());
                if config.raw_snapshots {
                    Box::new(move || to_file(inspector, &path, abort))
                } else {
                    // Zero-disk: V8's chunks go down a pipe into the census's parser.
                    let window = lock(&analyser.windows).window_of(self.id, self.id_epoch);
                    let (worker, limits) = (analyser.worker.clone(), analyser.limits);
                    let name = file.clone();
                    Box::new(move || {
                        to_census(inspector, &worker, &name, &limits, window.as_ref(), abort)
                    })
                }
            }
            SnapshotMethod::Signal { .. } if !config.raw_snapshots => {
                on_event(&WatchEvent::Warning(format!(
                    "no heap snapshots: pid {} has no inspector, and without raw snapshots \
                     (--no-raw-snapshots) they come only over the inspector (Node writes a \
                     --heapsnapshot-signal snapshot to a file itself)",
                    self.pid
                )));
                self.snapshots = SnapshotMethod::None;
                return;
            }
            SnapshotMethod::Signal { signal, dir } => {
                let (pid, signal, dir) = (self.pid, *signal, dir.clone());
                let (path, abort) = (path.clone(), abort.clone());
                Box::new(move || {
                    let taken = node_process::snapshot_by_signal(pid, signal, &dir, &path, &abort)
                        .map(|()| Taken::File);
                    (None, taken)
                })
            }
            SnapshotMethod::None => return,
        };
        self.in_flight = Some(SnapshotInFlight {
            file,
            path,
            t: now_ms(),
            reason,
            start: Instant::now(),
            abort,
            thread: std::thread::spawn(job),
        });
    }

    /// Whether a snapshot of this process fits in the memory it has left, given its last
    /// reading; when it does not, says so, and schedules the next try as if one had been
    /// taken (the process may have room by then).
    ///
    /// V8 builds a snapshot in the process's own memory, many times the heap on top of
    /// what the process uses ([`SnapshotShortfall`]): a service near its cgroup's limit
    /// — the one a watcher is started on at 3 a.m. — was OOM-killed by the watcher's own
    /// first snapshot.
    pub(super) fn snapshot_fits(
        &mut self,
        config: &WatchConfig,
        reason: SnapshotReason,
        memory: &leaktrail_sampler::MemoryReading,
        on_event: &mut impl FnMut(&WatchEvent),
    ) -> bool {
        let room = leaktrail_sampler::memory_headroom(self.pid);
        let Some(short) = SnapshotShortfall::of(memory, self.snapshot_residue.most(), room) else {
            return true;
        };
        on_event(&WatchEvent::Warning(format!(
            "no {} snapshot of pid {}: {short}; trying again at the next one due",
            reason.as_str(),
            self.pid
        )));
        self.snapshot_done(config, reason, Instant::now(), Duration::ZERO);
        false
    }

    /// Schedules the next snapshot after one that ended at `now` and took `took`.
    fn snapshot_done(
        &mut self,
        config: &WatchConfig,
        reason: SnapshotReason,
        now: Instant,
        took: Duration,
    ) {
        self.last_snapshot = Some(now);
        self.snapshots_done += 1;
        if reason != SnapshotReason::Growth {
            self.next_scheduled = now + scheduled_gap(config, self.snapshots_done, took);
        } else {
            // The schedule stands, but an early snapshot must not make two within the gap.
            self.next_scheduled = self.next_scheduled.max(now + config.min_snapshot_gap);
        }
    }

    /// Collects the snapshot in flight once its thread is done (with `abandon`, tells it
    /// to give up and waits for it: the watcher is leaving), hands its file to the
    /// analyser and takes the inspector back.
    pub(super) fn finish_snapshot(
        &mut self,
        config: &WatchConfig,
        analyser: &Analyser,
        stop: &AtomicBool,
        on_event: &mut impl FnMut(&WatchEvent),
        abandon: bool,
    ) {
        let Some(flight) = self.in_flight.take() else {
            return;
        };
        if abandon {
            flight.abort.store(true, Ordering::SeqCst);
        } else if !flight.thread.is_finished() {
            self.in_flight = Some(flight);
            return;
        }
        let SnapshotInFlight {
            file,
            path,
            t,
            reason,
            start,
            thread,
            ..
        } = flight;
        let (inspector, taken) = thread
            .join()
            .unwrap_or_else(|_| (None, Err("the snapshot thread panicked".into())));
        if let Some(inspector) = inspector {
            self.attach(inspector);
        }
        self.snapshot_done(config, reason, Instant::now(), start.elapsed());
        let pending = |file: String, streamed: bool| PendingSnapshot {
            file,
            t,
            reason,
            taken_in: start.elapsed().as_secs_f64(),
            incarnation: self.id,
            id_epoch: self.id_epoch,
            streamed,
            start_up: self
                .spawned
                .is_some_and(|at| at.elapsed() < config.start_up + start.elapsed()),
        };
        match taken {
            Ok(Taken::File) => {
                self.in_analysis += 1;
                let _ = analyser.jobs.send((path, pending(file, false)));
            }
            Ok(Taken::Census(census, seconds)) => {
                let mut p = pending(file, true);
                lock(&analyser.windows).taken(&p, &census);
                p.taken_in -= seconds;
                self.in_analysis += 1;
                let _ = analyser.results.send((p, Ok(*census), seconds));
            }
            // A stop (or the process ending) cuts the snapshot in flight short: that is
            // the stop, not a fault.
            Err(_) if abandon || stop.load(Ordering::SeqCst) => on_event(&WatchEvent::Warning(
                format!("snapshot {file} left unfinished: stopping"),
            )),
            Err(e) => on_event(&WatchEvent::Warning(format!(
                "snapshot {file} failed and was discarded: {e}"
            ))),
        }
    }

    /// Stores the censuses the analyser has handed back (with `wait`, also those still
    /// being analysed), deleting raw files over the budget after each.
    pub(crate) fn drain_censuses(
        &mut self,
        store: &mut Store,
        rx: &Receiver<CensusResult>,
        config: &WatchConfig,
        summary: &mut WatchSummary,
        on_event: &mut impl FnMut(&WatchEvent),
        wait: bool,
    ) -> Result<(), WatchError> {
        loop {
            let next = if wait && self.in_analysis > 0 {
                // A census in flight belongs to this incarnation: wait for it (parsing a
                // multi-GB snapshot takes a while).
                rx.recv_timeout(Duration::from_secs(600)).ok()
            } else {
                rx.try_recv().ok()
            };
            let Some((pending, census, seconds)) = next else {
                return Ok(());
            };
            self.in_analysis = self.in_analysis.saturating_sub(1);
            let path = store.snapshots_dir().join(&pending.file);
            match census {
                Ok(mut census) => {
                    if pending.start_up {
                        // No evidence from start-up: a cache's store fills then.
                        census.places.clear();
                    }
                    let id = store.add_snapshot(
                        pending.incarnation,
                        pending.t,
                        &pending.file,
                        pending.reason.as_str(),
                        &census,
                    )?;
                    if pending.streamed {
                        // Never a file: indexed as one deleted when it was taken.
                        store.mark_file_deleted(id, pending.t)?;
                    }
                    summary.snapshots += 1;
                    on_event(&WatchEvent::Snapshot {
                        file: pending.file,
                        reason: pending.reason.as_str().to_owned(),
                        seconds: pending.taken_in + seconds,
                    });
                    enforce_budget(store, config, on_event)?;
                }
                Err(e) => {
                    if !pending.streamed {
                        let _ = std::fs::remove_file(&path);
                    }
                    on_event(&WatchEvent::Warning(format!(
                        "snapshot {} could not be analysed and was discarded: {e}",
                        pending.file
                    )));
                }
            }
        }
    }
}

/// Takes a snapshot over `inspector` into the file at `path` (a thread's job: `abort`
/// cuts it short), handing the inspector back.
fn to_file(mut inspector: Inspector, path: &Path, abort: Arc<AtomicBool>) -> SnapshotTaken {
    inspector.set_abort_flag(Some(abort));
    let taken = inspector
        .take_heap_snapshot(path)
        .map(|_| Taken::File)
        .map_err(|e| e.to_string());
    inspector.set_abort_flag(None);
    (Some(inspector), taken)
}

/// Takes a snapshot over `inspector` straight into its census: V8's chunks go down a pipe
/// into the parser of `worker`, and no raw file is written (a thread's job: `abort` cuts it
/// short). Hands the inspector back.
fn to_census(
    mut inspector: Inspector,
    worker: &CensusWorker,
    name: &str,
    limits: &CensusLimits,
    window: Option<&LeakWindow>,
    abort: Arc<AtomicBool>,
) -> SnapshotTaken {
    let mut census = match worker.stream(name, limits, window) {
        Ok(c) => c,
        Err(e) => return (Some(inspector), Err(e)),
    };
    inspector.set_abort_flag(Some(abort));
    let streamed = inspector.stream_heap_snapshot(census.input(), "the census's pipe");
    inspector.set_abort_flag(None);
    let taken = match streamed {
        Ok(_) => {
            let t = Instant::now();
            census
                .finish()
                .map(|c| Taken::Census(Box::new(c), t.elapsed().as_secs_f64()))
        }
        Err(e) => {
            census.abandon();
            Err(e.to_string())
        }
    };
    (Some(inspector), taken)
}
