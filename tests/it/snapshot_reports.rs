//! `summary` and `diff` on real snapshots of the repository's scenarios (`scenarios/`),
//! written by Node during the test run.

use crate::common;

use common::*;

/// Classes of the application-objects and closures families, in diff order.
fn application_classes(diff: &serde_json::Value) -> Vec<(String, i64)> {
    diff["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .filter(|c| {
            c["family"] == "objects" || c["family"] == "closures" || c["family"] == "external"
        })
        .map(|c| {
            (
                c["class"].as_str().expect("class").to_owned(),
                c["size_delta"].as_i64().expect("delta"),
            )
        })
        .collect()
}

#[test]
fn stream_registry_diff_ranks_a_manifest_culprit_first() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "stream-registry-no-ttl", &[200, 1200]);
    let diff = leaktrail_json(&["diff", s(&snaps[0]), s(&snaps[1])]);
    assert_eq!(diff["schema"], "leaktrail.diff/1");
    let spec = manifest("stream-registry-no-ttl.js");
    let app = application_classes(&diff);
    let (first, delta) = &app[0];
    assert!(
        spec.culprit_classes.contains(first),
        "first application class {first} not in {:?}",
        spec.culprit_classes
    );
    assert!(*delta > 1 << 20, "{first} grew only {delta} bytes");
    assert_eq!(diff["verdict"]["kind"], "runtime_data");
    // 1000 iterations leak 1000 StreamEntry objects, all of them new, none freed.
    let entry = diff["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .find(|c| c["class"] == "StreamEntry")
        .expect("StreamEntry row");
    assert_eq!(entry["count_delta"], 1000);
    assert_eq!(entry["new_count"], 1000);
    assert_eq!(entry["freed_count"], 0);

    // The table and Markdown forms carry the same verdict and class.
    let table = leaktrail(&["diff", s(&snaps[0]), s(&snaps[1]), "--top", "10"]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("Runtime data leak") && text.contains(first.as_str()),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
    let md = leaktrail(&[
        "diff",
        s(&snaps[0]),
        s(&snaps[1]),
        "--format",
        "markdown",
        "--min-kb",
        "50",
    ]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("| class") && md.contains("**Runtime data leak"),
        "{md}"
    );
    assert!(
        !md.contains("| (sliced string)"),
        "--min-kb 50 leaves out tiny classes: {md}"
    );
}

#[test]
fn lru_cache_shows_no_growing_application_class() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    // After the warm-up of about 650 requests the cache is full.
    let snaps = scenario_snapshots(dir.path(), "lru-cache-bounded", &[1000, 2000]);
    let diff = leaktrail_json(&["diff", s(&snaps[0]), s(&snaps[1])]);
    for (class, delta) in application_classes(&diff) {
        assert!(
            delta < 8 << 10,
            "{class} grew by {delta} bytes in a bounded cache"
        );
    }
    assert_eq!(
        diff["verdict"]["kind"], "no_significant_growth",
        "{}",
        diff["verdict"]
    );
}

#[test]
fn module_growth_is_reported_as_code() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "module-growth", &[200, 1200]);
    let diff = leaktrail_json(&["diff", s(&snaps[0]), s(&snaps[1])]);
    assert_eq!(
        diff["verdict"]["kind"], "module_graph",
        "{}",
        diff["verdict"]
    );
    let code = diff["families"]
        .as_array()
        .expect("families")
        .iter()
        .find(|f| f["family"] == "code")
        .expect("code family");
    assert!(
        code["size_delta"].as_i64().expect("delta") > 1 << 20,
        "{code}"
    );
}

#[test]
fn external_buffer_leak_is_reported_as_external() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "external-buffer-leak", &[200, 1200]);
    let diff = leaktrail_json(&["diff", s(&snaps[0]), s(&snaps[1])]);
    assert_eq!(
        diff["verdict"]["kind"], "external_memory",
        "{}",
        diff["verdict"]
    );
    let app = application_classes(&diff);
    let spec = manifest("external-buffer-leak.js");
    assert!(
        app.iter()
            .take(3)
            .any(|(c, _)| spec.culprit_classes.contains(c)),
        "{app:?}"
    );
}

#[test]
fn summary_totals_are_consistent() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "listener-accumulation", &[300]);
    let sum = leaktrail_json(&["summary", s(&snaps[0])]);
    assert_eq!(sum["schema"], "leaktrail.summary/1");
    let total = sum["snapshot"]["total_self_size"].as_u64().expect("total");
    let by_type: u64 = sum["by_type"]
        .as_array()
        .expect("by_type")
        .iter()
        .map(|t| t["self_size"].as_u64().unwrap_or(0))
        .sum();
    let by_family: u64 = sum["by_family"]
        .as_array()
        .expect("by_family")
        .iter()
        .map(|t| t["self_size"].as_u64().unwrap_or(0))
        .sum();
    let by_class: u64 = sum["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .map(|t| t["self_size"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(by_type, total);
    assert_eq!(by_family, total);
    assert_eq!(
        by_class, total,
        "zero-size nodes are left out, so class sizes still add up"
    );
    let nodes: u64 = sum["by_type"]
        .as_array()
        .expect("by_type")
        .iter()
        .map(|t| t["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        nodes,
        sum["snapshot"]["node_count"].as_u64().expect("node_count")
    );
    // 300 requests each left an onConfigChanged listener and its RequestContext behind.
    let class = |name: &str| {
        sum["classes"]
            .as_array()
            .expect("classes")
            .iter()
            .find(|c| c["class"] == name)
            .cloned()
    };
    let listeners = class("onConfigChanged()").expect("onConfigChanged() closures");
    assert!(
        listeners["count"].as_u64().expect("count") >= 300,
        "{listeners}"
    );
    assert_eq!(listeners["family"], "closures");
    let ctx = class("RequestContext").expect("RequestContext");
    assert!(ctx["count"].as_u64().expect("count") >= 300, "{ctx}");
}

/// Everything a parse gives, through the public accessors, for comparing two parses.
fn parsed_columns(snap: &leaktrail_snapshot::HeapSnapshot) -> Vec<(&'static str, Vec<u64>)> {
    let nodes = 0..snap.node_count() as u32;
    let edges = 0..snap.edge_count() as u32;
    let hash = |s: &str| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        s.hash(&mut h);
        h.finish()
    };
    vec![
        (
            "counts",
            vec![
                snap.node_count() as u64,
                snap.edge_count() as u64,
                snap.file_edge_count() as u64,
                snap.clamped_sizes() as u64,
                snap.file_size(),
                snap.strings().len() as u64,
            ],
        ),
        (
            "strings",
            (0..snap.strings().len())
                .map(|i| hash(snap.strings().get(i).unwrap_or("\u{0}missing")))
                .collect(),
        ),
        (
            "node types",
            nodes
                .clone()
                .map(|n| snap.node_type_index(n) as u64)
                .collect(),
        ),
        (
            "node names",
            nodes
                .clone()
                .map(|n| snap.node_name_index(n) as u64)
                .collect(),
        ),
        (
            "node ids",
            nodes.clone().map(|n| snap.node_id(n) as u64).collect(),
        ),
        (
            "self sizes",
            nodes.clone().map(|n| snap.self_size(n) as u64).collect(),
        ),
        (
            "edge ranges",
            nodes.map(|n| snap.edges(n).end as u64).collect(),
        ),
        (
            "edge types",
            edges
                .clone()
                .map(|e| snap.edge_type_index(e) as u64)
                .collect(),
        ),
        (
            "edge targets",
            edges.clone().map(|e| snap.edge_target(e) as u64).collect(),
        ),
        (
            "edge names",
            edges
                .map(|e| match snap.edge_name(e) {
                    leaktrail_snapshot::EdgeName::Name(s) => hash(s),
                    leaktrail_snapshot::EdgeName::Index(i) => i as u64,
                })
                .collect(),
        ),
    ]
}

/// Issue 19: the parser scans chunks in parallel and the graph analyses use both cores;
/// on one thread, and with chunks of a few bytes (block boundaries everywhere), every
/// snapshot of every scenario and every fuzz seed must parse and summarise exactly alike.
#[test]
fn parallel_and_sequential_parse_agree_on_every_scenario() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let scenarios: Vec<String> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios folder")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".js")?.to_owned();
            (stem != "runner").then_some(stem)
        })
        .collect();
    assert!(scenarios.len() >= 10, "scenarios found: {scenarios:?}");
    // Node writes the snapshots, all scenarios at once.
    let children: Vec<_> = scenarios
        .iter()
        .map(|sc| {
            let child = snapshotting_runner(&["--expose-gc"], sc, 100, &[100], dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("node runs");
            (sc, child)
        })
        .collect();
    let mut files = Vec::new();
    for (sc, child) in children {
        let out = child.wait_with_output().expect("runner finishes");
        assert!(
            out.status.success(),
            "{sc}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        files.push(dir.path().join(format!("{sc}-100.heapsnapshot")));
    }
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for e in std::fs::read_dir(&seeds).expect("fuzz seeds") {
        let path = e.expect("seed").path();
        if path.extension().is_some_and(|x| x == "heapsnapshot") {
            files.push(path);
        }
    }

    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("one-thread pool");
    let four = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .expect("four-thread pool");
    let analyse = |path: &std::path::Path, block_bytes: Option<usize>| {
        use leaktrail_snapshot::{HeapSnapshot, ParseOptions};
        let options = ParseOptions {
            block_bytes,
            ..ParseOptions::default()
        };
        // Some fuzz seeds are not snapshots: the error must be the same too.
        let snap = HeapSnapshot::open(path, &options).map_err(|e| e.to_string())?;
        let analysis = leaktrail_analysis::HeapAnalysis::new(&snap);
        let summary = leaktrail_analysis::Summary::with_graph(&analysis, "snap", 10);
        let json = serde_json::to_string(&summary).expect("summary serialises");
        Ok::<_, String>((parsed_columns(&snap), json))
    };
    let mut parsed = 0;
    for path in &files {
        let sequential = one.install(|| analyse(path, None));
        for (pool, block) in [(&four, None), (&four, Some(4093)), (&one, Some(777))] {
            let other = pool.install(|| analyse(path, block));
            let (sequential, other) = match (&sequential, other) {
                (Ok(a), Ok(b)) => (a, b),
                (a, b) => {
                    assert_eq!(a.as_ref().err(), b.as_ref().err(), "{}", path.display());
                    continue;
                }
            };
            for ((what, a), (_, b)) in sequential.0.iter().zip(&other.0) {
                assert!(
                    a == b,
                    "{}: {what} differ ({} threads, blocks of {block:?})",
                    path.display(),
                    pool.current_num_threads()
                );
            }
            if sequential.1 != other.1 {
                let (a, b) = (&sequential.1, &other.1);
                let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                let around = |s: &str| {
                    s.get(at.saturating_sub(200)..(at + 200).min(s.len()))
                        .unwrap_or("")
                        .to_owned()
                };
                panic!(
                    "{}: summaries differ ({} threads, blocks of {block:?}) at byte {at}:\n{}\n---\n{}",
                    path.display(),
                    pool.current_num_threads(),
                    around(a),
                    around(b)
                );
            }
        }
        parsed += usize::from(sequential.is_ok());
    }
    assert!(parsed >= scenarios.len(), "only {parsed} snapshots parsed");
}

/// Functions generated with a counter in their name (`validate1()` … `validate1200()`)
/// are one class in every command, the name `leaks` gives them: a row each hid the growth.
#[test]
fn functions_named_by_a_counter_are_one_class_in_every_command() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "globalThis.cache = []; const v8 = require('v8'); \
         const add = (from, to) => { for (let i = from; i <= to; i++) \
           cache.push(eval(`(function validate${i}(data) { return data.id === ${i}; })`)); }; \
         add(1, 600); v8.writeHeapSnapshot('a.heapsnapshot'); \
         add(601, 1200); v8.writeHeapSnapshot('b.heapsnapshot');",
    );
    let (a, b) = (
        dir.path().join("a.heapsnapshot"),
        dir.path().join("b.heapsnapshot"),
    );
    let diff = json(&["diff", s(&a), s(&b)]);
    let row = diff["classes"]
        .as_array()
        .and_then(|c| c.iter().find(|r| r["class"] == "validate<n>()"))
        .unwrap_or_else(|| panic!("a validate<n>() row: {}", diff["classes"]));
    assert_eq!(row["count_delta"], 600, "{row}");
    assert!(!diff["classes"].to_string().contains("validate17()"));
    let summary = json(&["summary", s(&b)]);
    let class = summary["classes"]
        .as_array()
        .and_then(|c| c.iter().find(|r| r["class"] == "validate<n>()"))
        .unwrap_or_else(|| panic!("validate<n>() in the summary"));
    assert_eq!(class["count"], 1200, "{class}");
    assert!(
        class["retained_size"].as_u64().is_some_and(|r| r > 0),
        "{class}"
    );
    let retainers = json(&["retainers", s(&b), "--class", "validate<n>()"]);
    assert_eq!(retainers["instances"], 1200, "{retainers}");
}

/// Timers, workers and ports are Node's own objects, not any class of that name: a
/// program's `class Timeout` is no timer.
#[test]
fn handles_are_nodes_own_not_classes_of_that_name() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "class Timeout { constructor(i) { this.i = i; } } class Worker { constructor(i) { this.i = i; } } \
         class MessagePort { constructor(i) { this.i = i; } } \
         globalThis.kept = []; for (let i = 0; i < 30; i++) kept.push(new Timeout(i), new Worker(i), new MessagePort(i)); \
         globalThis.timer = setTimeout(() => {}, 600000); \
         require('v8').writeHeapSnapshot('s.heapsnapshot'); clearTimeout(timer);",
    );
    let summary = json(&["summary", s(&dir.path().join("s.heapsnapshot"))]);
    let h = &summary["handles"];
    assert_eq!(
        (&h["timeouts"], &h["workers"], &h["message_ports"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(0),
            &serde_json::json!(0)
        ),
        "{h}"
    );
}

/// A chain whose links each retain the rest: `retainers --class` counts each link once, as
/// `summary` does (summed, the links of 3,000 made hundreds of MiB of a few-MiB heap).
#[test]
fn retainers_count_a_chains_links_once() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "class Link { constructor(next, i) { this.next = next; this.payload = 'p'.repeat(16) + i; } } \
         let head = null; for (let i = 0; i < 3000; i++) head = new Link(head, i); globalThis.chain = head; \
         require('v8').writeHeapSnapshot('s.heapsnapshot');",
    );
    let snap = dir.path().join("s.heapsnapshot");
    let retainers = json(&["retainers", s(&snap), "--class", "Link"]);
    let groups = retainers["groups"].as_array().expect("groups");
    let retained: u64 = groups
        .iter()
        .filter_map(|g| g["retained_size"].as_u64())
        .sum();
    let summary = json(&["summary", s(&snap)]);
    let class = summary["classes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["class"] == "Link"))
        .expect("Link in the summary");
    assert_eq!(
        Some(retained),
        class["retained_size"].as_u64(),
        "{retainers}"
    );
    let nested: u64 = groups.iter().filter_map(|g| g["nested"].as_u64()).sum();
    assert!(nested >= 2990, "{retainers}");
}

/// The JSON report of a command that succeeds.
fn json(args: &[&str]) -> serde_json::Value {
    let out = leaktrail(&[&["--format", "json"], args].concat());
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}
