//! Evidence from objects: what the culprit's snapshots say, weighed with the byte verdict.
//!
//! The byte verdict sees only a total. Three snapshots see objects, and the objects can
//! settle what the total cannot:
//! - a **slow leak** adds a few hundred bytes an iteration, under the byte floor or lost
//!   in the noise of a busy machine, while one class gains the same number of instances
//!   in every interval. A class, collection or object that grew in every interval **in
//!   step with the run** (its rate per iteration or second alike in each interval, within
//!   [`IN_STEP_RATIO`]) decides a leak that bytes left open or called no leak; both
//!   numbers are said;
//! - an **inconclusive** series whose snapshots show nothing that grew — no cluster, no
//!   growing collection or object, not even one under the noise floor — is no leak: the
//!   bytes that moved were V8's own (compiled code, the module graph, caches filling);
//! - the snapshots are a second measure of the V8 heap, later in the run than most
//!   samples: when their totals grew under the floor **in every interval** and no object
//!   of the program grew, the growth the byte series saw was warm-up (V8 compiling code,
//!   caches filling) and the run is no leak; when only their overall rate is under the
//!   floor, the run is inconclusive;
//! - a **leak** in bytes with nothing behind it in the objects and snapshots that grew
//!   at its rate stays a leak (V8's own structures can leak too: code generated at run
//!   time), and says so.

use std::path::PathBuf;

use serde::Serialize;

use leaktrail_analysis::units::{group_digits, human_bytes, signed_bytes};
use leaktrail_analysis::{Family, LeakReport};
use leaktrail_stats::Outcome;

use crate::assess::{MemoryKind, RunAssessment, RunSeries};
use crate::floor::Per;
use crate::run::{RunResult, RunSnapshot, DOUBLING_AFTER_SAMPLES};

/// Growth rates of one finding may differ between intervals by this factor and still be
/// in step with the run (the rule `leaks` keeps small clusters by, too).
pub use leaktrail_analysis::IN_STEP_RATIO;

/// What the snapshots said about the verdict.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectEvidence {
    /// The outcome of the byte series alone.
    pub bytes_outcome: Outcome,
    /// The outcome with the objects weighed in.
    pub outcome: Outcome,
    /// The finding in step with the run, if any: its counts (or sizes) per snapshot.
    pub counts: Vec<u64>,
    /// Where each snapshot lies on the run's axis (iterations or seconds).
    pub at: Vec<f64>,
    /// One sentence.
    pub sentence: String,
}

/// The snapshots the culprit is found in: with a doubling schedule, the last two kept
/// and the one at the workload's exit (else the last three kept); otherwise all.
///
/// An exit soon after the last snapshot kept would make a last interval of a few
/// iterations, in which no class need grow and the heap's total moves by noise (a run
/// had 2,989 → 3,000 and read it as no leak): the last three kept are read then.
pub fn culprit_snapshots(result: &RunResult, doubling: bool) -> Vec<RunSnapshot> {
    let kept = &result.snapshots;
    if !doubling {
        return kept.clone();
    }
    match result.end_snapshot.as_ref().filter(|e| e.at_exit) {
        Some(end) if kept.len() >= 2 => {
            let end = RunSnapshot {
                path: end.path.clone(),
                census: end.census.clone(),
                iteration: result.last_iteration,
                sample: result.samples.len().saturating_sub(1),
                t: result.wall_seconds,
                number: 0,
            };
            let n = kept.len();
            let (_, at) = snapshot_axis([&kept[n - 2], &kept[n - 1], &end], Per::Iteration);
            let before = at[1] - at[0];
            let after = at[2] - at[1];
            // The last three kept, not the two before the last with the exit: a zero-disk
            // census found its leak roots against the two censuses before it.
            if after * IN_STEP_RATIO < before && n >= 3 {
                return kept[n - 3..].to_vec();
            }
            let mut out = kept[n - 2..].to_vec();
            out.push(end);
            out
        }
        _ => kept[kept.len().saturating_sub(3)..].to_vec(),
    }
}

/// Where each snapshot lies on one axis: iterations when `preferred` is and every
/// snapshot has one, else seconds — never a mix of the two.
fn snapshot_axis<'a>(
    snapshots: impl IntoIterator<Item = &'a RunSnapshot> + Clone,
    preferred: Per,
) -> (Per, Vec<f64>) {
    let by_iteration =
        preferred == Per::Iteration && snapshots.clone().into_iter().all(|s| s.iteration.is_some());
    let at = snapshots
        .into_iter()
        .map(|s| match (by_iteration, s.iteration) {
            (true, Some(n)) => n as f64,
            _ => s.t,
        })
        .collect();
    match by_iteration {
        true => (Per::Iteration, at),
        false => (Per::Second, at),
    }
}

/// The culprit named from the censuses of zero-disk `snapshots` (the `leaks` report their
/// leak clusters make, [`LeakReport::of_censuses`]), when all three or more have one.
pub fn census_culprit(snapshots: &[RunSnapshot], top: usize) -> Option<LeakReport> {
    let censuses: Option<Vec<_>> = snapshots.iter().map(|s| s.census.as_deref()).collect();
    censuses
        .filter(|c| c.len() >= 3)
        .and_then(|c| LeakReport::of_censuses(&c, top))
}

/// What the culprit's snapshots gave.
pub struct CulpritFinding {
    /// The leaks report, when three snapshots or more could be read.
    pub report: Option<LeakReport>,
    /// The snapshots it was found in.
    pub snapshots: Vec<RunSnapshot>,
    /// Why there is none, as a sentence for the verdict.
    pub note: Option<String>,
}

/// The exit snapshot of a workload that ended by itself may hold less than the run did:
/// once nothing runs, what only module-scope variables held is garbage (a script's
/// `const cache = new Map()` goes with its last closure), and the snapshot collects it.
/// It then cannot show what the run kept. Less by this share of the snapshot before it,
/// or by [`leaktrail_analysis::MIN_CLUSTER_BYTES`], is less.
const RELEASED_AT_EXIT_SHARE: f64 = 0.02;

/// Finds the culprit in the snapshots [`culprit_snapshots`] picks, with `analyse` (the
/// leaks report of three snapshots or more; `None` when it cannot be made). When the
/// exit snapshot released what the run kept, the last three taken during the run are
/// used instead, or, with fewer, there is no culprit and the note says why.
pub fn find_culprit<E>(
    result: &RunResult,
    doubling: bool,
    analyse: impl Fn(&[RunSnapshot]) -> Result<Option<LeakReport>, E>,
) -> Result<CulpritFinding, E> {
    let snapshots = culprit_snapshots(result, doubling);
    let report = if snapshots.len() >= 3 {
        analyse(&snapshots)?
    } else {
        None
    };
    // A report that found the leak stands: what the exit released was something else.
    let released = report
        .as_ref()
        .filter(|r| !r.found_leak())
        .and_then(|r| released_at_exit(r, &snapshots));
    let Some(lost) = released else {
        let note = match report {
            Some(_) => None,
            // Three or more, and still none: censuses that do not add up (zero-disk).
            None if snapshots.len() >= 3 => Some(unread_censuses(&snapshots)),
            None if doubling => missing_snapshots(result, &snapshots),
            None => None,
        };
        return Ok(CulpritFinding {
            report,
            snapshots,
            note,
        });
    };
    let kept = &result.snapshots;
    let why = format!(
        "The snapshot at the workload's exit holds {} less than the one before it: the program released what it held as it ended (data only module-scope variables keep is freed once nothing runs), so it cannot show what the run kept",
        human_bytes(lost)
    );
    if kept.len() >= 3 {
        let during = kept[kept.len() - 3..].to_vec();
        return Ok(CulpritFinding {
            report: analyse(&during)?,
            snapshots: during,
            note: Some(format!(
                "{why}; the last three taken during the run are read instead."
            )),
        });
    }
    Ok(CulpritFinding {
        report: None,
        snapshots,
        note: Some(format!("{why}. {}", longer_run(result))),
    })
}

/// How much less the exit snapshot (the last of `snapshots`) holds than the one before
/// it, when that is more than noise.
fn released_at_exit(report: &LeakReport, snapshots: &[RunSnapshot]) -> Option<u64> {
    // Only the exit snapshot is numbered 0.
    snapshots.last().filter(|s| s.number == 0)?;
    let n = report.snapshots.len();
    let (before, exit) = (
        report.snapshots.get(n.checked_sub(2)?)?.total_self_size,
        report.snapshots.get(n - 1)?.total_self_size,
    );
    let lost = before.saturating_sub(exit);
    let noise = ((before as f64 * RELEASED_AT_EXIT_SHARE) as u64)
        .max(leaktrail_analysis::MIN_CLUSTER_BYTES);
    (lost > noise).then_some(lost)
}

/// When a workload that ended by itself left fewer than the three snapshots the culprit
/// needs (`culprit`, from [`culprit_snapshots`]), what to do about it, as a sentence: a
/// doubling schedule takes its first snapshot after some samples, and a fast or short
/// run can end before the progress doubles again.
fn missing_snapshots(result: &RunResult, culprit: &[RunSnapshot]) -> Option<String> {
    // A run judged by RSS alone (no Node inspector: Python behind npm) takes no heap
    // snapshot at all, however long it runs: the verdict says so already.
    if culprit.len() >= 3 || result.inspector_url.is_none() {
        return None;
    }
    let taken = result.snapshots.len() + usize::from(at_exit(result));
    if let Some(first) = result.snapshots_skipped.first() {
        // Not the run's length: the workload had no room for them.
        let n = result.snapshots_skipped.len();
        return Some(format!(
            "No culprit: naming one needs three heap snapshots, and this run has {taken}; {n} {} not taken for lack of memory (the first: {first}). Give the workload more memory, or run it with a smaller heap.",
            if n == 1 { "was" } else { "were" }
        ));
    }
    Some(format!(
        "No culprit: naming one needs three heap snapshots, and this run has {taken} (taken each time the run's progress doubles, and at the workload's exit). {}",
        longer_run(result)
    ))
}

/// Why three zero-disk snapshots or more named no culprit, as a sentence: a census missing
/// (its process failed, or the run ended before it was collected), or a last census with
/// no leak window over the two before it. (A leak was once reported with no culprit and no
/// word why.)
fn unread_censuses(snapshots: &[RunSnapshot]) -> String {
    let missing = snapshots.iter().filter(|s| s.census.is_none()).count();
    match missing {
        0 => format!(
            "No culprit: the census of the last of the {} snapshots has no leak window over the two before it, so its leak roots cannot be told.",
            snapshots.len()
        ),
        n => format!(
            "No culprit: {n} of the {} snapshots it is named from left no census (the census process failed or the run ended first).",
            snapshots.len()
        ),
    }
}

/// `verdict` (the snapshots') followed by `bytes`, the bytes' own sentence, said as what it
/// is rather than as a second verdict ("Leak, decided by the objects: … Inconclusive: …").
fn lead_with(verdict: &str, bytes: &str) -> String {
    format!("{verdict} {}", bytes_alone(bytes))
}

/// The bytes' own sentence, said after a verdict the snapshots made ([`lead_with`]).
fn bytes_alone(sentence: &str) -> String {
    ["Inconclusive: ", "No leak: ", "Leak: "]
        .iter()
        .find_map(|head| sentence.strip_prefix(head))
        .map_or_else(
            || sentence.to_owned(),
            |rest| format!("By the bytes alone: {rest}"),
        )
}

/// True when Node gave its snapshot at the workload's exit.
fn at_exit(result: &RunResult) -> bool {
    result.end_snapshot.as_ref().is_some_and(|e| e.at_exit)
}

/// "A run of about 4,500 iterations or more takes three while it runs.": how long a run
/// takes three snapshots during the run, from where the last one was taken (each next one
/// is due at twice the progress of the one before).
fn longer_run(result: &RunResult) -> String {
    let Some(last) = result.snapshots.last() else {
        // Ended before the first, which waits for the series' first samples.
        return format!(
            "The workload ended before the first, which follows the first {DOUBLING_AFTER_SAMPLES} samples: a leak test needs seconds of work, so run it several times as long."
        );
    };
    // A margin of an eighth for the point that triggers the last one.
    let missing = 3usize.saturating_sub(result.snapshots.len()).max(1) as u32;
    let factor = f64::from(1u32 << missing) * 1.125;
    let longer = match last.iteration {
        Some(n) => format!("{} iterations", group_digits((n as f64 * factor) as u64)),
        None => format!("{:.0} s", last.t * factor),
    };
    format!("A run of about {longer} or more takes three while it runs.")
}

/// The paths of `snapshots`.
pub fn paths(snapshots: &[RunSnapshot]) -> Vec<PathBuf> {
    snapshots.iter().map(|s| s.path.clone()).collect()
}

/// Weighs the culprit report of `snapshots` into `assessment`.
pub fn weigh_objects(
    assessment: &mut RunAssessment,
    report: &LeakReport,
    snapshots: &[RunSnapshot],
) {
    let (unit, at) = snapshot_axis(snapshots, assessment.unit);
    let by_iteration = unit == Per::Iteration;
    // Rates on another axis than the floor's (a snapshot without an iteration in a run
    // by iteration) cannot be held against it.
    let floor_applies = unit == assessment.unit;
    let bytes_outcome = assessment.outcome;
    let floor = assessment.floor_bytes;
    let rates = snapshot_rates(report, &at);
    let (counts, what) = in_step_finding(report, &at);
    let mut evidence = ObjectEvidence {
        bytes_outcome,
        outcome: bytes_outcome,
        counts: counts.clone().unwrap_or_default(),
        at: at.clone(),
        sentence: String::new(),
    };
    // "850 → 1,700 → 3,000 iterations", "2 s → 4 s → 7 s".
    let axis = if by_iteration {
        let points: Vec<u64> = at.iter().map(|x| *x as u64).collect();
        format!("{} iterations", join(&points))
    } else {
        at.iter()
            .map(|x| format!("{x:.0} s"))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    match (bytes_outcome, counts) {
        (Outcome::Leak, Some(_)) => {
            evidence.sentence = format!("The snapshots agree: {what}.");
        }
        (_, Some(c)) => {
            let first = c[0] as f64;
            let last = c[c.len() - 1] as f64;
            let span = (at[at.len() - 1] - at[0]).max(1e-9);
            evidence.outcome = Outcome::Leak;
            evidence.sentence = format!(
                "Leak, decided by the objects: {what}, at {axis} — about {:.2} per {} — while the bytes alone said {}.",
                (last - first) / span,
                if by_iteration { "iteration" } else { "second" },
                bytes_outcome.word()
            );
            assessment.outcome = Outcome::Leak;
            if assessment.grows.is_none() {
                assessment.grows = Some(MemoryKind::V8Heap);
            }
            // "RSS grows while the heap does not" no longer holds.
            assessment.take_back_rss_note();
            assessment.sentence = lead_with(&evidence.sentence, &assessment.sentence);
            // RSS that leaks far faster than the heap: the objects hold native memory.
            if let Some(note) = crate::assess::native_note(
                &assessment.primary,
                &assessment.components,
                assessment.unit,
            ) {
                assessment.sentence.push_str(&note);
            }
        }
        // The snapshots are a second measure of the heap, later in the run than most
        // samples: a steady leak grows them at its rate whatever it is made of, while
        // warm-up (V8 compiling code, caches filling) has slowed by then.
        (Outcome::Leak | Outcome::Inconclusive, None)
            if floor_applies
                && heap_judged(assessment)
                && !report.found_leak()
                && comparable_intervals(&at)
                && rates.as_ref().is_some_and(|r| r.iter().all(|x| *x < floor)) =>
        {
            let rates = rates.unwrap_or_default();
            evidence.outcome = Outcome::NoLeak;
            evidence.sentence = format!(
                "No leak, decided by the snapshots: at {axis} the heap grew {} per {unit}, under the floor of {} in every interval, and no class, collection or object of the program grew in every interval, while the bytes alone said {} — the series' growth came from the early part of the run: warm-up (V8 compiling code, the module graph, caches filling).",
                rates
                    .iter()
                    .map(|r| signed_bytes(*r as i64))
                    .collect::<Vec<_>>()
                    .join(" then "),
                human_bytes(floor as u64),
                bytes_outcome.word()
            );
            assessment.outcome = Outcome::NoLeak;
            assessment.grows = None;
            assessment.sentence = lead_with(&evidence.sentence, &assessment.sentence);
        }
        // A late step of the bytes with the program's data grown across the snapshots:
        // a table that doubles (its entries numbers, no objects of their own) shows no
        // class or place that grew in every interval, and is no growth of V8's own.
        (Outcome::Inconclusive, None) if assessment.primary.verdict.late_step => {
            if let Some(lead) = step_lead(report, &axis) {
                evidence.sentence = format!(
                    "The snapshots do not settle it: {lead}, and nothing grew in every interval. Run it longer."
                );
                assessment.sentence = format!("{} {}", assessment.sentence, evidence.sentence);
            }
        }
        (Outcome::Inconclusive, None) if nothing_grew(report) && comparable_intervals(&at) => {
            evidence.outcome = Outcome::NoLeak;
            evidence.sentence = format!(
                "No leak, decided by the objects: in {} snapshots (at {axis}) no class, collection or object grew in every interval, while the bytes alone were inconclusive — what the bytes saw is not kept by the program: garbage between collections, V8 compiling code, caches filling.",
                at.len()
            );
            assessment.outcome = Outcome::NoLeak;
            assessment.sentence = lead_with(&evidence.sentence, &assessment.sentence);
        }
        // Grew, then stopped: the heap snapshots of the run's last stretch (a quarter of
        // it or more) grew under the floor, no object of the program grew in every
        // interval, and the samples of the series' last third do not show it growing
        // either. A cache that fills for two thirds of a run and then holds every key
        // looks like a leak to a slope fitted over the whole run; so does a leak that
        // grows in steps, which a longer run tells apart.
        (Outcome::Leak, None)
            if floor_applies
                && heap_judged(assessment)
                && !report.found_leak()
                && !tail_grows(assessment, floor)
                && last_stretch(rates.as_deref(), &at).is_some_and(|(rate, ..)| rate < floor) =>
        {
            let (rate, from, to) = last_stretch(rates.as_deref(), &at).unwrap_or_default();
            let stretch = match by_iteration {
                true => format!(
                    "from {} to {} iterations",
                    group_digits(from as u64),
                    group_digits(to as u64)
                ),
                false => format!("from {from:.0} s to {to:.0} s"),
            };
            let lead = step_lead(report, &axis)
                .map(|l| format!(", or a table that doubles does between its steps: {l}"))
                .unwrap_or_default();
            evidence.outcome = Outcome::Inconclusive;
            evidence.sentence = format!(
                "Not decided: the heap snapshots grew {}/{unit} {stretch}, under the floor of {}/{unit}, and no class, collection or object of the program grew in every interval — the growth stopped before the run did, as a cache's does once it holds every key{lead}. A longer run decides.",
                signed_bytes(rate as i64),
                human_bytes(floor as u64)
            );
            assessment.outcome = Outcome::Inconclusive;
            assessment.sentence = lead_with(&evidence.sentence, &assessment.sentence);
        }
        // A leak of threads or native memory has nothing to show in the heap.
        (Outcome::Leak, None)
            if !report.found_leak()
                && !matches!(
                    assessment.grows,
                    Some(MemoryKind::Threads | MemoryKind::Native)
                ) =>
        {
            let overall = rates.as_ref().map(|r| {
                let span = (at[at.len() - 1] - at[0]).max(1e-9);
                r.iter()
                    .zip(at.windows(2))
                    .map(|(rate, x)| rate * (x[1] - x[0]))
                    .sum::<f64>()
                    / span
            });
            match overall {
                Some(rate) if floor_applies && rate < floor && heap_judged(assessment) => {
                    evidence.outcome = Outcome::Inconclusive;
                    evidence.sentence = format!(
                        "Not decided: the heap snapshots (at {axis}) grew {}/{unit}, under the floor of {}/{unit}, and no class, collection or object of the program grew in every interval — the growth the series saw came early and has slowed, like warm-up (V8 compiling code, caches filling). A longer run decides.",
                        signed_bytes(rate as i64),
                        human_bytes(floor as u64)
                    );
                    assessment.outcome = Outcome::Inconclusive;
                    assessment.sentence = lead_with(&evidence.sentence, &assessment.sentence);
                }
                _ => {
                    evidence.sentence = match step_lead(report, &axis) {
                        Some(lead) => format!(
                            "No class, collection or object of the program grew in every interval across the snapshots, but {lead}: a Map, Set or array whose table doubles in steps as it gains entries that hold no objects of their own (numbers), or storage replaced as it grows."
                        ),
                        None => "No class, collection or object of the program grew in every interval across the snapshots: what grows is V8's own (code generated at run time, compilation caches) or objects replaced as they grow.".to_owned(),
                    };
                    assessment.sentence.push(' ');
                    assessment.sentence.push_str(&evidence.sentence);
                }
            }
        }
        _ => {}
    }
    // What kind of heap memory grew, from the snapshots: code is not data.
    if assessment.outcome == Outcome::Leak && assessment.grows == Some(MemoryKind::V8Heap) {
        if let Some(share) = report.growth_share(Family::Code).filter(|s| *s >= 0.5) {
            let code = format!(
                "{:.0} % of what the snapshots gained is code: generated at run time (`new Function`, `eval`, `vm.Script`) or modules loaded again and again, kept by whatever holds the functions.",
                share * 100.0
            );
            assessment.sentence = assessment
                .sentence
                .replace(MemoryKind::V8Heap.phrase(), MemoryKind::Code.phrase());
            assessment.sentence.push(' ');
            assessment.sentence.push_str(&code);
            assessment.grows = Some(MemoryKind::Code);
        }
    }
    assessment.objects = Some(evidence);
}

/// The largest finding of `report` that grew in step with the run, as its counts per
/// snapshot and a clause.
fn in_step_finding(report: &LeakReport, at: &[f64]) -> (Option<Vec<u64>>, String) {
    if at.len() < 3 {
        return (None, String::new());
    }
    for c in &report.clusters {
        if c.class_counts.len() == at.len() && in_step(&c.class_counts, at) {
            return (
                Some(c.class_counts.clone()),
                format!(
                    "{} instances went {} in {}",
                    c.class,
                    join(&c.class_counts),
                    c.holder
                ),
            );
        }
    }
    for g in &report.growing_objects {
        if g.sizes.len() == at.len() && in_step(&g.sizes, at) {
            return (
                Some(g.sizes.clone()),
                format!(
                    "the {} at {} grew {} bytes",
                    g.class,
                    g.holder,
                    join(&g.sizes)
                ),
            );
        }
    }
    for c in &report.growing_collections {
        if c.entries.len() == at.len() && in_step(&c.entries, at) {
            return (
                Some(c.entries.clone()),
                format!("{} entries went {}", c.kind, join(&c.entries)),
            );
        }
    }
    (None, String::new())
}

/// True when no interval between the snapshots (at `at`) is shorter than the longest
/// by more than [`IN_STEP_RATIO`]: a rate over a few iterations is noise.
fn comparable_intervals(at: &[f64]) -> bool {
    let gaps: Vec<f64> = at.windows(2).map(|x| x[1] - x[0]).collect();
    let longest = gaps.iter().copied().fold(0.0, f64::max);
    gaps.iter().all(|g| g * IN_STEP_RATIO >= longest)
}

/// The run's last stretch between snapshots, when it is a quarter of the run or more:
/// the heap's growth rate over it, and where it starts and ends.
fn last_stretch(rates: Option<&[f64]>, at: &[f64]) -> Option<(f64, f64, f64)> {
    let (&rate, [.., from, to]) = (rates?.last()?, at) else {
        return None;
    };
    (at.len() >= 3 && (to - from) * 4.0 >= *to).then_some((rate, *from, *to))
}

/// True when the samples of the series' last third show it growing: their slope's whole
/// interval is above the floor.
fn tail_grows(assessment: &RunAssessment, floor: f64) -> bool {
    assessment
        .primary
        .verdict
        .tail_slope
        .is_some_and(|t| t.low > floor)
}

/// True when `counts` rose in every interval at rates within [`IN_STEP_RATIO`] of each
/// other.
fn in_step(counts: &[u64], at: &[f64]) -> bool {
    let rates: Vec<f64> = counts
        .windows(2)
        .zip(at.windows(2))
        .map(|(c, x)| (c[1] as f64 - c[0] as f64) / (x[1] - x[0]).max(1e-9))
        .collect();
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    min > 0.0 && max <= min * IN_STEP_RATIO
}

/// How fast the snapshots' total self size grew in each interval, per unit of `at`.
fn snapshot_rates(report: &LeakReport, at: &[f64]) -> Option<Vec<f64>> {
    if report.snapshots.len() != at.len() || at.len() < 2 {
        return None;
    }
    report
        .snapshots
        .windows(2)
        .zip(at.windows(2))
        .map(|(s, x)| {
            let span = x[1] - x[0];
            (span > 0.0).then(|| (s[1].total_self_size as f64 - s[0].total_self_size as f64) / span)
        })
        .collect()
}

/// True when the verdict is on the V8 heap (not external memory, native memory or
/// threads): what heap snapshots measure.
fn heap_judged(assessment: &RunAssessment) -> bool {
    match assessment.grows {
        Some(kind) => kind == MemoryKind::V8Heap,
        // Undecided: the heap series, and external memory not rising on its own.
        None => {
            matches!(
                assessment.primary.series,
                RunSeries::Heap | RunSeries::HeapAndExternal
            ) && assessment
                .components
                .iter()
                .filter(|c| c.series == RunSeries::External)
                .all(|c| {
                    c.verdict.outcome != Outcome::Leak
                        && c.verdict.slope.slope < assessment.floor_bytes / 2.0
                })
        }
    }
}

/// True when the snapshots show nothing that grew, not even under the noise floor.
fn nothing_grew(report: &LeakReport) -> bool {
    !report.found_leak() && report.dismissed_small == 0
}

/// What grew in the snapshots when nothing grew in every interval, as a clause: the
/// place that grew the most in steps ("the Set at `processed` grew in steps: …"), else
/// the family of the program's data (not code, not V8's internals) that grew the most,
/// by the noise floor of a cluster or more; `None` when none did.
fn step_lead(report: &LeakReport, axis: &str) -> Option<String> {
    let sizes = |s: &[u64]| {
        s.iter()
            .map(|&b| human_bytes(b))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    if let Some(g) = report.objects_grown_in_steps.first() {
        return Some(format!(
            "the {} at {} grew in steps, {} (at {axis})",
            g.class,
            g.holder,
            sizes(&g.sizes)
        ));
    }
    report
        .families
        .iter()
        .filter(|f| !matches!(f.family, Family::Code | Family::System))
        .filter_map(|f| {
            let grew = f.sizes.last()?.checked_sub(*f.sizes.first()?)?;
            (grew >= report.min_cluster_bytes).then_some((grew, f))
        })
        .max_by_key(|(grew, _)| *grew)
        .map(|(_, f)| {
            format!(
                "the program's {} grew {} (at {axis})",
                f.family.label(),
                sizes(&f.sizes)
            )
        })
}

fn join(v: &[u64]) -> String {
    v.iter()
        .map(|n| group_digits(*n))
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_growth_is_in_step_and_a_filling_cache_is_not() {
        let at = [1000.0, 2000.0, 4000.0];
        assert!(in_step(&[1000, 2000, 4000], &at));
        assert!(in_step(&[1000, 1300, 2200], &at));
        // Filled in the first interval, nearly flat after.
        assert!(!in_step(&[100, 5000, 5010], &at));
        assert!(!in_step(&[100, 200, 200], &at));
    }

    #[test]
    fn the_last_stretch_counts_when_it_is_a_quarter_of_the_run_or_more() {
        let rates = [900.0, 13.0];
        assert_eq!(
            last_stretch(Some(&rates), &[1010.0, 2010.0, 3000.0]),
            Some((13.0, 2010.0, 3000.0))
        );
        // 2,900 → 3,000: a thirtieth of the run says nothing about how it ended.
        assert_eq!(last_stretch(Some(&rates), &[1010.0, 2900.0, 3000.0]), None);
        // Two snapshots are one stretch, the whole of what they saw.
        assert_eq!(last_stretch(Some(&rates[..1]), &[1500.0, 3000.0]), None);
        assert_eq!(last_stretch(None, &[1010.0, 2010.0, 3000.0]), None);
    }

    #[test]
    fn what_the_bytes_said_follows_a_verdict_of_the_snapshots_as_what_it_is() {
        assert_eq!(
            bytes_alone("Inconclusive: the heap changes 5 B/iteration."),
            "By the bytes alone: the heap changes 5 B/iteration."
        );
        assert_eq!(bytes_alone("Leak: x."), "By the bytes alone: x.");
        assert_eq!(bytes_alone("Something else."), "Something else.");
    }

    #[test]
    fn three_snapshots_that_name_nothing_say_why() {
        let snapshot = |number: u64| RunSnapshot {
            path: format!("#{number}").into(),
            census: None,
            iteration: Some(number * 1000),
            sample: number as usize,
            number,
            t: number as f64,
        };
        let result = RunResult {
            snapshots: vec![snapshot(1), snapshot(2), snapshot(3)],
            inspector_url: Some("ws://127.0.0.1:9229/x".into()),
            ..RunResult::default()
        };
        let found = find_culprit(&result, true, |s: &[RunSnapshot]| {
            Ok::<_, ()>(census_culprit(s, 5))
        })
        .expect("no error");
        assert!(found.report.is_none());
        assert_eq!(
            found.note.as_deref(),
            Some("No culprit: 3 of the 3 snapshots it is named from left no census (the census process failed or the run ended first).")
        );
    }

    #[test]
    fn a_last_interval_of_a_few_iterations_is_not_comparable() {
        assert!(comparable_intervals(&[1000.0, 2000.0, 3000.0]));
        assert!(comparable_intervals(&[1000.0, 2000.0, 4000.0]));
        // 2,989 → 3,000 after 1,500 → 2,989: the heap's total moves by noise there.
        assert!(!comparable_intervals(&[1500.0, 2989.0, 3000.0]));
        assert!(!comparable_intervals(&[1000.0, 1000.0, 3000.0]));
    }
}
