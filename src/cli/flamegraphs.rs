//! Flame graphs drawn from profiles, shared by `flame` and by `run --cpu-profile` /
//! `--alloc-profile` (which also asks the harness to record the profiles).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use leaktrail_analysis::units::human_bytes;
use leaktrail_harness::{ProfileRequest, RecordedProfiles};
use leaktrail_profile::{write_flame_graph, Profile, ProfileKind, Unit};
use leaktrail_report::{group_digits, Format};

/// A frame with much weight of its own.
#[derive(Debug, Serialize)]
pub struct TopFrame {
    /// `functionName (file.js:line)`.
    pub frame: String,
    /// Its self weight, in the graph's unit.
    pub weight: u64,
    /// Its share of the total, 0 to 1.
    pub share: f64,
}

/// One profile and the flame graph drawn from it.
#[derive(Debug, Serialize)]
pub struct FlameGraph {
    /// The profile.
    pub input: PathBuf,
    /// `cpu` or `heap`.
    pub kind: &'static str,
    /// The SVG written.
    pub svg: PathBuf,
    /// `microseconds`, `samples` or `bytes`.
    pub unit: &'static str,
    /// The sum of all weights.
    pub total: u64,
    /// Samples in the profile.
    pub samples: u64,
    /// Profiled time, for a CPU profile.
    pub seconds: Option<f64>,
    /// The heaviest frames by self weight.
    pub top: Vec<TopFrame>,
}

/// Draws `profile` (read from `input`) into `svg`, created owner-only: profiles name
/// scripts, paths and URLs.
pub fn draw(input: &Path, profile: &Profile, svg: &Path) -> anyhow::Result<FlameGraph> {
    let folded = profile.fold();
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (kind, title, subtitle, samples, seconds) = match profile {
        Profile::Cpu(cpu) => {
            let seconds = cpu.duration_micros() / 1e6;
            let samples = cpu.sample_count();
            (
                "cpu",
                format!("CPU flame graph: {name}"),
                format!(
                    "{seconds:.1} s profiled, {} samples; width = time on the stack",
                    group_digits(samples)
                ),
                samples,
                Some(seconds),
            )
        }
        Profile::Heap(heap) => (
            "heap",
            format!("Allocation flame graph: {name}"),
            format!(
                "{} sampled and still allocated when sampling stopped; width = bytes, by the stack that allocated them",
                human_bytes(folded.total())
            ),
            heap.samples.len() as u64,
            None,
        ),
    };
    let mut file = leaktrail_private_files::create_file(svg)
        .with_context(|| format!("{}: cannot create", svg.display()))?;
    write_flame_graph(&folded, &title, Some(&subtitle), &mut file)
        .with_context(|| format!("{}: cannot draw {}", input.display(), svg.display()))?;
    let total = folded.total();
    let top = folded
        .top_self(5)
        .into_iter()
        .map(|(frame, weight)| TopFrame {
            frame,
            weight,
            share: weight as f64 / total.max(1) as f64,
        })
        .collect();
    Ok(FlameGraph {
        input: input.to_path_buf(),
        kind,
        svg: svg.to_path_buf(),
        unit: match folded.unit() {
            Unit::Microseconds => "microseconds",
            Unit::Samples => "samples",
            Unit::Bytes => "bytes",
        },
        total,
        samples,
        seconds,
        top,
    })
}

/// One line on what a graph holds: `3.1 s, 3,052 samples` or `1.2 MiB sampled`.
pub fn extent(g: &FlameGraph) -> String {
    match g.seconds {
        Some(s) => format!("{s:.1} s, {} samples", group_digits(g.samples)),
        None => format!("{} sampled", human_bytes(g.total)),
    }
}

/// The heaviest frames: `hotLoop (work.js:2) 78.0 %, (idle) 10.2 %`.
pub fn heaviest(g: &FlameGraph, n: usize) -> String {
    g.top
        .iter()
        .take(n)
        .map(|t| format!("{} {:.1} %", t.frame, t.share * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `run --cpu-profile` / `--alloc-profile` ask the harness to record into `dir`.
pub fn run_request(cpu: bool, alloc: bool, dir: Option<&Path>) -> Option<ProfileRequest> {
    let dir = dir?;
    (cpu || alloc).then(|| ProfileRequest {
        // Node's --cpu-prof default: fine enough for a flame graph, light on the workload.
        cpu_interval: cpu.then_some(Duration::from_millis(1)),
        // The DevTools default: a few hundred samples of a leak of a few MiB.
        alloc_interval: alloc.then_some(32 * 1024),
        dir: dir.to_path_buf(),
    })
}

/// After a run with profiles: draws their flame graphs into `dir`, adds a "Profiles"
/// section to report.md there, warns on stderr about a profile that is missing, and
/// returns the lines to add to the printed report.
pub fn after_run(
    dir: &Path,
    recorded: &RecordedProfiles,
    format: Format,
) -> anyhow::Result<String> {
    if recorded.files.is_empty() && recorded.errors.is_empty() {
        return Ok(String::new());
    }
    let (graphs, mut errors) = run_graphs(&recorded.files, dir);
    errors.splice(0..0, recorded.errors.iter().cloned());
    for e in &errors {
        eprintln!("leaktrail: warning: {e}");
    }
    let report = dir.join("report.md");
    let mut md = std::fs::OpenOptions::new()
        .append(true)
        .open(&report)
        .with_context(|| format!("{}: cannot open", report.display()))?;
    md.write_all(report_section(&graphs, &errors).as_bytes())
        .with_context(|| format!("{}: cannot write", report.display()))?;
    if format == Format::Json {
        return Ok(String::new());
    }
    let mut text = String::from("\nProfiles:\n");
    for g in &graphs {
        text.push_str(&format!(
            "  {} ({}); heaviest: {}\n",
            g.svg.display(),
            extent(g),
            heaviest(g, 3)
        ));
    }
    Ok(text)
}

/// Draws the flame graphs of the profiles a `run` wrote into `dir` (`cpu-flame.svg`,
/// `alloc-flame.svg`). A profile that cannot be drawn is reported, not fatal: the run's
/// verdict stands.
fn run_graphs(profiles: &[PathBuf], dir: &Path) -> (Vec<FlameGraph>, Vec<String>) {
    let mut graphs = Vec::new();
    let mut errors = Vec::new();
    for input in profiles {
        let drawn = Profile::read(input)
            .map_err(anyhow::Error::from)
            .and_then(|p| {
                let svg = match p.kind() {
                    ProfileKind::Cpu => "cpu-flame.svg",
                    ProfileKind::Heap => "alloc-flame.svg",
                };
                draw(input, &p, &dir.join(svg))
            });
        match drawn {
            Ok(g) => graphs.push(g),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    (graphs, errors)
}

/// The "Profiles" section of a run's report.md.
fn report_section(graphs: &[FlameGraph], errors: &[String]) -> String {
    let mut md = String::from("\n### Profiles\n\n");
    let file = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for g in graphs {
        let (what, heavy) = match g.kind {
            "cpu" => ("CPU profile", "functions by self time"),
            _ => (
                "Allocations still held at the end",
                "allocation sites by bytes",
            ),
        };
        md.push_str(&format!(
            "- {what}: `{}`, flame graph `{}` ({}). Heaviest {heavy}: {}.\n",
            file(&g.input),
            file(&g.svg),
            extent(g),
            heaviest(g, 5)
        ));
    }
    for e in errors {
        md.push_str(&format!("- {e}\n"));
    }
    md
}
