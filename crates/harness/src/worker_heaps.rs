//! Leaks inside worker threads. Each worker thread is a V8 isolate of its own: what it
//! keeps is in neither the main thread's heap series nor its snapshots, and shows in RSS
//! only, among the snapshots' own residue. `run` reads every worker's live heap at each
//! heap snapshot ([`crate::WorkerHeaps`]); growth there above the floor in every interval
//! is a leak whatever the main thread says.

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
}

/// The fewest readings that make two intervals.
const MIN_POINTS: usize = 3;

/// Weighs the worker threads' heaps of a run into `assessment`: growth above the floor in
/// both of the last two intervals between snapshots, alike in each (within
/// [`IN_STEP_RATIO`]), of as many workers each time, makes the run a leak, said first.
pub fn weigh_worker_heaps(assessment: &mut RunAssessment, points: &[WorkerHeaps]) {
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
    let growth = WorkerHeapGrowth {
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
    };
    if growth.leak {
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
        let finding = format!(
            "{whose} grew {} (at {axis}), at least {}/{unit} in each of the last two intervals, above the floor of {}/{unit}. Each worker thread is a V8 isolate of its own: what it keeps is not in the main thread's heap or snapshots, so no culprit is named from them",
            growth
                .totals
                .iter()
                .map(|b| human_bytes(*b))
                .collect::<Vec<_>>()
                .join(" → "),
            signed_bytes(least_rate as i64),
            human_bytes(floor as u64)
        );
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
