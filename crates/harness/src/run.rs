//! Starting the workload and sampling it.
//!
//! [`run`] drives a `Session`: one loop over the workload's lines and the sampling clock.
//! Its parts: `model` (what a run is given and gives back), `schedule` and `snapshots`
//! (when a heap snapshot is due, and taking it, `streamed` for zero-disk ones), `label`
//! and `labelling` (which iteration a point measured, V8's own GCs as cheap points),
//! `budget` and `aftermath` (what sampling costs), `gc` (forcing a full GC), `end` (the
//! snapshot at exit), `stall` and `fault` (a workload that stops progressing or fails).

mod aftermath;
mod budget;
mod end;
mod fault;
mod gc;
mod label;
mod labelling;
mod model;
mod schedule;
mod snapshots;
mod stall;
mod streamed;

pub use budget::PssMode;
pub use end::EndSnapshot;
pub use schedule::{SnapshotPlan, DOUBLING_AFTER_SAMPLES, DOUBLING_KEEP};

use crate::lines::for_each_line;
use leaktrail_process::StopSignals;
use leaktrail_process::{spawn_workload, stop_group, wait_exit, Hold, NodeStart};
use std::io::BufReader;
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leaktrail_inspector::{listening_url, HeldBackSource, Inspector};
use leaktrail_sampler::{HeldBackClock, ProcessTree};

use crate::profile::{Profiling, RecordedProfiles};
use crate::tree_inspector::{inspected_pid, is_launcher_inspector};

pub use model::{
    CheapPoint, ExitInfo, HarnessError, PointKind, RunConfig, RunResult, RunSnapshot, Sample,
    UninspectedNode, WorkerHeaps,
};

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
    // Read by a thread of its own: the run's loop can be blocked for seconds in a call
    // that a stopped workload does not answer.
    let held_back = HeldBackClock::start(child.id() as i32, HELD_READ_EVERY);
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
            snapshots_skipped: Vec::new(),
            profiles: RecordedProfiles::default(),
            uninspected_node: None,
            worker_heaps: Vec::new(),
        },
        schedule: schedule::Schedule::default(),
        after_snapshot: false,
        workers_done: false,
        snapshot_residue: crate::SnapshotResidue::default(),
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
        passed_launcher: false,
        settle: 0,
        profiling: Profiling::new(config.profiles.clone(), exiting.clone()),
        stall: stall::StallWatch::new(config.stall_timeout),
        held_back: held_back.clone(),
        held_excused: Duration::ZERO,
        exiting: exiting.clone(),
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
        // Released from waiting for the debugger, Node finishes exiting by itself: on a
        // busy machine, with a big heap to give back, that takes a while, and is no fault
        // of the workload's. Stopped after that, the fault is leaktrail's, and says so.
        if let Some(waited) = session.wait_for_exit(&mut child, EXIT_WAIT) {
            session.result.fault = Some(format!(
                "Node said it was exiting (its code had finished), but had not exited {waited} after leaktrail detached; leaktrail stopped it"
            ));
            session.result.exit.stopped_by_harness = true;
        }
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
    held_back.stop();
    signals.disarm();
    if let Ok(seen) = seen.lock() {
        session.result.stdout_tail = seen.tail.iter().cloned().collect();
        // A workload that failed before its first line (a typo in its path, a missing
        // module) is told by its exit status, not by the lines it never printed.
        let exit = &session.result.exit;
        let failed = !exit.stopped_by_harness && exit.code != Some(0);
        let silent = session.result.samples.is_empty()
            && session.result.last_iteration.is_none()
            && session.result.fault.is_none()
            && session.result.interrupted.is_none()
            && !failed;
        // Lines came, the inspector was attached, and hardly a sample (one may land
        // before the loop starts): V8 answered no GC request while the workload's code
        // ran. A synchronous loop never lets Node dispatch HeapProfiler.collectGarbage;
        // `gc()` of --expose-gc is reached at once, after waiting for the loop to turn.
        // Two seconds of lines are dozens of samples for a loop that yields.
        // Only time the workload could run counts: not leaktrail's own snapshots (one
        // took 4.6 s of a 5.2 s run beside two CPU hogs, and a loop that yields was
        // blamed for never turning).
        let could_run = start.elapsed().as_secs_f64() - session.result.snapshot_seconds;
        let starved = session.result.samples.len() < 2
            && could_run >= gc::BOUNDARY_WAIT.as_secs_f64()
            && session.result.last_iteration.is_some()
            && session.url.is_some()
            && session.result.fault.is_none()
            && session.result.interrupted.is_none();
        if starved {
            let what = match session.gc {
                gc::GcMethod::Inspector => "Start Node with --expose-gc (leaktrail can then sample in the middle of such a loop), or let each iteration yield to the event loop (`await`, `setImmediate`)",
                _ => "Run it longer (a loop that never yields is sampled in its middle only after it kept the event loop from turning twice, two seconds each), or let each iteration yield to the event loop (`await`, `setImmediate`)",
            };
            session.result.fault = Some(format!(
                "{} taken in {}: V8 answered no garbage-collection request while the workload's code ran ({} iterations), so its event loop never turned (a synchronous loop). {what}",
                match session.result.samples.len() {
                    0 => "no sample was",
                    _ => "only one sample was",
                },
                leaktrail_analysis::units::human_duration(start.elapsed().as_secs_f64()),
                leaktrail_analysis::units::group_digits(session.result.last_iteration.unwrap_or(0))
            ));
        }
        if let (true, Some(pattern)) = (silent, config.iteration_pattern.as_ref()) {
            session.result.fault = Some(format!(
                "the workload ended without printing a line that matches --iteration-pattern `{pattern}` ({} lines on stdout), so nothing was sampled: have it print `iteration=N` after each request or unit of work, give --iteration-pattern a regular expression for the progress lines it prints (the number in its first group), or sample by time with --interval 1s",
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

/// How long Node may take to exit once it said it is exiting and leaktrail has detached,
/// in time it could run.
const EXIT_WAIT: Duration = Duration::from_secs(10);

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
    /// The worker threads' heaps are not read again: one did not answer (busy in a long
    /// synchronous task), there were more than a pool's worth, or their number changed.
    workers_done: bool,
    /// What the snapshots left in the tree's resident memory: the next is built in it
    /// first ([`crate::SnapshotShortfall`]).
    snapshot_residue: crate::SnapshotResidue,
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
    /// A launcher's inspector was passed over (`npm run …`): until the Node process it
    /// starts announces its own, the workload may be no Node at all (a script in Python),
    /// and is sampled by RSS.
    passed_launcher: bool,
    /// Sample points still to skip after a heap snapshot.
    settle: u32,
    profiling: Profiling,
    /// Whether iterations still arrive.
    stall: stall::StallWatch,
    /// How long the workload's Node process waited for a CPU or was stopped: time the
    /// stall clock leaves out.
    held_back: HeldBackClock,
    /// What `held_back` said when the stall clock last left it out.
    held_excused: Duration,
    /// Node said it is exiting: its code has finished, and no more iterations come.
    exiting: Arc<AtomicBool>,
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
            // Once Node says it is exiting no iteration is due: the snapshot at exit is
            // being taken (by the stderr reader), and the inspector's wait bounds it.
            let exiting = self.exiting.load(Ordering::SeqCst);
            if !by_time && sampling && !exiting && self.stalled() {
                let pattern = self
                    .config
                    .iteration_pattern
                    .as_ref()
                    .map_or(String::new(), |p| p.to_string());
                let described = match self.seen.lock() {
                    Ok(seen) => self.stall.describe(&pattern, &seen, Instant::now()),
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
                    // `npm run test`: npm is Node too, and opens its inspector first; the
                    // workload is the Node process it starts. npm is let go unwatched.
                    if self.inspector.is_none() && is_launcher_inspector(&self.tree, &url) {
                        if let Some(h) = self.hold.as_mut() {
                            h.release();
                        }
                        self.passed_launcher = true;
                        continue;
                    }
                    // Samples already taken by RSS alone are not mixed with heap ones.
                    if self.inspector.is_none() && self.result.samples.is_empty() {
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
                        inspector.set_held_back(Some(self.held_back_source()));
                        // Attached: let a workload held at its start go (code is evaluated
                        // in it only once it runs).
                        if let Some(h) = self.hold.as_mut() {
                            h.release();
                        }
                        self.held_back.follow(inspected_pid(&self.tree, &url));
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
                    // read is the point, not one left waiting in the queue. A loop that
                    // prints faster than the lines are read (tens of thousands a second)
                    // would keep the queue from ever emptying: the drain stops after
                    // DRAIN_LIMIT and the point is taken.
                    let mut n = n;
                    let until = Instant::now() + DRAIN_LIMIT;
                    while self.backlog.is_empty() && Instant::now() < until {
                        match rx.try_recv() {
                            Ok(Event::Iteration(m, at)) => {
                                self.line_read(m, at);
                                n = n.max(m);
                            }
                            Ok(other) => self.backlog.push_back(other),
                            Err(_) => break,
                        }
                    }
                    if self.waiting_for_inspector() {
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
                        let waiting = self.waiting_for_inspector();
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

    /// Waits for the workload to exit, up to `limit` of time it could run. `None` when it
    /// exited; else how long was waited, said for a fault.
    fn wait_for_exit(&self, child: &mut Child, limit: Duration) -> Option<String> {
        let (began, held_before) = (Instant::now(), self.held_back.held());
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return None;
            }
            let waited = began.elapsed();
            let held = self
                .held_back
                .held()
                .saturating_sub(held_before)
                .min(waited);
            if leaktrail_inspector::past_limit(waited, held, limit) {
                let human =
                    |d: Duration| leaktrail_analysis::units::human_duration(d.as_secs_f64());
                return Some(match held.is_zero() {
                    true => human(waited),
                    false => format!(
                        "{} of time it could run ({} in all, {} of it waiting for a CPU or stopped)",
                        human(waited - held),
                        human(waited),
                        human(held)
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while samples wait for the inspector: a Node workload's first samples are
    /// its heap's. Not after a launcher was passed over: its script may be no Node.
    fn waiting_for_inspector(&self) -> bool {
        self.config.inspect && self.inspector.is_none() && !self.passed_launcher
    }

    /// How long the workload has been held back, for an inspector's silences.
    fn held_back_source(&self) -> HeldBackSource {
        let clock = self.held_back.clone();
        Arc::new(move || clock.held())
    }

    /// True when no new iteration came within the stall limit, counting only the time
    /// the workload could run.
    fn stalled(&mut self) -> bool {
        let now = Instant::now();
        let held = self.held_back.held();
        self.stall
            .excuse(held.saturating_sub(self.held_excused), now);
        self.held_excused = held;
        self.stall.stalled(now)
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
            s.memory.heap_used = Some(heap.heap.used_size);
            s.memory.heap_total = Some(heap.heap.total_size);
            s.memory.external = Some(heap.external);
        }
        if let Some(tree) = self.tree.sample(false) {
            self.snapshot_residue.read(tree.total.rss);
            s.memory.rss = tree.total.rss;
            s.memory.anon = tree.total.anon;
            s.memory.threads = tree.total.threads;
            s.processes = tree.processes.len();
            if self.config.note_uninspected_node
                && !self.config.inspect
                && self.result.uninspected_node.is_none()
            {
                self.result.uninspected_node = uninspected_node(&tree);
            }
            self.budget
                .record(self.elapsed(), cost, busy.elapsed().as_secs_f64());
            let edge = last || self.result.samples.is_empty();
            let elapsed = self.elapsed();
            if self
                .budget
                .allows_pss(edge, self.result.sampling_seconds + cost, elapsed)
            {
                let read = Instant::now();
                s.memory.pss = leaktrail_sampler::tree_pss(&tree);
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
        // The snapshot at the workload's exit is taken where no sample is: it goes by this
        // one.
        if self.config.end_snapshot.is_some() {
            let no_room = self.snapshot_shortfall().map(|s| s.to_string());
            if let Ok(mut at_exit) = self.at_exit.lock() {
                at_exit.no_room = no_room;
            }
        }
        self.maybe_snapshot(progress, iteration, t)
    }
}

/// The first Node process of `tree`, for a run that started none as Node (its RSS is all
/// the run sees of it).
fn uninspected_node(tree: &leaktrail_sampler::TreeSample) -> Option<UninspectedNode> {
    tree.processes.iter().find_map(|p| {
        let info = leaktrail_sampler::process_info(p.pid)?;
        let exe = info.exe?;
        let workload = leaktrail_sampler::is_node_program(&exe.to_string_lossy())
            && !leaktrail_sampler::runs_launcher(&info.cmdline);
        workload.then(|| UninspectedNode {
            pid: p.pid,
            command: info.cmdline.join(" "),
        })
    })
}

/// The longest the iteration lines queued behind a point are read before it is taken.
const DRAIN_LIMIT: Duration = Duration::from_millis(20);

/// How often the workload's held-back time is read.
const HELD_READ_EVERY: Duration = Duration::from_millis(100);

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
