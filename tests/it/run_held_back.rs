//! `run` with a workload that cannot progress for a while through no fault of its own: it
//! is stopped (SIGSTOP, for longer than the stall limit) — the extreme of a busy machine,
//! where it gets no CPU. A process that gets no CPU is slow, not stalled: the run is
//! judged, never faulted, whether the stop falls while it runs its iterations or while
//! leaktrail takes its heap snapshot at the workload's exit.
//!
//! Deterministic on a busy machine: the stops are longer than the stall limit by seconds
//! and leaktrail's own waits are counted in the time the workload could run.

use crate::common;

use common::{node, run_json, s};

/// The stall limit given to every run here; each stop lasts longer.
const STALL: &str = "2s";
/// How long the workload is stopped, seconds.
const STOP_SECONDS: u32 = 5;

/// A report that is a verdict on an idle workload, not a fault.
fn judged(code: Option<i32>, report: &serde_json::Value) {
    assert!(report["fault"].is_null(), "a fault: {report}");
    // Nothing grows: no leak, or too few points to say.
    assert!(
        code == Some(0) || code == Some(3),
        "exit {code:?}: {report}"
    );
}

#[test]
fn a_workload_stopped_between_its_iterations_is_judged_not_stalled() {
    let _measured = common::measured();
    // At iteration 100 a child of the workload's stops it and wakes it STOP_SECONDS
    // later. (Not the workload itself: Node takes `process.kill(process.pid, …)` for its
    // end and says it is exiting.) It stops within a few of the 600 iterations.
    let script = format!(
        "const {{ spawn }} = require('child_process'); let i = 0; function step() {{ i++; \
         if (i === 100) spawn('sh', ['-c', 'kill -STOP ' + process.pid + '; sleep {STOP_SECONDS}; kill -CONT ' + process.pid], {{ stdio: 'ignore' }}).unref(); \
         console.log('iteration=' + i); if (i < 600) setTimeout(step, 5); }} step();"
    );
    let command = [node().display().to_string(), "-e".into(), script];
    let (code, report) = run_json(&["--stall-timeout", STALL], &command);
    judged(code, &report);
    assert_eq!(report["run"]["last_iteration"], 600, "ran to its end");
}

#[test]
fn a_workload_stopped_while_its_snapshot_at_exit_is_taken_is_judged_not_stalled() {
    let _measured = common::measured();
    let out = tempfile::tempdir().expect("tempdir");
    let end = out.path().join("end.heapsnapshot");
    // A helper started with the workload stops it once leaktrail has created the file of
    // the snapshot at exit (it is then asking for the snapshot, the workload's code done)
    // and wakes it STOP_SECONDS later; a heap of some weight makes the snapshot last
    // longer than the helper takes to see the file.
    let helper = format!(
        "n=0; while [ ! -e '{end}' ] && [ $n -lt 6000 ]; do sleep 0.01; n=$((n+1)); done; \
         [ -e '{end}' ] && kill -STOP $PPID_NODE && sleep {STOP_SECONDS} && kill -CONT $PPID_NODE",
        end = s(&end)
    );
    let script = format!(
        "const {{ spawn }} = require('child_process'); \
         spawn('sh', ['-c', {helper:?}], {{ stdio: 'ignore', env: {{ ...process.env, PPID_NODE: String(process.pid) }} }}).unref(); \
         globalThis.kept = Array.from({{ length: 300000 }}, (_, i) => ({{ i, s: 'item ' + i }})); \
         let i = 0; function step() {{ i++; console.log('iteration=' + i); if (i < 300) setTimeout(step, 5); }} step();"
    );
    let command = [node().display().to_string(), "-e".into(), script];
    let (code, report) = run_json(
        &["--stall-timeout", STALL, "--out", s(out.path())],
        &command,
    );
    judged(code, &report);
    assert_eq!(report["run"]["last_iteration"], 300, "ran to its end");
    assert_eq!(
        report["run"]["end_snapshot"]["at_exit"], true,
        "the snapshot at exit was taken: {report}"
    );
}
