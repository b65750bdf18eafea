//! Running the command and following its process tree.
//!
//! Its parts: `model` (what a trace is given and gives back) and `snapshots` (asking
//! workers for heap snapshots and filing what comes back).

mod model;
mod snapshots;

pub use model::{CommandExit, TraceConfig, TraceError, TraceRun};

use std::io::BufReader;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use leaktrail_process::StopSignals;
use leaktrail_sampler::{
    clock_ticks_per_second, descendants, has_env_var, list_processes, process_info, sample_process,
    ProcessInfo,
};

use crate::hooks::{FileHooks, ReportedProcess};
use crate::lane::node_script;
use crate::model::{CpuState, ProcessRecord, RssPoint};
use crate::roles::{role_from_command, RoleFeed, Roles};
use crate::snapshots::{SignalSnapshots, SnapshotFile};
use crate::streamed::{StreamedCensus, StreamedSnapshots};
use crate::tap::TapFiles;

/// The environment variable giving how often a worker thread samples its own heap, ms.
pub const HEAP_SAMPLE_ENV: &str = "LEAKTRAIL_HEAP_SAMPLE_MS";

enum Event {
    Line(Instant, String),
    Closed,
}

/// Runs the command and follows its tree until it exits. Each stdout line of the command
/// is handed to `on_stdout` (and read for TAP); stderr is left to the terminal.
///
/// While it runs, SIGINT, SIGTERM and SIGHUP sent to leaktrail are passed on to the
/// command's process group (which is not the terminal's: the command runs in a group of its
/// own so that its whole tree can be stopped); a second one ends leaktrail at once.
pub fn trace(
    config: &TraceConfig,
    mut on_stdout: impl FnMut(&str),
) -> Result<TraceRun, TraceError> {
    let command_line = config.command.join(" ");
    let spawn_error = |error| TraceError::Spawn {
        command: command_line.clone(),
        error,
    };
    let (program, args) = config.command.split_first().ok_or_else(|| {
        spawn_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no command given",
        ))
    })?;
    let zero_disk = config.stream_census.is_some();
    let snapshots = match config.snapshot_every {
        // Zero-disk: no signal snapshots (Node writes them to files) and no directory.
        Some(_) if zero_disk => None,
        Some(_) => Some(SignalSnapshots::new(&config.out_dir).map_err(|error| {
            TraceError::SnapshotDir {
                path: config.out_dir.clone(),
                error,
            }
        })?),
        None => None,
    };
    let mut warnings = Vec::new();
    let hooks = if config.file_hooks {
        match FileHooks::new() {
            Ok(h) => Some(h),
            Err(e) => {
                warnings.push(format!(
                    "cannot write the preload that ties test files to their workers: {e}"
                ));
                None
            }
        }
    } else {
        None
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut node_options = std::env::var("NODE_OPTIONS").ok();
    if let Some(s) = &snapshots {
        node_options = Some(s.node_options(node_options.as_deref()));
    }
    if let Some(h) = &hooks {
        node_options = Some(h.node_options(node_options.as_deref()));
        cmd.env(crate::hooks::EVENTS_ENV, h.events_path()).env(
            HEAP_SAMPLE_ENV,
            config.interval.as_millis().max(1).to_string(),
        );
        if config.allocation_sampling {
            cmd.env(
                crate::allocations::SAMPLING_ENV,
                crate::allocations::SAMPLING_BYTES.to_string(),
            )
            .env(
                crate::allocations::GROWTH_ENV,
                config.snapshot_growth.to_string(),
            );
        }
        if let (Some(s), Some(every), true) =
            (&snapshots, config.snapshot_every, config.snapshot_at_files)
        {
            cmd.env(crate::boundaries::DIR_ENV, s.dir());
            boundary_env(&mut cmd, config, every);
        }
    }
    if let Some(o) = &node_options {
        if snapshots.is_some() || hooks.is_some() {
            cmd.env("NODE_OPTIONS", o);
        }
    }
    let started = SystemTime::now();
    let start = Instant::now();
    let mut streamed = None;
    if let (Some(worker), Some(every), Some(_)) =
        (&config.stream_census, config.snapshot_every, &hooks)
    {
        match StreamedSnapshots::new(start, worker.clone()) {
            Ok(s) => {
                cmd.env(crate::streamed::FIFO_ENV, s.dir());
                cmd.env(
                    crate::streamed::PIPE_WAIT_ENV,
                    crate::streamed::PIPE_WAIT.as_millis().to_string(),
                );
                boundary_env(&mut cmd, config, every);
                streamed = Some(s);
            }
            Err(e) => warnings.push(format!(
                "cannot make the private pipes snapshots stream through (--no-raw-snapshots): {e}; no snapshots"
            )),
        }
    }
    let signals = StopSignals::install();
    let mut child = match leaktrail_process::spawn_in_group(&mut cmd) {
        Ok(child) => child,
        Err(e) => {
            signals.disarm();
            return Err(spawn_error(e));
        }
    };
    let (tx, rx) = channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            leaktrail_harness::for_each_line(BufReader::new(out), |line| {
                tx.send(Event::Line(Instant::now(), line.into_owned()))
                    .is_ok()
            });
            let _ = tx.send(Event::Closed);
        });
    }
    let mut tracer = Tracer {
        config,
        roles: Roles::following(
            hooks
                .as_ref()
                .map(|h| RoleFeed::new(h.events_path().to_path_buf())),
        ),
        start,
        root: child.id() as i32,
        root_ticks: None,
        hz: clock_ticks_per_second().max(1) as f64,
        processes: Vec::new(),
        tree_rss: Vec::new(),
        tap: TapFiles::default(),
        snapshots,
        streamed,
        thread_snapshots: Vec::new(),
        thread_censuses: Vec::new(),
        warnings,
        sampling_seconds: 0.0,
        signals_forwarded: Vec::new(),
    };
    let status = tracer.follow(&mut child, &rx, &signals, &mut on_stdout);
    // The command has exited. Read what it still printed, settle snapshots being written,
    // then stop what is left of its group and look one last time.
    tracer.drain(&rx, &mut on_stdout);
    let t = tracer.now();
    tracer.collect(t, false);
    let outlived: Vec<i32> = tracer
        .processes
        .iter()
        .filter(|p| p.end.is_none() && p.pid != tracer.root)
        .map(|p| p.pid)
        .collect();
    leaktrail_process::stop_group(&mut child, config.stop_grace);
    let t = tracer.now();
    tracer.scan(t);
    tracer.collect(t, true);
    let mut still_running = Vec::new();
    for p in tracer.processes.iter_mut() {
        if outlived.contains(&p.pid) {
            p.outlived_command = true;
        }
        if p.end.is_none() {
            still_running.push(p.pid.to_string());
        }
        if p.pending.take().is_some() {
            p.notes
                .push("it ended before writing the last snapshot asked for".to_owned());
        }
    }
    if !still_running.is_empty() {
        tracer.warnings.push(format!(
            "PIDs {} left the command's process group and were still running when trace stopped; they were left alone",
            still_running.join(", ")
        ));
    }
    if let Some(s) = tracer.streamed.take() {
        let (rest, closed) = s.close();
        tracer.file_streamed(rest);
        if let Err(e) = closed {
            tracer
                .warnings
                .push(format!("cannot remove the private pipe directory: {e}"));
        }
    }
    if let Some(s) = tracer.snapshots.take() {
        if let Err(e) = s.close() {
            tracer
                .warnings
                .push(format!("cannot remove the private snapshot directory: {e}"));
        }
    }
    signals.disarm();
    let exit = exit_of(status);
    let started_unix_ms = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut worker_files = Vec::new();
    let mut thread_heap = Vec::new();
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    let mut allocations = Vec::new();
    if let Some(h) = hooks {
        let events = h.read(started_unix_ms);
        worker_files = events.files;
        thread_heap = events.thread_heap;
        for p in &events.processes {
            tracer.add_unsampled(p);
        }
        written = events.snapshots;
        skipped = events.skipped.clone();
        allocations = events.allocations;
        for (pid, thread, why) in &events.allocations_off {
            let who = match thread {
                0 => format!("PID {pid}"),
                t => format!("thread {t} of PID {pid}"),
            };
            tracer.warnings.push(format!(
                "{who}: V8's sampling heap profiler could not start ({why}): no allocation sites for it"
            ));
        }
        for s in &events.skipped {
            if let Some(p) = tracer.processes.iter_mut().rev().find(|p| p.pid == s.pid) {
                p.notes.push(crate::boundaries::skipped_note(s));
            }
        }
        tracer.roles.poll();
        if events.unreadable > 0 {
            tracer.warnings.push(format!(
                "{} line(s) of the workers' file events could not be read; the first: {}",
                events.unreadable,
                events.first_unreadable.as_deref().unwrap_or("-")
            ));
        }
        if let Err(e) = h.close() {
            tracer.warnings.push(format!(
                "cannot remove the preload's private directory: {e}"
            ));
        }
    }
    settle_roles(&tracer.roles, &mut tracer.processes);
    for p in tracer.processes.iter_mut() {
        crate::boundaries::account(p.pid, &mut p.snapshots, &written);
        crate::boundaries::account_streamed(p.pid, &mut p.censuses, &written);
    }
    let mut thread_censuses = std::mem::take(&mut tracer.thread_censuses);
    for (pid, _, c) in thread_censuses.iter_mut() {
        crate::boundaries::account_streamed(*pid, std::slice::from_mut(c), &written);
    }
    let mut thread_snapshots = std::mem::take(&mut tracer.thread_snapshots);
    for (pid, _, file) in thread_snapshots.iter_mut() {
        crate::boundaries::account(*pid, std::slice::from_mut(file), &written);
    }
    let threads = crate::threads::threads(
        &worker_files,
        &thread_heap,
        thread_snapshots,
        thread_censuses,
        &tracer.processes,
    );
    let wall_seconds = start.elapsed().as_secs_f64();
    let snapshot_cost = config.snapshot_every.map(|_| {
        let files = config.snapshot_at_files && tracer.roles.follows_preload();
        let files = files || zero_disk;
        crate::boundaries::cost(&tracer.processes, &threads, files, &skipped, wall_seconds)
    });
    Ok(TraceRun {
        command: config.command.clone(),
        exit,
        started_unix_ms,
        wall_seconds,
        interval_seconds: config.interval.as_secs_f64(),
        snapshot_every_seconds: config.snapshot_every.map(|d| d.as_secs_f64()),
        snapshot_coordinators: config.snapshot_coordinators,
        snapshots_streamed: zero_disk && config.snapshot_every.is_some(),
        file_hooks: tracer.roles.follows_preload(),
        lane_rule: config.lane_rule.to_string(),
        processes: tracer.processes,
        tree_rss: tracer.tree_rss,
        tap_files: tracer.tap.finish(),
        worker_files,
        threads,
        signals_forwarded: tracer.signals_forwarded,
        sampling_seconds: tracer.sampling_seconds,
        snapshot_cost,
        allocations,
        warnings: tracer.warnings,
    })
}

fn exit_of(status: Option<ExitStatus>) -> CommandExit {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) => CommandExit {
            code: s.code(),
            signal: s.signal(),
            status: s.code().or(s.signal().map(|n| 128 + n)).unwrap_or(1),
        },
        None => CommandExit {
            code: None,
            signal: None,
            status: 1,
        },
    }
}

/// Why the main thread of a process whose test files run in worker threads is not
/// snapshotted.
const THREADS_SKIP: &str = "its test files run in worker threads, which snapshot their own heaps between files (lanes of their own); its main thread only schedules them";

/// How soon the command's exit is noticed between two samples.
const EXIT_POLL: Duration = Duration::from_millis(100);

struct Tracer<'a> {
    config: &'a TraceConfig,
    roles: Roles,
    start: Instant,
    root: i32,
    root_ticks: Option<u64>,
    hz: f64,
    processes: Vec<ProcessRecord>,
    tree_rss: Vec<RssPoint>,
    tap: TapFiles,
    snapshots: Option<SignalSnapshots>,
    /// Zero-disk: the pipes workers stream snapshots through.
    streamed: Option<StreamedSnapshots>,
    /// Worker threads' own snapshots: PID, thread, file.
    thread_snapshots: Vec<(i32, u32, SnapshotFile)>,
    /// Zero-disk: worker threads' own censuses: PID, thread, census.
    thread_censuses: Vec<(i32, u32, StreamedCensus)>,
    warnings: Vec<String>,
    sampling_seconds: f64,
    signals_forwarded: Vec<i32>,
}

/// True when the process runs Node: its executable, or the program its command line
/// starts (a `node` reached through a link), is Node's ([`leaktrail_sampler::is_node_program`]).
fn is_node(info: &ProcessInfo) -> bool {
    info.exe
        .as_deref()
        .is_some_and(|p| leaktrail_sampler::is_node_program(&p.to_string_lossy()))
        || info
            .cmdline
            .first()
            .is_some_and(|c| leaktrail_sampler::is_node_program(c))
}

impl Tracer<'_> {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Samples, collects and snapshots every interval until the command exits; returns
    /// its status.
    fn follow(
        &mut self,
        child: &mut Child,
        rx: &Receiver<Event>,
        signals: &StopSignals,
        on_stdout: &mut impl FnMut(&str),
    ) -> Option<ExitStatus> {
        let mut next_tick = self.start;
        let mut stdout_open = true;
        loop {
            // Waits are cut into short slices so that the command's exit is seen within one
            // (a long interval must not keep trace running after the command ended).
            let wait = next_tick
                .saturating_duration_since(Instant::now())
                .min(EXIT_POLL);
            if stdout_open {
                match rx.recv_timeout(wait) {
                    Ok(Event::Line(at, line)) => {
                        let t = at.duration_since(self.start).as_secs_f64();
                        self.tap.feed(t, &line);
                        on_stdout(&line);
                    }
                    Ok(Event::Closed) | Err(RecvTimeoutError::Disconnected) => stdout_open = false,
                    Err(RecvTimeoutError::Timeout) => {}
                }
            } else {
                std::thread::sleep(wait);
            }
            if Instant::now() < next_tick && leaktrail_sampler::is_running(self.root) {
                continue;
            }
            if let Some(sig) = signals.take() {
                self.signals_forwarded.push(sig);
                let _ = leaktrail_process::signal_group(child, sig);
            }
            let t = self.now();
            // Sample before reaping: a root that has just exited is still listed.
            self.scan(t);
            let exited = child.try_wait().ok().flatten();
            self.collect(t, false);
            if let Some(status) = exited {
                return Some(status);
            }
            self.roles.poll();
            self.request_snapshots(t);
            next_tick += self.config.interval;
            let now = Instant::now();
            if next_tick < now {
                // Sampling fell behind (a slow /proc or a busy machine): skip, don't burst.
                next_tick = now + self.config.interval;
            }
        }
    }

    /// Reads the lines the command printed before its pipe closed, for a short while.
    fn drain(&mut self, rx: &Receiver<Event>, on_stdout: &mut impl FnMut(&str)) {
        // Descendants may keep the pipe open; don't wait for them.
        while let Ok(Event::Line(at, line)) = rx.recv_timeout(Duration::from_millis(200)) {
            let t = at.duration_since(self.start).as_secs_f64();
            self.tap.feed(t, &line);
            on_stdout(&line);
        }
    }

    /// One sample of the tree: new processes recorded, ended ones closed.
    fn scan(&mut self, t: f64) {
        let began = Instant::now();
        let all = list_processes();
        if self.root_ticks.is_none() {
            self.root_ticks = all
                .iter()
                .find(|p| p.pid == self.root)
                .map(|p| p.start_ticks);
        }
        // The root, and every process already known that still runs (same PID, same start
        // time): a process whose parent exited is re-parented away from the tree, and is
        // still followed.
        let mut roots = vec![self.root];
        roots.extend(
            self.processes
                .iter()
                .filter(|r| r.end.is_none())
                .filter(|r| {
                    all.iter()
                        .any(|p| p.pid == r.pid && p.start_ticks == r.start_ticks)
                })
                .map(|r| r.pid),
        );
        let tree = descendants(&all, &roots);
        let mut seen = vec![false; self.processes.len()];
        let mut total = 0u64;
        for entry in tree {
            let Some(mem) = sample_process(entry.pid, entry.ppid, false) else {
                continue;
            };
            // Zombies and kernel threads have no RSS: not running.
            if mem.memory.rss == 0 {
                continue;
            }
            let info = process_info(entry.pid).unwrap_or_default();
            total += mem.memory.rss;
            let point = RssPoint {
                t,
                rss: mem.memory.rss,
                cpu: Some(CpuState {
                    seconds: entry.cpu_ticks as f64 / self.hz,
                    busy: entry.busy,
                }),
            };
            let known = self.processes.iter().position(|r| {
                r.end.is_none() && r.pid == entry.pid && r.start_ticks == entry.start_ticks
            });
            match known {
                Some(i) => {
                    seen[i] = true;
                    let r = &mut self.processes[i];
                    r.samples.push(point);
                    r.peak_rss = r.peak_rss.max(mem.memory.rss);
                    if !info.cmdline.is_empty() && info.cmdline != r.command {
                        // It called exec since the last sample (a fork seen before its exec).
                        self.describe(i, &info);
                    }
                }
                None => {
                    let start = match self.root_ticks {
                        Some(root) => entry.start_ticks.saturating_sub(root) as f64 / self.hz,
                        None => t,
                    };
                    self.processes.push(ProcessRecord {
                        pid: entry.pid,
                        ppid: entry.ppid,
                        command: Vec::new(),
                        lane: String::new(),
                        node: false,
                        test_file: None,
                        role: None,
                        snapshots_skipped: None,
                        start,
                        first_seen: t,
                        end: None,
                        outlived_command: false,
                        unsampled: false,
                        samples: vec![point],
                        peak_rss: mem.memory.rss,
                        snapshots: Vec::new(),
                        censuses: Vec::new(),
                        notes: Vec::new(),
                        start_ticks: entry.start_ticks,
                        next_snapshot: start
                            + self.config.snapshot_every.map_or(0.0, |d| d.as_secs_f64()),
                        pending: None,
                    });
                    seen.push(true);
                    let i = self.processes.len() - 1;
                    self.describe(i, &info);
                }
            }
        }
        for (r, seen) in self.processes.iter_mut().zip(seen) {
            if !seen && r.end.is_none() {
                r.end = Some(t);
            }
        }
        self.tree_rss.push(RssPoint {
            t,
            rss: total,
            cpu: None,
        });
        self.sampling_seconds += began.elapsed().as_secs_f64();
    }

    /// Lists a worker the preload reported that no sample of `/proc` saw: one that started
    /// and ended between two samples (on a loaded machine a quick worker can). Its RSS is
    /// what its own file events measured.
    fn add_unsampled(&mut self, reported: &ReportedProcess) {
        let (Some(&(first, _)), Some(&(last, _))) = (reported.rss.first(), reported.rss.last())
        else {
            return;
        };
        // The same PID over the reported times: a PID can be reused, but not while its
        // process runs.
        let sampled = self.processes.iter().any(|r| {
            r.pid == reported.pid && r.start <= last && r.end.is_none_or(|end| end >= first)
        });
        if sampled {
            return;
        }
        let samples: Vec<RssPoint> = reported
            .rss
            .iter()
            .map(|&(t, rss)| RssPoint { t, rss, cpu: None })
            .collect();
        let command = reported.command.clone();
        let record = ProcessRecord {
            pid: reported.pid,
            ppid: reported.ppid,
            lane: self.config.lane_rule.lane_of(reported.pid, &command, true),
            command,
            node: true,
            test_file: None,
            role: None,
            snapshots_skipped: None,
            start: first,
            first_seen: first,
            end: Some(last),
            outlived_command: false,
            unsampled: true,
            peak_rss: samples.iter().map(|p| p.rss).max().unwrap_or(0),
            samples,
            snapshots: Vec::new(),
            censuses: Vec::new(),
            notes: vec![
                "no sample of /proc saw it (it lived between two samples); known from the test files it reported".to_owned(),
            ],
            start_ticks: 0,
            next_snapshot: f64::INFINITY,
            pending: None,
        };
        let at = self
            .processes
            .iter()
            .position(|r| r.first_seen > first)
            .unwrap_or(self.processes.len());
        self.processes.insert(at, record);
    }

    /// Sets what record `i` runs: command, lane, Node or not, test file. The lane stays
    /// once a snapshot is filed under it.
    fn describe(&mut self, i: usize, info: &ProcessInfo) {
        let r = &mut self.processes[i];
        r.command = info.cmdline.clone();
        r.node = is_node(info);
        if r.snapshots.is_empty() {
            r.lane = self.config.lane_rule.lane_of(r.pid, &r.command, r.node);
        }
        r.test_file = if r.node && has_env_var(r.pid, "NODE_TEST_CONTEXT") {
            node_script(&r.command).map(str::to_owned)
        } else {
            None
        };
        if let Some(role) = role_from_command(r.node, &r.command, r.test_file.is_some()) {
            self.roles.note(r.pid, &role);
        }
    }
}

/// Tells the preload when a worker snapshots itself between files: at most once per
/// `every`, after its heap grew by `--snapshot-growth`, within `--snapshot-budget`.
fn boundary_env(cmd: &mut Command, config: &TraceConfig, every: Duration) {
    cmd.env(crate::boundaries::EVERY_ENV, every.as_millis().to_string())
        .env(
            crate::boundaries::GROWTH_ENV,
            config.snapshot_growth.to_string(),
        );
    if let Some(budget) = config.snapshot_budget {
        cmd.env(crate::boundaries::BUDGET_ENV, budget.to_string());
    }
}

/// Gives every process the role it was known by at the end; one that turned out to run
/// tests (it said so after it was due) was not skipped after all.
fn settle_roles(roles: &Roles, processes: &mut [ProcessRecord]) {
    for r in processes.iter_mut() {
        r.role = roles.of(r.pid).cloned();
        // A process whose tests run only in its worker threads stays skipped: the threads
        // snapshot themselves; its main thread only schedules them.
        let threads_only = roles.thread_worker(r.pid) && !roles.hooked_worker(r.pid);
        if r.role.as_ref().is_some_and(|role| role.runs_tests) && !threads_only {
            r.snapshots_skipped = None;
        }
    }
}
