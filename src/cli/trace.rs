//! `leaktrail trace [options] -- CMD ARGS…`: every process of a test run, per PID and lane.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::duration::parse_duration;
use leaktrail_harness::ByteSize;
use leaktrail_report::{Format, RenderOptions};
use leaktrail_trace::reporter::read_reporter_file;
use leaktrail_trace::{LaneRule, SummaryOptions, TraceConfig, TraceReport};

use super::Common;

/// Arguments of `trace`.
#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The command (a test runner, a lane script) and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,

    /// Time between samples of the process tree: 200ms, 1s, 2m.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    interval: Duration,

    /// Heap-snapshot each Node process every time it has lived this much longer (60s);
    /// off by default: a snapshot pauses the process and can make tests time out. In a
    /// test run (Jest, Vitest, Mocha, node --test) only the processes that run tests are.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    snapshot_every: Option<Duration>,

    /// Where a test worker is snapshotted: `files` (the workers trace's preload hooks
    /// snapshot themselves between test files, so that no snapshot pauses a test, and only
    /// after a file that grew them by --snapshot-growth, at most once per --snapshot-every;
    /// one fresh worker per runner is snapshotted before its first file as the reference
    /// baseline the others' growth is diffed against) or `clock` (a signal every
    /// --snapshot-every, wherever the worker is). Other Node processes are always on the
    /// clock.
    #[arg(long, default_value = "files", value_parser = ["files", "clock"], value_name = "WHERE")]
    snapshot_at: String,

    /// With --snapshot-at files: a worker is snapshotted after a file only once its heap
    /// (after a full GC) has grown by this much since its first file's start (then since
    /// its last snapshot), and --snapshot-every after its last such snapshot; a worker
    /// that never grows this much takes no snapshot.
    #[arg(long, default_value = "16MB", value_name = "SIZE")]
    snapshot_growth: ByteSize,

    /// With --snapshot-at files: the share of a worker's time (since its first file) its
    /// snapshots may take, e.g. 0.5; a growth snapshot estimated (per byte of heap, from
    /// the worker's last snapshot or its runner's reference baseline) to go over it is
    /// skipped and noted. Off by default: a
    /// leaking worker's snapshot can cost more than its tests.
    #[arg(long, value_parser = parse_budget, value_name = "FRACTION")]
    snapshot_budget: Option<f64>,

    /// With --snapshot-every, snapshot the processes that only coordinate a test run too:
    /// npm/npx, Jest's parent, Vitest's main process, Mocha's --parallel main process, the
    /// node --test runner.
    #[arg(long, requires = "snapshot_every")]
    snapshot_coordinators: bool,

    /// Keep the snapshots (DIR/<lane>/<pid>-<n>.heapsnapshot), trace.json and report.md
    /// here (created private); without it snapshots go to a temporary directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// How processes are grouped into lanes: `script` (the script a Node process runs, or
    /// the program), `pid`, or `regex:PATTERN` (its first group on the command line).
    #[arg(long, default_value = "script", value_name = "RULE")]
    lane_by: LaneRule,

    /// A JSON report the command writes (Jest `--json --outputFile`, Vitest
    /// `--reporter=json --outputFile`): test files with their start and end times.
    #[arg(long, value_name = "FILE")]
    files_from: Option<PathBuf>,

    /// Exit 1 when a process's RSS grew by more than this after its start-up (200MB), or a
    /// worker thread's own heap kept more after a full GC over its test files, if the
    /// command itself succeeded. Growth is the peak minus the baseline: the RSS at the
    /// first sample once the process has lived --settle; for a process that ends sooner,
    /// the first sample after which its RSS stopped rising (a step of at most 1 MiB or
    /// 2 %); one that rose at every sample until it ended has no growth figure.
    #[arg(long, value_name = "SIZE")]
    fail_on_growth: Option<ByteSize>,

    /// How long a process's start-up lasts at most, from its start (Node's bootstrap,
    /// the modules it loads first): growth is counted from the first sample after it.
    /// Raise it for workers that take longer to start (Jest with a heavy environment).
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    settle: Duration,

    /// Don't load trace's preload (`NODE_OPTIONS=--require`, from a private temporary
    /// directory) that lets the workers of Jest, Vitest and Mocha say which test file they
    /// run, in which PID and thread, with its heap and RSS growth.
    #[arg(long)]
    no_file_hooks: bool,

    /// Don't run V8's sampling heap profiler in the test workers the preload hooks. By
    /// default each one runs it from its first file and, after a file that grew its heap
    /// (after a full GC) by --snapshot-growth, says where the memory it kept was
    /// allocated (function, file and line, with sizes), for a fraction of a snapshot's
    /// cost; full heap snapshots stay behind --snapshot-every.
    #[arg(long)]
    no_allocation_sampling: bool,

    /// With --snapshot-every: no raw snapshot file is ever written, in any folder. The
    /// test workers trace's preload hooks (and their worker threads) stream each snapshot
    /// down a private pipe into a census process and only the census is kept (heap diffs
    /// and verdicts from censuses). Processes the preload does not hook are not
    /// snapshotted (their signal snapshots would be files).
    #[arg(
        long,
        requires = "snapshot_every",
        conflicts_with = "no_file_hooks",
        conflicts_with = "snapshot_coordinators"
    )]
    no_raw_snapshots: bool,

    /// Classes shown per heap diff.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}

/// Runs the trace; returns the report and the exit status (the command's, or 1 for
/// --fail-on-growth, 2 for an unreadable --files-from).
pub fn run(args: &TraceArgs, common: &Common) -> anyhow::Result<(String, u8)> {
    anyhow::ensure!(
        !(args.no_raw_snapshots && args.snapshot_at == "clock"),
        "--no-raw-snapshots needs --snapshot-at files: a snapshot on the clock is a signal, and Node writes a signal snapshot to a file"
    );
    let temp;
    // An --out made here for a command that then cannot start is taken away again.
    let made_out = args.out.as_ref().is_some_and(|dir| !dir.exists());
    let (out_dir, kept) = match &args.out {
        Some(dir) => {
            leaktrail_private_files::create_dir(dir)
                .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
            (dir.clone(), true)
        }
        None => {
            use std::os::unix::fs::PermissionsExt;
            // Private: the snapshots hold the heaps of the traced processes.
            temp = tempfile::Builder::new()
                .prefix("leaktrail-trace-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir()?;
            (temp.path().to_path_buf(), false)
        }
    };
    let config = TraceConfig {
        command: args.command.clone(),
        interval: args.interval,
        snapshot_every: args.snapshot_every,
        snapshot_at_files: args.snapshot_at == "files",
        snapshot_growth: args.snapshot_growth.0,
        snapshot_budget: args.snapshot_budget,
        snapshot_coordinators: args.snapshot_coordinators,
        out_dir: out_dir.clone(),
        lane_rule: args.lane_by.clone(),
        stop_grace: Duration::from_secs(2),
        file_hooks: !args.no_file_hooks,
        allocation_sampling: !args.no_allocation_sampling && !args.no_file_hooks,
        stream_census: args
            .no_raw_snapshots
            .then(|| leaktrail_harness::CensusWorker::Process("/proc/self/exe".into())),
    };
    // The report owns stdout; the command's stdout goes to stderr, line by line.
    // A closed stderr is no reason to stop the command (eprintln! would panic).
    let run = leaktrail_trace::trace(&config, |line| {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    });
    // `trace` fails only before the command runs (it could not start, or the snapshot
    // directory could not be made): nothing was measured into --out.
    let run = match run {
        Ok(run) => run,
        Err(e) => {
            if made_out {
                let _ = std::fs::remove_dir_all(&out_dir);
            }
            return Err(e.into());
        }
    };
    let reporter = args
        .files_from
        .as_ref()
        .map(|f| read_reporter_file(f, run.started_unix_ms));
    if let Some(Err(e)) = &reporter {
        eprintln!("leaktrail: --files-from: {e}");
    }
    let report = TraceReport::build(
        run,
        reporter,
        &SummaryOptions {
            top: args.top,
            fail_on_growth: args.fail_on_growth.map(|b| b.0),
            settle_seconds: args.settle.as_secs_f64(),
            out_dir: kept.then(|| out_dir.display().to_string()),
        },
    );
    let text = leaktrail_report::render_trace(&report, common.render);
    if kept {
        let write = |name: &str, format: Format| {
            let path = out_dir.join(name);
            let opts = RenderOptions {
                format,
                color: false,
                top: args.top,
                min_bytes: 0,
            };
            leaktrail_private_files::write_file(
                &path,
                leaktrail_report::render_trace(&report, opts),
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        };
        write("trace.json", Format::Json)?;
        write("report.md", Format::Markdown)?;
    }
    Ok((text, report.exit_status.clamp(0, 255) as u8))
}

/// A `--snapshot-budget`: a positive finite number.
fn parse_budget(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}`: a positive number, e.g. 0.5")),
    }
}
