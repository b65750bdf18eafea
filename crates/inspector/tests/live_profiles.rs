//! CPU and sampling heap profiles recorded over the inspector of a live
//! `node --inspect=127.0.0.1:0`.

mod common;
use common::node_with_inspector;

use std::time::Duration;

use leaktrail_inspector::Inspector;
use leaktrail_profile::{Profile, ProfileKind};

/// Burns CPU in `hotLoop` and keeps what `allocateBlocks` allocates, every 10 ms, forever.
const SCRIPT: &str = "
function hotLoop(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }
globalThis.kept = [];
function allocateBlocks(n) { for (let i = 0; i < n; i++) kept.push(new Array(256).fill(i)); }
setInterval(() => { hotLoop(8); allocateBlocks(50); }, 10);
";

#[test]
fn cpu_and_allocation_profiles_of_a_live_node() {
    let (mut child, url) = node_with_inspector(SCRIPT);
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let mut inspector = Inspector::connect(&url)?;
        inspector.start_cpu_profile(Duration::from_micros(500))?;
        inspector.heap_sampling_start(16 * 1024)?;
        std::thread::sleep(Duration::from_millis(1500));
        let cpu = inspector.profiler_stop()?;
        let heap = inspector.heap_sampling_stop()?;

        let cpu = Profile::from_value(cpu, "Profiler.stop")?;
        assert_eq!(cpu.kind(), ProfileKind::Cpu);
        let folded = cpu.fold();
        let share =
            folded.weight_through(|f| f.starts_with("hotLoop ")) as f64 / folded.total() as f64;
        // hotLoop runs 8 ms of every ~10 ms.
        assert!(share > 0.4, "hotLoop has {share:.2} of the time:\n{folded}");
        let Profile::Cpu(raw) = &cpu else {
            unreachable!()
        };
        // Sampled every 0.5 ms for 1.5 s: far more samples than at V8's 1 ms default.
        assert!(raw.samples.len() > 1500, "{} samples", raw.samples.len());

        let heap = Profile::from_value(heap, "HeapProfiler.stopSampling")?;
        assert_eq!(heap.kind(), ProfileKind::Heap);
        let folded = heap.fold();
        let kept = folded.weight_through(|f| f.starts_with("allocateBlocks "));
        // ~150 rounds of 50 arrays of 256 small integers (~2 KiB each): ~15 MiB kept.
        assert!(
            kept > 4 << 20 && kept as f64 / folded.total() as f64 > 0.5,
            "allocateBlocks has {kept} of {} bytes:\n{folded}",
            folded.total()
        );
        // Stopped profilers answer an error, not a hang; the session stays usable.
        assert!(inspector.profiler_stop().is_err());
        inspector.collect_garbage()?;
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result.expect("profiling session");
}

#[test]
fn profiles_survive_a_node_that_is_exiting() {
    // Ends by itself after 300 ms; with a debugger attached Node then waits for it.
    let (mut child, url, lines) = common::node_with_inspector_and_stderr(
        "function spin() { const end = Date.now() + 300; while (Date.now() < end); } setTimeout(spin, 10);",
    );
    let mut lines = lines.map_while(Result::ok);
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let mut inspector = Inspector::connect(&url)?;
        inspector.start_cpu_profile(Duration::from_millis(1))?;
        let exiting = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        inspector.set_abort_flag(Some(exiting.clone()));
        assert!(
            lines.any(|l| l.contains("Waiting for the debugger to disconnect")),
            "Node waits for the debugger at exit"
        );
        exiting.store(true, std::sync::atomic::Ordering::SeqCst);
        // An exiting Node never answers a forced GC: the call gives up instead of hanging.
        let began = std::time::Instant::now();
        let gc = inspector.collect_garbage();
        assert!(
            matches!(
                gc,
                Err(leaktrail_inspector::InspectorError::Abandoned { .. })
            ),
            "{gc:?}"
        );
        assert!(began.elapsed() < Duration::from_secs(2));
        // The session is still there, and so is its profile.
        inspector.set_abort_flag(None);
        let profile = Profile::from_value(inspector.profiler_stop()?, "Profiler.stop")?;
        let folded = profile.fold();
        let spin = folded.weight_through(|f| f.starts_with("spin ("));
        assert!(spin > 200_000, "spin has {spin} µs:\n{folded}");
        inspector.disconnect();
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result.expect("session at exit");
}
