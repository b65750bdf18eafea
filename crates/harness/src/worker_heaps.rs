//! Leaks inside worker threads. Each worker thread is a V8 isolate of its own: what it
//! keeps is in neither the main thread's heap series nor its snapshots, and shows in RSS
//! only, among the snapshots' own residue. `run` reads every worker's live heap at each
//! heap snapshot ([`crate::WorkerHeaps`]); growth there above the floor in every interval
//! is a leak whatever the main thread says.

use std::path::PathBuf;

use serde::Serialize;

use leaktrail_analysis::units::{group_digits, human_bytes, signed_bytes};
use leaktrail_stats::Outcome;

use crate::assess::{MemoryKind, RunAssessment};
use crate::floor::Per;
use crate::run::WorkerHeaps;
use crate::IN_STEP_RATIO;

/// How the worker threads' heaps went.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WorkerHeapGrowth {
    /// Where they were read (iterations, or seconds), in order.
    pub at: Vec<f64>,
    /// The worker threads' heaps added up at each, bytes.
    pub totals: Vec<u64>,
    /// How many worker threads answered at the last.
    pub workers: usize,
    /// The slowest growth of an interval, per unit of `at`, bytes.
    pub least_rate: f64,
    /// True when they grew above the floor in every interval: a leak.
    pub leak: bool,
    /// The worker thread (numbered from 1, in the order they started) whose own heap
    /// snapshots name the culprit, when they do.
    pub culprit_worker: Option<usize>,
}

/// The fewest readings that make two intervals.
const MIN_POINTS: usize = 3;

/// Weighs the worker threads' heaps of a run into `assessment`: growth above the floor in
/// both of the last two intervals between snapshots, alike in each (within
/// [`IN_STEP_RATIO`]), of as many workers each time, makes the run a leak, said first.
/// Then `name_culprit` is asked for the worker whose snapshots named the culprit
/// ([`worker_culprit_snapshots`]), if any.
pub fn weigh_worker_heaps(
    assessment: &mut RunAssessment,
    points: &[WorkerHeaps],
    name_culprit: impl FnOnce() -> Option<usize>,
) {
    let by_iteration = assessment.unit == Per::Iteration;
    let read: Vec<(f64, u64, usize)> = points
        .iter()
        .filter(|p| !p.heaps.is_empty())
        .filter_map(|p| {
            let x = match by_iteration {
                true => p.iteration? as f64,
                false => p.t,
            };
            Some((x, p.heaps.iter().sum(), p.heaps.len()))
        })
        .collect();
    if read.len() < MIN_POINTS {
        return;
    }
    // The last readings: the early ones are a young worker's warm-up (its modules, its
    // first compiled code), as on the main thread.
    let read = &read[read.len() - MIN_POINTS..];
    let floor = assessment.floor_bytes;
    let rates: Vec<f64> = read
        .windows(2)
        .map(|w| (w[1].1 as f64 - w[0].1 as f64) / (w[1].0 - w[0].0).max(1e-9))
        .collect();
    let least_rate = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let mut growth = WorkerHeapGrowth {
        at: read.iter().map(|r| r.0).collect(),
        totals: read.iter().map(|r| r.1).collect(),
        workers: read.last().map_or(0, |r| r.2),
        least_rate,
        // A steady leak grows alike in both intervals; warm-up slows down. Growth from
        // workers started and never ended is the threads check's finding, not a leak
        // inside them: the same workers must have answered each time.
        leak: least_rate > floor
            && rates.iter().all(|r| *r <= least_rate * IN_STEP_RATIO)
            && read.iter().all(|r| r.2 == read[0].2),
        culprit_worker: None,
    };
    if growth.leak {
        growth.culprit_worker = name_culprit();
        let unit = assessment.unit;
        let axis = match by_iteration {
            true => format!(
                "{} iterations",
                growth
                    .at
                    .iter()
                    .map(|x| group_digits(*x as u64))
                    .collect::<Vec<_>>()
                    .join(" → ")
            ),
            false => growth
                .at
                .iter()
                .map(|x| format!("{x:.0} s"))
                .collect::<Vec<_>>()
                .join(" → "),
        };
        let whose = match growth.workers {
            1 => "the heap of its worker thread".to_owned(),
            n => format!("the heaps of its {n} worker threads"),
        };
        let named = match (growth.culprit_worker, growth.workers) {
            (Some(_), 1) => "its culprit is named from the worker's own heap snapshots".to_owned(),
            (Some(k), _) => format!("its culprit is named from the heap snapshots of worker thread {k}, whose heap grew most"),
            (None, _) => "no culprit is named from them".to_owned(),
        };
        let finding = format!(
            "{whose} grew {} (at {axis}), at least {}/{unit} in each of the last two intervals, above the floor of {}/{unit}. Each worker thread is a V8 isolate of its own: what it keeps is not in the main thread's heap or snapshots; {named}",
            growth
                .totals
                .iter()
                .map(|b| human_bytes(*b))
                .collect::<Vec<_>>()
                .join(" → "),
            signed_bytes(least_rate as i64),
            human_bytes(floor as u64)
        );
        // RSS grew with the workers' heaps.
        assessment.take_back_rss_note();
        if assessment.outcome == Outcome::Leak {
            assessment.sentence = format!("{} Also, {finding}.", assessment.sentence);
        } else {
            assessment.sentence = format!(
                "Leak in worker threads: {finding}. The main thread: {}",
                assessment.sentence
            );
            assessment.outcome = Outcome::Leak;
            assessment.grows = Some(MemoryKind::V8Heap);
        }
    }
    assessment.worker_heaps = Some(growth);
}

/// The heap snapshots of the worker thread whose heap grew most over the last three
/// points that have a snapshot of every worker, oldest first, with its number (from 1, in
/// the order the workers started); `None` with fewer than three such points, or a number
/// of workers that changed between them.
pub fn worker_culprit_snapshots(points: &[WorkerHeaps]) -> Option<(usize, Vec<PathBuf>)> {
    let with: Vec<&WorkerHeaps> = points
        .iter()
        .filter(|p| !p.snapshots.is_empty() && p.snapshots.len() == p.heaps.len())
        .collect();
    let last = with.get(with.len().checked_sub(MIN_POINTS)?..)?;
    let workers = last[0].heaps.len();
    if last.iter().any(|p| p.heaps.len() != workers) {
        return None;
    }
    let grown = |k: usize| last[MIN_POINTS - 1].heaps[k] as i64 - last[0].heaps[k] as i64;
    let k = (0..workers).max_by_key(|&k| grown(k))?;
    Some((k + 1, last.iter().map(|p| p.snapshots[k].clone()).collect()))
}
