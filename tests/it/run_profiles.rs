//! `leaktrail run --cpu-profile --alloc-profile` on a leaking scenario.

use crate::common;

use common::*;
use leaktrail_profile::{Profile, ProfileKind};

fn scenario(name: &str) -> Vec<String> {
    forever_runner(&["--expose-gc"], name, &["--print-every", "25"])
}

#[test]
fn a_leaking_scenario_gets_profiles_and_flame_graphs() {
    let _measured = measured();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let mut args = vec![
        "run",
        "--format",
        "json",
        "--iterations",
        "1500",
        "--cpu-profile",
        "--alloc-profile",
        "--out",
        s(&out),
        "--",
    ];
    let command = scenario("listener-accumulation");
    args.extend(command.iter().map(String::as_str));
    let run = leaktrail(&args);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&run.stderr)));
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        report["assessment"]["sentence"]
    );
    assert_eq!(report["run"]["profiles"]["errors"], serde_json::json!([]));
    assert_eq!(
        report["run"]["profiles"]["files"],
        serde_json::json!([
            s(&out.join("profile.cpuprofile")),
            s(&out.join("alloc.heapprofile"))
        ])
    );

    let cpu = Profile::read(&out.join("profile.cpuprofile")).expect("CPU profile parses");
    assert_eq!(cpu.kind(), ProfileKind::Cpu);
    let Profile::Cpu(raw) = &cpu else {
        unreachable!()
    };
    // Recorded from the connection to the end: most of the run (1500 steps of >= 1 ms).
    assert!(
        raw.duration_micros() > 1.5e6,
        "{} µs",
        raw.duration_micros()
    );
    let folded = cpu.fold();
    assert!(
        folded.weight_through(|f| f.starts_with("handleRequest (listener-accumulation.js:")) > 0,
        "the scenario's handler is on the CPU profile"
    );

    let heap = Profile::read(&out.join("alloc.heapprofile")).expect("heap profile parses");
    assert_eq!(heap.kind(), ProfileKind::Heap);
    let folded = heap.fold();
    // What is still held at the end was allocated by the request handler (its
    // RequestContext and the onConfigChanged closure it subscribes).
    let held =
        folded.weight_through(|f| f.starts_with("handleRequest (listener-accumulation.js:51)"));
    assert!(
        held as f64 > 0.3 * folded.total() as f64,
        "handleRequest holds {held} of {} bytes:\n{folded}",
        folded.total()
    );

    let svg = std::fs::read_to_string(out.join("alloc-flame.svg")).expect("alloc-flame.svg");
    assert!(svg.contains("Allocation flame graph: alloc.heapprofile"));
    assert!(
        svg.contains("handleRequest (listener-accumulation.js:51) ("),
        "names the allocating function"
    );
    let svg = std::fs::read_to_string(out.join("cpu-flame.svg")).expect("cpu-flame.svg");
    assert!(
        svg.contains("CPU flame graph: profile.cpuprofile") && svg.contains("(garbage collector)")
    );
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        md.contains("### Profiles")
            && md.contains("`alloc-flame.svg`")
            && md.contains("`cpu-flame.svg`"),
        "{md}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [
            "profile.cpuprofile",
            "alloc.heapprofile",
            "cpu-flame.svg",
            "alloc-flame.svg",
        ] {
            let mode = std::fs::metadata(out.join(f))
                .expect(f)
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }
}

#[test]
fn profiles_need_an_out_dir_and_a_node_workload() {
    let _measured = measured();
    let out = leaktrail(&["run", "--cpu-profile", "--", "node", "-e", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--out"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let out = leaktrail(&[
        "run",
        "--alloc-profile",
        "--out",
        s(dir.path()),
        "--",
        "python3",
        "-c",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`python3` is not run as Node"), "{err}");
}
