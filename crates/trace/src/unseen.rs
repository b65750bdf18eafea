//! What a trace could not see, and what it chose not to snapshot, in plain sentences.
//!
//! A report that looks complete while it is not misleads: a file without a PID has only
//! the tree's growth over its time window (on parallel runs, the other workers' growth
//! too), and a process no sample saw has no growth figure. These sentences go at the top
//! of the text report, not among the footnotes.

use leaktrail_analysis::units::{agree, plural_s};

use crate::files::{FileAttribution, FileSource};
use crate::tracer::TraceRun;

/// The file name of a test file, for a list.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Up to six items, then how many more.
fn list(items: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut out = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        out.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    out
}

/// What the trace could not see: files not tied to a process, processes no sample of
/// `/proc` saw. Empty when it saw every file's process.
pub fn unseen(run: &TraceRun, files: &[FileAttribution]) -> Vec<String> {
    let mut out = Vec::new();
    let untied: Vec<String> = files
        .iter()
        .filter(|f| f.pid.is_none())
        .map(|f| file_name(&f.span.file).to_owned())
        .collect();
    if !untied.is_empty() {
        let node_test = run
            .processes
            .iter()
            .any(|p| p.role.as_ref().is_some_and(|r| r.runner == "node --test"));
        let why = if node_test && files.iter().any(|f| f.span.source == FileSource::Tap) {
            "node --test ran each in a process that ended between two samples (a shorter --interval sees more of them)"
        } else if !run.file_hooks {
            "the preload that ties files to their workers was off (--no-file-hooks)"
        } else {
            "no worker of Jest, Vitest or Mocha --parallel reported them"
        };
        out.push(format!(
            "{} of {} test files are not tied to the process that ran them ({why}); their growth is the whole tree's over their time windows: {}.",
            untied.len(),
            files.len(),
            list(&untied)
        ));
    }
    let unsampled: Vec<String> = run
        .processes
        .iter()
        .filter(|p| p.unsampled)
        .map(|p| p.pid.to_string())
        .collect();
    if !unsampled.is_empty() {
        out.push(format!(
            "{} worker process{} ran test files but no sample of /proc saw {} (each lived between two samples); RSS only at {} file starts and ends, no growth figure, no snapshots: PID{} {}.",
            unsampled.len(),
            agree(unsampled.len(), "", "es"),
            agree(unsampled.len(), "it", "them"),
            agree(unsampled.len(), "its", "their"),
            plural_s(unsampled.len()),
            list(&unsampled)
        ));
    }
    out
}

/// Which processes were snapshotted and which were not, and why; `None` without
/// snapshots.
pub fn snapshot_scope(run: &TraceRun) -> Option<String> {
    run.snapshot_every_seconds?;
    if run.snapshot_coordinators {
        return Some(
            "Snapshots: every Node process, coordinators included (--snapshot-coordinators)."
                .to_owned(),
        );
    }
    if !run.file_hooks {
        return Some("Snapshots: every Node process: without the preload (--no-file-hooks) trace cannot tell the workers that run tests from the processes that coordinate them.".to_owned());
    }
    if run.processes.iter().all(|p| p.role.is_none()) {
        return Some("Snapshots: every Node process (no test runner recognised: Jest, Vitest, Mocha --parallel, node --test).".to_owned());
    }
    let skipped: Vec<String> = run
        .processes
        .iter()
        .filter_map(|p| {
            let why = p.snapshots_skipped.as_ref()?;
            Some(format!("{} ({why})", p.pid))
        })
        .collect();
    Some(if skipped.is_empty() {
        "Snapshots: only the processes that run tests (--snapshot-coordinators snapshots the others too).".to_owned()
    } else {
        format!(
            "Snapshots: only the processes that run tests; not PID{} {} (--snapshot-coordinators snapshots them too).",
            plural_s(skipped.len()),
            skipped.join(", ")
        )
    })
}
