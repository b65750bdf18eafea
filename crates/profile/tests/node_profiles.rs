//! Profiles that Node writes itself (`--cpu-prof`, `--heap-prof`), parsed and folded.

use std::path::{Path, PathBuf};

use leaktrail_profile::{write_flame_graph, CpuWeight, Profile, ProfileKind, Unit};

#[path = "fixtures/work.rs"]
mod work;

fn node() -> PathBuf {
    std::env::var_os("LEAKTRAIL_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"))
}

/// Runs the script with `flags` and returns the one profile it wrote in `dir`.
fn profile_of(dir: &Path, flags: &[&str], extension: &str) -> PathBuf {
    work::node_profile(&node(), dir, flags, extension)
}

#[test]
fn a_cpu_profile_shows_the_hot_function() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = profile_of(dir.path(), &["--cpu-prof", "--cpu-prof-dir"], "cpuprofile");
    let profile = Profile::read(&path).expect("Node's CPU profile parses");
    assert_eq!(profile.kind(), ProfileKind::Cpu);
    let Profile::Cpu(cpu) = &profile else {
        unreachable!()
    };
    let folded = profile.fold();
    assert_eq!(folded.unit(), Unit::Microseconds);
    // The weights add up to the profiled time (less the moment before the first sample).
    let total = folded.total() as f64;
    assert!(
        total <= cpu.duration_micros() + 1.0 && total > 0.9 * cpu.duration_micros(),
        "{total} µs of {} µs",
        cpu.duration_micros()
    );
    let hot = folded.weight_through(|f| f.starts_with("hotLoop (work.js:2)")) as f64;
    assert!(
        hot > 300_000.0 && hot / total > 0.5,
        "hotLoop has {hot} µs of {total}:\n{folded}"
    );
    assert!(
        folded.iter().all(|(stack, _)| !stack.contains("(root)")),
        "(root) is left out"
    );
    // By sample count the share is about the same (1 ms interval).
    let by_count = cpu.fold(CpuWeight::Samples);
    let hot_samples = by_count.weight_through(|f| f.starts_with("hotLoop ")) as f64;
    assert!(hot_samples / by_count.total() as f64 > 0.5, "{by_count}");

    let mut svg = Vec::new();
    write_flame_graph(&folded, "CPU", None, &mut svg).expect("svg");
    let svg = String::from_utf8(svg).expect("utf-8");
    assert!(
        svg.contains("hotLoop (work.js:2)") && svg.contains(" µs, "),
        "svg names the function and the unit"
    );
}

#[test]
fn a_heap_profile_shows_the_allocating_function() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = profile_of(
        dir.path(),
        &[
            "--heap-prof",
            "--heap-prof-interval",
            "16384",
            "--heap-prof-dir",
        ],
        "heapprofile",
    );
    let profile = Profile::read(&path).expect("Node's heap profile parses");
    assert_eq!(profile.kind(), ProfileKind::Heap);
    let Profile::Heap(heap) = &profile else {
        unreachable!()
    };
    let folded = profile.fold();
    assert_eq!(folded.unit(), Unit::Bytes);
    assert_eq!(folded.total(), heap.total_bytes());
    // 3000 arrays of 1024 small integers: about 24 MiB kept alive until exit.
    let kept = folded.weight_through(|f| f.starts_with("allocateBlocks (work.js:9)"));
    assert!(
        kept > 18 << 20 && kept as f64 / folded.total() as f64 > 0.6,
        "allocateBlocks has {kept} of {} bytes:\n{folded}",
        folded.total()
    );
    assert!(!heap.samples.is_empty());
}
