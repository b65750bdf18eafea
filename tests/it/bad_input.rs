//! Bad input through the CLI: one line naming the file and the problem, exit code 2.

use crate::common;

use common::*;
use std::process::Command;

fn expect_error(args: &[&str], needles: &[&str]) {
    let out = leaktrail(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
}

#[test]
fn errors_name_the_file_and_the_problem() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "require('v8').writeHeapSnapshot('real.heapsnapshot')",
    );
    let real = dir.path().join("real.heapsnapshot");
    let bytes = std::fs::read(&real).expect("read");

    let truncated = dir.path().join("truncated.heapsnapshot");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).expect("write");
    expect_error(&["summary", s(&truncated)], &[s(&truncated), "truncated"]);

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, world\n").expect("write");
    expect_error(
        &["summary", s(&text)],
        &[s(&text), "not a V8 heap snapshot"],
    );

    let json = dir.path().join("package.json");
    std::fs::write(&json, "{\"name\": \"x\", \"version\": \"1.0.0\"}").expect("write");
    expect_error(
        &["summary", s(&json)],
        &[s(&json), "no \"snapshot\" header"],
    );

    let empty = dir.path().join("empty.heapsnapshot");
    std::fs::write(&empty, "").expect("write");
    expect_error(&["summary", s(&empty)], &[s(&empty), "empty"]);

    // node_count raised by one: the header disagrees with the nodes array.
    let header_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .expect("newline after header");
    let header = String::from_utf8_lossy(&bytes[..header_end]).into_owned();
    let count: u64 = header
        .split("\"node_count\":")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("node_count");
    let bad_header = header.replace(
        &format!("\"node_count\":{count}"),
        &format!("\"node_count\":{}", count + 1),
    );
    let mut bad = bad_header.into_bytes();
    bad.extend_from_slice(&bytes[header_end..]);
    let mismatch = dir.path().join("mismatch.heapsnapshot");
    std::fs::write(&mismatch, bad).expect("write");
    expect_error(
        &["summary", s(&mismatch)],
        &[
            s(&mismatch),
            &format!("header says {} nodes", count + 1),
            "at byte",
        ],
    );

    let missing = dir.path().join("missing.heapsnapshot");
    expect_error(
        &["diff", s(&real), s(&missing)],
        &[s(&missing), "cannot read"],
    );
    expect_error(&["summary", s(dir.path())], &["directory"]);

    // Usage errors are exit 2 as well (clap).
    let out = leaktrail(&["diff", s(&real)]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn watch_refuses_a_bad_store_or_target_and_keeps_what_is_stored() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("afile");
    std::fs::write(&file, "x").expect("write");
    expect_error(
        &["watch", "--store", s(&file), "--", "true"],
        &[s(&file), "not a directory"],
    );
    let junk = dir.path().join("junk");
    std::fs::create_dir(&junk).expect("dir");
    let db = junk.join("leaktrail.db");
    std::fs::write(&db, "not sqlite, and it must stay as it is").expect("write");
    expect_error(
        &["watch", "--store", s(&junk), "--", "true"],
        &[s(&db), "not a database"],
    );
    assert_eq!(
        std::fs::read_to_string(&db).expect("read"),
        "not sqlite, and it must stay as it is",
        "nothing already stored is lost"
    );
    let store = dir.path().join("store");
    expect_error(
        &["watch", "--store", s(&store), "--pid", "2147483000"],
        &["no process 2147483000"],
    );
    expect_error(
        &["watch", "--store", s(&store), "--", "/nonexistent/program"],
        &["cannot start `/nonexistent/program`"],
    );
}

#[test]
fn a_store_from_a_newer_leaktrail_is_refused_and_left_alone() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    leaktrail_store::Store::create(&store).expect("store");
    let db = store.join("leaktrail.db");
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .expect("bump the version");
    }
    let before = std::fs::read(&db).expect("read");
    for args in [
        vec!["trend", "--store", s(&store)],
        vec!["watch", "--store", s(&store), "--", "true"],
        vec!["serve", "--store", s(&store)],
    ] {
        expect_error(&args, &[s(&db), "schema version 99"]);
    }
    assert_eq!(
        std::fs::read(&db).expect("read"),
        before,
        "the store is untouched"
    );
}

/// Runs `args` and returns its stderr after checking the exit code.
fn stderr_of(args: &[&str], code: i32) -> String {
    let out = leaktrail(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    err
}

#[test]
fn a_missing_file_is_said_once_by_every_command() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "require('v8').writeHeapSnapshot('real.heapsnapshot')",
    );
    let real = dir.path().join("real.heapsnapshot");
    let missing = dir.path().join("missing.heapsnapshot");
    let missing_dir = dir.path().join("no-such-dir");
    // The system's own words for a missing file, as this platform says them.
    let enoent = std::fs::metadata(&missing)
        .expect_err("missing")
        .to_string();
    let m = s(&missing);
    let md = s(&missing_dir);
    let cannot_read = format!("leaktrail: {m}: cannot read: {enoent}\n");
    let cannot_list = format!("leaktrail: {md}: cannot read directory: {enoent}\n");
    let cannot_start = format!("leaktrail: cannot start `/nonexistent/program`: {enoent}\n");
    let store = dir.path().join("store");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["summary", m], &cannot_read),
        (vec!["diff", s(&real), m], &cannot_read),
        (vec!["leaks", m, s(&real), s(&real)], &cannot_read),
        (vec!["retainers", m, "--id", "1"], &cannot_read),
        (vec!["flame", m], &cannot_read),
        (
            vec![
                "census",
                m,
                "--name",
                "x",
                "--classes",
                "1",
                "--retained-classes",
                "1",
                "--collections",
                "1",
                "--min-collection-entries",
                "1",
            ],
            &cannot_read,
        ),
        (vec!["trend", md], &cannot_list),
        (vec!["diff", "--lane-dir", md], &cannot_list),
        (vec!["trace", "--", "/nonexistent/program"], &cannot_start),
        (
            vec!["watch", "--store", s(&store), "--", "/nonexistent/program"],
            &cannot_start,
        ),
    ];
    for (args, expected) in &cases {
        assert_eq!(&stderr_of(args, 2), expected, "{args:?}");
    }
    // leaks reads the earlier snapshots beside the last one when memory allows; of two
    // bad files it still names the earlier, as reading them in order would.
    let bad_earlier = dir.path().join("bad-earlier.heapsnapshot");
    let bad_last = dir.path().join("bad-last.heapsnapshot");
    std::fs::write(&bad_earlier, "{\"snapshot\": 1").expect("write");
    std::fs::write(&bad_last, "not a snapshot").expect("write");
    let err = stderr_of(&["leaks", s(&real), s(&bad_earlier), s(&bad_last)], 2);
    assert!(
        err.starts_with(&format!("leaktrail: {}: ", s(&bad_earlier))),
        "{err}"
    );
    let no_store = format!(
        "leaktrail: {md}: no leaktrail store here (no leaktrail.db); start one with `leaktrail watch --store DIR`\n"
    );
    assert_eq!(stderr_of(&["trend", "--store", md], 2), no_store);
    assert_eq!(stderr_of(&["serve", "--store", md], 2), no_store);
    // Read after the command ran: a warning line, the report still printed.
    let out = leaktrail(&["trace", "--files-from", m, "--", "true"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("leaktrail: --files-from: {m}: cannot read: {enoent}\n")
    );
    assert!(!out.stdout.is_empty());
}

#[test]
fn floor_suggestions_name_what_the_flag_takes() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    for args in [
        vec!["trend", "--floor", "5MB", s(dir.path())],
        vec!["serve", "--store", s(&store), "--floor", "5MB"],
        vec![
            "watch",
            "--store",
            s(&store),
            "--serve",
            "--floor",
            "5MB",
            "--",
            "true",
        ],
    ] {
        let err = stderr_of(&args, 2);
        assert!(err.contains("--floor"), "{args:?}: {err}");
        assert!(err.contains("1MB/h"), "{args:?}: {err}");
        assert!(
            !err.contains("iter"),
            "{args:?}: suggests what it refuses: {err}"
        );
    }
    // Per iteration is refused, in the words the user wrote.
    let err = stderr_of(&["trend", "--floor", "5KB/iter", s(dir.path())], 2);
    assert!(err.contains("5KB/iter"), "{err}");
    assert!(err.contains("1MB/h"), "{err}");
    // What the suggestion names is taken.
    for floor in ["1MB/h", "64KB/min", "10KB/s"] {
        let err = stderr_of(&["trend", "--floor", floor, s(dir.path())], 2);
        assert!(err.contains("no .heapsnapshot files"), "{floor}: {err}");
    }
    assert!(!store.exists());
}

#[test]
fn a_target_that_cannot_be_watched_leaves_nothing_behind() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let out = dir.path().join("out");
    for (args, said) in [
        (
            vec!["watch", "--store", s(&store), "--pid", "999999"],
            "no process 999999",
        ),
        (
            vec![
                "watch",
                "--store",
                s(&store),
                "--pid",
                "999999",
                "--serve",
                "--listen",
                "127.0.0.1:0",
            ],
            "no process 999999",
        ),
        (
            vec!["watch", "--store", s(&store), "--", "/nonexistent/program"],
            "cannot start `/nonexistent/program`",
        ),
        (
            vec![
                "watch",
                "--store",
                s(&store),
                "--",
                "no-such-program-on-path-xyz",
            ],
            "cannot start `no-such-program-on-path-xyz`",
        ),
        (
            vec!["trace", "--out", s(&out), "--", "/nonexistent/program"],
            "cannot start `/nonexistent/program`",
        ),
    ] {
        let err = stderr_of(&args, 2);
        assert!(err.contains(said), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!store.exists(), "{args:?}: the store was created");
        assert!(!out.exists(), "{args:?}: --out was created");
    }
    // A directory that was there is left there.
    std::fs::create_dir(&out).expect("mkdir");
    stderr_of(
        &["trace", "--out", s(&out), "--", "/nonexistent/program"],
        2,
    );
    assert!(out.is_dir());
}

#[test]
fn numbers_at_their_limits_are_no_panic() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "require('v8').writeHeapSnapshot('real.heapsnapshot')",
    );
    let real = dir.path().join("real.heapsnapshot");
    // KiB that overflow bytes: every class is below it.
    let out = leaktrail(&[
        "diff",
        s(&real),
        s(&real),
        "--min-kb",
        &u64::MAX.to_string(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A duration longer than a Duration holds: refused, named.
    let err = stderr_of(
        &[
            "trace",
            "--interval",
            "99999999999999999999999h",
            "--",
            "true",
        ],
        2,
    );
    assert!(err.contains("--interval"), "{err}");
    assert!(err.contains("too long"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_node_file_name_with_an_impossible_date_is_no_panic() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    node_eval(
        dir.path(),
        "require('v8').writeHeapSnapshot('Heap.18446744073709550101.000000.1.0.001.heapsnapshot')",
    );
    let out = leaktrail(&["trend", s(dir.path())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A snapshot of `n` objects in a chain, in V8's layout (a few MB for a million).
fn chain_snapshot(n: usize) -> Vec<u8> {
    use std::fmt::Write;
    let mut t = String::from(
        r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic"],"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"]},"#,
    );
    let _ = write!(
        t,
        "\"node_count\":{n},\"edge_count\":{}}},\n\"nodes\":[",
        n - 1
    );
    for i in 0..n {
        let sep = if i == 0 { "" } else { "," };
        let _ = writeln!(
            t,
            "{sep}3,1,{},{},{},0,0",
            2 * i + 1,
            16 + i % 64,
            u8::from(i + 1 < n)
        );
    }
    t.push_str("],\n\"edges\":[");
    for i in 1..n {
        let sep = if i == 1 { "" } else { "," };
        let _ = writeln!(t, "{sep}2,2,{}", 7 * i);
    }
    t.push_str("],\n\"strings\":[\"\",\"Link\",\"next\"]}\n");
    t.into_bytes()
}

#[test]
fn header_counts_are_checked_before_allocating_under_a_memory_limit() {
    let _shared = crate::common::shared();
    // 2^32 - 1 nodes would ask for about 70 GB of columns at once; under `ulimit -v` that
    // aborted every command with SIGABRT and a backtrace.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = String::from_utf8(chain_snapshot(1000)).expect("utf-8");
    let huge_nodes = dir.path().join("huge-nodes.heapsnapshot");
    std::fs::write(
        &huge_nodes,
        text.replace("\"node_count\":1000", "\"node_count\":4294967295"),
    )
    .expect("write");
    let huge_edges = dir.path().join("huge-edges.heapsnapshot");
    std::fs::write(
        &huge_edges,
        text.replace("\"edge_count\":999", "\"edge_count\":4294967295"),
    )
    .expect("write");
    let limited = |args: &[&str]| {
        Command::new("bash")
            .arg("-c")
            .arg("ulimit -v 4000000 && exec \"$@\"")
            .arg("bash")
            .arg(env!("CARGO_BIN_EXE_leaktrail"))
            .args(args)
            .output()
            .expect("bash runs")
    };
    let h = s(&huge_nodes);
    for args in [
        vec!["summary", h],
        vec!["summary", "--shallow", h],
        vec!["diff", h, h],
        vec!["leaks", h, h, h],
        vec!["retainers", h, "--id", "1"],
    ] {
        let out = limited(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(
            err.contains(&format!("{h}: header says node_count 4294967295")),
            "{args:?}: {err}"
        );
    }
    let out = limited(&["summary", s(&huge_edges)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("header says edge_count 4294967295"), "{err}");
}

#[test]
fn a_snapshot_truncated_while_read_is_an_error_not_sigbus() {
    let _shared = crate::common::shared();
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("growing.heapsnapshot");
    let text = chain_snapshot(1_500_000);
    let mut changed = 0;
    // Cut at different moments of the parse: before it, during it (the most), after it.
    for delay_ms in [0u64, 10, 20, 40, 60, 80, 120, 160, 240, 320] {
        std::fs::write(&path, &text).expect("write");
        let child = Command::new(env!("CARGO_BIN_EXE_leaktrail"))
            .args(["summary", "--shallow", s(&path)])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("leaktrail runs");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(text.len() as u64 / 3))
            .expect("truncate");
        let out = child.wait_with_output().expect("waits");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            None,
            "killed by a signal after {delay_ms} ms: {err}"
        );
        match out.status.code() {
            Some(0) => {}
            Some(2) => {
                assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
                assert!(err.contains(s(&path)), "{err}");
                if err.contains("changed size while being read") {
                    changed += 1;
                }
            }
            other => panic!("exit {other:?} after {delay_ms} ms: {err}"),
        }
    }
    assert!(changed > 0, "no cut fell during a parse");
}

#[test]
fn not_quite_snapshots_are_refused_and_any_field_order_is_read() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = String::from_utf8(chain_snapshot(100)).expect("utf-8");

    let trailing = dir.path().join("trailing.heapsnapshot");
    std::fs::write(&trailing, format!("{text}{{}}\n")).expect("write");
    expect_error(
        &["summary", s(&trailing)],
        &[
            s(&trailing),
            "after the end of the snapshot's JSON object",
            &format!("(at byte {})", text.len()),
        ],
    );

    let zero = dir.path().join("zero.heapsnapshot");
    let bad = text.replacen("\n,3,1,3,", "\n,3,1,003,", 1);
    std::fs::write(&zero, &bad).expect("write");
    let at = bad.find(",003,").expect("there") + 2;
    expect_error(
        &["summary", s(&zero)],
        &[s(&zero), "leading zero", &format!("(at byte {at})")],
    );

    // The same graph with the fields in another order and an unknown one in each list.
    let reordered = text
        .replace(
            r#""node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic"],"string","number","number","number","number","number"]"#,
            r#""node_fields":["id","extra","edge_count","self_size","name","type"],"node_types":["number","number","number","number","string",["hidden","array","string","object","code","closure","regexp","number","native","synthetic"]]"#,
        )
        .replace(
            r#""edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"]"#,
            r#""edge_fields":["to_node","type","name_or_index","extra"],"edge_types":["node",["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","number"]"#,
        );
    let nodes_start = reordered.find("\"nodes\":[").expect("nodes") + 9;
    let edges_start = reordered.find("\"edges\":[").expect("edges") + 9;
    let strings_start = reordered.find("],\n\"strings\"").expect("strings");
    let records = |from: usize, to: usize| -> Vec<Vec<u64>> {
        reordered[from..to]
            .split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .map(|t| t.parse().expect("integer"))
            .collect::<Vec<u64>>()
            .chunks(if from == nodes_start { 7 } else { 3 })
            .map(<[u64]>::to_vec)
            .collect()
    };
    let nodes_end = reordered[..edges_start].rfind(']').expect("end of nodes");
    let nodes: Vec<String> = records(nodes_start, nodes_end)
        .iter()
        .map(|n| format!("{},42,{},{},{},{}", n[2], n[4], n[3], n[1], n[0]))
        .collect();
    let edges: Vec<String> = records(edges_start, strings_start)
        .iter()
        // to_node counts integers: nodes are 6 wide now instead of 7.
        .map(|e| format!("{},{},{},9", e[2] / 7 * 6, e[0], e[1]))
        .collect();
    let reordered = format!(
        "{}{}],\n\"edges\":[{}{}",
        &reordered[..nodes_start],
        nodes.join(",\n"),
        edges.join(",\n"),
        &reordered[strings_start..]
    );
    let a = dir.path().join("v8-order.heapsnapshot");
    let b = dir.path().join("other-order.heapsnapshot");
    std::fs::write(&a, &text).expect("write");
    std::fs::write(&b, &reordered).expect("write");
    let summary = |p: &std::path::Path| {
        let mut v = leaktrail_json(&["summary", s(p)]);
        // All but the file's name and size (the extra field makes it longer).
        let file = v["snapshot"].as_object_mut().expect("object");
        file.remove("path");
        file.remove("file_size");
        v
    };
    assert_eq!(summary(&a), summary(&b));
}

#[test]
fn snapshots_of_two_processes_or_out_of_order_are_refused() {
    let _shared = crate::common::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let leak = scenario_snapshots(
        &dir.path().join("leak"),
        "stream-registry-no-ttl",
        &[200, 400, 600],
    );
    let other = scenario_snapshots(&dir.path().join("other"), "listener-accumulation", &[600]);
    let [a, b, c] = [s(&leak[0]), s(&leak[1]), s(&leak[2])];
    // In order, one process: a leak, and a diff.
    assert_eq!(leaktrail(&["leaks", a, b, c]).status.code(), Some(1));
    assert_eq!(leaktrail(&["diff", a, c]).status.code(), Some(0));
    // The last of another program: refused, both files named.
    let stray = s(&other[0]);
    for args in [vec!["leaks", a, b, stray], vec!["diff", a, stray]] {
        let err = stderr_of(&args, 2);
        assert!(
            err.contains(&format!("{a} and {stray} are not snapshots of one process"))
                || err.contains(&format!("{b} and {stray} are not snapshots of one process")),
            "{args:?}: {err}"
        );
    }
    // Newest first.
    for args in [vec!["leaks", c, b, a], vec!["diff", c, a]] {
        let err = stderr_of(&args, 2);
        assert!(
            err.contains("give the snapshots oldest first"),
            "{args:?}: {err}"
        );
    }
    // One file twice.
    let err = stderr_of(&["leaks", a, a, c], 2);
    assert!(err.contains(&format!("{a}: given twice")), "{err}");
}
