//! `watch`: follow a running service for hours into a bounded [`Store`].
//!
//! Every `sample_every` the watcher reads the process tree's RSS, anonymous memory and
//! threads from `/proc` (PSS every few samples: it walks the page tables), and for Node the
//! V8 heap in use and `external` memory over the inspector — without forcing a GC, which
//! would pause a production service (unless `gc_before_sample` asks for it): the heap then
//! includes garbage, a sawtooth that the trend's robust slope averages out over a window
//! much longer than one GC cycle. Snapshots are always taken after a full GC.
//!
//! Heap snapshots are taken at the start, every `snapshot_every`, and sooner when the
//! recent samples turn to significant growth (at most one per `min_snapshot_gap`), on a
//! thread of their own: sampling `/proc` goes on meanwhile, without
//! the heap, and those samples are marked `in_snapshot` (V8's serializer lifts RSS). Each is
//! parsed at once ([`CensusWorker`]: in a child process, or on a worker thread) into a
//! [`SnapshotCensus`] stored with it; raw files
//! are then deleted oldest first to stay within `keep` files and `max_disk` bytes. Censuses
//! are never deleted; a raw file without a census (its watcher was killed while writing or
//! parsing it) is deleted once it is an hour old.
//!
//! The watcher keeps its own memory flat: snapshots parsed in a child process
//! ([`CensusWorker::Process`]), and ([`own_memory`]) two malloc arenas, freed memory
//! handed back after each analysis and every minute, a small SQLite page cache.
//!
//! Targets:
//! - **a running process** (`--pid`): the inspector is found among the process's loopback
//!   listening ports, or opened with `SIGUSR1` (Node's documented switch: it opens a
//!   debugging port on 127.0.0.1:9229 or the `--inspect-port` given, for anyone on the
//!   machine who can reach loopback). A process started with `--heapsnapshot-signal=SIG`
//!   gets that signal for snapshots instead, and Node writes the file itself.
//! - **a command** (`-- CMD`): started in its own process group with the inspector on a
//!   free loopback port; with `restart` it is started again when it dies, each run a new
//!   incarnation with how it ended (exit code, signal, OOM kill by the cgroup, V8 heap out of
//!   memory). What a dead command left in its process group is stopped before the next
//!   start. An inspector that fails is tried again every 10 s.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leaktrail_analysis::{CensusLimits, LeakWindow, SnapshotCensus, WindowTracker};
use leaktrail_inspector::{listening_url, url_on_port, Inspector};
use leaktrail_sampler::{
    cgroup_memory_limit, loopback_listening_ports, process_info, system_oom_kills, MemoryCgroup,
    ProcessTree,
};
use leaktrail_stats::{decide, GrowthPolicy, Outcome};
use leaktrail_store::{
    now_ms, IncarnationEnd, IncarnationId, SampleRecord, Store, StoreError, TargetId,
};

mod node_process;
pub mod own_memory;

// The census worker lives with the harness, whose `run --no-raw-snapshots` streams too.
pub use leaktrail_harness::{
    census_of_file, census_of_stream, CensusWorker, StreamingCensus, MAX_STREAM_BYTES,
};
pub use node_process::{heapsnapshot_signal, is_node};
use own_memory::{release_free_memory, TRIM_EVERY};

/// How long what a dead command left in its process group gets after SIGTERM.
const LEFTOVER_GRACE: Duration = Duration::from_secs(2);

/// Time between attempts to reach an inspector that failed.
const RECONNECT_EVERY: Duration = Duration::from_secs(10);

/// Age from which a raw snapshot file the index does not know is a leftover: a watcher
/// killed while it wrote or parsed the file. Younger ones may be another watcher's of the
/// same store, still in flight.
const STRAY_AFTER: Duration = Duration::from_secs(3600);

/// What to watch.
#[derive(Clone, Debug)]
pub enum WatchTarget {
    /// A process that is already running.
    Pid(i32),
    /// A command to start (and restart).
    Command(Vec<String>),
}

/// How to watch.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// The process.
    pub target: WatchTarget,
    /// The store directory.
    pub store_dir: PathBuf,
    /// The target's name in the store (default: the script or program name).
    pub name: Option<String>,
    /// Time between samples.
    pub sample_every: Duration,
    /// Time between scheduled snapshots.
    pub snapshot_every: Duration,
    /// Least time between two snapshots, however fast memory grows.
    pub min_snapshot_gap: Duration,
    /// Raw snapshot files kept (oldest deleted first).
    pub keep: Option<usize>,
    /// Bytes of raw snapshot files kept.
    pub max_disk: Option<u64>,
    /// Start the command again when it dies.
    pub restart: bool,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Use the Node inspector (heap samples, snapshots).
    pub inspector: bool,
    /// Force a full GC before each heap sample (precise, but pauses the service: for
    /// staging and tests, not production).
    pub gc_before_sample: bool,
    /// Sample the process alone, not its descendants.
    pub process_only: bool,
    /// Read PSS every this many samples (0: never).
    pub pss_every: u32,
    /// Growth per hour that triggers an early snapshot, bytes.
    pub growth_trigger_per_hour: f64,
    /// What a census keeps.
    pub census: CensusLimits,
    /// Where snapshots are parsed (a child process keeps the watcher's memory its own).
    pub census_worker: CensusWorker,
    /// How long after the watcher starts a command its censuses are start-up (default
    /// 30 s): caches fill and modules load then, and what is allocated and kept rises
    /// across three censuses like a leak, so they are no leak evidence.
    pub start_up: Duration,
    /// Write each snapshot to the store's `snapshots/` before its census (the default).
    /// Without, an inspector snapshot streams from V8 straight into the census's parser
    /// through a pipe and no raw file is ever written, anywhere: a heap holds every secret
    /// of the process. (A `--heapsnapshot-signal` snapshot is Node's own file: this mode
    /// needs the inspector.)
    pub raw_snapshots: bool,
}

/// What the watcher reports as it goes (for a status line or a log).
#[derive(Clone, Debug)]
pub enum WatchEvent {
    /// A process is being watched.
    Started {
        /// Its PID.
        pid: i32,
        /// The incarnation's row id.
        incarnation: IncarnationId,
        /// Whether the V8 heap is sampled.
        inspector: bool,
    },
    /// A sample was stored.
    Sample(SampleRecord),
    /// A snapshot's census was stored.
    Snapshot {
        /// File name under `snapshots/`.
        file: String,
        /// Why it was taken.
        reason: String,
        /// Seconds to take and analyse it.
        seconds: f64,
    },
    /// A raw snapshot file was deleted under the budget.
    FileDeleted(String),
    /// Something failed that the watcher survives.
    Warning(String),
    /// The process ended.
    Ended(IncarnationEnd),
    /// The command will be started again.
    Restarting {
        /// After this long.
        after: Duration,
    },
}

/// Why the watcher stopped, and what it stored.
#[derive(Clone, Debug, Default)]
pub struct WatchSummary {
    /// The target's name.
    pub target: String,
    /// Incarnations watched.
    pub incarnations: u64,
    /// Samples stored.
    pub samples: u64,
    /// Snapshot censuses stored.
    pub snapshots: u64,
    /// How the last incarnation ended.
    pub last_end: Option<IncarnationEnd>,
}

/// What stops the watcher.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command could not be started.
    #[error("cannot start `{command}`: {error}")]
    Spawn {
        /// The command line.
        command: String,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// No such process.
    #[error("no process {0} (or it is not readable by this user)")]
    NoProcess(i32),
}

/// Checks that `target` can be watched: the process is there, or the command's program is
/// an executable file. Done before the store is made, so that a typo leaves nothing behind.
pub fn check_target(target: &WatchTarget) -> Result<(), WatchError> {
    match target {
        WatchTarget::Pid(pid) => match node_process::cmdline(*pid) {
            Some(_) => Ok(()),
            None => Err(WatchError::NoProcess(*pid)),
        },
        WatchTarget::Command(command) => {
            let spawn_error = |error| WatchError::Spawn {
                command: command.join(" "),
                error,
            };
            let program = command.first().ok_or_else(|| {
                spawn_error(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "no command given",
                ))
            })?;
            find_program(program).map_err(spawn_error)
        }
    }
}

/// Whether `program` can be started as `Command::new(program)` would: a path (with a
/// `/`) to an executable file, or a name found in `PATH`. A start can still fail for what
/// this does not see (an interpreter line naming a missing program); that failure comes
/// after the store is made, as it would with a program deleted between check and start.
fn find_program(program: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| -> std::io::Result<()> {
        let meta = std::fs::metadata(path)?;
        if meta.is_dir() {
            return Err(std::io::Error::from_raw_os_error(libc::EISDIR));
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EACCES));
        }
        Ok(())
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    // The child's search path is this process's PATH (the watcher does not change it);
    // without one, the C library's default.
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    if std::env::split_paths(&path).any(|dir| executable(&dir.join(program)).is_ok()) {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "no such program in PATH",
    ))
}

/// Runs the watcher until the process ends (and is not restarted), `stop` is set, or the
/// duration is over.
pub fn watch(
    config: &WatchConfig,
    stop: &AtomicBool,
    mut on_event: impl FnMut(&WatchEvent),
) -> Result<WatchSummary, WatchError> {
    check_target(&config.target)?;
    let mut store = Store::create(&config.store_dir)?;
    remove_stray_files(&store, &mut on_event)?;
    let (name, command) = match &config.target {
        WatchTarget::Pid(pid) => {
            let cmdline = node_process::cmdline(*pid).ok_or(WatchError::NoProcess(*pid))?;
            (
                config
                    .name
                    .clone()
                    .unwrap_or_else(|| node_process::default_name(&cmdline)),
                cmdline.join(" "),
            )
        }
        WatchTarget::Command(c) => (
            config
                .name
                .clone()
                .unwrap_or_else(|| node_process::default_name(c)),
            c.join(" "),
        ),
    };
    let target = store.target(&name, Some(&command))?;
    let (census_tx, census_rx) = channel();
    let analyser = Analyser::spawn(census_tx, config.census, config.census_worker.clone());
    let started = Instant::now();
    let mut summary = WatchSummary {
        target: name.clone(),
        ..WatchSummary::default()
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        let incarnation_start = Instant::now();
        let mut run = Incarnation::start(config, &mut store, target, &name, &mut on_event)?;
        summary.incarnations += 1;
        let end = run.follow(
            config,
            &mut store,
            stop,
            started,
            &analyser,
            &census_rx,
            &mut summary,
            &mut on_event,
        )?;
        // Censuses still being analysed belong to this incarnation.
        run.drain_censuses(
            &mut store,
            &census_rx,
            config,
            &mut summary,
            &mut on_event,
            true,
        )?;
        store.end_incarnation(run.id, &end)?;
        on_event(&WatchEvent::Ended(end.clone()));
        summary.last_end = Some(end.clone());
        let stopped = end.reason == "stopped" || end.reason == "detached";
        let over = config.duration.is_some_and(|d| started.elapsed() >= d);
        if !config.restart
            || stopped
            || over
            || stop.load(Ordering::SeqCst)
            || matches!(config.target, WatchTarget::Pid(_))
        {
            return Ok(summary);
        }
        // A crash loop backs off up to 30 s; a run that lived a minute resets it.
        if incarnation_start.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        on_event(&WatchEvent::Restarting { after: backoff });
        let until = Instant::now() + backoff;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(summary);
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// How snapshots are taken of this process.
enum SnapshotMethod {
    /// `HeapProfiler.takeHeapSnapshot` over the inspector.
    Inspector,
    /// Send this signal; Node writes `Heap.*.heapsnapshot` into `dir`.
    Signal { signal: i32, dir: PathBuf },
    /// None available.
    None,
}

/// A snapshot waiting for its census.
struct PendingSnapshot {
    file: String,
    t: i64,
    reason: String,
    taken_in: f64,
    incarnation: IncarnationId,
    /// Which id map of the process the snapshot's node ids come from: a new inspector
    /// session may start V8's ids afresh, so leak windows never span two.
    id_epoch: u32,
    /// Streamed into its census: there is no raw file.
    streamed: bool,
    /// Taken within [`WatchConfig::start_up`] of the watcher starting the process: no
    /// leak evidence (never a leak window's BASE or TARGET, no places recorded).
    start_up: bool,
}

/// A heap snapshot being taken on a thread of its own. V8 blocks the service's main thread
/// while it builds and serializes a snapshot (20–55 s on a 600 MB heap), and the
/// inspector answers nothing else meanwhile; the watcher's loop goes on sampling `/proc`
/// (RSS, anonymous memory, threads) at its pace, without the heap, and marks those
/// samples ([`SampleRecord::in_snapshot`]).
struct SnapshotInFlight {
    file: String,
    path: PathBuf,
    /// When it was asked for, ms since the epoch.
    t: i64,
    reason: String,
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

/// The gap after the first scheduled snapshot: the start of [`scheduled_gap`]'s ramp.
pub const FIRST_SNAPSHOT_GAP: Duration = Duration::from_secs(30);

/// The time from the `done`th snapshot of an incarnation to the next scheduled one: 30 s
/// after the first, doubling after each (1 min, 2 min, 4 min, …) up to `snapshot_every`,
/// so that three censuses — what naming a culprit takes — come within the first two
/// minutes, and then the schedule settles. A snapshot pauses the service while V8 builds
/// it, so no gap is shorter than 10 times the last one took (a 30 s snapshot of a 600 MB
/// heap waits 5 min), unless `snapshot_every` itself is shorter.
pub fn scheduled_gap(config: &WatchConfig, done: u32, took: Duration) -> Duration {
    let ramp = FIRST_SNAPSHOT_GAP.saturating_mul(1 << done.saturating_sub(1).min(20));
    ramp.max(took.saturating_mul(10)).min(config.snapshot_every)
}

/// The worker thread that parses snapshot files into censuses; streamed snapshots bring
/// their census with them and go to `results` directly.
struct Analyser {
    jobs: Sender<(PathBuf, PendingSnapshot)>,
    results: Sender<CensusResult>,
    windows: Arc<Mutex<LeakWindows>>,
    limits: CensusLimits,
    worker: CensusWorker,
}

type CensusResult = (PendingSnapshot, Result<SnapshotCensus, String>, f64);

/// The censuses a census's leak roots are found against: the last two of the same
/// incarnation and id epoch ([`WindowTracker`]).
#[derive(Default)]
struct LeakWindows {
    key: Option<(IncarnationId, u32)>,
    tracker: WindowTracker,
}

impl LeakWindows {
    /// The window for the next census of `pending`.
    fn window_for(&mut self, pending: &PendingSnapshot) -> Option<LeakWindow> {
        self.window_of(pending.incarnation, pending.id_epoch)
    }

    /// The window for the next census of an incarnation's snapshots of one id epoch.
    fn window_of(&mut self, incarnation: IncarnationId, id_epoch: u32) -> Option<LeakWindow> {
        let key = (incarnation, id_epoch);
        if self.key != Some(key) {
            self.key = Some(key);
            self.tracker.clear();
        }
        self.tracker.window()
    }

    /// Notes a census taken: it is the next window's TARGET (unless it was taken in
    /// the process's start-up: a cache filling then rises like a leak across three
    /// censuses).
    fn taken(&mut self, pending: &PendingSnapshot, census: &SnapshotCensus) {
        if !pending.start_up {
            self.tracker.taken(&pending.file, census);
        }
    }
}

/// The leak windows, whoever held the lock last (a panic there cannot leave them torn:
/// each update is one assignment).
fn lock(windows: &Mutex<LeakWindows>) -> std::sync::MutexGuard<'_, LeakWindows> {
    windows.lock().unwrap_or_else(|e| e.into_inner())
}

impl Analyser {
    fn spawn(
        results: Sender<CensusResult>,
        limits: CensusLimits,
        worker: CensusWorker,
    ) -> Analyser {
        let (jobs, rx) = channel::<(PathBuf, PendingSnapshot)>();
        let windows = Arc::new(Mutex::new(LeakWindows::default()));
        let analyser = Analyser {
            jobs,
            results: results.clone(),
            windows: windows.clone(),
            limits,
            worker: worker.clone(),
        };
        std::thread::spawn(move || {
            for (path, pending) in rx {
                let t = Instant::now();
                let window = lock(&windows).window_for(&pending);
                let census = worker.census(&path, &pending.file, &limits, window.as_ref());
                if let Ok(census) = &census {
                    lock(&windows).taken(&pending, census);
                }
                release_free_memory();
                if results
                    .send((pending, census, t.elapsed().as_secs_f64()))
                    .is_err()
                {
                    return;
                }
            }
        });
        analyser
    }
}

/// One process being watched.
struct Incarnation {
    id: IncarnationId,
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
    /// The OOM counts one sample before the latest: the latest reading may come after the
    /// kill (the process is dying, not yet reaped), and would then hide it.
    oom: OomWitness,
    /// The latest OOM counts.
    oom_latest: OomWitness,
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
    /// Inspector sessions opened so far (see [`PendingSnapshot::id_epoch`]).
    id_epoch: u32,
    /// When the watcher started the process (a command; `None` for `--pid`).
    spawned: Option<Instant>,
    /// Snapshots taken or tried so far (the schedule ramps up from the first).
    snapshots_done: u32,
}

impl Incarnation {
    fn start(
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
                let mut child = leaktrail_harness::spawn_workload(
                    command,
                    if config.inspector {
                        leaktrail_harness::NodeStart::Inspect
                    } else {
                        leaktrail_harness::NodeStart::Plain
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
                    let tail = stderr_tail.clone();
                    let exiting = exiting.clone();
                    let cut = cut.clone();
                    stderr_reader = Some(std::thread::spawn(move || {
                        let mut own = std::io::stderr();
                        // Read as bytes to the end: a line that is not UTF-8 must not stop it.
                        leaktrail_harness::for_each_line(BufReader::new(err), |line| {
                            let line = line.into_owned();
                            if let Some(url) = listening_url(&line) {
                                let _ = url_tx.send(url.to_owned());
                                return true;
                            }
                            if leaktrail_inspector::is_inspector_chatter(&line) {
                                return true;
                            }
                            if line.contains("Waiting for the debugger to disconnect") {
                                // Node answers no GC request now: cut a call in flight.
                                exiting.store(true, Ordering::SeqCst);
                                if let Some(s) = cut.lock().ok().and_then(|mut c| c.take()) {
                                    let _ = s.shutdown(std::net::Shutdown::Both);
                                }
                                return true;
                            }
                            // The service's own log goes on to ours.
                            let _ = writeln!(own, "{line}");
                            if let Ok(mut t) = tail.lock() {
                                t.push(line);
                                if t.len() > 50 {
                                    t.remove(0);
                                }
                            }
                            true
                        });
                    }));
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
            oom_latest: OomWitness::of(pid),
            seq: 0,
            heap_limit_known: false,
            in_analysis: 0,
            file_prefix: format!("{safe}-{id}"),
            samples: Vec::new(),
            last_snapshot: None,
            next_scheduled: Instant::now(),
            sample_count: 0,
            in_flight: None,
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

    /// Reads V8's heap limit once, when the inspector answers (a process just starting may
    /// not yet).
    fn read_heap_limit(&mut self, store: &mut Store) -> Result<(), WatchError> {
        if self.heap_limit_known {
            return Ok(());
        }
        if let Some(limit) = self
            .inspector
            .as_mut()
            .and_then(|i| i.heap_size_limit().ok())
        {
            store.set_limits(self.id, Some(limit as i64), None)?;
            self.heap_limit_known = true;
        }
        Ok(())
    }

    /// Connects to the inspector: the URL a started command printed, or one found on (or
    /// opened with SIGUSR1 for) a running process.
    fn connect(&mut self, config: &WatchConfig, on_event: &mut impl FnMut(&WatchEvent)) {
        let url = match (&self.url, &config.target) {
            (Some(rx), _) => rx.recv_timeout(Duration::from_secs(10)).ok(),
            (None, WatchTarget::Pid(pid)) => {
                if !is_node(*pid) {
                    return;
                }
                let find = || {
                    loopback_listening_ports(*pid)
                        .into_iter()
                        .find_map(|port| url_on_port(port).ok().flatten())
                };
                let mut url = find();
                // SIGUSR1 only to a process that handles it: by default it terminates.
                let usr1 = rustix::process::Signal::USR1;
                let catches_usr1 = || process_info(*pid).is_some_and(|i| i.catches(usr1.as_raw()));
                if url.is_none() && catches_usr1() {
                    if let Some(p) = rustix::process::Pid::from_raw(*pid) {
                        let _ = rustix::process::kill_process(p, usr1);
                    }
                    let until = Instant::now() + Duration::from_secs(5);
                    while url.is_none() && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(100));
                        url = find();
                    }
                }
                url
            }
            _ => None,
        };
        let Some(url) = url else {
            on_event(&WatchEvent::Warning(format!(
                "no Node inspector for pid {}: sampling RSS only, no heap snapshots",
                self.pid
            )));
            return;
        };
        match Inspector::connect(&url) {
            Ok(i) => {
                self.attach(i);
                self.id_epoch += 1;
                self.snapshots = SnapshotMethod::Inspector;
            }
            Err(e) => on_event(&WatchEvent::Warning(format!(
                "cannot connect to the inspector {url}: {e}"
            ))),
        }
        self.inspector_url = Some(url);
    }

    /// Uses `inspector` from now on; the stderr reader can cut its socket when Node exits.
    fn attach(&mut self, inspector: Inspector) {
        if let Ok(mut cut) = self.cut.lock() {
            *cut = inspector.interrupt_handle();
        }
        self.inspector = Some(inspector);
    }

    /// After a failed inspector read, connects again to the same address (every
    /// [`RECONNECT_EVERY`]), unless the process is exiting: a dropped connection must not
    /// end heap sampling and snapshots for the rest of a week-long run.
    fn reconnect(&mut self, on_event: &mut impl FnMut(&WatchEvent)) {
        let due = self.reconnect_at.is_some_and(|at| Instant::now() >= at);
        if self.inspector.is_some() || !due || self.exiting.load(Ordering::SeqCst) {
            return;
        }
        let Some(url) = self.inspector_url.clone() else {
            return;
        };
        match Inspector::connect(&url) {
            Ok(i) => {
                self.attach(i);
                self.id_epoch += 1;
                self.reconnect_at = None;
                on_event(&WatchEvent::Warning(format!(
                    "reconnected to the inspector {url}"
                )));
            }
            Err(_) => self.reconnect_at = Some(Instant::now() + RECONNECT_EVERY),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn follow(
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
            let Some(sample) = self.sample(config, on_event) else {
                continue;
            };
            store.add_sample(&sample)?;
            self.read_heap_limit(store)?;
            summary.samples += 1;
            on_event(&WatchEvent::Sample(sample));
            if self.in_flight.is_none() {
                if let Some(reason) = self.snapshot_due(config) {
                    self.start_snapshot(config, store, analyser, &reason, on_event);
                }
            }
        }
    }

    fn sample(
        &mut self,
        config: &WatchConfig,
        on_event: &mut impl FnMut(&WatchEvent),
    ) -> Option<SampleRecord> {
        let with_pss = config.pss_every > 0 && self.sample_count % config.pss_every as u64 == 0;
        let (rss, anon, pss, threads) = if config.process_only {
            let p = leaktrail_sampler::sample_process(self.pid, 0, with_pss)?;
            (p.rss, p.anon, p.pss, p.threads)
        } else {
            let t = self.tree.sample(with_pss)?;
            (t.rss, t.anon, t.pss, t.threads)
        };
        self.sample_count += 1;
        // The process may have moved to another cgroup (a wrapper that places itself); one
        // that died since its memory was read keeps the last cgroups it was seen in.
        let oom = OomWitness::of(self.pid);
        if !oom.cgroups.is_empty() || self.oom_latest.cgroups.is_empty() {
            self.oom = std::mem::replace(&mut self.oom_latest, oom);
        }
        let in_snapshot = self.in_flight.is_some();
        let mut s = SampleRecord {
            incarnation_id: self.id,
            t: now_ms(),
            rss: rss as i64,
            anon: Some(anon as i64),
            pss: pss.map(|p| p as i64),
            threads: threads as i64,
            in_snapshot,
            ..SampleRecord::default()
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
                    s.heap_used = Some(h.used_size as i64);
                    s.heap_total = Some(h.total_size as i64);
                    s.external = Some(m.external as i64);
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
            let y = s.heap_used.map_or(s.rss, |h| h + s.external.unwrap_or(0));
            self.samples.push((s.t as f64 / 1000.0, y as f64));
            if self.samples.len() > 360 {
                self.samples.remove(0);
            }
        }
        Some(s)
    }

    /// Whether a snapshot is due now, and why.
    fn snapshot_due(&mut self, config: &WatchConfig) -> Option<String> {
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
            return Some("first".into());
        }
        if now >= self.next_scheduled {
            return Some("schedule".into());
        }
        let gap_ok = self
            .last_snapshot
            .is_none_or(|t| now.duration_since(t) >= config.min_snapshot_gap);
        if gap_ok && self.samples.len() >= 8 {
            let (x, y): (Vec<f64>, Vec<f64>) = self.samples.iter().copied().unzip();
            let v = decide(
                &x,
                &y,
                &GrowthPolicy {
                    max_growth: config.growth_trigger_per_hour / 3600.0,
                    alpha: 0.05,
                    warmup: None,
                },
            );
            if v.outcome == Outcome::Leak {
                return Some("growth".into());
            }
        }
        None
    }

    /// Starts a snapshot on a thread of its own (see [`SnapshotInFlight`]); over the
    /// inspector, the watcher's inspector session goes with it and comes back when done.
    fn start_snapshot(
        &mut self,
        config: &WatchConfig,
        store: &Store,
        analyser: &Analyser,
        reason: &str,
        on_event: &mut impl FnMut(&WatchEvent),
    ) {
        self.seq += 1;
        let file = format!("{}-{}.heapsnapshot", self.file_prefix, self.seq);
        let path = store.snapshots_dir().join(&file);
        let abort = Arc::new(AtomicBool::new(false));
        let job: Box<dyn FnOnce() -> SnapshotTaken + Send> = match &self.snapshots {
            SnapshotMethod::Inspector => {
                let Some(mut inspector) = self.inspector.take() else {
                    on_event(&WatchEvent::Warning(format!(
                        "snapshot {file} failed and was discarded: the inspector is gone"
                    )));
                    self.snapshot_done(config, reason, Instant::now(), Duration::ZERO);
                    return;
                };
                let (path, abort) = (path.clone(), abort.clone());
                if config.raw_snapshots {
                    Box::new(move || {
                        inspector.set_abort_flag(Some(abort));
                        let taken = inspector
                            .take_heap_snapshot(&path)
                            .map(|_| Taken::File)
                            .map_err(|e| e.to_string());
                        inspector.set_abort_flag(None);
                        (Some(inspector), taken)
                    })
                } else {
                    // Zero-disk: V8's chunks go down a pipe into the census's parser.
                    let window = lock(&analyser.windows).window_of(self.id, self.id_epoch);
                    let (worker, limits) = (analyser.worker.clone(), analyser.limits);
                    let name = file.clone();
                    Box::new(move || {
                        let mut census = match worker.stream(&name, &limits, window.as_ref()) {
                            Ok(c) => c,
                            Err(e) => return (Some(inspector), Err(e)),
                        };
                        inspector.set_abort_flag(Some(abort));
                        let streamed =
                            inspector.stream_heap_snapshot(census.input(), "the census's pipe");
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
            reason: reason.to_owned(),
            start: Instant::now(),
            abort,
            thread: std::thread::spawn(job),
        });
    }

    /// Schedules the next snapshot after one that ended at `now` and took `took`.
    fn snapshot_done(&mut self, config: &WatchConfig, reason: &str, now: Instant, took: Duration) {
        self.last_snapshot = Some(now);
        self.snapshots_done += 1;
        if reason != "growth" {
            self.next_scheduled = now + scheduled_gap(config, self.snapshots_done, took);
        } else {
            // The schedule stands, but an early snapshot must not make two within the gap.
            self.next_scheduled = self.next_scheduled.max(now + config.min_snapshot_gap);
        }
    }

    /// Collects the snapshot in flight once its thread is done (with `abandon`, tells it
    /// to give up and waits for it: the watcher is leaving), hands its file to the
    /// analyser and takes the inspector back.
    fn finish_snapshot(
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
        self.snapshot_done(config, &reason, Instant::now(), start.elapsed());
        let pending = |file: String, streamed: bool| PendingSnapshot {
            file,
            t,
            reason: reason.clone(),
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

    fn drain_censuses(
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
                        &pending.reason,
                        &census,
                    )?;
                    if pending.streamed {
                        // Never a file: indexed as one deleted when it was taken.
                        store.mark_file_deleted(id, pending.t)?;
                    }
                    summary.snapshots += 1;
                    on_event(&WatchEvent::Snapshot {
                        file: pending.file,
                        reason: pending.reason,
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

    /// How the process ended, when it has.
    fn ended(&mut self) -> Option<IncarnationEnd> {
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
                leaktrail_harness::stop_group(child, LEFTOVER_GRACE);
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
                    "v8-heap-oom"
                } else if status.signal() == Some(9) && oom {
                    "oom-kill"
                } else if status.signal().is_some() {
                    "signal"
                } else {
                    "exited"
                };
                Some(IncarnationEnd {
                    ended_at: now_ms(),
                    exit_code: status.code().map(i64::from),
                    signal: status.signal().map(i64::from),
                    reason: reason.into(),
                })
            }
            None => {
                if node_process::alive(self.pid) {
                    return None;
                }
                // Not our child: no exit status, but the OOM killer leaves its count.
                let reason = if self.oom.saw_a_kill() {
                    "oom-kill"
                } else {
                    "exited"
                };
                Some(IncarnationEnd {
                    ended_at: now_ms(),
                    exit_code: None,
                    signal: None,
                    reason: reason.into(),
                })
            }
        }
    }

    /// Stops watching: a started command is stopped, a running process left alone.
    fn stop_watching(&mut self) -> IncarnationEnd {
        if let Some(i) = self.inspector.take() {
            i.disconnect();
        }
        match self.child.as_mut() {
            Some(child) => {
                use std::os::unix::process::ExitStatusExt;
                leaktrail_harness::stop_group(child, Duration::from_secs(5));
                let status = child.wait().ok();
                IncarnationEnd {
                    ended_at: now_ms(),
                    exit_code: status.and_then(|s| s.code()).map(i64::from),
                    signal: status.and_then(|s| s.signal()).map(i64::from),
                    reason: "stopped".into(),
                }
            }
            None => IncarnationEnd {
                ended_at: now_ms(),
                exit_code: None,
                signal: None,
                reason: "detached".into(),
            },
        }
    }
}

/// Deletes the oldest raw snapshot files until at most `keep` files and `max_disk` bytes
/// remain. Censuses stay.
fn enforce_budget(
    store: &mut Store,
    config: &WatchConfig,
    on_event: &mut impl FnMut(&WatchEvent),
) -> Result<(), WatchError> {
    let on_disk = store.snapshots_on_disk()?;
    let mut count = on_disk.len();
    let mut bytes: u64 = on_disk.iter().map(|s| s.file_size.max(0) as u64).sum();
    for s in on_disk {
        let over_count = config.keep.is_some_and(|k| count > k);
        let over_bytes = config.max_disk.is_some_and(|m| bytes > m);
        if !over_count && !over_bytes {
            break;
        }
        let path: &Path = &store.snapshots_dir().join(&s.file);
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                on_event(&WatchEvent::Warning(format!(
                    "cannot delete {}: {e}",
                    path.display()
                )));
                continue;
            }
        }
        store.mark_file_deleted(s.id, now_ms())?;
        count -= 1;
        bytes = bytes.saturating_sub(s.file_size.max(0) as u64);
        on_event(&WatchEvent::FileDeleted(s.file));
    }
    remove_stray_files(store, on_event)
}

/// Deletes raw snapshot files that no census indexes and that have not changed for
/// [`STRAY_AFTER`]: written by a watcher killed before their census was stored, they would
/// sit outside the disk budget for good, with the heap's strings in them.
fn remove_stray_files(
    store: &Store,
    on_event: &mut impl FnMut(&WatchEvent),
) -> Result<(), WatchError> {
    let Ok(entries) = std::fs::read_dir(store.snapshots_dir()) else {
        return Ok(());
    };
    let indexed: std::collections::HashSet<String> = store
        .snapshots_on_disk()?
        .into_iter()
        .map(|s| s.file)
        .collect();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".heapsnapshot") || indexed.contains(&name) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= STRAY_AFTER);
        if old && std::fs::remove_file(entry.path()).is_ok() {
            on_event(&WatchEvent::Warning(format!(
                "deleted {}: a raw snapshot without a census (its watcher was killed)",
                entry.path().display()
            )));
        }
    }
    Ok(())
}

/// Tells an OOM kill from any other death: the kernel's `oom_kill` counts in the memory
/// cgroups the process was last seen in (or the machine's, when none can be read), taken
/// at each sample and compared once it has died. A process killed by the OOM killer dies
/// of SIGKILL like one killed by hand; only this count tells them apart.
struct OomWitness {
    /// Each memory cgroup with its count when last read.
    cgroups: Vec<(MemoryCgroup, u64)>,
    /// The machine's count, for a process in no readable cgroup.
    system: Option<u64>,
}

impl OomWitness {
    /// The counts for `pid` now.
    fn of(pid: i32) -> OomWitness {
        let cgroups: Vec<(MemoryCgroup, u64)> = MemoryCgroup::of(pid)
            .into_iter()
            .filter_map(|c| c.oom_kills().map(|n| (c, n)))
            .collect();
        let system = if cgroups.is_empty() {
            system_oom_kills()
        } else {
            None
        };
        OomWitness { cgroups, system }
    }

    /// Whether an OOM kill was counted since the last reading.
    fn saw_a_kill(&self) -> bool {
        let in_cgroup = self
            .cgroups
            .iter()
            .any(|(c, then)| c.oom_kills().is_some_and(|now| now > *then));
        let on_machine = self
            .system
            .zip(system_oom_kills())
            .is_some_and(|(then, now)| now > then);
        in_cgroup || on_machine
    }
}
