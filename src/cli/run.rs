//! `leaktrail run [options] -- CMD ARGS…`: the leak-test harness.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use leaktrail_harness::{
    CensusWorker, GrowthFloor, LeakTestEvent, LeakTestPlan, Per, RunConfig, SnapshotPlan,
};

use super::live_status::LiveStatus;
use super::Common;

/// Arguments of `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The workload and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,

    /// Sample at each stdout line matching this regular expression (its first capture
    /// group: the iteration number).
    #[arg(long, default_value = r"iteration=(\d+)", value_parser = parse_iteration_pattern)]
    iteration_pattern: regex::Regex,

    /// Sample by time, every DURATION (`500ms`, `2s`), instead of by iteration.
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration)]
    interval: Option<Duration>,

    /// Stop the workload after this many iterations.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    iterations: Option<u64>,

    /// Stop the workload after DURATION (`90s`, `10m`).
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration)]
    duration: Option<Duration>,

    /// End the run with a fault (exit 2) when no new iteration number arrives for
    /// DURATION; by default a minute for the first, then ten times the longest gap seen
    /// between iterations (at least 10 s). Only time the workload could run counts: not
    /// time it waited for a CPU or was stopped, nor leaktrail's heap snapshots.
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration)]
    stall_timeout: Option<Duration>,

    /// Drop the first N iterations (seconds when sampling by time); found from the series
    /// when not given.
    #[arg(long, value_name = "N")]
    warmup: Option<f64>,

    /// Growth at or below this is no leak: `256B/iter` (default by iteration), `10KB/s`
    /// (default by time).
    #[arg(long, value_name = "SIZE/UNIT")]
    max_growth: Option<GrowthFloor>,

    /// Significance level of the trend test.
    #[arg(long, default_value_t = 0.01)]
    alpha: f64,

    /// Heap snapshots to take over the run for the culprit: with --iterations or
    /// --duration, K spread over the run (default 3); without, the end is unknown and they
    /// follow the run as it doubles (the last two and one at the workload's exit are
    /// used). 0 takes none. Kept only for a leak unless asked for.
    #[arg(long, value_name = "K")]
    snapshots: Option<usize>,

    /// Keep the time spent sampling (forced GCs, heap and /proc reads) below this
    /// percentage of the run by skipping sample points whose predicted cost would exceed
    /// it; `none` (or 0) samples at every point.
    #[arg(long, value_name = "PERCENT", default_value = "5")]
    max_overhead: super::checks::OverheadBudget,

    /// Between forced-GC samples, also read the heap V8 leaves after its own major GCs
    /// (Node; a `gc` PerformanceObserver put into the workload). Off by default: with
    /// the observer, V8 ran major GCs several times as often on a heap near its cap.
    #[arg(long)]
    major_gc_points: bool,

    #[command(flatten)]
    checks: super::checks::CheckArgs,

    /// Do not start Node's inspector: judge by RSS only.
    #[arg(long)]
    no_inspector: bool,

    /// Treat the command as Node even if it is not called `node` (a shell script, `sh -c`
    /// running one Node process); `npm`, `npx`, `yarn` and `pnpm` are taken as Node
    /// already, their script's own Node process measured.
    #[arg(long, conflicts_with = "no_inspector")]
    node: bool,

    /// Zero-disk snapshots: each heap snapshot goes from the inspector down a pipe into a
    /// census process and only its census is kept — no raw snapshot (and no partial one)
    /// is ever written, in --out, the temporary directory or by the workload — and the
    /// culprit is named from the censuses' leak clusters. Memory: the census process holds
    /// one snapshot's parse at a time (about twice the heap, for seconds), leaktrail only
    /// the censuses (about 60 KB each). Needs Node's inspector: refused with --no-inspector
    /// or a command not run as Node; not with --expect-freed (it reads snapshot files).
    #[arg(long, conflicts_with_all = ["no_inspector", "expect_freed"])]
    no_raw_snapshots: bool,

    /// Write samples (CSV, JSON), report.md and the snapshots here (created private).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Record a CPU profile over the inspector for the whole run: `profile.cpuprofile`
    /// and its flame graph `cpu-flame.svg` in --out.
    #[arg(long, requires = "out")]
    cpu_profile: bool,

    /// Record where the memory still held at the end was allocated (V8's sampling heap
    /// profiler): `alloc.heapprofile` and `alloc-flame.svg` in --out.
    #[arg(long, requires = "out")]
    alloc_profile: bool,
}

/// Runs the leak test; returns the report and the exit code (0 no leak, 1 leak,
/// 2 fault, 3 inconclusive, 128 + a signal that stopped it).
pub fn run(args: &RunArgs, common: &Common) -> anyhow::Result<(String, u8)> {
    let (plan, out_dir, _temp) = plan(args)?;
    let mut status = LiveStatus::new(common.progress, plan.config.iteration_pattern.is_some());
    let test = leaktrail_harness::leak_test(
        &plan,
        |event| match event {
            LeakTestEvent::Sample(s) => status.update(s),
            LeakTestEvent::RunEnded => status.finish(),
        },
        |snapshots| {
            super::leak_analysis::leak_report(
                snapshots,
                leaktrail_harness::CULPRIT_CLUSTERS,
                common.progress,
            )
        },
    )?;
    let mut report = leaktrail_report::render_run(
        &test.result,
        &test.assessment,
        test.culprit.as_ref(),
        test.fault.as_deref(),
        common.render,
    );
    if let Some(dir) = &out_dir {
        for (name, text) in leaktrail_report::run_files(&args.command.join(" "), &test) {
            // Reports quote heap contents (string values on retainer paths): owner-only,
            // like the snapshots beside them.
            let path = dir.join(name);
            leaktrail_private_files::write_file(&path, &text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        report.push_str(&super::flamegraphs::after_run(
            dir,
            &test.result.profiles,
            common.render.format,
        )?);
    }
    Ok((report, test.exit_code()))
}

/// Turns the flags into a validated leak test, with the `--out` directory (created
/// private) and the temporary directory its snapshots go to without one (removed when
/// dropped).
fn plan(
    args: &RunArgs,
) -> anyhow::Result<(LeakTestPlan, Option<PathBuf>, Option<tempfile::TempDir>)> {
    // A launcher (`npm run load-test`, `npx`, `cross-env …`) is Node running the script's own Node.
    let program = &args.command[0];
    let is_node = args.node
        || (!args.no_inspector
            && (leaktrail_sampler::is_node_program(program)
                || leaktrail_sampler::is_launcher(program)));
    let not_node = |what: &str| {
        format!(
            "{what} over Node's inspector, and `{}` is not run as Node (--node says it is)",
            args.command[0]
        )
    };
    anyhow::ensure!(
        is_node || args.checks.expect_freed.is_empty(),
        not_node("--expect-freed reads the heap")
    );
    anyhow::ensure!(
        is_node || !args.no_raw_snapshots,
        not_node("--no-raw-snapshots streams snapshots")
    );
    anyhow::ensure!(
        is_node || !(args.cpu_profile || args.alloc_profile),
        not_node("--cpu-profile and --alloc-profile record")
    );
    let by_time = args.interval.is_some();
    let bounded = args.iterations.is_some() || args.duration.is_some();
    let snapshots = match (is_node, bounded) {
        (false, _) => SnapshotPlan::None,
        (true, true) => SnapshotPlan::spread(args.snapshots.unwrap_or(3)),
        (true, false) if args.snapshots == Some(0) => SnapshotPlan::None,
        (true, false) => SnapshotPlan::Doubling,
    };
    let doubling = snapshots == SnapshotPlan::Doubling;
    let out_dir = match &args.out {
        Some(d) => Some(private_dir(d)?),
        None => None,
    };
    let zero_disk = args.no_raw_snapshots;
    // Zero-disk snapshots have no directory: the end snapshot's path is only its name.
    let temp = match (zero_disk, &out_dir) {
        (false, None) => Some(
            tempfile::Builder::new()
                .prefix("leaktrail-run-")
                .tempdir()?,
        ),
        _ => None,
    };
    let snapshot_dir = match (&out_dir, &temp) {
        (Some(out), _) => out.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => PathBuf::new(),
    };
    let config = RunConfig {
        command: args.command.clone(),
        iteration_pattern: (!by_time).then(|| args.iteration_pattern.clone()),
        iterations: args.iterations,
        duration: args.duration,
        interval: args
            .interval
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(10)),
        stall_timeout: args.stall_timeout,
        inspect: is_node,
        note_uninspected_node: !args.no_inspector,
        inspector_timeout: Duration::from_secs(20),
        snapshots,
        snapshot_dir: (!zero_disk).then(|| snapshot_dir.clone()),
        // This binary takes each census in a child (`leaktrail census -`), as `watch` does.
        census_worker: zero_disk.then(|| CensusWorker::Process("/proc/self/exe".into())),
        max_overhead: args.max_overhead.0,
        major_gc_points: args.major_gc_points,
        // Node lets a snapshot be taken at its exit: the FINAL of a doubling schedule.
        end_snapshot: (!args.checks.expect_freed.is_empty() || doubling)
            .then(|| snapshot_dir.join("end.heapsnapshot")),
        pss: args.checks.pss.into(),
        profiles: super::flamegraphs::run_request(
            args.cpu_profile,
            args.alloc_profile,
            out_dir.as_deref(),
        ),
    };
    let plan = LeakTestPlan {
        config,
        floor: args
            .max_growth
            .unwrap_or(GrowthFloor::default_per(match by_time {
                true => Per::Second,
                false => Per::Iteration,
            })),
        warmup: args.warmup,
        alpha: args.alpha,
        iterations: args.iterations,
        thread_tolerance: args.checks.thread_tolerance(is_node),
        expect_freed: args.checks.expect_freed.clone(),
        keep_snapshots: args.snapshots.is_some(),
    };
    Ok((plan, out_dir, temp))
}

/// An iteration pattern: a regular expression with a capture group for the number.
fn parse_iteration_pattern(s: &str) -> Result<regex::Regex, String> {
    let re = regex::Regex::new(s).map_err(|e| {
        // The regex crate's message spans lines (the pattern, a caret, the cause): keep the
        // cause.
        let cause = e.to_string();
        let cause = cause
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .trim_start_matches("error: ");
        format!("{s:?} is not a regular expression: {cause}")
    })?;
    if re.captures_len() < 2 {
        return Err(format!(
            "{s:?} has no capture group for the iteration number: write it like `tick (\\d+)`"
        ));
    }
    Ok(re)
}

/// Creates `dir` readable by its owner only: it will hold heap snapshots.
fn private_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    leaktrail_private_files::create_dir(dir).map_err(|e| {
        anyhow::anyhow!("{}: cannot create a private directory: {e}", dir.display())
    })?;
    Ok(dir.to_path_buf())
}
