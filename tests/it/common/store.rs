//! A real store for the `trend` and `serve` tests, built through the store API: a scenario
//! runs under Node with its inspector open, sampled from outside (/proc and the
//! inspector) while the runner writes snapshots, which are then parsed and censused.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use leaktrail_analysis::{CensusLimits, HeapAnalysis, SnapshotCensus};
use leaktrail_inspector::{listening_url, Inspector};
use leaktrail_sampler::ProcessTree;
use leaktrail_snapshot::{HeapSnapshot, ParseOptions};
use leaktrail_store::{EndReason, IncarnationEnd, SampleRecord, Store};

use super::{node, snapshotting_runner};

/// What [`build_store`] put in the store.
pub struct StoreFixture {
    /// The store directory.
    pub dir: PathBuf,
    /// The target's name (the scenario's).
    pub target: String,
    /// Snapshot ids, oldest first.
    pub snapshot_ids: Vec<i64>,
    /// Their times, ms since the epoch.
    pub snapshot_times: Vec<i64>,
    /// Samples stored.
    pub samples: Vec<SampleRecord>,
    /// The V8 heap limit recorded.
    pub heap_limit: Option<i64>,
}

/// Runs `scenario` for `iterations` with snapshots at `at`, samples it every 40 ms, and
/// stores samples and snapshot censuses in a new store at `root/store`.
pub fn build_store(root: &Path, scenario: &str, iterations: u32, at: &[u32]) -> StoreFixture {
    let snaps = root.join("raw");
    let mut child = snapshotting_runner(
        &["--inspect=127.0.0.1:0", "--expose-gc"],
        scenario,
        iterations,
        at,
        &snaps,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("node starts");
    // Node waits at exit for a connected debugger to leave: the runner's `done` line says
    // when to disconnect.
    let done = Arc::new(AtomicBool::new(false));
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let seen = done.clone();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if line.starts_with("done ") {
                seen.store(true, Ordering::SeqCst);
            }
        }
        seen.store(true, Ordering::SeqCst);
    });
    let pid = child.id() as i32;
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut url = None;
    let mut line = String::new();
    while url.is_none() {
        line.clear();
        if stderr.read_line(&mut line).expect("stderr readable") == 0 {
            panic!("node exited before its inspector listened");
        }
        url = listening_url(&line).map(str::to_owned);
    }
    // Keep draining stderr so Node never blocks on it.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stderr.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    let mut inspector = Inspector::connect(&url.expect("url")).expect("inspector connects");
    inspector.set_timeout(Duration::from_secs(20));

    let dir = root.join("store");
    let mut store = Store::create(&dir).expect("store created");
    let target = store
        .target(scenario, Some(&format!("node runner.js {scenario}.js")))
        .expect("target");
    let started = leaktrail_store::now_ms();
    let inc = store
        .start_incarnation(target, i64::from(pid), started)
        .expect("incarnation");
    // The heap limit V8 sets for these flags on this machine (what `watch` reads over the
    // inspector from the process itself).
    let heap_limit = Command::new(node())
        .args([
            "--expose-gc",
            "-p",
            "require('v8').getHeapStatistics().heap_size_limit",
        ])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<i64>()
                .ok()
        });
    assert!(heap_limit.is_some(), "node printed its heap limit");
    store.set_limits(inc, heap_limit, None).expect("limits");

    let tree = ProcessTree::new(pid);
    let mut samples = Vec::new();
    while !done.load(Ordering::SeqCst) {
        let Some(mem) = tree.sample(false) else { break };
        let Ok(heap) = inspector.process_memory() else {
            break;
        };
        let Ok(usage) = inspector.heap_usage() else {
            break;
        };
        let s = SampleRecord {
            incarnation_id: inc,
            t: leaktrail_store::now_ms(),
            memory: leaktrail_store::MemoryReading {
                heap_used: Some(heap.heap_used),
                heap_total: Some(usage.total_size),
                external: Some(heap.external),
                ..mem.total
            },
            in_snapshot: false,
        };
        store.add_sample(&s).expect("sample stored");
        samples.push(s);
        std::thread::sleep(Duration::from_millis(40));
    }
    inspector.disconnect();
    let status = child.wait().expect("node waited for");
    assert!(status.success(), "scenario failed: {status}");
    store
        .end_incarnation(
            inc,
            &IncarnationEnd {
                ended_at: leaktrail_store::now_ms(),
                exit_code: status.code().map(i64::from),
                signal: None,
                reason: EndReason::Exited,
            },
        )
        .expect("end");

    let mut snapshot_ids = Vec::new();
    let mut snapshot_times = Vec::new();
    for n in at {
        let name = format!("{scenario}-{n}.heapsnapshot");
        let raw = snaps.join(&name);
        let t = std::fs::metadata(&raw)
            .and_then(|m| m.modified())
            .expect("snapshot written")
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after the epoch")
            .as_millis() as i64;
        let snap = HeapSnapshot::open(&raw, &ParseOptions::default()).expect("snapshot parses");
        let census = SnapshotCensus::of(
            &HeapAnalysis::new(&snap),
            &raw.display().to_string(),
            &CensusLimits::default(),
            None,
        );
        drop(snap);
        std::fs::rename(&raw, store.snapshots_dir().join(&name)).expect("moved into the store");
        let id = store
            .add_snapshot(inc, t, &name, "schedule", &census)
            .expect("snapshot stored");
        snapshot_ids.push(id);
        snapshot_times.push(t);
    }
    StoreFixture {
        dir,
        target: scenario.to_owned(),
        snapshot_ids,
        snapshot_times,
        samples,
        heap_limit,
    }
}
