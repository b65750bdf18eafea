//! Checks beside the memory verdict, each passed or failed on its own (a failed check fails
//! the run, exit 1):
//!
//! - [`check_threads`]: the thread count of the process tree is back to its baseline at
//!   the end — worker threads that are never terminated pile up, and each holds a stack
//!   and, in Node, a whole isolate.
//! - [`check_expect_freed`] (`--expect-freed CLASS`): no object of CLASS is alive in the
//!   heap at the end (see [`crate::EndSnapshot`] for when that snapshot is taken).
//!
//! **Thread baseline.** The baseline is the *highest* count among the first steady samples
//! (after the warm-up of the memory series; the first tenth of them, at least three), so
//! that pools started during the first requests are part of it; the end is the *lowest*
//! count among the last three samples, so that a thread just starting or finishing does
//! not decide. Node starts some threads of its own lazily, possibly late in a run: libuv's
//! threadpool (4 threads, `UV_THREADPOOL_SIZE`) on the first asynchronous fs, dns, crypto
//! or zlib call. Up to `tolerance` more threads at the end than at the baseline therefore
//! pass (default 4, or `UV_THREADPOOL_SIZE`).

use std::path::Path;

use leaktrail_analysis::units::{human_bytes, plural_s};
use leaktrail_analysis::{ClassSurvivors, HeapAnalysis, IdSet};
use leaktrail_snapshot::{HeapSnapshot, ParseOptions};
use leaktrail_stats::{mann_kendall, theil_sen, Outcome};

use crate::assess::{MemoryKind, RunAssessment};
use crate::check::{Check, CheckDetail, CheckStatus, FreedCheck, ThreadCheck};
use crate::run::RunResult;

/// Adds the thread check to `assessment`. When the check fails and the thread count grows
/// steadily, the threads are what grows ([`MemoryKind::Threads`]).
pub fn check_threads(result: &RunResult, assessment: &mut RunAssessment, tolerance: u64) {
    let samples = &result.samples;
    let name = "threads back to baseline".to_owned();
    let n = samples.len();
    if n < 6 {
        assessment.checks.push(Check {
            name,
            status: CheckStatus::Skipped,
            finding: format!("Not checked: {n} samples, at least 6 are needed."),
            detail: CheckDetail::Threads(ThreadCheck {
                baseline: 0,
                end: 0,
                tolerance,
                processes: (0, 0),
                grows_steadily: false,
                slope: None,
            }),
        });
        return;
    }
    // The steady part, after the memory series' warm-up, with room for both ends.
    let start = assessment.primary.verdict.warmup_samples.min(n - 6);
    let steady = &samples[start..];
    let window = (steady.len() / 10).clamp(3, steady.len() / 2);
    let first = &steady[..window];
    let last = &steady[steady.len() - 3..];
    let baseline = first.iter().map(|s| s.memory.threads).max().unwrap_or(0);
    let end = last.iter().map(|s| s.memory.threads).min().unwrap_or(0);
    let processes = (
        first.iter().map(|s| s.processes).max().unwrap_or(0),
        last.iter().map(|s| s.processes).min().unwrap_or(0),
    );
    let by_iteration = assessment.unit == crate::Per::Iteration;
    let x: Vec<f64> = steady
        .iter()
        .map(|s| {
            if by_iteration {
                s.iteration.unwrap_or(0) as f64
            } else {
                s.t
            }
        })
        .collect();
    let y: Vec<f64> = steady.iter().map(|s| s.memory.threads as f64).collect();
    let trend = mann_kendall(&x, &y);
    let fit = theil_sen(&x, &y, 0.01);
    let grows_steadily = trend.p_value < 0.01 && fit.low > 0.0;
    let failed = end > baseline + tolerance;
    // Each process has a thread of its own: processes that pile up are a finding of
    // their own, and explain as many threads.
    let more_threads = end.saturating_sub(baseline);
    let more_processes = processes.1.saturating_sub(processes.0) as u64;
    let finding = if failed {
        let cause = if more_processes >= more_threads {
            format!(
                "{} processes at the end vs {}: child processes not ended?",
                processes.1, processes.0
            )
        } else if more_processes > 0 {
            format!(
                "worker threads not terminated, and {} processes at the end vs {}: child processes not ended?",
                processes.1, processes.0
            )
        } else {
            "worker threads not terminated?".to_owned()
        };
        let mut f = format!(
            "{end} threads at the end vs {baseline} at the baseline (+{more_threads}, more than the {tolerance} allowed for threads a runtime starts lazily): {cause}"
        );
        if grows_steadily {
            let (scale, per) = match (by_iteration, fit.slope >= 0.1) {
                (true, true) => (1.0, "iteration"),
                (true, false) => (1000.0, "1000 iterations"),
                (false, true) => (1.0, "second"),
                (false, false) => (60.0, "minute"),
            };
            f.push_str(&format!(
                " The count grows steadily, about {:.1} per {per}.",
                fit.slope * scale
            ));
        }
        f
    } else {
        format!(
            "{end} threads at the end vs {baseline} at the baseline (up to {tolerance} more pass)."
        )
    };
    if failed && grows_steadily && more_processes < more_threads {
        if assessment.outcome == Outcome::Leak && assessment.grows != Some(MemoryKind::Native) {
            assessment.sentence.push_str(&format!(
                " Threads grow too, steadily: {end} at the end vs {baseline} at the baseline — see the thread check."
            ));
        } else {
            // Threads piling up while the heap stays flat are the leak: said first.
            assessment.sentence = format!(
                "Leak of threads: {end} threads at the end vs {baseline} at the baseline, growing steadily (worker threads not terminated?), each with its own stack and, for a Node worker, its own V8 isolate. The memory: {}",
                assessment.sentence
            );
            assessment.outcome = Outcome::Leak;
        }
        assessment.grows = Some(MemoryKind::Threads);
    }
    assessment.checks.push(Check {
        name,
        status: if failed {
            CheckStatus::Failed
        } else {
            CheckStatus::Passed
        },
        finding,
        detail: CheckDetail::Threads(ThreadCheck {
            baseline,
            end,
            tolerance,
            processes,
            grows_steadily,
            slope: grows_steadily.then_some(fit.slope),
        }),
    });
}

/// Adds one `--expect-freed` check per class to `assessment`, from the run's end snapshot
/// (an error check when there is none or it cannot be read).
pub fn check_expect_freed(result: &RunResult, assessment: &mut RunAssessment, classes: &[String]) {
    if classes.is_empty() {
        return;
    }
    let found = result
        .end_snapshot
        .as_ref()
        .ok_or_else(|| {
            "no heap snapshot at the end of the run (the workload ended before it could be taken, or the inspector was lost)".to_owned()
        })
        .and_then(|end| {
            survivors(&end.path, end.earlier.as_deref(), classes).map(|s| (end, s))
        });
    match found {
        Ok((end, all)) => {
            for s in all {
                assessment.checks.push(freed_check(s, end));
            }
        }
        Err(e) => {
            for class in classes {
                assessment.checks.push(Check {
                    name: format!("{class} freed at the end"),
                    status: CheckStatus::Error,
                    finding: format!("Not checked: {e}."),
                    detail: CheckDetail::ExpectFreed(FreedCheck {
                        class: class.clone(),
                        survivors: None,
                        snapshot: None,
                        at_exit: false,
                    }),
                });
            }
        }
    }
}

/// The survivors of each class in the snapshot at `path`, counting only objects already
/// in `earlier` when given.
fn survivors(
    path: &Path,
    earlier: Option<&Path>,
    classes: &[String],
) -> Result<Vec<ClassSurvivors>, String> {
    let older = match earlier {
        Some(p) => {
            // Only the ids are needed: no edges.
            let options = ParseOptions {
                progress: None,
                edge_filter: Some(|_, _, _| false),
                ..Default::default()
            };
            let snap = HeapSnapshot::open(p, &options).map_err(|e| e.to_string())?;
            Some(IdSet::new(snap.node_ids()))
        }
        None => None,
    };
    let snap = HeapSnapshot::open(path, &ParseOptions::default()).map_err(|e| e.to_string())?;
    let analysis = HeapAnalysis::new(&snap);
    Ok(classes
        .iter()
        .map(|c| ClassSurvivors::find(&analysis, c, older.as_ref()))
        .collect())
}

fn freed_check(s: ClassSurvivors, end: &crate::EndSnapshot) -> Check {
    let when = if end.at_exit {
        "at the workload's exit"
    } else {
        "at the end of the run"
    };
    let failed = s.count > 0;
    let finding = if failed {
        let mut f = format!(
            "{} {} object{} survived a full GC {when} ({} shallow, {} retained).",
            s.count,
            s.class,
            plural_s(s.count),
            human_bytes(s.self_size),
            human_bytes(s.retained_size)
        );
        if let Some(path) = s.example.as_ref().and_then(|e| e.paths.first()) {
            // `global → seenInputs (Array) → [4] (ScanInput)`: the root's own edge says
            // nothing, its target's class does.
            let holder: Vec<String> = path
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    if i == 0 {
                        step.object.class.clone()
                    } else {
                        format!("{} ({})", step.edge, step.object.class)
                    }
                })
                .collect();
            f.push_str(&format!(" The largest is held by {}.", holder.join(" → ")));
        }
        f
    } else if s.matched.is_empty() {
        format!(
            "No {} object is alive {when}; the heap has no class of that name at all (if the name may be misspelt, `leaktrail summary` lists the classes).",
            s.class
        )
    } else {
        format!("No {} object is alive {when}.", s.class)
    };
    let mut finding = finding;
    if s.newer > 0 {
        finding.push_str(&format!(
            " {} newer one{}, allocated while the end snapshots were taken (work in flight), not counted.",
            s.newer,
            plural_s(s.newer)
        ));
    }
    Check {
        name: format!("{} freed at the end", s.class),
        status: if failed {
            CheckStatus::Failed
        } else {
            CheckStatus::Passed
        },
        finding,
        detail: CheckDetail::ExpectFreed(FreedCheck {
            class: s.class.clone(),
            snapshot: Some(end.path.display().to_string()),
            at_exit: end.at_exit,
            survivors: Some(s),
        }),
    }
}
