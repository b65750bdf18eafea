//! `run` against workloads that never progress, print garbage, or are stopped by a
//! signal: it must end on its own with a message that says why, read any bytes, and on
//! SIGINT/SIGTERM stop the whole tree and keep what it measured.

use crate::common;

use common::{leaktrail, measured, node, run_json, s};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn node_e(script: &str) -> Vec<String> {
    vec![node().display().to_string(), "-e".into(), script.into()]
}

/// Runs a stalled workload with `--stall-timeout 1s` and returns the fault and how long
/// the run took.
fn stalled(script: &str, extra: &[&str]) -> (String, Duration) {
    let began = Instant::now();
    let mut args = vec!["--stall-timeout", "1s"];
    args.extend_from_slice(extra);
    let (code, report) = run_json(&args, &node_e(script));
    let took = began.elapsed();
    assert_eq!(code, Some(2), "a stall is a fault: {report}");
    let fault = report["fault"].as_str().expect("a fault").to_owned();
    (fault, took)
}

#[test]
fn a_run_without_new_iterations_ends_with_a_fault_that_says_why() {
    let _measured = common::measured();
    // Each case in its own thread: they wait, they do not work.
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "setInterval(() => {}, 1000)",
            "printed nothing on stdout for 1 s",
            vec![],
        ),
        (
            "let i = 0; setInterval(() => console.log('step ' + ++i), 20)",
            "no stdout line matched --iteration-pattern `iteration=(\\d+)`",
            vec![],
        ),
        (
            "setInterval(() => console.log('iteration=99999999999999999999999'), 20)",
            "is not a whole number",
            vec![],
        ),
        (
            "let i = 0; setInterval(() => console.log('iteration=' + Math.min(++i, 7)), 20)",
            "the iteration number stayed at 7",
            vec![],
        ),
        (
            "let i = 0; setInterval(() => console.log('tick ' + Math.min(++i, 3)), 20)",
            "stayed at 3",
            vec!["--iteration-pattern", r"tick (\d+)"],
        ),
    ];
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(script, want, extra)| {
            std::thread::spawn(move || {
                let (fault, took) = stalled(script, &extra);
                assert!(fault.contains(want), "want {want:?} in {fault:?}");
                assert!(fault.contains("--stall-timeout"), "names the flag: {fault}");
                // 1 s of stall, Node's start and the stop; not forever.
                assert!(took < Duration::from_secs(30), "took {took:?}");
            })
        })
        .collect();
    for h in handles {
        h.join().expect("case passed");
    }
}

#[test]
fn the_default_stall_limit_follows_the_pace_of_the_workload() {
    let _measured = common::measured();
    // 100 quick iterations, then silence: the limit is 10 times the longest gap, at
    // least 10 s, not the minute given to the first line.
    let began = Instant::now();
    let (code, report) = run_json(
        &[],
        &node_e(
            "let i = 0; const t = setInterval(() => { console.log('iteration=' + ++i); if (i === 100) clearInterval(t); }, 10); setInterval(() => {}, 1000);",
        ),
    );
    let took = began.elapsed();
    assert_eq!(code, Some(2), "{report}");
    let fault = report["fault"].as_str().expect("fault");
    assert!(fault.contains("stayed at 100"), "{fault}");
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(40),
        "took {took:?}"
    );
    assert!(
        !report["run"]["samples"]
            .as_array()
            .expect("samples")
            .is_empty(),
        "what was measured is kept"
    );
}

#[test]
fn a_workload_that_ends_without_a_matching_line_is_a_fault_not_a_call_for_more_samples() {
    let _measured = common::measured();
    let (code, report) = run_json(&[], &node_e("console.log('step 1'); console.log('step 2')"));
    assert_eq!(code, Some(2), "{report}");
    let fault = report["fault"].as_str().expect("fault");
    assert!(
        fault.contains("without printing a line that matches --iteration-pattern"),
        "{fault}"
    );
    // And what to do about it: the line to print, the flag for its own lines, or time.
    assert!(
        fault.contains("print `iteration=N`") && fault.contains("--interval 1s"),
        "{fault}"
    );
    let tail = report["run"]["stdout_tail"]
        .as_array()
        .expect("stdout tail");
    assert_eq!(tail.len(), 2, "{tail:?}");
}

#[test]
fn bad_flags_are_refused_before_anything_runs() {
    let _measured = common::measured();
    for (args, want) in [
        (
            vec!["--iteration-pattern", "tick"],
            "has no capture group for the iteration number",
        ),
        (
            vec!["--iteration-pattern", "iteration=(\\d+"],
            "is not a regular expression",
        ),
        (vec!["--iterations", "0"], "--iterations"),
        (vec!["--interval", "fast"], "expected a duration"),
    ] {
        let mut all = vec!["run"];
        all.extend_from_slice(&args);
        all.extend(["--", "/bin/false-never-started"]);
        let out = leaktrail(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
        if args[0] == "--iteration-pattern" {
            assert!(err.contains("--iteration-pattern"), "names the flag: {err}");
            assert!(err.trim().lines().count() <= 4, "short: {err}");
        }
    }
}

#[test]
fn durations_take_the_same_syntax_as_every_command() {
    let _measured = common::measured();
    let (code, report) = run_json(
        &[
            "--interval",
            "200ms",
            "--duration",
            "1.5s",
            "--no-inspector",
        ],
        &["sleep", "30"],
    );
    assert_ne!(code, Some(2), "{report}");
    let n = report["run"]["samples"].as_array().expect("samples").len();
    assert!((4..=9).contains(&n), "{n} samples at 200 ms over 1.5 s");
}

#[test]
fn bytes_that_are_not_utf8_on_stdout_are_read_past() {
    let _measured = common::measured();
    // Garbage first and between the lines, and a long line without a newline: the run
    // reads on, the workload never sees EPIPE.
    let (code, report) = run_json(
        &["--snapshots", "0"],
        &node_e(
            "process.stdout.write(Buffer.from([0xff, 0xfe, 0x0a])); process.stdout.write(Buffer.alloc(200000, 0xc3)); process.stdout.write('\\n'); let i = 0; const t = setInterval(() => { process.stdout.write(Buffer.from([0x80])); console.log(' iteration=' + ++i); if (i === 300) clearInterval(t); }, 2);",
        ),
    );
    assert!(report["fault"].is_null(), "no fault: {report}");
    assert_ne!(code, Some(2));
    assert_eq!(report["run"]["last_iteration"], 300);
}

/// True while `pid` is a live process (a zombie is dead: only its entry is left).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn stopped_by(signal: rustix::process::Signal, code: i32, name: &str, twice: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("out");
    let pid_file = dir.path().join("grandchild.pid");
    // A workload that never ends and leaves a grandchild of its own.
    let script = format!(
        "const c = require('child_process').spawn('sleep', ['300'], {{ stdio: 'ignore' }}); require('fs').writeFileSync({:?}, String(c.pid)); let i = 0; setInterval(() => console.log('iteration=' + ++i), 5);",
        s(&pid_file)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_leaktrail"))
        .args(["run", "--quiet", "--out", s(&out_dir), "--"])
        .args(node_e(&script))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("leaktrail starts");
    // Let it sample a while.
    let until = Instant::now() + Duration::from_secs(20);
    while !pid_file.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    let grandchild: u32 = std::fs::read_to_string(&pid_file)
        .expect("the workload wrote its child's pid")
        .trim()
        .parse()
        .expect("a pid");
    assert!(alive(grandchild));
    let sent = Instant::now();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).expect("pid"),
        signal,
    )
    .expect("signal sent");
    if twice {
        // As systemd or `timeout` and a wrapper deliver one stop: twice within moments.
        std::thread::sleep(Duration::from_millis(20));
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).expect("pid"),
            signal,
        )
        .expect("signal sent again");
    }
    let output = loop {
        if let Some(_status) = child.try_wait().expect("wait") {
            break child.wait_with_output().expect("output");
        }
        assert!(
            sent.elapsed() < Duration::from_secs(20),
            "leaktrail did not stop within 20 s of {name}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("Stopped: leaktrail received {name}")),
        "{stdout}"
    );
    let until = Instant::now() + Duration::from_secs(5);
    while alive(grandchild) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(grandchild), "the workload's child outlived the run");
    let csv = std::fs::read_to_string(out_dir.join("samples.csv")).expect("samples.csv written");
    assert!(csv.lines().count() > 3, "what was measured is kept: {csv}");
    let md = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    assert!(md.contains("Stopped: leaktrail received"), "{md}");
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("errors=\"1\""), "{junit}");
}

#[test]
fn sigint_stops_the_whole_tree_and_keeps_what_was_measured() {
    let _measured = common::measured();
    stopped_by(rustix::process::Signal::INT, 130, "SIGINT", false);
}

#[test]
fn sigterm_stops_the_whole_tree_and_keeps_what_was_measured() {
    let _measured = common::measured();
    stopped_by(rustix::process::Signal::TERM, 143, "SIGTERM", false);
}

#[test]
fn one_stop_delivered_twice_is_one_stop() {
    let _measured = common::measured();
    stopped_by(rustix::process::Signal::TERM, 143, "SIGTERM", true);
}

#[test]
fn a_workload_that_blocks_its_event_loop_for_seconds_is_still_sampled() {
    let _measured = common::measured();
    // A 3 s synchronous step at iteration 100: the sample waiting to run between tasks
    // times out, samples are taken at once for a while, then between tasks again.
    let script = "let i = 0; function step() { i++; if (i === 100) { const t = Date.now(); while (Date.now() - t < 3000) {} } console.log('iteration=' + i); if (i < 600) setTimeout(step, 5); } step();";
    let command = [
        node().display().to_string(),
        "--expose-gc".into(),
        "-e".into(),
        script.into(),
    ];
    let (code, report) = run_json(&["--max-overhead", "none"], &command);
    assert!(report["fault"].is_null(), "{report}");
    assert!(code == Some(0) || code == Some(3), "exit {code:?}");
    let after: Vec<u64> = report["run"]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(|s| s["iteration"].as_u64())
        .filter(|&n| n > 100)
        .collect();
    assert!(after.len() > 20, "sampled after the block: {after:?}");
}

/// A workload that ends by itself below `--iterations` (a runner left at its default) is
/// told in iterations, the unit the bound was given in, not only in samples.
#[test]
fn a_workload_that_ends_before_the_iterations_asked_for_says_where() {
    let _measured = common::measured();
    let (code, report) = run_json(
        &["--iterations", "1000"],
        &node_e("let i = 0; const t = setInterval(() => { console.log('iteration=' + ++i); if (i === 60) clearInterval(t); }, 5);"),
    );
    assert_eq!(code, Some(2), "{report}");
    let fault = report["fault"].as_str().expect("fault");
    assert!(
        fault.contains("exited at iteration 60") && fault.contains("before the 1,000 iterations"),
        "{fault}"
    );
}

/// A workload near its memory limit gets no heap snapshot: V8 builds one in the
/// workload's own memory, many times its heap, and leaktrail's snapshot got it OOM-killed
/// (then the run ended in a "the workload ended before the first snapshot, run it longer"
/// that blamed the workload for leaktrail's doing). The verdict stands on the samples, and
/// the report says why there is no snapshot.
#[test]
fn a_workload_near_its_memory_limit_is_judged_without_snapshots_not_killed() {
    let _measured = measured();
    // ~43 MiB of heap in 400,000 small objects (~115 MiB resident); a snapshot needs about
    // 12 times the heap; the cgroup leaves ~270 MiB.
    let Some(cgroup) = common::cgroup::LimitedCgroup::new("leaktrail-run-near-limit", 400 << 20)
    else {
        return;
    };
    let script = "const table = []; for (let i = 0; i < 400000; i++) table.push({ i, s: 'sku-' + i }); \
                  let i = 0; const t = setInterval(() => { JSON.stringify(table[i % table.length]); \
                  console.log('iteration=' + ++i); if (i >= 1500) clearInterval(t); }, 2);";
    // leaktrail and the workload both in the cgroup: the workload's memory is charged there
    // from its first page.
    let out = Command::new("sh")
        .args([
            "-c",
            &format!(
                "echo $$ > '{}' && exec '{}' run --format json -- '{}' -e \"$0\"",
                cgroup.procs.display(),
                env!("CARGO_BIN_EXE_leaktrail"),
                node().display()
            ),
            script,
        ])
        .output()
        .expect("leaktrail runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let a = &report["assessment"];
    assert_eq!(
        report["run"]["exit"]["signal"],
        serde_json::Value::Null,
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{}: {stderr}", a["sentence"]);
    let skipped = report["run"]["snapshots_skipped"]
        .as_array()
        .unwrap_or_else(|| panic!("snapshots skipped: {stderr}"));
    assert!(
        skipped.first().and_then(|s| s.as_str()).is_some_and(|s| s
            .starts_with("no heap snapshot at iteration ")
            && s.contains("V8 needs about")),
        "{skipped:?}"
    );
}

#[test]
fn a_workload_that_fails_before_its_first_line_is_told_by_its_exit_status() {
    let _measured = common::measured();
    let missing = std::env::temp_dir().join("leaktrail-no-such-script.js");
    let command = [node().display().to_string(), missing.display().to_string()];
    let (code, report) = run_json(&[], &command);
    assert_eq!(code, Some(2), "{report}");
    // Its own failure first, not the iteration lines it never got to print.
    let fault = report["fault"].as_str().expect("fault");
    assert_eq!(fault, "the workload ended with exit status 1", "{fault}");
    let tail: Vec<&str> = report["run"]["stderr_tail"]
        .as_array()
        .expect("stderr tail")
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        tail.iter().any(|l| l.contains("Cannot find module")),
        "{tail:?}"
    );
    // Node's lines about the inspector leaktrail attached are not the workload's.
    assert!(!tail.iter().any(|l| l.contains("debugger")), "{tail:?}");
}

/// A synchronous loop of `seconds` that prints `iteration=N` every 10 iterations and
/// never lets its event loop turn.
fn synchronous_loop(seconds: u32) -> String {
    format!(
        "const t0 = Date.now(); let i = 0, sum = 0; while (Date.now() - t0 < {ms}) {{ i++; const o = {{ id: i, tag: 'user-' + i }}; sum += o.tag.length; for (let k = 0; k < 2000; k++) sum += k & 1; if (i % 10 === 0) console.log('iteration=' + i); }}",
        ms = seconds * 1000
    )
}

#[test]
fn a_synchronous_loop_without_expose_gc_is_a_fault_that_says_what_to_do() {
    let _measured = common::measured();
    // V8 dispatches no HeapProfiler.collectGarbage while such a loop runs: no sample. Its
    // lines flood in faster than they are read, too.
    let (code, report) = run_json(&[], &node_e(&synchronous_loop(3)));
    assert_eq!(code, Some(2), "{report}");
    let fault = report["fault"].as_str().expect("fault");
    assert!(
        (fault.starts_with("no sample was taken") || fault.starts_with("only one sample was"))
            && fault.contains("--expose-gc"),
        "{fault}"
    );
}

#[test]
fn a_synchronous_loop_with_expose_gc_is_sampled_in_its_middle() {
    let _measured = common::measured();
    let mut command = node_e(&synchronous_loop(8));
    command.insert(1, "--expose-gc".to_owned());
    let (code, report) = run_json(&[], &command);
    let samples = report["run"]["samples"].as_array().map_or(0, Vec::len);
    let sentence = &report["assessment"]["sentence"];
    // After the event loop failed to turn twice, samples are taken at once for good
    // (before: a 2 s wait for it after every 8). How many fit in 8 s depends on the
    // machine (the overhead budget, two snapshots); enough to judge on a quiet one.
    assert!(samples >= 6, "{samples} samples: {sentence}");
    // Never a leak, nor a fault: it keeps nothing.
    assert!(matches!(code, Some(0 | 3)), "exit {code:?}: {sentence}");
}
