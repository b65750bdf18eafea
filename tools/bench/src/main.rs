//! End-to-end benchmark of `leaktrail summary` and `diff` on large snapshots.
//!
//! ```sh
//! cargo build --release && cargo run --release -p leaktrail-bench
//! ```
//!
//! Generates (once, into `bench-data/`) snapshots of the stream-registry scenario from
//! `scenarios/` at 12,500, 49,000, 51,500 and 54,000 iterations — about 120 MB and
//! three of 460–500 MB — then measures, in the same run and on the same files:
//! - floors: reading the file once, and one single-threaded pass that parses every
//!   integer in it (the least work any parser must do);
//! - `leaktrail summary --shallow` (classes only) on the small and the last large file,
//!   and `leaktrail diff` of the last two;
//! - `leaktrail summary` with the graph (dominators, retained sizes, paths) and
//!   `leaktrail leaks` on the three large files;
//! - memlab's `analyze object-size` and `find-leaks` on the same files when memlab is
//!   installed (`--memlab PATH`, `memlab` on the PATH, or `tools/memlab/node_modules`).
//!
//! It prints wall time and CPU time (user + system; medians of `--runs`) and peak RSS (from
//! `wait4`) of each, with ratios to the floor, to the file size and to memlab. With
//! `--baseline OLD_BINARY` every leaktrail task is measured for both binaries, their runs
//! interleaved (old, new, then new, old, …), so a change is judged against its parent in
//! the same conditions. Machines are noisy: compare the ratios within one run, not seconds
//! across runs.
//!
//! `--watch` measures `leaktrail watch --no-raw-snapshots` against the file-based `watch`
//! on a Node service of `--heap-mb` MB instead (see `watch.rs`):
//!
//! ```sh
//! cargo build --release && cargo run --release -p leaktrail-bench -- --watch --heap-mb 100
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;

mod watch;

/// Benchmark leaktrail against floors and memlab on generated snapshots.
#[derive(Parser)]
struct Args {
    /// Where snapshots are generated and kept.
    #[arg(long, default_value = "bench-data")]
    data: PathBuf,
    /// The leaktrail binary.
    #[arg(long, default_value = "target/release/leaktrail")]
    leaktrail: PathBuf,
    /// The memlab CLI (default: `memlab` on the PATH, if any).
    #[arg(long)]
    memlab: Option<PathBuf>,
    /// Runs per measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The scenarios folder (the repository's own, when run from the repository root).
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
    /// Iteration counts at which snapshots are taken: one small, then three large.
    #[arg(long, value_delimiter = ',', default_value = "12500,49000,51500,54000")]
    at: Vec<u32>,
    /// Skip memlab even when it is installed.
    #[arg(long)]
    no_memlab: bool,
    /// Another leaktrail binary (an older build) to measure alongside, runs interleaved.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Measure zero-disk `watch --no-raw-snapshots` against the file-based `watch` instead.
    #[arg(long)]
    watch: bool,
    /// With --watch: the watched service's heap, MB.
    #[arg(long, default_value_t = 100, requires = "watch")]
    heap_mb: u32,
    /// With --watch: how long each watch runs, seconds (a snapshot every 20 s).
    #[arg(long, default_value_t = 70, requires = "watch")]
    watch_seconds: u64,
}

/// One measured command.
struct Measured {
    wall: f64,
    /// User + system time of the process, seconds.
    cpu: f64,
    peak_rss: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.watch {
        let leaktrail = args.leaktrail.canonicalize().with_context(|| {
            format!(
                "{}: build it first with `cargo build --release`",
                args.leaktrail.display()
            )
        })?;
        return watch::run(&watch::WatchBench {
            leaktrail: &leaktrail,
            heap_mb: args.heap_mb,
            seconds: args.watch_seconds,
            runs: args.runs,
        });
    }
    if args.at.len() != 4 {
        bail!("--at takes four iteration counts: one small snapshot, then three large ones");
    }
    let snaps = ensure_snapshots(&args)?;
    let binary = |p: &PathBuf| {
        p.canonicalize().with_context(|| {
            format!(
                "{}: build it first with `cargo build --release`",
                p.display()
            )
        })
    };
    // (label, binary) of each leaktrail measured: the baseline first, when given.
    let mut binaries = Vec::new();
    if let Some(b) = &args.baseline {
        binaries.push(("baseline ", binary(b)?));
    }
    binaries.push(("", binary(&args.leaktrail)?));
    let local_memlab = PathBuf::from("tools/memlab/node_modules/.bin/memlab");
    let memlab = if args.no_memlab {
        None
    } else {
        args.memlab
            .clone()
            .or_else(|| which("memlab"))
            .or_else(|| local_memlab.is_file().then_some(local_memlab))
    };
    println!(
        "leaktrail benchmark — {} runs each, median wall and CPU time, peak RSS of the process",
        args.runs
    );
    println!(
        "machine: {} cores; memlab: {}",
        cores(),
        memlab
            .as_ref()
            .map_or("not installed".into(), |p| p.display().to_string())
    );
    println!();
    println!("| task | file | wall | CPU | peak RSS | RSS / file | × read floor | × intscan floor | × memlab |");
    println!("|---|---|---|---|---|---|---|---|---|");
    // memlab's launcher uses `#!/usr/bin/env node --expose-gc …`, which Linux's env does not
    // split; run its script with node directly.
    let memlab_cmd = |m: &PathBuf| {
        let script = m.canonicalize().unwrap_or_else(|_| m.clone());
        let mut cmd = Command::new("node");
        cmd.args(["--expose-gc", "--max-old-space-size=8192"])
            .arg(script);
        cmd
    };
    // One leaktrail task for every binary, runs interleaved: (label, result) per binary.
    let lt = |sub: &[&str], files: &[&PathBuf], codes: &[i32]| {
        let mut all: Vec<Vec<Measured>> = binaries.iter().map(|_| Vec::new()).collect();
        for r in 0..args.runs.max(1) {
            for k in 0..binaries.len() {
                // Alternate which binary goes first, so neither always runs on a warm cache.
                let k = if r % 2 == 0 {
                    k
                } else {
                    binaries.len() - 1 - k
                };
                let mut cmd = Command::new(&binaries[k].1);
                cmd.args(sub)
                    .args(["--quiet", "--format", "json"])
                    .args(files);
                all[k].push(run_allowing(&mut cmd, codes)?);
            }
        }
        Ok::<_, anyhow::Error>(
            binaries
                .iter()
                .zip(all)
                .map(|((label, _), runs)| (*label, median(runs)))
                .collect::<Vec<_>>(),
        )
    };
    let mut floors = Vec::new();
    for snap in [&snaps[0], &snaps[3]] {
        let size = std::fs::metadata(snap)?.len();
        let mb = size as f64 / 1e6;
        let read = median_of(args.runs, || floor_read(snap))?;
        let scan = median_of(args.runs, || floor_intscan(snap))?;
        row("floor: read once", mb, &read, size, None, None, None);
        row(
            "floor: intscan (1 core)",
            mb,
            &scan,
            size,
            Some(&read),
            None,
            None,
        );
        let shallow = lt(&["summary", "--shallow"], &[snap], &[0])?;
        let object_size = match &memlab {
            Some(m) => Some(run(memlab_cmd(m)
                .args(["analyze", "object-size", "--snapshot"])
                .arg(snap))?),
            None => None,
        };
        for (label, m) in &shallow {
            row(
                &format!("{label}leaktrail summary --shallow"),
                mb,
                m,
                size,
                Some(&read),
                Some(&scan),
                object_size.as_ref(),
            );
        }
        for (label, m) in &lt(&["summary"], &[snap], &[0])? {
            row(
                &format!("{label}leaktrail summary (graph)"),
                mb,
                m,
                size,
                Some(&read),
                Some(&scan),
                object_size.as_ref(),
            );
        }
        if let Some(m) = &object_size {
            row(
                "memlab analyze object-size",
                mb,
                m,
                size,
                Some(&read),
                Some(&scan),
                None,
            );
        }
        floors.push((size, mb, read, scan));
    }
    let (size, mb, read, scan) = &floors[1];
    let times = |m: &Measured, k: f64| Measured {
        wall: m.wall * k,
        cpu: m.cpu * k,
        peak_rss: m.peak_rss,
    };
    for (label, m) in &lt(&["diff"], &[&snaps[2], &snaps[3]], &[0])? {
        row(
            &format!("{label}leaktrail diff (two files)"),
            *mb,
            m,
            *size,
            Some(&times(read, 2.0)),
            Some(&times(scan, 2.0)),
            None,
        );
    }
    let leaks = lt(&["leaks"], &[&snaps[1], &snaps[2], &snaps[3]], &[0, 1])?;
    let find_leaks = match &memlab {
        Some(m) => Some(run(memlab_cmd(m)
            .args(["find-leaks", "--trace-all-objects", "--baseline"])
            .arg(&snaps[1])
            .arg("--target")
            .arg(&snaps[2])
            .arg("--final")
            .arg(&snaps[3]))?),
        None => None,
    };
    for (label, m) in &leaks {
        row(
            &format!("{label}leaktrail leaks (three files)"),
            *mb,
            m,
            *size,
            Some(&times(read, 3.0)),
            Some(&times(scan, 3.0)),
            find_leaks.as_ref(),
        );
    }
    if let Some(m) = &find_leaks {
        row(
            "memlab find-leaks --trace-all-objects",
            *mb,
            m,
            *size,
            Some(&times(read, 3.0)),
            Some(&times(scan, 3.0)),
            None,
        );
    }
    println!();
    println!(
        "Targets (issue 19, 483 MiB): summary with the graph ≤ 1.1 s and peak RSS ≤ 0.75 × file;"
    );
    println!("summary --shallow ≤ 0.8 s; diff of two ≤ 1.2 s; leaks on three ≤ 3 s.");
    Ok(())
}

fn row(
    task: &str,
    mb: f64,
    m: &Measured,
    size: u64,
    read: Option<&Measured>,
    scan: Option<&Measured>,
    memlab: Option<&Measured>,
) {
    let ratio = |r: Option<&Measured>, inverse: bool| match r {
        Some(r) if inverse => format!("{:.1}× faster", r.wall / m.wall),
        Some(r) => format!("{:.2}", m.wall / r.wall),
        None => "-".into(),
    };
    println!(
        "| {task} | {mb:.0} MB | {:.2} s | {:.2} s | {:.0} MiB | {:.2} | {} | {} | {} |",
        m.wall,
        m.cpu,
        m.peak_rss as f64 / (1 << 20) as f64,
        m.peak_rss as f64 / size as f64,
        ratio(read, false),
        ratio(scan, false),
        ratio(memlab, true),
    );
}

fn median_of(runs: usize, mut f: impl FnMut() -> Result<Measured>) -> Result<Measured> {
    Ok(median(
        (0..runs.max(1)).map(|_| f()).collect::<Result<Vec<_>>>()?,
    ))
}

/// Median wall and median CPU time (each on its own), and the largest peak RSS.
fn median(mut all: Vec<Measured>) -> Measured {
    let peak = all.iter().map(|m| m.peak_rss).max().unwrap_or(0);
    all.sort_by(|a, b| a.cpu.total_cmp(&b.cpu));
    let cpu = all.get(all.len() / 2).map_or(0.0, |m| m.cpu);
    all.sort_by(|a, b| a.wall.total_cmp(&b.wall));
    let wall = all.get(all.len() / 2).map_or(0.0, |m| m.wall);
    Measured {
        wall,
        cpu,
        peak_rss: peak,
    }
}

/// Runs a command that must exit 0; wall time and peak RSS from `wait4`.
fn run(cmd: &mut Command) -> Result<Measured> {
    run_allowing(cmd, &[0])
}

/// Runs a command that must exit with one of `codes`.
fn run_allowing(cmd: &mut Command, codes: &[i32]) -> Result<Measured> {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("{cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut stderr = child.stderr;
    let mut err_text = String::new();
    if let Some(e) = stderr.as_mut() {
        let _ = e.read_to_string(&mut err_text);
    }
    let mut status = 0;
    // SAFETY: plain syscall on our own child; rusage is a plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    if rc < 0 {
        bail!("wait4 failed for {cmd:?}");
    }
    if !libc::WIFEXITED(status) || !codes.contains(&libc::WEXITSTATUS(status)) {
        bail!("{cmd:?} failed: {err_text}");
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Measured {
        wall,
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_rss: usage.ru_maxrss as u64 * 1024,
    })
}

/// Floor 1: read the file once through a 1 MiB buffer.
fn floor_read(path: &Path) -> Result<Measured> {
    let start = Instant::now();
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut sum = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sum = sum.wrapping_add(buf[n - 1] as u64);
    }
    std::hint::black_box(sum);
    let wall = start.elapsed().as_secs_f64();
    Ok(Measured {
        wall,
        // In-process and single-threaded: its wall time is its CPU time, near enough.
        cpu: wall,
        peak_rss: 1 << 20,
    })
}

/// Floor 2: parse every integer in the file on one core (no storage).
fn floor_intscan(path: &Path) -> Result<Measured> {
    let start = Instant::now();
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut acc, mut total, mut count) = (0u64, 0u64, 0u64);
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            let d = b.wrapping_sub(b'0');
            if d < 10 {
                acc = acc * 10 + d as u64;
            } else if b == b',' {
                total = total.wrapping_add(acc);
                count += 1;
                acc = 0;
            }
        }
    }
    std::hint::black_box((total, count));
    let wall = start.elapsed().as_secs_f64();
    Ok(Measured {
        wall,
        // In-process and single-threaded: its wall time is its CPU time, near enough.
        cpu: wall,
        peak_rss: 1 << 20,
    })
}

/// Generates the snapshots with Node if they are not there yet.
fn ensure_snapshots(args: &Args) -> Result<Vec<PathBuf>> {
    let name = |n: u32| {
        args.data
            .join(format!("stream-registry-no-ttl-{n}.heapsnapshot"))
    };
    let paths: Vec<PathBuf> = args.at.iter().map(|&n| name(n)).collect();
    if paths.iter().all(|p| p.exists()) {
        return Ok(paths);
    }
    std::fs::create_dir_all(&args.data)?;
    let at = args
        .at
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let last = args.at.iter().max().copied().unwrap_or(0);
    eprintln!(
        "generating snapshots at iterations {at} in {} (a few minutes, once)…",
        args.data.display()
    );
    let status = Command::new("node")
        .arg("--expose-gc")
        .arg(args.scenarios.join("runner.js"))
        .arg(args.scenarios.join("stream-registry-no-ttl.js"))
        .args([
            "--iterations",
            &last.to_string(),
            "--snapshot-at",
            &at,
            "--snapshot-dir",
        ])
        .arg(&args.data)
        .stdout(Stdio::null())
        .status()
        .context("running node")?;
    if !status.success() {
        bail!("the scenario runner failed ({status})");
    }
    Ok(paths)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
