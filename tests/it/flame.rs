//! `leaktrail flame` on profiles that Node wrote itself (`--cpu-prof`, `--heap-prof`).

use crate::common;

use std::path::{Path, PathBuf};

use common::*;

#[path = "../../crates/profile/tests/fixtures/work.rs"]
mod work;

fn node_profile(dir: &Path, flags: &[&str], extension: &str) -> PathBuf {
    work::node_profile(&node(), dir, flags, extension)
}

fn profiles(dir: &Path) -> (PathBuf, PathBuf) {
    (
        node_profile(
            &dir.join("cpu"),
            &["--cpu-prof", "--cpu-prof-dir"],
            "cpuprofile",
        ),
        node_profile(
            &dir.join("heap"),
            &[
                "--heap-prof",
                "--heap-prof-interval",
                "16384",
                "--heap-prof-dir",
            ],
            "heapprofile",
        ),
    )
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn draws_node_profiles_with_the_hot_function_and_the_allocator() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cpu, heap) = profiles(dir.path());
    let out = dir.path().join("svgs");
    let report = leaktrail_json(&["flame", s(&cpu), s(&heap), "--out-dir", s(&out)]);
    assert_eq!(report["schema"], "leaktrail.flame/1");
    let graphs = report["graphs"].as_array().expect("graphs");
    assert_eq!(graphs.len(), 2);

    let g = &graphs[0];
    assert_eq!(
        (g["kind"].as_str(), g["unit"].as_str()),
        (Some("cpu"), Some("microseconds"))
    );
    assert_eq!(g["top"][0]["frame"], "hotLoop (work.js:2)", "{g}");
    let share = g["top"][0]["share"].as_f64().expect("share");
    assert!(share > 0.5, "hotLoop has {share} of the time");
    let svg_path = out.join(format!(
        "{}.svg",
        cpu.file_name().expect("name").to_string_lossy()
    ));
    assert_eq!(g["svg"].as_str(), Some(s(&svg_path)));
    let svg = std::fs::read_to_string(&svg_path).expect("cpu svg");
    assert!(svg.contains("CPU flame graph: CPU.") && svg.contains("hotLoop (work.js:2) ("));
    assert!(svg.contains(" µs, "), "time in microseconds");
    assert_eq!(mode(&svg_path), 0o600);

    let g = &graphs[1];
    assert_eq!(
        (g["kind"].as_str(), g["unit"].as_str()),
        (Some("heap"), Some("bytes"))
    );
    assert_eq!(g["top"][0]["frame"], "allocateBlocks (work.js:9)", "{g}");
    let share = g["top"][0]["share"].as_f64().expect("share");
    // 3000 arrays of 1024 small integers: ~24 MiB still held at exit.
    assert!(share > 0.6, "allocateBlocks has {share} of the bytes");
    assert!(g["total"].as_u64().expect("total") > 16 << 20, "{g}");
    let svg = std::fs::read_to_string(g["svg"].as_str().expect("svg")).expect("heap svg");
    assert!(svg.contains("Allocation flame graph: Heap.") && svg.contains(" bytes, "));
    assert!(svg.contains("allocateBlocks (work.js:9) ("));
}

#[test]
fn folded_stacks_and_default_places() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cpu, heap) = profiles(dir.path());
    let out = leaktrail(&["flame", "--folded", s(&cpu)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let (mut total, mut hot) = (0u64, 0u64);
    for line in text.lines() {
        let (stack, weight) = line.rsplit_once(' ').expect("stack weight");
        let weight: u64 = weight.parse().expect("integer weight");
        total += weight;
        if stack.split(';').any(|f| f == "hotLoop (work.js:2)") {
            hot += weight;
        }
        assert!(!stack.contains("(root)"), "{line}");
    }
    assert!(
        hot as f64 > 0.5 * total as f64 && hot > 300_000,
        "{hot} of {total} µs"
    );
    assert!(
        !dir.path()
            .join("cpu")
            .read_dir()
            .expect("dir")
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "svg")),
        "--folded draws nothing"
    );

    // No -o or --out-dir: beside the profile, named after it.
    let out = leaktrail(&["flame", s(&heap)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let beside = heap.with_file_name(format!(
        "{}.svg",
        heap.file_name().expect("name").to_string_lossy()
    ));
    assert!(beside.exists(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("heaviest (self): allocateBlocks (work.js:9)"));

    let chosen = dir.path().join("chosen.svg");
    let out = leaktrail(&["flame", s(&cpu), "-o", s(&chosen)]);
    assert!(out.status.success() && chosen.exists());
}

#[test]
fn files_that_are_not_profiles_are_refused_by_name() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    let cases = [
        (write("notes.txt", "hello"), "notes.txt: not JSON"),
        (
            write("package.json", r#"{"name": "x", "version": "1.0.0"}"#),
            "package.json: not a V8 profile",
        ),
        (
            write(
                "broken.cpuprofile",
                r#"{"nodes": [{"id": 1, "callFrame": {"functionName": "(root)"}, "children": [2]}], "samples": [], "timeDeltas": []}"#,
            ),
            "broken.cpuprofile: node 2, referred to by the children of node 1, is not in the profile",
        ),
        (
            write("cut.heapprofile", r#"{"head": {"callFrame": {"#),
            "cut.heapprofile: not JSON: EOF while parsing",
        ),
    ];
    for (file, expected) in &cases {
        let out = leaktrail(&["flame", s(file)]);
        assert_eq!(out.status.code(), Some(2), "{}", file.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{expected}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(
        !dir.path()
            .read_dir()
            .expect("dir")
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "svg")),
        "nothing drawn"
    );
    let out = leaktrail(&["flame", s(&cases[0].0), s(&cases[1].0), "-o", "x.svg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("use --out-dir"));
}
