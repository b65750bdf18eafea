//! Against a real `node --inspect=127.0.0.1:0`.

mod common;
use common::node_with_inspector;

use leaktrail_inspector::Inspector;
use leaktrail_snapshot::{HeapSnapshot, NodeKind, ParseOptions};

#[test]
fn heap_usage_gc_and_a_snapshot_from_a_live_node() {
    let (mut child, url) = node_with_inspector(
        "class Marker { constructor(i) { this.i = i; } } globalThis.keep = []; for (let i = 0; i < 1000; i++) keep.push(new Marker(i)); setInterval(() => {}, 1000);",
    );
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let mut inspector = Inspector::connect(&url)?;
        inspector.collect_garbage()?;
        let heap = inspector.heap_usage()?;
        assert!(
            heap.used_size > 1 << 20 && heap.total_size >= heap.used_size,
            "{heap:?}"
        );
        let mem = inspector.process_memory()?;
        assert!(mem.rss > heap.used_size && mem.heap_used > 0, "{mem:?}");

        let dir = tempfile::tempdir()?;
        let path = dir.path().join("live.heapsnapshot");
        let bytes = inspector.take_heap_snapshot(&path)?;
        assert_eq!(std::fs::metadata(&path)?.len(), bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path)?.permissions().mode() & 0o777,
                0o600
            );
        }
        let snap = HeapSnapshot::open(&path, &ParseOptions::default())?;
        let markers = (0..snap.node_count() as u32)
            .filter(|&n| snap.node_kind(n) == NodeKind::Object && snap.node_name(n) == "Marker")
            .count();
        assert_eq!(markers, 1000);
        // The connection stays usable after a snapshot.
        inspector.collect_garbage()?;
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result.expect("inspector session");
}

/// A signal the caller handles (as `watch` and `run` handle SIGTERM and SIGINT) interrupts
/// a read on a socket with a receive timeout even under SA_RESTART: the call must still
/// get its answer, not fail (a lost heap reading, seen when `watch` was stopped).
#[test]
fn a_handled_signal_does_not_fail_a_call_in_flight() {
    let (mut child, url) = node_with_inspector("setInterval(() => {}, 1000);");
    // A handler that does nothing, as signal-hook's flag does (SA_RESTART).
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let registered =
        signal_hook::flag::register(signal_hook::consts::SIGUSR2, flag.clone()).expect("handler");
    let (tx, rx) = std::sync::mpsc::channel();
    let caller = std::thread::spawn(move || {
        let mut inspector = Inspector::connect(&url).expect("connects");
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() }).expect("send");
        // Busy in the target for a second: the caller waits in a read all that time.
        inspector.evaluate::<u64>("(() => { const end = Date.now() + 1000; let n = 0; while (Date.now() < end) n++; return 7; })()")
    });
    let thread = rx.recv().expect("thread id");
    for _ in 0..10 {
        std::thread::sleep(std::time::Duration::from_millis(80));
        // SAFETY: the thread is alive until it is joined below; SIGUSR2 has a handler.
        unsafe { libc::pthread_kill(thread, libc::SIGUSR2) };
    }
    let answer = caller.join().expect("the caller did not panic");
    signal_hook::low_level::unregister(registered);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answer.expect("the call survives the signals"), 7);
    assert!(
        flag.load(std::sync::atomic::Ordering::SeqCst),
        "the signals arrived"
    );
}
