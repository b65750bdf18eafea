//! `leaks`, `retainers` and the graph part of `summary` on real snapshots written by Node
//! during the test run.

use crate::common;

use common::*;

/// Classes compare without the `()` leaktrail puts after function names.
fn bare(class: &str) -> &str {
    class.strip_suffix("()").unwrap_or(class)
}

fn path_edges(path: &serde_json::Value) -> Vec<String> {
    path.as_array()
        .expect("path")
        .iter()
        .map(|s| s["edge"].as_str().expect("edge").to_owned())
        .collect()
}

/// Runs `leaks --format json` on `snaps`.
fn leaks_json(snaps: &[std::path::PathBuf]) -> (std::process::Output, serde_json::Value) {
    let mut args = vec!["leaks"];
    args.extend(snaps.iter().map(|p| s(p)));
    args.extend(["--format", "json"]);
    let out = leaktrail(&args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out, report)
}

fn leaks_of(scenario: &str) -> (std::process::Output, serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    leaks_json(&scenario_snapshots(
        dir.path(),
        scenario,
        &[200, 1200, 2000],
    ))
}

/// For a js-heap leak, the first cluster is a manifest culprit and its path goes through
/// the retainer the manifest names.
fn assert_leak_found(scenario: &str) {
    let spec = manifest(&format!("{scenario}.js"));
    assert_eq!(spec.kind, "js-heap");
    let (out, report) = leaks_of(scenario);
    assert_eq!(out.status.code(), Some(1), "{scenario}: exit 1 on a leak");
    assert_eq!(report["schema"], "leaktrail.leaks/1");
    let first = &report["clusters"][0];
    let class = first["class"].as_str().expect("class");
    assert!(
        spec.culprit_classes.iter().any(|c| c == bare(class)),
        "{scenario}: first cluster {class} not in {:?}",
        spec.culprit_classes
    );
    let hint = spec.retainer_hint.expect("hint");
    let edges = path_edges(&first["path"]);
    assert!(
        edges.iter().any(|e| e == &hint),
        "{scenario}: path {edges:?} lacks {hint}"
    );
    assert!(
        first["holder"].as_str().expect("holder").contains(&hint),
        "{scenario}: {}",
        first["holder"]
    );
    assert!(
        first["count"].as_u64().expect("count") >= 500,
        "{scenario}: {first}"
    );
    let counts: Vec<u64> = first["class_counts"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|c| c.as_u64().expect("n"))
        .collect();
    assert!(counts.windows(2).all(|w| w[1] > w[0]), "{counts:?}");
    assert!(report["summary"]
        .as_str()
        .expect("summary")
        .starts_with("Leak: "));
}

#[test]
fn leaks_finds_the_stream_registry() {
    let _shared = crate::common::shared();
    assert_leak_found("stream-registry-no-ttl");
}

#[test]
fn leaks_finds_the_unbounded_event_store() {
    let _shared = crate::common::shared();
    assert_leak_found("event-store-unbounded");
}

#[test]
fn leaks_finds_accumulating_listeners() {
    let _shared = crate::common::shared();
    assert_leak_found("listener-accumulation");
}

#[test]
fn leaks_finds_closures_holding_buffers() {
    let _shared = crate::common::shared();
    assert_leak_found("closure-holds-buffer");
}

/// A cache in a plain object keyed by a unique string: every entry hangs off its own
/// property name, and the keys fold into one cluster.
#[test]
fn leaks_finds_a_cache_keyed_by_unique_strings() {
    let _shared = crate::common::shared();
    assert_leak_found("dictionary-cache");
}

/// Values of a WeakMap kept alive by keys held elsewhere: V8 names each key-to-value edge
/// with three ids, and the values are still one cluster, held by the WeakMap.
#[test]
fn leaks_finds_weakmap_values_kept_by_their_keys() {
    let _shared = crate::common::shared();
    assert_leak_found("weakmap-metadata-of-kept-sockets");
    let (_, report) = leaks_of("weakmap-metadata-of-kept-sockets");
    let first = &report["clusters"][0];
    assert_eq!(first["class"], "ConnectionMeta", "{first}");
    assert!(
        path_edges(&first["path"])
            .iter()
            .any(|e| e == "value of key Connection in a WeakMap"),
        "{first}"
    );
}

/// Timers never cleared sit in Node's linked lists, each at its own depth: the links fold.
#[test]
fn leaks_finds_uncleared_timers_along_their_linked_list() {
    let _shared = crate::common::shared();
    assert_leak_found("uncleared-timers");
    let (_, report) = leaks_of("uncleared-timers");
    let first = &report["clusters"][0];
    let linked = first["path"]
        .as_array()
        .expect("path")
        .iter()
        .find(|s| s["repeated"].as_u64().is_some_and(|n| n > 10))
        .unwrap_or_else(|| panic!("a folded run of links: {first}"));
    assert!(
        first["holder"]
            .as_str()
            .is_some_and(|h| h.contains("linked list of Timeout")),
        "{linked} {}",
        first["holder"]
    );
}

/// A string appended to at one place: no new object accumulates, the string grows.
#[test]
fn leaks_finds_a_growing_string() {
    let _shared = crate::common::shared();
    let spec = manifest("growing-string.js");
    let (out, report) = leaks_of("growing-string");
    assert_eq!(out.status.code(), Some(1), "{}", report["summary"]);
    let grown = &report["growing_objects"][0];
    let class = grown["class"].as_str().expect("class");
    assert!(spec.culprit_classes.iter().any(|c| c == class), "{grown}");
    let hint = spec.retainer_hint.expect("hint");
    assert!(
        grown["holder"].as_str().is_some_and(|h| h.contains(&hint)),
        "{grown}"
    );
    let sizes: Vec<u64> = grown["sizes"]
        .as_array()
        .expect("sizes")
        .iter()
        .map(|v| v.as_u64().expect("size"))
        .collect();
    assert!(sizes.windows(2).all(|w| w[1] > w[0]), "{sizes:?}");
    assert!(report["summary"]
        .as_str()
        .is_some_and(|s| s.starts_with("Leak: The (concatenated string) at `log`")));
}

/// One small object an iteration, amid churn: a cluster of its own.
#[test]
fn leaks_finds_a_slow_leak() {
    let _shared = crate::common::shared();
    assert_leak_found("slow-leak");
}

/// Clean programs report no cluster: documented noise floor is 64 KiB or 0.1 % of the heap.
#[test]
fn leaks_stays_quiet_on_clean_programs() {
    let _shared = crate::common::shared();
    for scenario in [
        "lru-cache-bounded",
        "ring-buffer",
        "churn-noise",
        "fast-loop-clean",
        "npm/clean-npm-service",
        "weakmap-metadata-released-clean",
    ] {
        let (out, report) = leaks_of(scenario);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{scenario}: {}",
            report["summary"]
        );
        assert!(
            report["clusters"].as_array().expect("clusters").is_empty(),
            "{scenario}: {}",
            report["clusters"]
        );
        assert!(
            report["growing_objects"]
                .as_array()
                .expect("growing objects")
                .is_empty(),
            "{scenario}: {}",
            report["growing_objects"]
        );
        assert!(report["summary"]
            .as_str()
            .expect("summary")
            .starts_with("No leak"));
    }
}

#[test]
fn summary_has_retained_sizes_paths_and_listeners() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "listener-accumulation", &[400]);
    let sum = leaktrail_json(&["summary", s(&snaps[0]), "--largest", "5"]);
    let classes = sum["classes"].as_array().expect("classes");
    assert!(
        classes.iter().all(|c| c["retained_size"].is_u64()),
        "every class has a retained size"
    );
    let ctx = classes
        .iter()
        .find(|c| c["class"] == "RequestContext")
        .expect("RequestContext");
    assert!(ctx["retained_size"].as_u64() >= ctx["self_size"].as_u64());
    let largest = sum["largest_objects"].as_array().expect("largest");
    assert!(!largest.is_empty() && largest.len() <= 5);
    for o in largest {
        assert!(!o["path"].as_array().expect("path").is_empty(), "{o}");
        let last = o["path"]
            .as_array()
            .and_then(|p| p.last())
            .expect("last step");
        assert_eq!(
            last["object"]["id"], o["object"]["id"],
            "a path ends at its object"
        );
    }
    let listeners = sum["handles"]["listeners"].as_array().expect("listeners");
    let config = listeners
        .iter()
        .find(|l| l["event"] == "config-changed")
        .expect("config-changed listeners");
    assert!(config["listeners"].as_u64().expect("n") >= 400, "{config}");
    assert_eq!(config["emitter_class"], "ConfigService");

    // --shallow skips the graph.
    let shallow = leaktrail_json(&["summary", s(&snaps[0]), "--shallow"]);
    assert!(shallow["classes"][0]["retained_size"].is_null());
    assert!(shallow["handles"].is_null());
}

#[test]
fn retainers_by_class_and_by_id() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "stream-registry-no-ttl", &[300]);
    let by_class = leaktrail_json(&[
        "retainers",
        s(&snaps[0]),
        "--class",
        "StreamEntry",
        "--paths",
        "3",
    ]);
    assert_eq!(by_class["instances"], 300);
    let group = &by_class["groups"][0];
    assert!(group["count"].as_u64().expect("count") >= 290, "{group}");
    let edges = path_edges(&group["path"]);
    assert!(edges.contains(&"streams".to_owned()), "{edges:?}");
    let entry_id = group["path"]
        .as_array()
        .and_then(|p| p.last())
        .expect("last")["object"]["id"]
        .as_u64()
        .expect("id");

    let by_id = leaktrail_json(&[
        "retainers",
        s(&snaps[0]),
        "--id",
        &entry_id.to_string(),
        "--paths",
        "3",
    ]);
    assert_eq!(by_id["object"]["class"], "StreamEntry");
    let paths = by_id["paths"].as_array().expect("paths");
    assert!(!paths.is_empty() && paths.len() <= 3);
    let lengths: Vec<usize> = paths
        .iter()
        .map(|p| p.as_array().expect("path").len())
        .collect();
    assert!(
        lengths.windows(2).all(|w| w[0] <= w[1]),
        "shortest first: {lengths:?}"
    );
    assert!(paths
        .iter()
        .all(|p| p.as_array().and_then(|p| p.last()).expect("last")["object"]["id"] == entry_id));
    assert!(paths.iter().all(|p| p
        .as_array()
        .expect("path")
        .iter()
        .all(|s| s["edge_type"] != "weak")));
    let distinct: std::collections::HashSet<String> = paths.iter().map(|p| p.to_string()).collect();
    assert_eq!(distinct.len(), paths.len(), "paths are distinct");

    let out = leaktrail(&["retainers", s(&snaps[0]), "--class", "NoSuchClass"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no class named"));
}

/// A linked list a million nodes long: dominators, retained sizes and paths without
/// recursion.
#[test]
fn deep_linked_list() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "class ListNode { constructor(next) { this.next = next; } } \
         let head = null; for (let i = 0; i < 1000000; i++) head = new ListNode(head); \
         globalThis.chain = head; require('v8').writeHeapSnapshot('deep.heapsnapshot');",
    );
    let snap = dir.path().join("deep.heapsnapshot");
    let sum = leaktrail_json(&["summary", s(&snap), "--largest", "1"]);
    let nodes = sum["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .find(|c| c["class"] == "ListNode")
        .expect("ListNode");
    assert_eq!(nodes["count"], 1_000_000);
    // The head retains the whole list: the class's retained size is the head's, which holds
    // every node's self size (nested instances are counted once).
    let top = &sum["largest_objects"][0];
    assert_eq!(top["object"]["class"], "ListNode");
    assert_eq!(top["object"]["retained_size"], nodes["retained_size"]);
    assert!(nodes["retained_size"].as_u64() >= nodes["self_size"].as_u64());
    assert!(path_edges(&top["path"]).contains(&"chain".to_owned()));
}

/// With four snapshots, collections that gained entries in every interval are listed (the
/// per-session `events` arrays), and a bounded LRU Map is not.
#[test]
fn leaks_follows_growing_collections_through_four_snapshots() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "event-store-unbounded", &[200, 700, 1200, 2000]);
    let (out, report) = leaks_json(&snaps);
    assert_eq!(out.status.code(), Some(1));
    let grown = report["growing_collections"]
        .as_array()
        .expect("collections");
    assert!(!grown.is_empty(), "{}", report["summary"]);
    let first = &grown[0];
    let entries: Vec<u64> = first["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e.as_u64().expect("n"))
        .collect();
    assert_eq!(entries.len(), 4);
    assert!(entries.windows(2).all(|w| w[1] > w[0]), "{entries:?}");
    assert!(
        path_edges(&first["path"]).contains(&"events".to_owned()),
        "{}",
        first["path"]
    );
    assert!(first["retained_growth"].as_i64().expect("growth") > 0);
    // An `events` array in every session is one finding, not one per session.
    assert!(first["members"].as_u64() > Some(1), "{first}");
    let label = first["label"].as_str().expect("label");
    assert!(
        label.contains(".events` (Array), one per entry of"),
        "{label}"
    );
    assert!(
        grown.iter().skip(1).all(|g| g["label"] != first["label"]),
        "one row per shape: {grown:?}"
    );
    let sentence = first["sentence"].as_str().expect("sentence");
    assert!(
        sentence.contains(&format!(
            "{} {label}, grew in every interval",
            first["members"]
        )),
        "{sentence}"
    );

    let clean = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(clean.path(), "lru-cache-bounded", &[800, 1200, 1600, 2000]);
    let (out, report) = leaks_json(&snaps);
    assert_eq!(out.status.code(), Some(0), "{}", report["summary"]);
    assert!(report["growing_collections"]
        .as_array()
        .expect("collections")
        .is_empty());
    let mut md_args = vec!["leaks"];
    md_args.extend(snaps.iter().map(|p| s(p)));
    md_args.extend(["--format", "markdown"]);
    let md = leaktrail(&md_args);
    assert!(String::from_utf8_lossy(&md.stdout)
        .contains("None: no Map, Set, Array or dictionary object"));
}

/// Listener growth shows in `diff --listeners` and in `leaks`; without the flag `diff`
/// says listeners were not counted rather than reporting zero.
#[test]
fn diff_and_leaks_count_listener_growth() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = scenario_snapshots(dir.path(), "listener-accumulation", &[200, 1200, 2000]);
    let diff = leaktrail_json(&["diff", s(&snaps[0]), s(&snaps[1]), "--listeners"]);
    let h = &diff["handles"];
    assert_eq!(h["listeners_measured"], true);
    let first = &h["listeners"][0];
    assert_eq!(first["event"], "config-changed");
    assert_eq!(first["emitter_class"], "ConfigService");
    assert_eq!(first["delta"], 1000, "{first}");

    let plain = leaktrail_json(&["diff", s(&snaps[0]), s(&snaps[1])]);
    assert_eq!(plain["handles"]["listeners_measured"], false);
    assert!(plain["handles"]["listeners"]
        .as_array()
        .expect("listeners")
        .is_empty());

    let out = leaktrail(&[
        "leaks",
        s(&snaps[0]),
        s(&snaps[1]),
        s(&snaps[2]),
        "--format",
        "json",
    ]);
    let leaks: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let first = &leaks["handles"]["listeners"][0];
    assert_eq!(first["event"], "config-changed");
    assert_eq!(first["delta"], 1800, "{first}");
}

#[test]
fn the_root_is_said_to_be_the_root() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "require('v8').writeHeapSnapshot('a.heapsnapshot')",
    );
    let snap = dir.path().join("a.heapsnapshot");
    // V8 gives the synthetic root id 1.
    let json = leaktrail_json(&["retainers", s(&snap), "--id", "1"]);
    assert_eq!(json["held"], "root", "{json}");
    assert_eq!(json["paths"], serde_json::json!([]), "{json}");
    let out = leaktrail(&["retainers", s(&snap), "--id", "1"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("the snapshot's root"), "{text}");
    assert!(!text.contains("weak"), "{text}");
    // A GC root category has its one step from the root.
    let json = leaktrail_json(&["retainers", s(&snap), "--id", "3"]);
    assert_eq!(json["object"]["name"], "(GC roots)", "{json}");
    assert_eq!(json["held"], "strongly", "{json}");
    assert_eq!(json["paths"][0].as_array().map(Vec::len), Some(1), "{json}");
}

/// A cache that wraps each value (`{ t, v }`, as node-cache does): the leak roots are
/// plain `Object`s, and the report says what each holds.
#[test]
fn leaks_says_what_wrapper_objects_hold() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "class Session { constructor(i) { this.user = 'user-' + i; this.roles = ['reader', 'writer']; \
           this.prefs = { theme: 'dark', lang: 'en', size: i % 50 }; this.token = 'tok-' + i.toString(36).repeat(4); } } \
         const data = {}; globalThis.cache = { data }; const v8 = require('v8'); \
         let i = 0; const add = (n) => { for (const end = i + n; i < end; i++) data['sess:' + i] = { t: 0, v: new Session(i) }; }; \
         add(1000); v8.writeHeapSnapshot('1.heapsnapshot'); add(1000); v8.writeHeapSnapshot('2.heapsnapshot'); \
         add(1000); v8.writeHeapSnapshot('3.heapsnapshot');",
    );
    let snaps: Vec<String> = (1..=3)
        .map(|k| s(&dir.path().join(format!("{k}.heapsnapshot"))).to_owned())
        .collect();
    let out = leaktrail(&["--format", "json", "leaks", &snaps[0], &snaps[1], &snaps[2]]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let first = &report["clusters"][0];
    assert_eq!(first["class"], "Object", "{first}");
    assert_eq!(first["holding"], "Session", "{first}");
    assert!(
        first["sentence"]
            .as_str()
            .is_some_and(|s| s.starts_with("1000 Object objects, each holding a Session (")),
        "{first}"
    );
}
