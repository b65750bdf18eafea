//! `leaktrail run [options] -- CMD ARGS…`: the leak-test harness.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use leaktrail_analysis::LeakReport;
use leaktrail_harness::{assess, CensusWorker, GrowthFloor, Per, RunConfig, SnapshotPlan};
use leaktrail_stats::Outcome;

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
    /// between iterations (at least 10 s).
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

    /// Treat the command as Node even if it is not called `node` (e.g. a script).
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

/// Runs the harness; returns the report and the exit code (0 no leak, 1 leak,
/// 2 fault, 3 inconclusive).
pub fn run(args: &RunArgs, common: &Common) -> anyhow::Result<(String, u8)> {
    let is_node = args.node
        || (!args.no_inspector
            && Path::new(&args.command[0])
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("node")));
    let by_time = args.interval.is_some();
    let floor = args.max_growth.unwrap_or(if by_time {
        GrowthFloor {
            bytes: 10.0 * 1024.0,
            per: Per::Second,
        }
    } else {
        GrowthFloor {
            bytes: 256.0,
            per: Per::Iteration,
        }
    });
    anyhow::ensure!(
        is_node || args.checks.expect_freed.is_empty(),
        "--expect-freed needs a Node target (it reads the heap over the inspector): `{}` is not run as Node (--node says it is)",
        args.command[0]
    );
    anyhow::ensure!(
        is_node || !args.no_raw_snapshots,
        "--no-raw-snapshots streams snapshots over Node's inspector, and `{}` is not run as Node (--node says it is)",
        args.command[0]
    );
    if (args.cpu_profile || args.alloc_profile) && !is_node {
        anyhow::bail!(
            "--cpu-profile and --alloc-profile record over Node's inspector, and `{}` is not run as Node (--node says it is)",
            args.command[0]
        );
    }
    let bounded = args.iterations.is_some() || args.duration.is_some();
    let plan = match (is_node, bounded, args.snapshots) {
        (false, _, _) | (_, _, Some(0)) => SnapshotPlan::None,
        (true, true, k) => SnapshotPlan::AtFractions(match k.unwrap_or(3) {
            1 => vec![1.0],
            // Spread over the steady part, the last just before the end (a workload that
            // stops by itself at the bound may already be exiting at the last iteration).
            k => (0..k)
                .map(|i| 0.4 + 0.55 * i as f64 / (k - 1) as f64)
                .collect(),
        }),
        (true, false, _) => SnapshotPlan::Doubling,
    };
    let doubling = plan == SnapshotPlan::Doubling;
    let out_dir = match &args.out {
        Some(d) => Some(private_dir(d)?),
        None => None,
    };
    let zero_disk = args.no_raw_snapshots;
    // Zero-disk snapshots have no directory: `snapshot_dir` is left unused, and the
    // end snapshot's path is only its name.
    let temp = match zero_disk {
        true => None,
        false => Some(
            tempfile::Builder::new()
                .prefix("leaktrail-run-")
                .tempdir()?,
        ),
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
        inspector_timeout: Duration::from_secs(20),
        snapshots: plan,
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
    let mut status = LiveStatus::new(common.progress, !by_time);
    let result = leaktrail_harness::run(&config, |s| status.update(s))?;
    status.finish();
    let mut assessment = assess(&result, floor, args.warmup, args.alpha);
    args.checks.apply(&result, &mut assessment, is_node);
    let fault = result.fault(args.iterations);
    // The snapshots are read whatever the bytes said: objects that grew in step with
    // the run decide a slow leak, and nothing growing settles an inconclusive series.
    let found = leaktrail_harness::find_culprit(&result, doubling, |snapshots| {
        if zero_disk {
            return Ok(leaktrail_harness::census_culprit(snapshots, 5));
        }
        super::leak_analysis::leak_report(&leaktrail_harness::paths(snapshots), 5, common.progress)
            .map(Some)
    })?;
    let (culprit, culprit_snapshots) = (found.report, found.snapshots);
    if let Some(report) = &culprit {
        leaktrail_harness::weigh_objects(&mut assessment, report, &culprit_snapshots);
    }
    if let Some(note) = found.note {
        assessment.sentence.push(' ');
        assessment.sentence.push_str(&note);
    }
    // Zero-disk snapshots are names, not files: nothing to remove.
    let keep_snapshots = zero_disk
        || args.snapshots.is_some()
        || (culprit.is_some() && assessment.outcome == Outcome::Leak);
    if !keep_snapshots {
        for s in &result.snapshots {
            let _ = std::fs::remove_file(&s.path);
        }
    }
    // The end snapshots are kept when something survived in them, or for the culprit.
    if let Some(end) = result.end_snapshot.as_ref().filter(|_| !zero_disk) {
        let culprit_end = keep_snapshots && culprit_snapshots.iter().any(|s| s.path == end.path);
        if !culprit_end
            && !assessment.checks.iter().any(|c| {
                matches!(c.detail, leaktrail_harness::CheckDetail::ExpectFreed(_))
                    && c.status == leaktrail_harness::CheckStatus::Failed
            })
        {
            let _ = std::fs::remove_file(&end.path);
            if let Some(e) = &end.earlier {
                let _ = std::fs::remove_file(e);
            }
        }
    }
    let mut report = leaktrail_report::render_run(
        &result,
        &assessment,
        culprit.as_ref(),
        fault.as_deref(),
        common.render,
    );
    if let Some(dir) = &out_dir {
        write_outputs(
            dir,
            &args.command.join(" "),
            &result,
            &assessment,
            culprit.as_ref(),
            fault.as_deref(),
        )?;
        report.push_str(&super::flamegraphs::after_run(
            dir,
            &result.profiles,
            common.render.format,
        )?);
    }
    // Stopped by a signal: the shell's convention, 128 + the signal.
    let code = match result.interrupted {
        Some(signal) => (128 + signal) as u8,
        None => assessment.exit_code(fault.is_some()),
    };
    Ok((report, code))
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
    leaktrail_snapshot::private::create_dir(dir).map_err(|e| {
        anyhow::anyhow!("{}: cannot create a private directory: {e}", dir.display())
    })?;
    Ok(dir.to_path_buf())
}

fn write_outputs(
    dir: &Path,
    command: &str,
    result: &leaktrail_harness::RunResult,
    assessment: &leaktrail_harness::Assessment,
    culprit: Option<&LeakReport>,
    fault: Option<&str>,
) -> anyhow::Result<()> {
    // Reports quote heap contents (string values on retainer paths): owner-only, like the
    // snapshots beside them.
    let write = |name: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(name);
        leaktrail_snapshot::private::write_file(&path, text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    };
    let mut csv = String::from(
        "t_seconds,iteration,heap_used,heap_total,external,rss,anon,pss,threads,processes\n",
    );
    let opt = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
    for s in &result.samples {
        csv.push_str(&format!(
            "{:.3},{},{},{},{},{},{},{},{},{}\n",
            s.t,
            opt(s.iteration),
            opt(s.heap_used),
            opt(s.heap_total),
            opt(s.external),
            s.rss,
            s.anon,
            opt(s.pss),
            s.threads,
            s.processes
        ));
    }
    write("samples.csv", &csv)?;
    let json = serde_json::json!({ "schema": "leaktrail.run/1", "run": result, "assessment": assessment, "culprit": culprit, "fault": fault });
    write("samples.json", &serde_json::to_string_pretty(&json)?)?;
    let md = leaktrail_report::render_run(
        result,
        assessment,
        culprit,
        fault,
        leaktrail_report::RenderOptions {
            format: leaktrail_report::Format::Markdown,
            color: false,
            top: 10,
            min_bytes: 0,
        },
    );
    write("report.md", &md)?;
    write(
        "report.html",
        &leaktrail_report::render_run_html(result, assessment, culprit, fault),
    )?;
    write(
        "junit.xml",
        &leaktrail_report::render_run_junit(command, result, assessment, culprit, fault),
    )
}

/// The one-line status on a terminal: iteration, heap, RSS and the slope so far.
struct LiveStatus {
    enabled: bool,
    by_iteration: bool,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl LiveStatus {
    fn new(enabled: bool, by_iteration: bool) -> LiveStatus {
        LiveStatus {
            enabled,
            by_iteration,
            xs: Vec::new(),
            ys: Vec::new(),
        }
    }

    fn update(&mut self, s: &leaktrail_harness::Sample) {
        if !self.enabled {
            return;
        }
        use leaktrail_analysis::units::{human_bytes, signed_bytes};
        let y = match s.heap_used {
            Some(h) => h + s.external.unwrap_or(0),
            None => s.rss,
        };
        let x = if self.by_iteration {
            s.iteration.unwrap_or(0) as f64
        } else {
            s.t
        };
        self.xs.push(x);
        self.ys.push(y as f64);
        let slope = if self.xs.len() >= 5 {
            let est = leaktrail_stats::theil_sen(&self.xs, &self.ys, 0.05);
            let unit = if self.by_iteration { "iteration" } else { "s" };
            format!("  slope {}/{unit}", signed_bytes(est.slope as i64))
        } else {
            String::new()
        };
        let at = match s.iteration {
            Some(n) => format!("iteration {n}"),
            None => format!("{:.0} s", s.t),
        };
        let heap = s
            .heap_used
            .map_or(String::new(), |h| format!("  heap {}", human_bytes(h)));
        eprint!("\r\x1b[2K{at}{heap}  RSS {}{slope}", human_bytes(s.rss));
    }

    fn finish(&self) {
        if self.enabled && !self.xs.is_empty() {
            eprint!("\r\x1b[2K");
        }
    }
}
