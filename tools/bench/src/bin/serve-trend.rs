//! `GET /api/memory/trend` over a store of 200 snapshot censuses, against its 100 ms
//! budget and against reading the same rows straight from SQLite.
//!
//! ```sh
//! cargo run --release -p leaktrail-bench --bin serve-trend -- --requests 21
//! ```
//!
//! The store is what a week-long `watch` leaves with its defaults: one target, samples
//! every 10 s (the trend reads the newest 20,000), and 200 snapshot censuses 30 min apart.
//! The censuses come from one real snapshot (stream-registry-no-ttl after 1000 iterations,
//! written by Node): each keeps its ~400 classes and 50 collections with counts and sizes
//! varied per snapshot — a few classes and collections grow steadily, the rest wander.
//! The server is `leaktrail_serve::spawn` on loopback; each request is a new connection.
//! The reference, measured in the same run, opens the store and reads the raw rows the
//! trend needs (samples, the snapshot index, every census row) without deserialising.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;

use leaktrail_analysis::{CensusLimits, CollectionRecord, HeapAnalysis, SnapshotCensus};
use leaktrail_snapshot::{HeapSnapshot, ParseOptions};
use leaktrail_store::{MemoryReading, SampleRecord, Store};

/// Times the trend route over a store of 200 censuses.
#[derive(Parser)]
struct Args {
    /// Requests timed (the median is reported).
    #[arg(long, default_value_t = 21)]
    requests: usize,
    /// Snapshot censuses in the store.
    #[arg(long, default_value_t = 200)]
    snapshots: usize,
    /// The scenarios folder (the repository's own, when run from the repository root).
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
    /// Build the store here (default: a temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The budget the issue sets.
const TARGET_MS: f64 = 100.0;
/// Census rows per snapshot the store should hold, at least.
const COLLECTIONS: usize = 50;

fn main() -> Result<()> {
    let args = Args::parse();
    let tmp = tempfile::tempdir()?;
    let root = args.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    let census = real_census(&args.scenarios, &root)?;
    let store_dir = root.join("store");
    let _ = std::fs::remove_dir_all(&store_dir);
    let started = Instant::now();
    let samples = build_store(&store_dir, &census, args.snapshots)?;
    println!(
        "store: {} censuses of {} classes and {} collections each, {} samples; built in {:.1} s",
        args.snapshots,
        census.classes.len(),
        COLLECTIONS,
        samples,
        started.elapsed().as_secs_f64()
    );

    let server = leaktrail_serve::spawn(leaktrail_serve::ServeConfig::new(
        store_dir.clone(),
        "127.0.0.1:0".parse()?,
        None,
    ))?;
    let addr = server.addr();
    // One untimed request warms the page cache and the connection pool.
    let body = get(addr, "/api/memory/trend")?;
    let report: serde_json::Value = serde_json::from_str(&body).context("trend JSON")?;
    let target = &report["targets"][0];
    println!(
        "trend: {} ({} classes, {} collections, {} snapshots), {} KB of JSON",
        target["overall"],
        target["classes"].as_array().map_or(0, Vec::len),
        target["collections"].as_array().map_or(0, Vec::len),
        target["snapshots"],
        body.len() / 1024
    );
    if target["snapshots"].as_u64() != Some(args.snapshots as u64) {
        bail!(
            "the trend did not read every census: {}",
            target["snapshots"]
        );
    }

    let route = median_ms(args.requests, || get(addr, "/api/memory/trend").map(|_| ()))?;
    // Cold: a new server per request, so the class trends are computed from the censuses
    // (what the first request after a new snapshot costs).
    let cold = median_ms(args.requests.min(7), || {
        let server = leaktrail_serve::spawn(leaktrail_serve::ServeConfig::new(
            store_dir.clone(),
            "127.0.0.1:0".parse()?,
            None,
        ))?;
        get(server.addr(), "/api/memory/trend")?;
        server.shutdown()?;
        Ok(())
    })?;
    // Where the time goes: reading the input, assessing it.
    let store = Store::open(&store_dir)?;
    let api = store.targets()?.remove(0);
    let read = median_ms(args.requests, || {
        leaktrail_trend::TrendInput::from_store(&store, &api)?;
        Ok(())
    })?;
    let input = leaktrail_trend::TrendInput::from_store(&store, &api)?;
    let policy = leaktrail_trend::TrendPolicy::default();
    let assess = median_ms(args.requests, || {
        std::hint::black_box(leaktrail_trend::TrendReport::assess(&input, &policy));
        Ok(())
    })?;
    let miss = median_ms(args.requests, || {
        let report = leaktrail_trend::TrendCache::new().report(&store, &api, &policy)?;
        std::hint::black_box(report);
        Ok(())
    })?;
    let samples_only = median_ms(args.requests, || {
        store.incarnation_samples(1, 0, leaktrail_trend::MAX_TREND_SAMPLES)?;
        Ok(())
    })?;
    let reference = median_ms(args.requests, || read_raw_rows(&store_dir))?;
    println!();
    println!("| measure | median of {} | ratio |", args.requests);
    println!("|---|---|---|");
    println!(
        "| GET /api/memory/trend | {route:.1} ms | {:.2}× the {TARGET_MS:.0} ms target |",
        route / TARGET_MS
    );
    println!(
        "| GET /api/memory/trend, cold (a new server's first request: class trends computed on the spot; a running server does this in the background after each snapshot) | {cold:.1} ms | {:.2}× the target |",
        cold / TARGET_MS
    );
    println!(
        "| reference: Store::open + the raw rows | {reference:.1} ms | route = {:.2}× the reference, cold = {:.2}× |",
        route / reference,
        cold / reference
    );
    println!(
        "| of which TrendInput::from_store | {read:.1} ms (samples alone {samples_only:.1} ms) | |"
    );
    println!("| of which TrendReport::assess | {assess:.1} ms | |");
    println!(
        "| a cache miss in process (TrendCache::new().report: read + assess) | {miss:.1} ms | {:.2}× the target |",
        miss / TARGET_MS
    );
    server.shutdown()?;
    Ok(())
}

/// The census of one real snapshot, written by Node for this run.
fn real_census(scenarios: &Path, root: &Path) -> Result<SnapshotCensus> {
    let dir = root.join("raw");
    let out = Command::new("node")
        .arg("--expose-gc")
        .arg(scenarios.join("runner.js"))
        .arg(scenarios.join("stream-registry-no-ttl.js"))
        .args([
            "--iterations",
            "1000",
            "--snapshot-at",
            "1000",
            "--snapshot-dir",
        ])
        .arg(&dir)
        .output()
        .context("node runs the scenario")?;
    if !out.status.success() {
        bail!("runner failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let path = dir.join("stream-registry-no-ttl-1000.heapsnapshot");
    let snap = HeapSnapshot::open(&path, &ParseOptions::default())?;
    let census = SnapshotCensus::of(
        &HeapAnalysis::new(&snap),
        &path.display().to_string(),
        &CensusLimits::default(),
        None,
    );
    Ok(census)
}

/// A deterministic pseudo-random sequence (xorshift), so every run builds the same store.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Fills a store: one target, samples every 10 s and `n` censuses 30 min apart, each a
/// variation of `base`. Returns the samples written.
fn build_store(dir: &Path, base: &SnapshotCensus, n: usize) -> Result<usize> {
    let mut store = Store::create(dir)?;
    let target = store.target("api", Some("node server.js"))?;
    let t0: i64 = 1_795_000_000_000;
    let inc = store.start_incarnation(target, 4242, t0)?;
    store.set_limits(inc, Some(4 << 30), None)?;
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let half_hour = 1_800_000i64;
    let span = half_hour * n as i64;
    // Samples every 10 s over the whole window: what the trend reads (the newest 20,000).
    let step = 10_000i64;
    let mut count = 0;
    let mut t = t0;
    while t < t0 + span {
        let hours = (t - t0) as f64 / 3_600_000.0;
        let heap = 300e6 + hours * 2e6 + noise.next() * 20e6;
        store.add_sample(&SampleRecord {
            incarnation_id: inc,
            t,
            memory: MemoryReading {
                rss: (heap * 1.6) as u64,
                anon: (heap * 1.4) as u64,
                pss: None,
                threads: 11,
                heap_used: Some(heap as u64),
                heap_total: Some((heap * 1.2) as u64),
                external: Some(3_000_000),
            },
            in_snapshot: false,
        })?;
        count += 1;
        t += step;
    }
    // Pad the collections to 50 with real ones under other ids (a small heap has few
    // collections of 64+ entries; a service has dozens).
    let mut collections: Vec<CollectionRecord> = base.collections.clone();
    let mut k = 0;
    while collections.len() < COLLECTIONS && !base.collections.is_empty() {
        let mut c = base.collections[k % base.collections.len()].clone();
        c.id = c.id.wrapping_add(1_000_003 * (k as u32 + 1));
        collections.push(c);
        k += 1;
    }
    for i in 0..n {
        let mut c = base.clone();
        let growth = i as f64 / n as f64;
        for (j, class) in c.classes.iter_mut().enumerate() {
            // Every 40th class grows steadily, the rest wander by ±5 %.
            let f = if j % 40 == 0 {
                1.0 + 3.0 * growth
            } else {
                0.95 + 0.1 * noise.next()
            };
            class.count = (class.count as f64 * f) as u64;
            class.self_size = (class.self_size as f64 * f) as u64;
            class.retained_size = class.retained_size.map(|r| (r as f64 * f) as u64);
        }
        c.collections = collections
            .iter()
            .enumerate()
            .map(|(j, r)| {
                let f = if j % 10 == 0 {
                    1.0 + 5.0 * growth
                } else {
                    0.9 + 0.2 * noise.next()
                };
                CollectionRecord {
                    entries: (r.entries as f64 * f) as u64,
                    retained_size: (r.retained_size as f64 * f) as u64,
                    ..r.clone()
                }
            })
            .collect();
        c.info.total_self_size = c.classes.iter().map(|k| k.self_size).sum();
        store.add_snapshot(
            inc,
            t0 + half_hour * i as i64,
            &format!("api-1-{i}.heapsnapshot"),
            "schedule",
            &c,
        )?;
    }
    Ok(count)
}

/// The reference: open the store and step through every row the trend reads.
fn read_raw_rows(dir: &Path) -> Result<()> {
    let store = Store::open(dir)?;
    let targets = store.targets()?;
    let mut rows = 0usize;
    for t in &targets {
        rows += store
            .samples(t.id, 0, leaktrail_trend::MAX_TREND_SAMPLES)?
            .len();
        for s in store.snapshots(t.id)? {
            rows += 1;
            let _ = s;
        }
    }
    let conn = rusqlite::Connection::open_with_flags(
        dir.join(leaktrail_store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    for table in [
        "snapshot_families",
        "snapshot_classes",
        "snapshot_collections",
    ] {
        let mut st = conn.prepare(&format!("SELECT * FROM {table}"))?;
        let columns = st.column_count();
        let mut q = st.query([])?;
        while let Some(r) = q.next()? {
            for c in 0..columns {
                let _ = r.get_ref(c)?;
            }
            rows += 1;
        }
    }
    std::hint::black_box(rows);
    Ok(())
}

fn median_ms(n: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// One GET over a new connection; the body when the status is 200.
fn get(addr: SocketAddr, path: &str) -> Result<String> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw)?;
    let (head, body) = text.split_once("\r\n\r\n").context("no end of headers")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("{path}: {}", head.lines().next().unwrap_or(""));
    }
    Ok(body.to_owned())
}
