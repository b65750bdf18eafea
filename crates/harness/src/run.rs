//! Starting the workload and sampling it.

mod aftermath;
mod budget;
mod end;
mod fault;
mod gc;
mod label;
mod schedule;
mod stall;
mod streamed;

pub use budget::PssMode;
pub use end::EndSnapshot;
pub use schedule::{SnapshotPlan, DOUBLING_AFTER_SAMPLES, DOUBLING_KEEP};

use crate::lines::for_each_line;
use crate::signals::StopSignals;
use crate::spawn::{spawn_workload, stop_group, wait_exit, Hold, NodeStart};
use std::io::BufReader;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;
use serde::Serialize;

use leaktrail_inspector::{listening_url, Inspector, InspectorError};
use leaktrail_sampler::ProcessTree;

use crate::census_worker::CensusWorker;
use crate::profile::{ProfileRequest, Profiling, RecordedProfiles};
use leaktrail_analysis::SnapshotCensus;

/// How to run and sample.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Iteration lines on stdout (first capture group: the number); `None` samples by time.
    pub iteration_pattern: Option<Regex>,
    /// Stop after this many iterations.
    pub iterations: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Time between samples when sampling by time.
    pub interval: Duration,
    /// Add `--inspect=127.0.0.1:0` to `NODE_OPTIONS` and sample the V8 heap.
    pub inspect: bool,
    /// How long to wait for Node's inspector URL.
    pub inspector_timeout: Duration,
    /// When to take heap snapshots (needs the inspector).
    pub snapshots: SnapshotPlan,
    /// Where snapshots go.
    pub snapshot_dir: Option<PathBuf>,
    /// Zero-disk snapshots: with a worker, no snapshot is ever written (by leaktrail or by
    /// the workload); each is streamed over the inspector into its census, which is all
    /// that is kept ([`RunSnapshot::census`]), and `snapshot_dir` is not used.
    pub census_worker: Option<CensusWorker>,
    /// Keep sampling time below this share of the elapsed time (0.05 = 5 %) by skipping
    /// sample points; `None` samples at every point.
    pub max_overhead: Option<f64>,
    /// Read the heap V8 leaves after its own major GCs between the forced samples (see
    /// [`CheapPoint`]).
    pub major_gc_points: bool,
    /// Take a heap snapshot at the end of the run, here (for `--expect-freed`; with a
    /// [`RunConfig::census_worker`], only its census is taken, and the path is unused).
    pub end_snapshot: Option<PathBuf>,
    /// When to read PSS (slow on large processes).
    pub pss: PssMode,
    /// CPU and allocation profiles to record over the inspector.
    pub profiles: Option<ProfileRequest>,
    /// When sampling by iteration, end the run with a fault after this long without a new
    /// iteration; `None` scales the wait to the pace seen: a minute for the first line, then ten
    /// times the longest gap between iterations, at least ten seconds.
    pub stall_timeout: Option<Duration>,
}

/// One sample.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Sample {
    /// Seconds since the start.
    pub t: f64,
    /// The workload's iteration count when the heap was measured, when sampling by
    /// iteration (interpolated between the lines around that moment: see `label`).
    pub iteration: Option<u64>,
    /// V8 heap in use after a full GC, bytes.
    pub heap_used: Option<u64>,
    /// V8 heap reserved, bytes.
    pub heap_total: Option<u64>,
    /// `process.memoryUsage().external`, bytes.
    pub external: Option<u64>,
    /// RSS of the process tree, bytes.
    pub rss: u64,
    /// Anonymous RSS of the process tree, bytes.
    pub anon: u64,
    /// PSS of the process tree, bytes, on the samples where it was read (it is slow).
    pub pss: Option<u64>,
    /// Threads in the process tree.
    pub threads: u64,
    /// Processes in the tree.
    pub processes: usize,
    /// True for the first sample after a heap snapshot: RSS then holds what V8 allocated
    /// to build the snapshot, a step that is leaktrail's, not the workload's.
    pub after_snapshot: bool,
}

/// How a point was measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    /// After a full GC leaktrail forced (a [`Sample`]).
    #[default]
    Forced,
    /// After a major GC V8 ran by itself, read without a GC of leaktrail's (a
    /// [`CheapPoint`]).
    MajorGc,
}

/// A point read without a forced GC: the heap as V8 left it after one of its own major
/// GCs (the GC watcher: see the `gc` module), between the forced samples. It costs the
/// workload no GC and no request, only the reading.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheapPoint {
    /// Seconds since the start, when the GC ended.
    pub t: f64,
    /// The workload's iteration count when the GC ended, when sampling by iteration
    /// (interpolated between the lines around that moment).
    pub iteration: Option<u64>,
    /// How it was measured ([`PointKind::MajorGc`]).
    pub kind: PointKind,
    /// V8 heap in use right after the GC, bytes.
    pub heap_used: u64,
    /// V8 heap reserved, bytes.
    pub heap_total: u64,
    /// External memory (`v8.getHeapStatistics().external_memory`), bytes.
    pub external: u64,
}

/// A heap snapshot taken during a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunSnapshot {
    /// The file; for a zero-disk snapshot, only its name (`#2`): there is no file.
    pub path: PathBuf,
    /// The census of a zero-disk snapshot ([`RunConfig::census_worker`]).
    #[serde(skip)]
    pub census: Option<Box<SnapshotCensus>>,
    /// The iteration the workload was at when it was taken, when sampling by iteration
    /// (labelled as samples are: see `run::label`).
    pub iteration: Option<u64>,
    /// The index of that sample.
    pub sample: usize,
    /// Its number among the snapshots the run took, from 1 (0: the one at the end).
    #[serde(skip)]
    pub number: u64,
    /// Seconds since the start.
    pub t: f64,
}

/// How the workload ended.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ExitInfo {
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// True when leaktrail stopped it (the iteration or time bound was reached).
    pub stopped_by_harness: bool,
}

/// Everything a run collected.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// The samples, in order.
    pub samples: Vec<Sample>,
    /// The points read after V8's own major GCs, in order (see [`CheapPoint`]).
    pub cheap_points: Vec<CheapPoint>,
    /// What reading them cost the workload (part of `sampling_seconds`), seconds.
    pub cheap_seconds: f64,
    /// How the workload ended.
    pub exit: ExitInfo,
    /// The last lines it wrote on stderr.
    pub stderr_tail: Vec<String>,
    /// The last lines it wrote on stdout.
    pub stdout_tail: Vec<String>,
    /// The stop signal (SIGINT, SIGTERM, SIGHUP) that ended the run early, if one did:
    /// the workload's tree was stopped and what was measured until then is kept.
    pub interrupted: Option<i32>,
    /// The inspector it was sampled through.
    pub inspector_url: Option<String>,
    /// Heap snapshots kept, in order (a doubling schedule removes older ones).
    pub snapshots: Vec<RunSnapshot>,
    /// Wall time of the run, seconds.
    pub wall_seconds: f64,
    /// Time spent in sampling calls (GC, heap usage, /proc), seconds.
    pub sampling_seconds: f64,
    /// Time spent taking snapshots, seconds.
    pub snapshot_seconds: f64,
    /// What went wrong during the run (the inspector dropped), if anything; the samples
    /// collected until then are kept.
    pub fault: Option<String>,
    /// The highest iteration the workload reported (sampled or not).
    pub last_iteration: Option<u64>,
    /// Sample points skipped to keep within the overhead budget.
    pub skipped_samples: u64,
    /// Samples taken past the overhead budget for the minimum density of points (see
    /// `label::MIN_DENSITY`).
    pub density_points: u64,
    /// Samples the minimum density would have taken past the budget, that a point read
    /// after V8's own major GC stood in for.
    pub density_stood_in: u64,
    /// Time spent reading PSS (part of `sampling_seconds`), seconds.
    pub pss_seconds: f64,
    /// The estimated after-effect of samples beyond their pauses (not part of
    /// `sampling_seconds`), seconds: see the `aftermath` module.
    pub aftermath_seconds: f64,
    /// The overhead budget the run kept to (share of wall time), if any.
    pub overhead_budget: Option<f64>,
    /// The heap snapshot taken at the end, when asked for.
    pub end_snapshot: Option<EndSnapshot>,
    /// CPU and allocation profiles written (`--cpu-profile`, `--alloc-profile`).
    pub profiles: RecordedProfiles,
}

/// A run that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The command could not be started.
    #[error("cannot start `{command}`: {error}")]
    Spawn {
        /// The command.
        command: String,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// Node's inspector did not appear.
    #[error("`{command}` printed no \"Debugger listening on ws://…\" line within {seconds} s (is it a Node program? --no-inspector samples RSS only)")]
    NoInspector {
        /// The command.
        command: String,
        /// How long we waited.
        seconds: u64,
    },
    /// The inspector failed.
    #[error("inspector of `{command}`: {error}")]
    Inspector {
        /// The command.
        command: String,
        /// The cause, said in the message (not also a `source()`).
        error: InspectorError,
    },
}

enum Event {
    /// An iteration line, and when it was read (the workload's pace, for the
    /// after-effect of samples).
    Iteration(u64, Instant),
    Url(String),
    Stderr(String),
    StdoutClosed,
}

/// Runs the workload, calling `on_sample` after each sample.
pub fn run(
    config: &RunConfig,
    mut on_sample: impl FnMut(&Sample),
) -> Result<RunResult, HarnessError> {
    let command_line = config.command.join(" ");
    let spawn_error = |error| HarnessError::Spawn {
        command: command_line.clone(),
        error,
    };
    // A Node workload is held at its start until the sampling session is attached: a
    // short run would otherwise be half over before its first sample.
    let mut hold = config
        .inspect
        .then(Hold::new)
        .transpose()
        .map_err(spawn_error)?;
    let start = Instant::now();
    let mut child = spawn_workload(
        &config.command,
        match hold.as_mut() {
            Some(hold) => NodeStart::InspectHeld(hold),
            None => NodeStart::Plain,
        },
        Stdio::piped(),
        Stdio::piped(),
    )
    .map_err(spawn_error)?;
    let signals = StopSignals::install();
    let (events, rx) = channel();
    let seen: Arc<Mutex<stall::StdoutSeen>> = Arc::default();
    if let Some(out) = child.stdout.take() {
        let events = events.clone();
        let pattern = config.iteration_pattern.clone();
        let seen = seen.clone();
        std::thread::spawn(move || {
            // Read to the end whatever comes, or the workload dies of EPIPE.
            let mut open = true;
            for_each_line(BufReader::new(out), |line| {
                let n = match pattern.as_ref().and_then(|p| p.captures(&line)) {
                    Some(c) => match c.get(1).map(|g| g.as_str().parse::<u64>()) {
                        Some(Ok(n)) => Some(n),
                        _ => {
                            if let Ok(mut seen) = seen.lock() {
                                seen.unparsed = Some(line.to_string());
                            }
                            None
                        }
                    },
                    None => None,
                };
                if let Ok(mut seen) = seen.lock() {
                    seen.line(&line);
                }
                if let Some(n) = n {
                    open = open && events.send(Event::Iteration(n, Instant::now())).is_ok();
                }
                true
            });
            let _ = events.send(Event::StdoutClosed);
        });
    }
    // Node waits at exit for an attached debugger, and a sample in flight then never gets
    // its answer: the stderr reader cuts the connection when Node says so.
    let exiting = Arc::new(AtomicBool::new(false));
    let cut: Arc<Mutex<Option<TcpStream>>> = Arc::new(Mutex::new(None));
    let at_exit: Arc<Mutex<end::AtExit>> = Arc::default();
    if let Some(err) = child.stderr.take() {
        let events = events.clone();
        let (exiting, cut, at_exit) = (exiting.clone(), cut.clone(), at_exit.clone());
        std::thread::spawn(move || {
            for_each_line(BufReader::new(err), |line| {
                let line = line.into_owned();
                if line.contains("Waiting for the debugger to disconnect") {
                    exiting.store(true, Ordering::SeqCst);
                    // Before the sampling session is cut: its closing clears V8's ids.
                    if let Ok(mut at_exit) = at_exit.lock() {
                        at_exit.take_now();
                    }
                    if let Some(stream) = cut.lock().ok().and_then(|mut c| c.take()) {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    }
                }
                let event = match listening_url(&line) {
                    Some(url) => Event::Url(url.to_owned()),
                    None => Event::Stderr(line),
                };
                // Read on after the session stops listening, or the workload dies of
                // EPIPE.
                let _ = events.send(event);
                true
            });
        });
    }
    drop(events);
    // The first stop signal stops the workload and keeps what was measured: the loop
    // sees it within its wait, and a call in flight (a snapshot can take a minute) is
    // cut.
    let interrupted = Arc::new(AtomicI32::new(0));
    let watching = Arc::new(AtomicBool::new(true));
    {
        let (pending, interrupted, watching, cut) = (
            signals.pending(),
            interrupted.clone(),
            watching.clone(),
            cut.clone(),
        );
        std::thread::spawn(move || {
            while watching.load(Ordering::SeqCst) {
                if let Some(sig) = pending.take() {
                    interrupted.store(sig, Ordering::SeqCst);
                    if let Some(stream) = cut.lock().ok().and_then(|mut c| c.take()) {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    }
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
    }
    let mut session = Session {
        config,
        command_line,
        start,
        tree: ProcessTree::new(child.id() as i32),
        inspector: None,
        url: None,
        result: RunResult {
            samples: Vec::new(),
            cheap_points: Vec::new(),
            cheap_seconds: 0.0,
            exit: ExitInfo::default(),
            stderr_tail: Vec::new(),
            stdout_tail: Vec::new(),
            interrupted: None,
            inspector_url: None,
            snapshots: Vec::new(),
            wall_seconds: 0.0,
            sampling_seconds: 0.0,
            snapshot_seconds: 0.0,
            fault: None,
            last_iteration: None,
            skipped_samples: 0,
            density_points: 0,
            density_stood_in: 0,
            pss_seconds: 0.0,
            aftermath_seconds: 0.0,
            overhead_budget: config.max_overhead,
            end_snapshot: None,
            profiles: RecordedProfiles::default(),
        },
        schedule: schedule::Schedule::default(),
        after_snapshot: false,
        taken: 0,
        labeller: label::Labeller::default(),
        snapshot_labels: std::collections::HashMap::new(),
        last_point: None,
        clock: None,
        own_gcs: std::collections::VecDeque::new(),
        cheap_last: None,
        stood_in: None,
        hold: hold.take(),
        backlog: std::collections::VecDeque::new(),
        cut,
        budget: budget::Budget::new(
            config.max_overhead,
            config.pss,
            if config.inspect {
                budget::PSS_SHARE_NODE
            } else {
                budget::PSS_SHARE
            },
        ),
        aftermath: aftermath::Aftermath::default(),
        at_exit,
        gc: gc::GcMethod::default(),
        settle: 0,
        profiling: Profiling::new(config.profiles.clone(), exiting.clone()),
        stall: stall::StallWatch::new(config.stall_timeout),
        seen: seen.clone(),
        interrupted: interrupted.clone(),
    };
    let outcome = match session.drive(&mut child, &rx, &mut on_sample) {
        // A stop signal cut the call in flight.
        Err(HarnessError::Inspector { .. }) if session.interrupt().is_some() => Ok(()),
        // The workload reached its end while a sample was in flight: a normal end. The
        // answer may come before the stderr reader has seen Node say so ("Cannot find
        // context with specified id" once Node has destroyed its context): give it a
        // moment.
        Err(HarnessError::Inspector { .. }) if exiting_soon(&exiting) => Ok(()),
        // The inspector dropped mid-run: keep what was collected and say so.
        Err(HarnessError::Inspector { command, error }) => {
            session.result.fault = Some(format!("the inspector of `{command}` failed: {error}"));
            Ok(())
        }
        other => other,
    };
    session.result.interrupted = session.interrupt();
    // The last points of the watcher, before the end's snapshots add GCs of their own.
    session.take_cheap();
    session.stop_profiles();
    if session.result.interrupted.is_some() {
        // Asked to stop: no snapshot at the end.
    } else if outcome.is_ok()
        && session.result.exit.stopped_by_harness
        && session.result.fault.is_none()
    {
        session.end_snapshot_before_stop(&rx);
    } else if exiting.load(Ordering::SeqCst) {
        session.end_snapshot_at_exit();
    }
    session.close_end_session();
    session.collect_censuses();
    if let Some(inspector) = session.inspector.take() {
        inspector.disconnect();
    }
    if exiting.load(Ordering::SeqCst) {
        // Released from waiting for the debugger, Node finishes exiting by itself.
        let _ = wait_exit(&mut child, Duration::from_secs(5));
    }
    stop(&mut child);
    session.result.exit = exit_info(&mut child, session.result.exit.stopped_by_harness);
    // Drain what is left: stderr for the report, lines for the labels.
    let backlog = std::mem::take(&mut session.backlog);
    let rest = std::iter::from_fn(|| rx.recv_timeout(Duration::from_millis(50)).ok());
    for e in backlog.into_iter().chain(rest) {
        match e {
            Event::Stderr(line) => session.remember(line),
            Event::Iteration(n, at) => session.line_read(n, at),
            _ => {}
        }
    }
    session.finish_labels();
    watching.store(false, Ordering::SeqCst);
    signals.disarm();
    if let Ok(seen) = seen.lock() {
        session.result.stdout_tail = seen.tail.iter().cloned().collect();
        let silent = session.result.samples.is_empty()
            && session.result.last_iteration.is_none()
            && session.result.fault.is_none()
            && session.result.interrupted.is_none();
        if let (true, Some(pattern)) = (silent, config.iteration_pattern.as_ref()) {
            session.result.fault = Some(format!(
                "the workload ended without printing a line that matches --iteration-pattern `{pattern}` ({} lines on stdout), so nothing was sampled",
                seen.lines
            ));
        }
    }
    session.result.wall_seconds = start.elapsed().as_secs_f64();
    session.result.inspector_url = session.url.clone();
    session.result.skipped_samples = session.budget.skipped;
    session.result.pss_seconds = session.budget.pss_spent();
    session.result.aftermath_seconds = session.aftermath.seconds();
    outcome.map(|_| session.result)
}

/// How long an inspector failure waits for Node's exit line before it counts as a fault.
const EXIT_LINE_WAIT: Duration = Duration::from_secs(1);

/// True when Node says it is exiting now or within [`EXIT_LINE_WAIT`].
fn exiting_soon(exiting: &AtomicBool) -> bool {
    let until = Instant::now() + EXIT_LINE_WAIT;
    while !exiting.load(Ordering::SeqCst) {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

struct Session<'a> {
    config: &'a RunConfig,
    command_line: String,
    start: Instant,
    tree: ProcessTree,
    inspector: Option<Inspector>,
    url: Option<String>,
    result: RunResult,
    schedule: schedule::Schedule,
    /// A snapshot was taken since the last sample.
    after_snapshot: bool,
    /// Snapshots taken so far (file names are numbered by it).
    taken: usize,
    /// Labels samples with the iteration they measured.
    labeller: label::Labeller,
    /// The iterations heap snapshots were taken at, by their number (from 1).
    snapshot_labels: std::collections::HashMap<u64, u64>,
    /// The progress (line number or seconds) of the last point sampled.
    last_point: Option<f64>,
    /// Where the workload's clock (`performance.now()`) starts on ours, once the GC
    /// watcher is installed (see `gc::watch_major_gcs`).
    clock: Option<Instant>,
    /// When leaktrail's own GCs (samples, snapshots) ran: the watcher's readings of those
    /// are not cheap points.
    own_gcs: std::collections::VecDeque<(Instant, Instant)>,
    /// The progress (line number or seconds) of the last cheap point labelled.
    cheap_last: Option<f64>,
    /// `cheap_last` when a cheap point last stood in for a forced sample (each counts
    /// once).
    stood_in: Option<f64>,
    /// The pipe a workload is held on until the session is attached.
    hold: Option<Hold>,
    /// Events read ahead while looking for the newest iteration line.
    backlog: std::collections::VecDeque<Event>,
    /// Where the stderr reader finds the connection to cut when Node exits.
    cut: Arc<Mutex<Option<TcpStream>>>,
    /// What samples cost, and whether the next fits.
    budget: budget::Budget,
    /// What samples cost the workload after their pauses.
    aftermath: aftermath::Aftermath,
    /// A second inspector session kept for the snapshot at the end (the sampling one is
    /// cut when Node exits, and Node waits only while a session is attached), shared with
    /// the stderr reader.
    at_exit: Arc<Mutex<end::AtExit>>,
    /// How the full GC before each sample is forced.
    gc: gc::GcMethod,
    /// Sample points still to skip after a heap snapshot.
    settle: u32,
    profiling: Profiling,
    /// Whether iterations still arrive.
    stall: stall::StallWatch,
    /// What stdout showed, for a stalled run's message.
    seen: Arc<Mutex<stall::StdoutSeen>>,
    /// The stop signal received, 0 when none.
    interrupted: Arc<AtomicI32>,
}

impl Session<'_> {
    /// The stop signal received, if any.
    fn interrupt(&self) -> Option<i32> {
        match self.interrupted.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Stops the profilers, if any run, and writes their files.
    fn stop_profiles(&mut self) {
        self.profiling
            .stop(self.inspector.as_mut(), &mut self.result.profiles);
    }

    fn remember(&mut self, line: String) {
        if leaktrail_inspector::is_inspector_chatter(&line) {
            return;
        }
        self.result.stderr_tail.push(line);
        if self.result.stderr_tail.len() > 20 {
            self.result.stderr_tail.remove(0);
        }
    }

    fn drive(
        &mut self,
        child: &mut Child,
        rx: &Receiver<Event>,
        on_sample: &mut impl FnMut(&Sample),
    ) -> Result<(), HarnessError> {
        let by_time = self.config.iteration_pattern.is_none();
        let mut next_tick = self.start;
        loop {
            if self.interrupt().is_some() {
                return Ok(());
            }
            self.take_cheap();
            let sampling = !(self.config.inspect && self.inspector.is_none());
            if !by_time && sampling && self.stall.stalled(Instant::now()) {
                let pattern = self
                    .config
                    .iteration_pattern
                    .as_ref()
                    .map_or(String::new(), |p| p.to_string());
                let described = match self.seen.lock() {
                    Ok(seen) => self.stall.describe(&pattern, &seen),
                    Err(_) => "no new iteration arrived".to_owned(),
                };
                self.result.fault = Some(described);
                self.result.exit.stopped_by_harness = true;
                return Ok(());
            }
            if let Some(d) = self.config.duration {
                if self.start.elapsed() >= d {
                    self.result.exit.stopped_by_harness = true;
                    return Ok(());
                }
            }
            if self.config.inspect
                && self.inspector.is_none()
                && self.start.elapsed() > self.config.inspector_timeout
            {
                return Err(HarnessError::NoInspector {
                    command: self.command_line.clone(),
                    seconds: self.config.inspector_timeout.as_secs(),
                });
            }
            // Short waits: a stop signal or a stall is noticed within one.
            let wait = if by_time {
                next_tick
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(200))
            } else {
                Duration::from_millis(200)
            };
            let event = match self.backlog.pop_front() {
                Some(e) => Ok(e),
                None => rx.recv_timeout(wait),
            };
            match event {
                Ok(Event::Url(url)) => {
                    if self.inspector.is_none() {
                        // The end session first: a short workload may finish while the
                        // sampling session is still being set up, and Node waits at exit
                        // only for a debugger already attached.
                        self.open_end_session(&url)?;
                        let inspector =
                            Inspector::connect(&url).map_err(|error| HarnessError::Inspector {
                                command: self.command_line.clone(),
                                error,
                            })?;
                        if let Ok(mut cut) = self.cut.lock() {
                            *cut = inspector.interrupt_handle();
                        }
                        let mut inspector = inspector;
                        // Attached: let a workload held at its start go (code is evaluated
                        // in it only once it runs).
                        if let Some(h) = self.hold.as_mut() {
                            h.release();
                        }
                        self.stall.restart(Instant::now());
                        self.gc = gc::GcMethod::detect(&mut inspector);
                        if self.config.major_gc_points {
                            self.clock = gc::watch_major_gcs(&mut inspector);
                        }
                        self.inspector = Some(inspector);
                        self.url = Some(url);
                        if let Some(inspector) = self.inspector.as_mut() {
                            self.profiling
                                .start(inspector, &self.cut, &mut self.result.profiles);
                        }
                    }
                }
                Ok(Event::Stderr(line)) => {
                    // Node waits at exit for an attached debugger: let it go.
                    let exiting = line.contains("Waiting for the debugger to disconnect");
                    self.remember(line);
                    if exiting {
                        self.stop_profiles();
                        if let Some(inspector) = self.inspector.take() {
                            inspector.disconnect();
                        }
                        self.end_snapshot_at_exit();
                        let _ = wait_exit(child, Duration::from_secs(5));
                        return Ok(());
                    }
                }
                Ok(Event::Iteration(n, at)) => {
                    self.line_read(n, at);
                    // A fast loop prints faster than points are sampled: the newest line
                    // read is the point, not one left waiting in the queue.
                    let mut n = n;
                    while self.backlog.is_empty() {
                        match rx.try_recv() {
                            Ok(Event::Iteration(m, at)) => {
                                self.line_read(m, at);
                                n = n.max(m);
                            }
                            Ok(other) => self.backlog.push_back(other),
                            Err(_) => break,
                        }
                    }
                    if self.config.inspect && self.inspector.is_none() {
                        continue;
                    }
                    // No new iteration, no new point (a line printed again and again).
                    if self.last_point.is_some_and(|p| n as f64 <= p) {
                        continue;
                    }
                    let last = self.config.iterations.is_some_and(|limit| n >= limit);
                    if !last && !self.snapshot_due(Some(n)) && self.skip_point(n as f64) {
                        continue;
                    }
                    self.sample(Some(n), last, on_sample)?;
                    if self.config.iterations.is_some_and(|limit| n >= limit) {
                        self.result.exit.stopped_by_harness = true;
                        return Ok(());
                    }
                }
                Ok(Event::StdoutClosed) => {
                    // Give the process a moment to exit so that its status is known.
                    let _ = wait_exit(child, Duration::from_secs(5));
                    return Ok(());
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Ok(Some(_)) = child.try_wait() {
                        return Ok(());
                    }
                    if by_time && Instant::now() >= next_tick {
                        let waiting = self.config.inspect && self.inspector.is_none();
                        let last = self
                            .config
                            .duration
                            .is_some_and(|d| self.start.elapsed() + self.config.interval >= d);
                        if !waiting
                            && (last || self.snapshot_due(None) || !self.skip_point(self.elapsed()))
                        {
                            self.sample(None, last, on_sample)?;
                        }
                        next_tick += self.config.interval;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }

    /// An iteration line, read at `at`.
    fn line_read(&mut self, n: u64, at: Instant) {
        self.aftermath.line(at);
        self.stall.iteration(n, at);
        for (target, label) in self.labeller.line(n, at) {
            self.label(target, label);
        }
        self.result.last_iteration = self.result.last_iteration.max(Some(n));
    }

    /// Gives a point its iteration.
    fn label(&mut self, target: label::Target, n: u64) {
        match target {
            label::Target::Sample(i) => {
                if let Some(s) = self.result.samples.get_mut(i) {
                    s.iteration = Some(n);
                }
            }
            label::Target::Cheap(i) => {
                if let Some(c) = self.result.cheap_points.get_mut(i) {
                    c.iteration = Some(n);
                    self.cheap_last = later(self.cheap_last, n as f64);
                }
            }
            label::Target::Snapshot(k) => {
                self.snapshot_labels.insert(k, n);
            }
        }
    }

    /// The progress of the last point of either kind.
    fn last_cheap_or_forced(&self) -> Option<f64> {
        match (self.last_point, self.cheap_last) {
            (Some(p), Some(c)) => Some(p.max(c)),
            (p, c) => p.or(c),
        }
    }

    /// Takes in the points the GC watcher sent since the last call (see [`CheapPoint`]):
    /// each is put on leaktrail's clock, dropped when it is one of leaktrail's own GCs (a
    /// sample's or a snapshot's: [`OWN_GC_MARGIN`] around them) or came before the first
    /// iteration line, labelled like a sample, and its reading's time counted as sampling
    /// time.
    fn take_cheap(&mut self) {
        let (Some(origin), Some(inspector)) = (self.clock, self.inspector.as_mut()) else {
            return;
        };
        // A connection that broke is found out by the next call.
        let _ = inspector.poll();
        let by_iteration = self.config.iteration_pattern.is_some();
        for payload in inspector.take_kept() {
            let Some(r) = gc::parse_cheap(&payload) else {
                continue;
            };
            let at = Duration::try_from_secs_f64((r.at_ms / 1000.0).clamp(0.0, 1e7))
                .ok()
                .and_then(|d| origin.checked_add(d));
            let Some(at) = at.filter(|at| *at >= self.start) else {
                continue;
            };
            let own = self
                .own_gcs
                .iter()
                .any(|(from, to)| at + OWN_GC_MARGIN >= *from && at <= *to + OWN_GC_MARGIN);
            // Before the first line remembered (the workload starting): no iteration to
            // label it with.
            if own || (by_iteration && !self.labeller.can_label(at)) {
                continue;
            }
            let cost = r.heap.paused.unwrap_or(0.0);
            self.result.cheap_seconds += cost;
            self.result.sampling_seconds += cost;
            let i = self.result.cheap_points.len();
            let t = at.duration_since(self.start).as_secs_f64();
            self.result.cheap_points.push(CheapPoint {
                t,
                iteration: None,
                kind: PointKind::MajorGc,
                heap_used: r.heap.heap.used_size,
                heap_total: r.heap.heap.total_size,
                external: r.heap.external,
            });
            if !by_iteration {
                self.cheap_last = later(self.cheap_last, t);
            } else if let Some(n) = self.labeller.measured(label::Target::Cheap(i), at, 0.0) {
                self.label(label::Target::Cheap(i), n);
            }
        }
    }

    /// Labels the samples no later line labelled, and the snapshots with their samples.
    fn finish_labels(&mut self) {
        for (target, label) in self.labeller.finish() {
            self.label(target, label);
        }
        for snap in &mut self.result.snapshots {
            if let Some(&n) = self.snapshot_labels.get(&snap.number) {
                snap.iteration = Some(n);
            } else if let Some(s) = self.result.samples.get(snap.sample) {
                snap.iteration = s.iteration;
            }
        }
    }

    /// Seconds since the start: the overhead budget is a share of the run's wall time.
    fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// True when this sample point is to be skipped: it would bring the time spent
    /// sampling above the overhead budget (the first sample is always taken), or a heap
    /// snapshot was just taken — V8 drops caches and compiled code when it takes one, and
    /// the heap reads hundreds of kilobytes low until the workload has run a little.
    fn skip_point(&mut self, amount: f64) -> bool {
        if self.settle > 0 {
            self.settle -= 1;
            return true;
        }
        let over = !self.result.samples.is_empty()
            && !self.budget.allows(
                self.result.sampling_seconds + self.aftermath.seconds(),
                self.elapsed(),
                self.aftermath.per_sample().unwrap_or(0.0),
            );
        // A point V8's own major GC gave counts as well as a forced one, but the forced
        // samples still span the run.
        if label::density_due(self.last_cheap_or_forced(), amount)
            || label::forced_due(self.last_point, amount)
        {
            self.result.density_points += u64::from(over);
            return false;
        }
        if over {
            self.budget.skip();
            if label::density_due(self.last_point, amount) && self.stood_in != self.cheap_last {
                self.stood_in = self.cheap_last;
                self.result.density_stood_in += 1;
            }
        }
        over
    }

    /// Takes a sample; `last` when it is the last of the run (PSS is read then).
    fn sample(
        &mut self,
        iteration: Option<u64>,
        last: bool,
        on_sample: &mut impl FnMut(&Sample),
    ) -> Result<(), HarnessError> {
        let mut s = Sample {
            t: self.start.elapsed().as_secs_f64(),
            iteration,
            after_snapshot: std::mem::take(&mut self.after_snapshot),
            ..Sample::default()
        };
        // What the sample costs the workload: the time it is paused for the GC and the
        // heap reads (measured inside it when it can be, else the calls' wall time), and
        // PSS reads (they hold its memory-map lock). The rest of the /proc reads run beside
        // it: they count only for leaktrail's own pace (`busy`).
        let mut cost = 0.0;
        let busy = Instant::now();
        if let Some(inspector) = self.inspector.as_mut() {
            let wrap = |error| HarnessError::Inspector {
                command: self.command_line.clone(),
                error,
            };
            let began = Instant::now();
            let seq = self.result.samples.len() as u64;
            let heap = self.gc.sample(inspector, seq).map_err(wrap)?;
            own_gc(&mut self.own_gcs, began);
            // Sent as soon as the workload read its clock: a tighter tie of the two.
            if let (Some(origin), Some(ms)) = (self.clock, heap.clock_ms) {
                self.clock = gc::earliest_origin(Some(origin), Instant::now(), ms);
            }
            let paused = heap
                .paused
                .filter(|p| p.is_finite() && *p >= 0.0)
                .unwrap_or(began.elapsed().as_secs_f64());
            cost += paused;
            if iteration.is_some() {
                // The heap was read when the pause began, not when the answer came.
                // `paused` is the workload's own clock: a mocked one can say anything.
                let pause =
                    Duration::try_from_secs_f64(paused.clamp(0.0, 3600.0)).unwrap_or_default();
                let measured = Instant::now()
                    .checked_sub(pause)
                    .unwrap_or(began)
                    .max(began);
                self.labeller.measured(
                    label::Target::Sample(self.result.samples.len()),
                    measured,
                    paused,
                );
            }
            s.heap_used = Some(heap.heap.used_size);
            s.heap_total = Some(heap.heap.total_size);
            s.external = Some(heap.external);
        }
        if let Some(tree) = self.tree.sample(false) {
            s.rss = tree.rss;
            s.anon = tree.anon;
            s.threads = tree.threads;
            s.processes = tree.processes.len();
            self.budget
                .record(self.elapsed(), cost, busy.elapsed().as_secs_f64());
            let edge = last || self.result.samples.is_empty();
            let elapsed = self.elapsed();
            if self
                .budget
                .allows_pss(edge, self.result.sampling_seconds + cost, elapsed)
            {
                let read = Instant::now();
                s.pss = leaktrail_sampler::tree_pss(&tree);
                let pss = read.elapsed().as_secs_f64();
                self.budget.record_pss(pss);
                cost += pss;
            }
        }
        if self.result.samples.is_empty() {
            self.budget.exempt(cost);
        }
        self.aftermath.sampled(Instant::now(), cost);
        self.result.sampling_seconds += cost;
        on_sample(&s);
        let progress = self.point(s.iteration, s.t);
        let (iteration, t) = (s.iteration, s.t);
        self.last_point = Some(progress.amount);
        self.result.samples.push(s);
        self.maybe_snapshot(progress, iteration, t)
    }

    /// True when a heap snapshot is due at a point at `iteration` (by time when `None`,
    /// now): that point is sampled whatever the budget, since the snapshot follows it.
    fn snapshot_due(&self, iteration: Option<u64>) -> bool {
        self.settle == 0
            && self.can_snapshot()
            && self.schedule.is_due(
                &self.config.snapshots,
                self.point(iteration, self.start.elapsed().as_secs_f64()),
            )
    }

    /// True when this run takes heap snapshots: over the inspector, into files or a
    /// census process.
    fn can_snapshot(&self) -> bool {
        self.inspector.is_some()
            && (self.config.census_worker.is_some() || self.config.snapshot_dir.is_some())
    }

    /// Where a sample point at `iteration` and `t` seconds lies in the run, for the
    /// snapshot schedule: the next sample's.
    fn point(&self, iteration: Option<u64>, t: f64) -> schedule::Progress {
        schedule::Progress {
            fraction: self.progress(iteration, t),
            amount: iteration.map_or(t, |n| n as f64),
            samples: self.result.samples.len() + 1,
        }
    }

    /// How far the run is, 0 to 1, when a bound is known.
    fn progress(&self, iteration: Option<u64>, t: f64) -> Option<f64> {
        if let (Some(limit), Some(n)) = (self.config.iterations, iteration) {
            return Some(n as f64 / limit.max(1) as f64);
        }
        self.config.duration.map(|d| t / d.as_secs_f64().max(1e-9))
    }

    /// Keeps a snapshot taken; a doubling schedule forgets (and removes) the oldest.
    fn keep_snapshot(&mut self, snapshot: RunSnapshot) {
        self.result.snapshots.push(snapshot);
        if self.result.snapshots.len() > schedule::Schedule::keep(&self.config.snapshots) {
            let old = self.result.snapshots.remove(0);
            if old.census.is_none() {
                let _ = std::fs::remove_file(old.path);
            }
        }
    }

    fn maybe_snapshot(
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
                    Ok(true) => Ok(0),
                    Ok(false) => inspector.take_heap_snapshot(&path),
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
            // Labelled from the moment it was asked for, its own pause taken out.
            let target = label::Target::Snapshot(number);
            let paused = began.elapsed().as_secs_f64();
            if let Some(n) = self.labeller.measured(target, began, paused) {
                self.label(target, n);
            }
        }
        own_gc(&mut self.own_gcs, began);
        self.result.snapshot_seconds += began.elapsed().as_secs_f64();
        // The workload was paused for the snapshot: that is no stall of its own.
        self.stall.restart(Instant::now());
        self.settle = SETTLE_POINTS;
        self.after_snapshot = true;
        self.aftermath.disturbed();
        Ok(())
    }
}

/// How far from leaktrail's own GCs a major GC counts as one of them (the two clocks are
/// tied to within a round trip of the inspector).
const OWN_GC_MARGIN: Duration = Duration::from_millis(3);

/// Leaktrail's own GCs remembered (see `Session::own_gcs`).
const OWN_GCS_KEPT: usize = 64;

/// The later of `a` and `b`.
fn later(a: Option<f64>, b: f64) -> Option<f64> {
    Some(a.map_or(b, |a| a.max(b)))
}

/// Remembers in `own` that leaktrail's own GC (or snapshot) ran from `from` to now.
fn own_gc(own: &mut std::collections::VecDeque<(Instant, Instant)>, from: Instant) {
    if own.len() == OWN_GCS_KEPT {
        own.pop_front();
    }
    own.push_back((from, Instant::now()));
}

/// Sample points skipped after a heap snapshot (see `Session::skip_point`).
const SETTLE_POINTS: u32 = 2;

/// Stops the workload's process group: SIGTERM, then SIGKILL after two seconds.
fn stop(child: &mut Child) {
    stop_group(child, Duration::from_secs(2));
}

fn exit_info(child: &mut Child, stopped_by_harness: bool) -> ExitInfo {
    use std::os::unix::process::ExitStatusExt;
    match child.wait() {
        Ok(status) => ExitInfo {
            code: status.code(),
            signal: status.signal(),
            stopped_by_harness,
        },
        Err(_) => ExitInfo {
            code: None,
            signal: None,
            stopped_by_harness,
        },
    }
}
