//! `leaktrail flame FILE…`: flame-graph SVGs from V8 CPU profiles and sampling heap
//! profiles (Node's own `--cpu-prof` / `--heap-prof` files, or `run --cpu-profile` /
//! `--alloc-profile`); the drawing is `flamegraphs`'s, shared with `run`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use leaktrail_profile::Profile;
use leaktrail_report::Format;

use super::flamegraphs::{draw, extent, heaviest, FlameGraph};
use super::Common;

/// Arguments of `flame`.
#[derive(Args, Debug)]
pub struct FlameArgs {
    /// Profiles: `.cpuprofile` (node --cpu-prof) or `.heapprofile` (node --heap-prof); the
    /// kind is read from the content.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Write the SVG here (one FILE only).
    #[arg(short, long, value_name = "OUT.svg", conflicts_with_all = ["out_dir", "folded"])]
    output: Option<PathBuf>,

    /// Write one SVG per FILE into this directory, named `<FILE name>.svg` (default: beside
    /// each FILE).
    #[arg(long, value_name = "DIR", conflicts_with = "folded")]
    out_dir: Option<PathBuf>,

    /// Print the folded stacks (`outer;…;inner weight`, µs or bytes) on stdout instead of
    /// drawing.
    #[arg(long)]
    folded: bool,
}

/// Runs `flame`; returns what to print.
pub fn run(args: &FlameArgs, common: &Common) -> anyhow::Result<String> {
    if args.output.is_some() && args.files.len() > 1 {
        anyhow::bail!(
            "-o writes one SVG but {} profiles were given: use --out-dir DIR for several",
            args.files.len()
        );
    }
    // Everything is read before anything is written: a bad file leaves no partial output.
    let profiles = args
        .files
        .iter()
        .map(|f| Profile::read(f).map(|p| (f, p)))
        .collect::<Result<Vec<_>, _>>()?;
    if args.folded {
        return Ok(profiles.iter().map(|(_, p)| p.fold().to_string()).collect());
    }
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let mut graphs = Vec::new();
    for (input, profile) in &profiles {
        let svg = match (&args.output, &args.out_dir) {
            (Some(out), _) => out.clone(),
            (None, Some(dir)) => dir.join(svg_name(input)),
            (None, None) => input.with_file_name(svg_name(input)),
        };
        graphs.push(draw(input, profile, &svg)?);
    }
    Ok(render(&graphs, common.render.format))
}

/// `NAME.cpuprofile` → `NAME.cpuprofile.svg`: unique even when a CPU and a heap profile
/// share a stem.
fn svg_name(input: &Path) -> String {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "profile".to_owned());
    format!("{name}.svg")
}

fn render(graphs: &[FlameGraph], format: Format) -> String {
    if format == Format::Json {
        #[derive(Serialize)]
        struct FlameJson<'a> {
            schema: &'static str,
            graphs: &'a [FlameGraph],
        }
        let json = FlameJson {
            schema: "leaktrail.flame/1",
            graphs,
        };
        // Plain data: serialising cannot fail.
        return serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    }
    let mut out = String::new();
    for g in graphs {
        let what = match g.kind {
            "cpu" => "CPU profile",
            _ => "allocation profile",
        };
        out.push_str(&format!(
            "{}: {what} {}, {}\n  heaviest (self): {}\n",
            g.svg.display(),
            g.input.display(),
            extent(g),
            heaviest(g, 3)
        ));
    }
    out
}
