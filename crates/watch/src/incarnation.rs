//! One run of the watched process, from its start (or the watcher attaching to it) to its
//! end: the state a run carries and its inner loop — sample on schedule, start and collect
//! snapshots, store the censuses that come back, notice the end.
//!
//! The parts of a run live beside it: [`connect`] (the inspector), [`snapshot`] (taking
//! snapshots and storing their censuses), [`end`] (how a run ended), [`stderr`] (the
//! command's stderr, read for the inspector's address and a V8 out-of-memory report).

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leaktrail_harness::SnapshotResidue;
use leaktrail_inspector::Inspector;
use leaktrail_sampler::{cgroup_memory_limit, ProcessTree};
use leaktrail_store::{now_ms, IncarnationEnd, IncarnationId, SampleRecord, Store, TargetId};

use crate::analyser::{Analyser, CensusResult};
use crate::oom::OomWitness;
use crate::own_memory::{release_free_memory, TRIM_EVERY};
use crate::{
    heapsnapshot_signal, node_process, WatchConfig, WatchError, WatchEvent, WatchSummary,
    WatchTarget,
};

mod connect;
mod end;
mod snapshot;
mod stderr;

use snapshot::{SnapshotInFlight, SnapshotMethod};

/// How long what a dead command left in its process group gets after SIGTERM.
const LEFTOVER_GRACE: Duration = Duration::from_secs(2);

/// Time between attempts to reach an inspector that failed.
const RECONNECT_EVERY: Duration = Duration::from_secs(10);

/// One process being watched.
pub(crate) struct Incarnation {
    /// The incarnation's row in the store.
    pub(crate) id: IncarnationId,
    pid: i32,
    child: Option<Child>,
    tree: ProcessTree,
    inspector: Option<Inspector>,
    snapshots: SnapshotMethod,
    stderr_tail: Arc<Mutex<Vec<String>>>,
    /// The thread copying the command's stderr: done once every holder of the pipe is.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    url: Option<Receiver<String>>,
    /// The inspector's address, to reconnect after a failed read.
    inspector_url: Option<String>,
    /// When to try the inspector again after it failed.
    reconnect_at: Option<Instant>,
    exiting: Arc<AtomicBool>,
    /// Where the stderr reader finds the inspector's socket to cut when Node exits.
    cut: Arc<Mutex<Option<std::net::TcpStream>>>,
    /// Whether the OOM killer ended the process, read at each sample.
    oom: OomWitness,
    seq: u32,
    /// Whether V8's heap limit is in the store.
    heap_limit_known: bool,
    /// Snapshots sent to the analyser whose census has not come back.
    in_analysis: usize,
    file_prefix: String,
    samples: Vec<(f64, f64)>,
    last_snapshot: Option<Instant>,
    next_scheduled: Instant,
    sample_count: u64,
    /// The snapshot being taken, if one is.
    in_flight: Option<SnapshotInFlight>,
    /// What the snapshots left in the process (see [`SnapshotResidue`]).
    snapshot_residue: SnapshotResidue,
    /// Inspector sessions opened so far (see
    /// [`PendingSnapshot::id_epoch`](crate::analyser::PendingSnapshot::id_epoch)).
    id_epoch: u32,
    /// When the watcher started the process (a command; `None` for `--pid`).
    spawned: Option<Instant>,
    /// Snapshots taken or tried so far (the schedule ramps up from the first).
    snapshots_done: u32,
}

impl Incarnation {
    /// Starts the command (or attaches to the running process), records the incarnation
    /// in the store with its memory limits, and connects to its inspector.
    pub(crate) fn start(
        config: &WatchConfig,
        store: &mut Store,
        target: TargetId,
        name: &str,
        on_event: &mut impl FnMut(&WatchEvent),
    ) -> Result<Incarnation, WatchError> {
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        let exiting = Arc::new(AtomicBool::new(false));
        let cut: Arc<Mutex<Option<std::net::TcpStream>>> = Arc::new(Mutex::new(None));
        let mut stderr_reader = None;
        let (pid, child, url) = match &config.target {
            WatchTarget::Pid(pid) => {
                if node_process::cmdline(*pid).is_none() {
                    return Err(WatchError::NoProcess(*pid));
                }
                (*pid, None, None)
            }
            WatchTarget::Command(command) => {
                let mut child = leaktrail_process::spawn_workload(
                    command,
                    if config.inspector {
                        leaktrail_process::NodeStart::Inspect
                    } else {
                        leaktrail_process::NodeStart::Plain
                    },
                    Stdio::inherit(),
                    Stdio::piped(),
                )
                .map_err(|error| WatchError::Spawn {
                    command: command.join(" "),
                    error,
                })?;
                let (url_tx, url_rx) = channel();
                if let Some(err) = child.stderr.take() {
                    stderr_reader = Some(stderr::read(
                        err,
                        url_tx,
                        stderr_tail.clone(),
                        exiting.clone(),
                        cut.clone(),
                    ));
                }
                (child.id() as i32, Some(child), Some(url_rx))
            }
        };
        let id = store.start_incarnation(target, pid as i64, now_ms())?;
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut run = Incarnation {
            id,
            pid,
            child,
            tree: ProcessTree::new(pid),
            inspector: None,
            snapshots: SnapshotMethod::None,
            stderr_tail,
            stderr_reader,
            url,
            inspector_url: None,
            reconnect_at: None,
            exiting,
            cut,
            oom: OomWitness::of(pid),
            seq: 0,
            heap_limit_known: false,
            in_analysis: 0,
            file_prefix: format!("{safe}-{id}"),
            samples: Vec::new(),
            last_snapshot: None,
            next_scheduled: Instant::now(),
            sample_count: 0,
            in_flight: None,
            snapshot_residue: SnapshotResidue::default(),
            id_epoch: 0,
            spawned: matches!(config.target, WatchTarget::Command(_)).then(Instant::now),
            snapshots_done: 0,
        };
        if config.inspector {
            run.connect(config, on_event);
        }
        // A running process started with --heapsnapshot-signal gets that signal (Node writes
        // the file itself, no debugger attached); a started command only without an
        // inspector, as the inspector was opened for the watcher.
        let by_signal = match config.target {
            WatchTarget::Pid(_) => true,
            WatchTarget::Command(_) => run.inspector.is_none(),
        };
        if let Some(signal) = heapsnapshot_signal(pid).filter(|_| by_signal) {
            run.snapshots = SnapshotMethod::Signal {
                signal,
                dir: node_process::diagnostic_dir(pid)
                    .unwrap_or_else(|| PathBuf::from(format!("/proc/{pid}/cwd"))),
            };
        }
        let memory_limit = cgroup_memory_limit(pid).map(|l| l as i64);
        store.set_limits(id, None, memory_limit)?;
        run.read_heap_limit(store)?;
        on_event(&WatchEvent::Started {
            pid,
            incarnation: id,
            inspector: run.inspector.is_some(),
        });
        Ok(run)
    }

    /// The inner loop: samples every `sample_every`, starts and collects snapshots, stores
    /// the censuses that come back, until the process ends or the watch is over.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn follow(
        &mut self,
        config: &WatchConfig,
        store: &mut Store,
        stop: &AtomicBool,
        started: Instant,
        analyser: &Analyser,
        census_rx: &Receiver<CensusResult>,
        summary: &mut WatchSummary,
        on_event: &mut impl FnMut(&WatchEvent),
    ) -> Result<IncarnationEnd, WatchError> {
        let mut next_sample = Instant::now();
        let mut last_trim = Instant::now();
        loop {
            self.finish_snapshot(config, analyser, stop, on_event, false);
            self.drain_censuses(store, census_rx, config, summary, on_event, false)?;
            // A watch runs for days: what the server's threads and SQLite free goes back
            // to the system now and then, not only after an analysis.
            if last_trim.elapsed() >= TRIM_EVERY {
                release_free_memory();
                last_trim = Instant::now();
            }
            if let Some(end) = self.ended() {
                // The snapshot in flight fails with the process (its socket is closed).
                self.finish_snapshot(config, analyser, stop, on_event, true);
                return Ok(end);
            }
            if stop.load(Ordering::SeqCst)
                || config.duration.is_some_and(|d| started.elapsed() >= d)
            {
                self.finish_snapshot(config, analyser, stop, on_event, true);
                return Ok(self.stop_watching());
            }
            let now = Instant::now();
            if now < next_sample {
                std::thread::sleep((next_sample - now).min(Duration::from_millis(100)));
                continue;
            }
            next_sample += config.sample_every;
            if next_sample < Instant::now() {
                next_sample = Instant::now() + config.sample_every;
            }
            self.reconnect(on_event);
            if config.inspector {
                self.late_url(on_event);
            }
            let Some(sample) = self.sample(config, on_event) else {
                continue;
            };
            store.add_sample(&sample)?;
            self.read_heap_limit(store)?;
            summary.samples += 1;
            let memory = sample.memory;
            on_event(&WatchEvent::Sample(sample));
            if self.in_flight.is_none() {
                self.snapshot_residue.read(memory.rss);
                if let Some(reason) = self.snapshot_due(config) {
                    if self.snapshot_fits(config, reason, &memory, on_event) {
                        self.snapshot_residue.began(memory.rss);
                        self.start_snapshot(config, store, analyser, reason, on_event);
                    }
                }
            }
        }
    }

    /// Reads one sample: `/proc` always, the heap over the inspector unless a snapshot is
    /// being taken.
    fn sample(
        &mut self,
        config: &WatchConfig,
        on_event: &mut impl FnMut(&WatchEvent),
    ) -> Option<SampleRecord> {
        let with_pss = config.pss_every > 0 && self.sample_count % config.pss_every as u64 == 0;
        let memory = if config.process_only {
            leaktrail_sampler::sample_process(self.pid, 0, with_pss)?.memory
        } else {
            self.tree.sample(with_pss)?.total
        };
        self.sample_count += 1;
        self.oom.read(self.pid);
        let in_snapshot = self.in_flight.is_some();
        let mut s = SampleRecord {
            incarnation_id: self.id,
            t: now_ms(),
            memory,
            in_snapshot,
        };
        // During a snapshot the heap is not read: Node would answer only once the snapshot
        // is written (and the inspector taking it is on the snapshot's thread).
        if let Some(inspector) = self.inspector.as_mut().filter(|_| !in_snapshot) {
            let gc = if config.gc_before_sample {
                inspector.collect_garbage()
            } else {
                Ok(())
            };
            let read = gc
                .and_then(|_| inspector.heap_usage())
                .and_then(|h| inspector.process_memory().map(|m| (h, m)));
            match read {
                Ok((h, m)) => {
                    s.memory.heap_used = Some(h.used_size);
                    s.memory.heap_total = Some(h.total_size);
                    s.memory.external = Some(m.external);
                }
                // Exiting, or the inspector went away: go on with /proc only, and try
                // again later unless the process is exiting.
                Err(e) => {
                    self.inspector = None;
                    if !self.exiting.load(Ordering::SeqCst) && node_process::alive(self.pid) {
                        on_event(&WatchEvent::Warning(format!(
                            "the inspector failed ({e}): sampling RSS only until it answers again"
                        )));
                        self.reconnect_at = Some(Instant::now() + RECONNECT_EVERY);
                    }
                }
            }
        }
        // The early-snapshot trigger counts `external` with the heap (unlike the trend's
        // heap series, which runs against V8's limit): growing Buffers are worth a snapshot.
        // Samples taken during a snapshot stay out: they have no heap (RSS would mix into
        // the heap's series) and the snapshot's own allocations lift RSS.
        if !in_snapshot {
            let y = s.memory.v8_bytes().unwrap_or(s.memory.rss);
            self.samples.push((s.t as f64 / 1000.0, y as f64));
            if self.samples.len() > 360 {
                self.samples.remove(0);
            }
        }
        Some(s)
    }
}
