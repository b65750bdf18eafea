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
