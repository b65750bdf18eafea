//! Accuracy and overhead of `leaktrail run` on every scenario of `scenarios/` (its
//! `manifest.json`; the ones under `scenarios/npm/` need `npm ci` there first).
//!
//! ```sh
//! cargo build --release && cargo run --release -p leaktrail-bench --bin harness-accuracy -- --runs 5
//! ```
//!
//! Each scenario runs `--runs` times under `leaktrail run` — by default ended by the
//! workload itself (the runner with `--iterations N --print-every K`, no bound given to
//! leaktrail, as a test in CI ends), with `--ended-by leaktrail` under `leaktrail run
//! --iterations N` (the runner with `--forever`); leaktrail's default overhead budget
//! unless `--max-overhead` says otherwise — and `--alone-runs` times alone for `N`
//! iterations as the reference, the two interleaved so that a change in the machine's
//! load hits both. `--load` runs a CPU-bound process beside everything (a busy CI runner
//! on this 2-core machine).
//! It prints, per scenario: the expected answer (manifest `leaks`), the verdicts (exit
//! codes), the culprit named (for leaks with manifest classes: is it one?), the samples
//! taken, the slope against the manifest's bytes per iteration, the share of the run spent
//! sampling (forced GCs, heap and /proc reads, as leaktrail measures it) and the slowdown: the median wall time of the workload under
//! leaktrail (snapshot time left out) over its median alone, as a ratio — for the default
//! run, and for one more run each with `--snapshots 0`, which is sampling's own cost
//! (a heap snapshot leaves V8 tracking object ids, which slows later GCs).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

/// Runs every scenario through `leaktrail run` and prints a table.
#[derive(Parser)]
struct Args {
    /// Runs per scenario.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Iterations per run.
    #[arg(long, default_value_t = 3000)]
    iterations: u64,
    /// The runner prints an iteration line every this many iterations (each a candidate
    /// sample point; the overhead budget picks among them).
    #[arg(long, default_value_t = 25)]
    print_every: u64,
    /// Passed to `leaktrail run --max-overhead` (a percentage, or `none`); leaktrail's
    /// default (5 %) when not given.
    #[arg(long)]
    max_overhead: Option<String>,
    /// Runs of each scenario alone, for the reference time.
    #[arg(long, default_value_t = 5)]
    alone_runs: usize,
    /// Only the scenarios whose file name contains this.
    #[arg(long)]
    only: Option<String>,
    /// The scenarios folder (the repository's own, when run from the repository root).
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
    /// The leaktrail binary.
    #[arg(long, default_value = "target/release/leaktrail")]
    leaktrail: PathBuf,
    /// Who ends each run: the workload (`--iterations N` to the runner) or leaktrail
    /// (`--iterations N` to leaktrail, the runner `--forever`).
    #[arg(long, value_enum, default_value_t = EndedBy::Workload)]
    ended_by: EndedBy,
    /// Keep a CPU-bound process running beside the runs.
    #[arg(long)]
    load: bool,
    /// Skip the extra run without snapshots per run (sampling's own cost).
    #[arg(long)]
    no_bare: bool,
}

/// Who ends a run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EndedBy {
    Workload,
    Leaktrail,
}

/// A CPU-bound process, stopped when dropped.
struct Load(std::process::Child);

impl Load {
    fn start() -> Result<Load> {
        Ok(Load(
            Command::new("node")
                .args(["-e", "for (;;) {}"])
                .stdout(Stdio::null())
                .spawn()
                .context("starting the CPU-bound process")?,
        ))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The class the report names first (a cluster, else a growing object), without `()`.
fn culprit_class(report: &serde_json::Value) -> String {
    let c = &report["culprit"];
    let class = c["clusters"][0]["class"]
        .as_str()
        .or(c["growing_objects"][0]["class"].as_str())
        .unwrap_or("");
    class.strip_suffix("()").unwrap_or(class).to_owned()
}

fn main() -> Result<()> {
    let args = Args::parse();
    let _load = if args.load {
        Some(Load::start()?)
    } else {
        None
    };
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(args.scenarios.join("manifest.json")).context("manifest.json")?,
    )?;
    let runner = args.scenarios.join("runner.js");
    println!(
        "leaktrail run — {} runs × {} iterations per scenario, ended by {}{}, iteration line every {}, {}; {} runs alone per scenario",
        args.runs,
        args.iterations,
        match args.ended_by {
            EndedBy::Workload => "the workload",
            EndedBy::Leaktrail => "leaktrail",
        },
        if args.load { ", a CPU-bound process beside" } else { "" },
        args.print_every,
        args.max_overhead.as_ref()
            .map_or("default overhead budget".to_owned(), |o| format!("--max-overhead {o}")),
        args.alone_runs
    );
    println!();
    println!("| scenario | leaks | verdicts (exit) | right | iterations needed | culprit named | samples | major-GC points | slope / manifest | sampling share | alone | under leaktrail | slowdown | without snapshots |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let (mut right_total, mut runs_total) = (0, 0);
    // Why each wrong verdict was reached, printed after the table.
    let mut wrong: Vec<String> = Vec::new();
    for entry in manifest.as_array().context("manifest is an array")? {
        let file = entry["file"].as_str().context("file")?;
        if args
            .only
            .as_ref()
            .is_some_and(|o| !file.contains(o.as_str()))
        {
            continue;
        }
        let leaks = entry["leaks"].as_bool().unwrap_or(false);
        let js_heap = entry["kind"] == "js-heap";
        let truth = entry["approx_bytes_per_iteration"].as_f64().unwrap_or(0.0);
        let mut slopes: Vec<f64> = Vec::new();
        let culprits: Vec<&str> = entry["culprit_classes"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
            .unwrap_or_default();
        let scenario = args.scenarios.join(file);
        // The reference: the workload alone, same iterations.
        let alone_once = || -> Result<f64> {
            let started = Instant::now();
            let status = Command::new("node")
                .arg("--expose-gc")
                .arg(&runner)
                .arg(&scenario)
                .args(["--iterations", &args.iterations.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            anyhow::ensure!(status.success(), "{file} failed alone");
            Ok(started.elapsed().as_secs_f64())
        };
        let (mut codes, mut right, mut named, mut shares, mut under, mut alone, mut samples) = (
            Vec::new(),
            0,
            0,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        // Where each right verdict was first reached and then held.
        let mut needed: Vec<f64> = Vec::new();
        // Wall times of runs without snapshots.
        let mut sampling_only: Vec<f64> = Vec::new();
        // Points read after V8's own major GCs, and runs whose verdict they helped decide.
        let (mut major_gc, mut decided_by_both): (Vec<f64>, usize) = (Vec::new(), 0);
        for i in 0..args.runs.max(args.alone_runs) {
            if i < args.alone_runs {
                alone.push(alone_once()?);
            }
            if i >= args.runs {
                continue;
            }
            let leaktrail_run = |extra: &[&str]| {
                let n = args.iterations.to_string();
                let mut cmd = Command::new(&args.leaktrail);
                cmd.args(["run", "--format", "json"]);
                if args.ended_by == EndedBy::Leaktrail {
                    cmd.args(["--iterations", &n]);
                }
                if let Some(o) = &args.max_overhead {
                    cmd.args(["--max-overhead", o]);
                }
                cmd.args(extra)
                    .arg("--")
                    .arg("node")
                    .arg("--expose-gc")
                    .arg(&runner)
                    .arg(&scenario)
                    .args(["--print-every", &args.print_every.to_string()]);
                match args.ended_by {
                    EndedBy::Leaktrail => cmd.arg("--forever"),
                    EndedBy::Workload => cmd.args(["--iterations", &n]),
                };
                cmd.stderr(Stdio::null()).output()
            };
            // Sampling alone: the same run without heap snapshots, whose after-effects
            // (V8 tracks object ids from the first one on) are not sampling's.
            if !args.no_bare {
                let bare = leaktrail_run(&["--snapshots", "0"])?;
                let bare: serde_json::Value =
                    serde_json::from_slice(&bare.stdout).unwrap_or_default();
                if let Some(wall) = bare["run"]["wall_seconds"].as_f64().filter(|w| *w > 0.0) {
                    sampling_only.push(wall);
                }
            }
            let out = leaktrail_run(&[])?;
            let code = out.status.code().unwrap_or(-1);
            codes.push(code);
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            if code == i32::from(leaks) {
                right += 1;
                if let Some(at) = report["assessment"]["decided_after"].as_f64() {
                    needed.push(at);
                }
            }
            if code != i32::from(leaks) {
                // A fault (exit 2) voids the verdict whatever the sentence says: say it
                // first, so that a load-dependent fault can be told from a wrong verdict.
                let fault = report["fault"]
                    .as_str()
                    .map_or(String::new(), |f| format!("fault: {f}; "));
                wrong.push(format!(
                    "{file}, run {}: exit {code}: {fault}{}",
                    i + 1,
                    report["assessment"]["sentence"]
                        .as_str()
                        .unwrap_or("no report")
                ));
            }
            let class = culprit_class(&report);
            if !class.is_empty() && culprits.contains(&class.as_str()) {
                named += 1;
            }
            if let Some(slope) =
                report["assessment"]["primary"]["verdict"]["slope"]["slope"].as_f64()
            {
                slopes.push(slope);
            }
            let run = &report["run"];
            let wall = run["wall_seconds"].as_f64().unwrap_or(0.0);
            // Pauses and the estimated after-effect, as leaktrail's budget counts them.
            let sampling = run["sampling_seconds"].as_f64().unwrap_or(0.0)
                + run["aftermath_seconds"].as_f64().unwrap_or(0.0);
            let snapshots = run["snapshot_seconds"].as_f64().unwrap_or(0.0);
            if wall > 0.0 {
                // As leaktrail measures it: over the run's wall time.
                shares.push(100.0 * sampling / wall);
                // The workload's own time under leaktrail, snapshots excluded.
                under.push(wall - snapshots);
            }
            samples.push(run["samples"].as_array().map_or(0, Vec::len) as f64);
            major_gc.push(run["cheap_points"].as_array().map_or(0, Vec::len) as f64);
            if report["assessment"]["points"]["decided_by"] == "forced_and_major_gc" {
                decided_by_both += 1;
            }
        }
        right_total += right;
        runs_total += args.runs;
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        // Any leak whose manifest names culprit classes (heap data, or code kept by
        // functions); external, native and thread leaks have no class to name.
        let named_cell = if leaks && (js_heap || !culprits.is_empty()) {
            format!("{named}/{}", args.runs)
        } else {
            "-".into()
        };
        let needed_cell = if needed.is_empty() {
            "-".to_owned()
        } else {
            let most = needed.iter().copied().fold(0.0, f64::max);
            format!("{:.0} (max {most:.0})", median(&mut needed))
        };
        let (alone, under, bare) = (
            median(&mut alone),
            median(&mut under),
            median(&mut sampling_only),
        );
        // A clean scenario's manifest figure is noise: the ratio says nothing there.
        let slope_cell = if leaks && truth >= 100.0 && entry["kind"] != "threads" {
            format!("×{:.2}", median(&mut slopes) / truth)
        } else {
            format!("{:.0} B", median(&mut slopes))
        };
        let major_gc_cell = match decided_by_both {
            0 => format!("{:.0}", median(&mut major_gc)),
            n => format!("{:.0} (decided {n}/{})", median(&mut major_gc), args.runs),
        };
        println!(
            "| {file} | {} | {} | {right}/{} | {needed_cell} | {named_cell} | {:.0} | {major_gc_cell} | {slope_cell} | {:.1} % | {alone:.2} s | {under:.2} s | ×{:.2} | {} |",
            if leaks { "yes" } else { "no" },
            codes
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            args.runs,
            median(&mut samples),
            median(&mut shares),
            under / alone,
            if args.no_bare { "-".to_owned() } else { format!("×{:.2}", bare / alone) },
        );
    }
    println!();
    for w in &wrong {
        println!("- {w}");
    }
    if !wrong.is_empty() {
        println!();
    }
    println!("Right verdicts: {right_total}/{runs_total}. Target: every leak exits 1 and every clean scenario 0 in all runs; sampling overhead ≤ 5 %.");
    println!("Columns are medians over the runs. Iterations needed: the iteration from which a right verdict held on every longer part of the run (median, and the most over the runs). Major-GC points: points read after V8's own major GCs, between the forced samples (median; \"decided k/n\": runs where the forced samples alone were inconclusive and the two kinds together decided). Sampling share: time in leaktrail's forced GCs, heap and PSS reads, plus the after-effect it estimates from the workload's pace, over the run's wall time (heap snapshots included), as leaktrail's budget counts it. Slowdown: the workload's wall time under leaktrail (inspector start-up included, snapshots left out) over its wall time alone; without snapshots: the same for a run with --snapshots 0 (sampling alone, with the inspector's start-up).");
    Ok(())
}
