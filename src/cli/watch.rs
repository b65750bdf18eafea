//! `leaktrail watch (--pid PID | -- CMD) --store DIR`.

use std::io::IsTerminal;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use leaktrail_analysis::units::human_bytes;
use leaktrail_analysis::CensusLimits;
use leaktrail_harness::ByteSize;
use leaktrail_watch::{watch, CensusWorker, WatchConfig, WatchEvent, WatchTarget};

/// Arguments of `watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// A running process to watch (Node: its inspector is opened with SIGUSR1, which
    /// listens on 127.0.0.1:9229 unless the process chose another port).
    #[arg(long, conflicts_with = "command", required_unless_present = "command")]
    pid: Option<i32>,

    /// The store directory (created 0700 when missing).
    #[arg(long, value_name = "DIR")]
    store: PathBuf,

    /// The target's name in the store and the `target` label of its metrics (default: the
    /// script's file name without `.js`, `node -e` for code on the command line, else the
    /// program's name).
    #[arg(long)]
    name: Option<String>,

    /// Time between samples.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::duration::parse_duration)]
    sample_every: Duration,

    /// Time between scheduled heap snapshots.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = super::duration::parse_duration)]
    snapshot_every: Duration,

    /// Least time between a snapshot taken early, because memory grows fast, and the one
    /// before or after it.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::duration::parse_duration)]
    min_snapshot_gap: Duration,

    /// Raw snapshot files to keep (the oldest are deleted; their summaries stay).
    #[arg(long, value_name = "N", default_value_t = 5)]
    keep: usize,

    /// Disk for raw snapshot files, e.g. 2GB (the oldest are deleted; summaries stay).
    #[arg(long, value_name = "SIZE")]
    max_disk: Option<ByteSize>,

    /// Start the command again when it dies (each run is recorded apart).
    #[arg(long, requires = "command")]
    restart: bool,

    /// Stop watching after this long.
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration)]
    duration: Option<Duration>,

    /// Do not use the Node inspector: RSS/PSS and threads only, and heap snapshots only
    /// from a process started with `--heapsnapshot-signal`.
    #[arg(long)]
    no_inspector: bool,

    /// Censuses taken this soon after starting the command are start-up, not leak
    /// evidence (caches fill and modules load then): the culprit comes from later ones.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::duration::parse_duration_or_zero)]
    start_up: Duration,

    /// Never write a raw heap snapshot: each streams from V8 through a pipe into its
    /// census, in memory (a heap holds every secret of the process). Needs the inspector.
    #[arg(long, conflicts_with = "no_inspector")]
    no_raw_snapshots: bool,

    /// Sample the process alone, without the processes it started (by default the whole
    /// tree counts: a service's workers are its memory too).
    #[arg(long)]
    process_only: bool,

    /// Force a full GC before each heap sample: precise heap figures, but every sample
    /// pauses the service (for staging and CI, not production).
    #[arg(long)]
    gc: bool,

    /// Growth per hour of the heap (RSS for other processes) that triggers an early
    /// snapshot when the recent samples show it significantly.
    #[arg(long, value_name = "SIZE", default_value = "16MB")]
    snapshot_on_growth: ByteSize,

    /// Also serve the store over HTTP while watching (the API, dashboard and /metrics of
    /// `leaktrail serve`).
    #[arg(long)]
    serve: bool,

    /// With --serve: the address to listen on; anything but loopback needs --token.
    #[arg(long, value_name = "ADDR", default_value = leaktrail_serve::DEFAULT_LISTEN, requires = "serve")]
    listen: std::net::SocketAddr,

    /// With --serve: the bearer token the API requires (at least 16 characters); ignored
    /// without --serve, so an exported LEAKTRAIL_TOKEN does not stop a plain watch.
    #[arg(
        long,
        env = "LEAKTRAIL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,

    /// With --serve: growth at or below this is not a leak in the served trend (`1MB/h`,
    /// default), as `serve --floor`.
    #[arg(long, value_name = "SIZE/h", requires = "serve", value_parser = super::policy::parse_floor)]
    floor: Option<leaktrail_harness::GrowthFloor>,

    /// With --serve: significance level of the served trend test.
    #[arg(long, default_value_t = 0.05, requires = "serve")]
    alpha: f64,

    /// The command to start (after `--`).
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Runs `watch` until the process ends, the duration is over, or SIGINT/SIGTERM; returns
/// the closing summary and the exit code.
pub fn run(args: &WatchArgs, quiet: bool) -> anyhow::Result<(String, u8)> {
    leaktrail_watch::own_memory::configure_allocator();
    let target = match (args.pid, args.command.is_empty()) {
        (Some(pid), _) => WatchTarget::Pid(pid),
        (None, false) => WatchTarget::Command(args.command.clone()),
        (None, true) => anyhow::bail!("give --pid PID or a command after --"),
    };
    let config = WatchConfig {
        target,
        store_dir: args.store.clone(),
        name: args.name.clone(),
        sample_every: args.sample_every.max(Duration::from_millis(50)),
        snapshot_every: args.snapshot_every,
        min_snapshot_gap: args.min_snapshot_gap,
        keep: Some(args.keep),
        max_disk: args.max_disk.map(|b| b.0),
        restart: args.restart,
        duration: args.duration,
        inspector: !args.no_inspector,
        gc_before_sample: args.gc,
        process_only: args.process_only,
        pss_every: 6,
        growth_trigger_per_hour: args.snapshot_on_growth.0 as f64,
        census: CensusLimits::default(),
        // This binary parses each snapshot in a child (`leaktrail census`). Through
        // /proc/self/exe: it still runs if the binary is upgraded or deleted under a
        // week-long watch.
        census_worker: CensusWorker::Process("/proc/self/exe".into()),
        raw_snapshots: !args.no_raw_snapshots,
        start_up: args.start_up,
    };
    // Before anything is made: a process that is not there, a program that cannot be
    // started, leaves no store behind.
    leaktrail_watch::check_target(&config.target)?;
    // The server reads the store the watcher writes, so the store comes first; a bad
    // address or token is refused before it is made, and a store made here for a server
    // that then cannot bind is taken away again.
    let server = if args.serve {
        let mut serve_config =
            leaktrail_serve::ServeConfig::new(args.store.clone(), args.listen, args.token.clone());
        serve_config.policy = super::policy::policy(args.floor, args.alpha)?;
        serve_config.build = super::build_info();
        serve_config.check_access()?;
        let new_store = !args.store.exists();
        leaktrail_store::Store::create(&args.store)
            .with_context(|| format!("creating the store {}", args.store.display()))?;
        let server = match leaktrail_serve::spawn(serve_config) {
            Ok(server) => server,
            Err(e) => {
                if new_store {
                    let _ = std::fs::remove_dir_all(&args.store);
                }
                return Err(e.into());
            }
        };
        // Also when quiet: with `--listen HOST:0` it is the only way to learn the port.
        eprintln!("leaktrail watch: serving http://{}/", server.addr());
        Some(server)
    } else {
        None
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    let live = !quiet && std::io::stderr().is_terminal();
    let log = |e: &WatchEvent| {
        let line = match e {
            WatchEvent::Started {
                pid,
                incarnation,
                inspector,
            } => format!(
                "watching pid {pid} (incarnation {incarnation}){}",
                if *inspector {
                    ", V8 heap over the inspector"
                } else {
                    ", RSS only"
                }
            ),
            WatchEvent::Sample(s) => {
                if !live {
                    return;
                }
                let heap = s
                    .memory
                    .heap_used
                    .map(|h| format!("heap {}  ", human_bytes(h)))
                    .unwrap_or_default();
                // Written, not printed: a closed stderr must not stop the watcher.
                let _ = write!(
                    std::io::stderr(),
                    "\r\x1b[2K{heap}rss {}  threads {}",
                    human_bytes(s.memory.rss),
                    s.memory.threads
                );
                return;
            }
            WatchEvent::Snapshot {
                file,
                reason,
                seconds,
            } => format!("snapshot {file} ({reason}) analysed in {seconds:.1} s"),
            WatchEvent::FileDeleted(f) => format!("deleted raw snapshot {f} (its summary stays)"),
            WatchEvent::Warning(w) => format!("warning: {w}"),
            WatchEvent::Ended(end) => format!(
                "process ended: {}{}{}",
                end.reason,
                end.exit_code
                    .map(|c| format!(", exit code {c}"))
                    .unwrap_or_default(),
                end.signal
                    .map(|s| format!(", signal {s}"))
                    .unwrap_or_default()
            ),
            WatchEvent::Restarting { after } => {
                format!(
                    "restarting in {}",
                    leaktrail_analysis::units::human_duration(after.as_secs_f64())
                )
            }
        };
        let mut err = std::io::stderr();
        if live {
            let _ = write!(err, "\r\x1b[2K");
        }
        if !quiet {
            let _ = writeln!(err, "leaktrail watch: {line}");
        }
    };
    // No context: the store's errors name its file, the others the process or command.
    let summary = watch(&config, &stop, log)?;
    if let Some(server) = server {
        server.shutdown()?;
    }
    let end = summary
        .last_end
        .as_ref()
        .map(|e| e.reason.to_string())
        .unwrap_or_default();
    let text = format!(
        "{}: {} incarnation(s), {} samples, {} snapshot summaries stored in {}; last end: {end}.\n",
        summary.target,
        summary.incarnations,
        summary.samples,
        summary.snapshots,
        args.store.display()
    );
    Ok((text, 0))
}
