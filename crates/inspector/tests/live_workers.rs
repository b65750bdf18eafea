//! The heaps of a live Node's worker threads, read over its main thread's inspector.

mod common;
use common::node_with_inspector;

use std::time::{Duration, Instant};

use leaktrail_inspector::Inspector;
use leaktrail_snapshot::{HeapSnapshot, ParseOptions};

/// One worker that keeps ~80 KB more every 20 ms, and one that keeps nothing; the main
/// thread keeps nothing.
const SCRIPT: &str = "
const { Worker } = require('worker_threads');
new Worker(`const kept = []; setInterval(() => kept.push(new Array(10000).fill(Date.now())), 20);`, { eval: true });
new Worker(`setInterval(() => JSON.stringify({ a: Date.now() }), 20);`, { eval: true });
setInterval(() => {}, 1000);
";

#[test]
fn each_worker_threads_heap_is_read_and_the_growing_one_grows() {
    let (mut child, url) = node_with_inspector(SCRIPT);
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let mut inspector = Inspector::connect(&url)?;
        inspector.follow_workers()?;
        // Workers start as Node runs the script: wait until both are attached.
        let began = Instant::now();
        while inspector.worker_count() < 2 && began.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
            inspector.poll()?;
        }
        assert_eq!(inspector.worker_count(), 2);
        let first = inspector.worker_heaps().expect("both answer");
        std::thread::sleep(Duration::from_millis(1000));
        let second = inspector.worker_heaps().expect("both answer");
        assert_eq!((first.len(), second.len()), (2, 2), "{first:?} {second:?}");
        // ~50 arrays of 80 KB in a second in one of them; the other stays put.
        let grown: Vec<i64> = first
            .iter()
            .zip(&second)
            .map(|(a, b)| *b as i64 - *a as i64)
            .collect();
        let (most, least) = (
            grown.iter().copied().max().unwrap_or(0),
            grown.iter().copied().min().unwrap_or(0),
        );
        assert!(most > 2_000_000, "{first:?} → {second:?}");
        assert!(least < 500_000, "{first:?} → {second:?}");
        // The growing worker's own heap snapshot holds what it keeps: the 80 KB element
        // stores of its arrays; the main thread's
        // holds no more than its own few large objects.
        let sessions = inspector.worker_sessions();
        let growing = grown
            .iter()
            .position(|g| *g == most)
            .expect("a worker grew");
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("worker.heapsnapshot");
        let written = inspector
            .take_worker_heap_snapshot(&sessions[growing], &path)?
            .expect("the worker lives");
        assert_eq!(written, std::fs::metadata(&path)?.len());
        let big_stores = |path: &std::path::Path| -> Result<usize, Box<dyn std::error::Error>> {
            let snapshot = HeapSnapshot::open(path, &ParseOptions::default())?;
            Ok((0..snapshot.node_count() as u32)
                .filter(|&n| snapshot.self_size(n) >= 80_000)
                .count())
        };
        let in_worker = big_stores(&path)?;
        assert!(
            in_worker >= 50,
            "{in_worker} stores of 80 KB in the worker's snapshot"
        );
        let main = dir.path().join("main.heapsnapshot");
        inspector.take_heap_snapshot(&main)?;
        let in_main = big_stores(&main)?;
        assert!(
            in_main < 10,
            "{in_main} stores of 80 KB in the main thread's snapshot"
        );
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        panic!("{e}");
    }
}
