//! A whole leak test, as `leaktrail run` makes it: run the workload ([`run`]), decide
//! ([`assess`] and the checks), name the culprit from its snapshots ([`find_culprit`])
//! and weigh it into the verdict ([`weigh_objects`]), then remove the snapshots nobody
//! asked for.

use std::path::PathBuf;

use leaktrail_analysis::LeakReport;
use leaktrail_stats::Outcome;

use crate::{
    assess, census_culprit, check_expect_freed, check_threads, find_culprit, paths, run,
    weigh_objects, weigh_worker_heaps, worker_culprit_snapshots, CheckDetail, CheckStatus,
    GrowthFloor, HarnessError, RunAssessment, RunConfig, RunResult, Sample, SnapshotPlan,
};

/// Clusters a culprit report names at most.
pub const CULPRIT_CLUSTERS: usize = 5;

/// A validated leak test: how to run the workload and how to judge it.
#[derive(Debug)]
pub struct LeakTestPlan {
    /// How to run and sample the workload.
    pub config: RunConfig,
    /// Growth at or below this is no leak, however steady.
    pub floor: GrowthFloor,
    /// Iterations (seconds when sampling by time) to drop at the start; found from the
    /// series when `None`.
    pub warmup: Option<f64>,
    /// Significance level of the trend test.
    pub alpha: f64,
    /// The iteration bound the workload was given, to tell an early exit from its end.
    pub iterations: Option<u64>,
    /// Threads the tree may gain by the end before the thread check fails.
    pub thread_tolerance: u64,
    /// Classes that must have no object left at the end (`--expect-freed`).
    pub expect_freed: Vec<String>,
    /// Keep every snapshot taken; otherwise they are kept only when a culprit report
    /// was made and the verdict is a leak (then all of them).
    pub keep_snapshots: bool,
}

/// The outcome of a leak test.
#[derive(Debug)]
pub struct LeakTest {
    /// What the run measured.
    pub result: RunResult,
    /// The verdict, with its checks.
    pub assessment: RunAssessment,
    /// The leaks report of the culprit's snapshots, when three or more could be read.
    pub culprit: Option<LeakReport>,
    /// Why the run is a fault (the workload failed, or the harness could not measure it).
    pub fault: Option<String>,
}

impl LeakTest {
    /// The exit code: 0 no leak, 1 leak, 2 fault, 3 inconclusive; a run stopped by a
    /// signal exits as a shell would, 128 + the signal.
    pub fn exit_code(&self) -> u8 {
        match self.result.interrupted {
            Some(signal) => (128 + signal) as u8,
            None => self.assessment.exit_code(self.fault.is_some()),
        }
    }
}

/// Where a leak test is, for a caller that shows progress.
#[derive(Clone, Copy, Debug)]
pub enum LeakTestEvent<'a> {
    /// A sample was taken.
    Sample(&'a Sample),
    /// The workload has ended; its snapshots are read next (which may take a while).
    RunEnded,
}

/// Runs the leak test of `plan`, telling `on_event` where it is. Snapshot files are read
/// by `analyse_files` (the leaks report of three snapshot files or more, oldest first,
/// naming at most [`CULPRIT_CLUSTERS`] clusters); zero-disk snapshots by their censuses.
pub fn leak_test<E: From<HarnessError>>(
    plan: &LeakTestPlan,
    mut on_event: impl FnMut(LeakTestEvent<'_>),
    analyse_files: impl Fn(&[PathBuf]) -> Result<LeakReport, E>,
) -> Result<LeakTest, E> {
    let result = run(&plan.config, |s| on_event(LeakTestEvent::Sample(s)))?;
    on_event(LeakTestEvent::RunEnded);
    let mut assessment = assess(&result, plan.floor, plan.warmup, plan.alpha);
    check_threads(&result, &mut assessment, plan.thread_tolerance);
    check_expect_freed(&result, &mut assessment, &plan.expect_freed);
    let fault = result.fault(plan.iterations);
    let zero_disk = plan.config.census_worker.is_some();
    let doubling = plan.config.snapshots == SnapshotPlan::Doubling;
    // The snapshots are read whatever the bytes said: objects that grew in step with
    // the run decide a slow leak, and nothing growing settles an inconclusive series.
    let found = find_culprit(&result, doubling, |snapshots| match zero_disk {
        true => Ok(census_culprit(snapshots, CULPRIT_CLUSTERS)),
        false => analyse_files(&paths(snapshots)).map(Some),
    })?;
    if let Some(report) = &found.report {
        weigh_objects(&mut assessment, report, &found.snapshots);
    }
    if let Some(note) = &found.note {
        assessment.sentence.push(' ');
        assessment.sentence.push_str(note);
    }
    // A leak inside a worker thread is named from the worker's own snapshots when the
    // main thread's name none.
    let mut culprit = found.report;
    let main_named = culprit.as_ref().is_some_and(|c| c.culprit().is_some());
    weigh_worker_heaps(&mut assessment, &result.worker_heaps, || {
        if main_named {
            return None;
        }
        let (worker, paths) = worker_culprit_snapshots(&result.worker_heaps)?;
        let report = analyse_files(&paths).ok()?;
        report.culprit()?;
        culprit = Some(report);
        Some(worker)
    });
    // Zero-disk snapshots are names, not files: nothing to remove.
    if !zero_disk {
        let keep =
            plan.keep_snapshots || (culprit.is_some() && assessment.outcome == Outcome::Leak);
        let culprit_paths: Vec<&PathBuf> = found.snapshots.iter().map(|s| &s.path).collect();
        remove_unwanted_snapshots(&result, &assessment, keep, &culprit_paths);
    }
    Ok(LeakTest {
        result,
        assessment,
        culprit,
        fault,
    })
}

/// Removes the run's snapshots unless `keep`, and its end snapshots unless something
/// survived in them (a failed `--expect-freed`) or they are kept as the culprit's.
fn remove_unwanted_snapshots(
    result: &RunResult,
    assessment: &RunAssessment,
    keep: bool,
    culprit_paths: &[&PathBuf],
) {
    // Removal is tidying: a file already gone (or never written) changes no verdict.
    if !keep {
        for s in &result.snapshots {
            let _ = std::fs::remove_file(&s.path);
        }
        for path in result.worker_heaps.iter().flat_map(|p| &p.snapshots) {
            let _ = std::fs::remove_file(path);
        }
    }
    let Some(end) = &result.end_snapshot else {
        return;
    };
    let culprit_end = keep && culprit_paths.contains(&&end.path);
    let survivors_found = assessment.checks.iter().any(|c| {
        matches!(c.detail, CheckDetail::ExpectFreed(_)) && c.status == CheckStatus::Failed
    });
    if !culprit_end && !survivors_found {
        let _ = std::fs::remove_file(&end.path);
        if let Some(e) = &end.earlier {
            let _ = std::fs::remove_file(e);
        }
    }
}
