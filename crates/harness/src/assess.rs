//! [`assess`]: the verdict of a run, and which memory grows.

use serde::Serialize;

use leaktrail_analysis::units::{group_digits, human_bytes, signed_bytes};
use leaktrail_stats::{decide, samples_needed, GrowthPolicy, GrowthVerdict, Outcome};

use crate::check::{Check, CheckStatus};
use crate::floor::{GrowthFloor, Per};
use crate::pss::PssComparison;
use crate::run::{RunResult, Sample};

/// Which memory grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryKind {
    /// Objects on the V8 heap.
    V8Heap,
    /// ArrayBuffer/Buffer backing stores and other external memory of a Node process.
    External,
    /// Resident memory of a process that is not Node (or whose heap is flat).
    Native,
    /// Threads: their count grows steadily (each holds a stack, a Node worker a whole
    /// isolate).
    Threads,
    /// Code and the module graph on the V8 heap (compiled code, scripts and their sources,
    /// shapes), as the snapshots show: code generated at run time, modules loaded again.
    Code,
}

impl MemoryKind {
    /// The sentence the verdict ends with, saying what grows.
    pub fn phrase(self) -> &'static str {
        match self {
            MemoryKind::V8Heap => "It is the V8 heap that grows: objects are being kept.",
            MemoryKind::External => "It is external memory that grows (Buffer/ArrayBuffer backing stores), the heap much less.",
            MemoryKind::Native => "It is native (resident) memory that grows.",
            MemoryKind::Threads => "It is threads that grow.",
            MemoryKind::Code => "It is code and the module graph that grow (compiled code, scripts and their sources), not data.",
        }
    }
}

/// Which points decided the verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The samples after leaktrail's forced GCs (the authority).
    #[default]
    Forced,
    /// Those and the points read after V8's own major GCs, together: the forced points
    /// alone were inconclusive.
    ForcedAndMajorGc,
}

/// The points of the heap series and which of them decided.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PointsUsed {
    /// Samples after a forced GC.
    pub forced: usize,
    /// Points read after V8's own major GCs within the decided part of the run (after the
    /// warm-up), when there were enough to fit with.
    pub major_gc: usize,
    /// Which decided.
    pub decided_by: DecidedBy,
    /// What the series of both kinds said, when there were enough points after major GCs.
    pub with_major_gc: Option<Outcome>,
    /// What was taken off the points after major GCs to level them with the forced points
    /// (the median of their distance above the forced points' line: V8's own GCs leave
    /// garbage that died while they marked), bytes.
    pub major_gc_offset: Option<f64>,
}

/// Points after major GCs needed before they are fitted with the forced ones.
pub const MIN_MAJOR_GC_POINTS: usize = 3;

/// A memory series of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunSeries {
    /// The V8 heap in use plus external memory, after a forced GC (Node).
    HeapAndExternal,
    /// The V8 heap in use after a forced GC.
    Heap,
    /// External memory (Buffers, ArrayBuffers).
    External,
    /// The process tree's resident memory.
    Rss,
}

impl RunSeries {
    /// Its name in reports: `heap+external`, `heap`, `external`, `rss`.
    pub fn name(self) -> &'static str {
        match self {
            RunSeries::HeapAndExternal => "heap+external",
            RunSeries::Heap => "heap",
            RunSeries::External => "external",
            RunSeries::Rss => "rss",
        }
    }
}

impl serde::Serialize for RunSeries {
    /// As its name: the one spelling of it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The verdict on one series.
#[derive(Clone, Debug, Serialize)]
pub struct SeriesVerdict {
    /// Which series.
    pub series: RunSeries,
    /// The decision.
    pub verdict: GrowthVerdict,
}

/// The assessment of a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunAssessment {
    /// The outcome (exit 0, 1 or 3).
    pub outcome: Outcome,
    /// The series the outcome is decided on.
    pub primary: SeriesVerdict,
    /// The parts, to say which memory grows.
    pub components: Vec<SeriesVerdict>,
    /// Which memory grows, for a leak.
    pub grows: Option<MemoryKind>,
    /// The floor.
    pub floor_bytes: f64,
    /// What the floor and the slopes are per: the axis the run was sampled on.
    pub unit: Per,
    /// Threads at the first and the last sample.
    pub threads: (u64, u64),
    /// PSS next to RSS, when PSS was read.
    pub pss: Option<PssComparison>,
    /// The checks beside the memory verdict (threads, `--expect-freed`), added by
    /// [`crate::check_threads`] and [`crate::check_expect_freed`].
    pub checks: Vec<Check>,
    /// Where the verdict was first reached and then held (in `unit`): the run could have
    /// stopped there. `None` while inconclusive.
    pub decided_after: Option<f64>,
    /// What the culprit's snapshots said, when they were weighed in
    /// ([`crate::weigh_objects`]).
    pub objects: Option<crate::ObjectEvidence>,
    /// How the worker threads' heaps went, when the workload ran any
    /// ([`crate::weigh_worker_heaps`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_heaps: Option<crate::WorkerHeapGrowth>,
    /// The points of the heap series by kind, and which decided.
    pub points: PointsUsed,
    /// One paragraph for the reader.
    pub sentence: String,
}

impl RunAssessment {
    /// The checks that failed.
    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
    }

    /// The checks that could not be carried out.
    pub fn check_errors(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Error)
    }

    /// The exit code of `run`: 2 for a fault (or a check that could not be carried out),
    /// 1 for a leak or a failed check, 3 when the memory verdict is inconclusive, else 0.
    pub fn exit_code(&self, fault: bool) -> u8 {
        if fault || self.check_errors().next().is_some() {
            2
        } else if self.outcome == Outcome::Leak || self.failed_checks().next().is_some() {
            1
        } else if self.outcome == Outcome::Inconclusive {
            3
        } else {
            0
        }
    }
}

/// Decides on the samples of a run. `warmup` is in the floor's unit (iterations or
/// seconds); `None` finds the warm-up from the series.
pub fn assess(
    result: &RunResult,
    floor: GrowthFloor,
    warmup: Option<f64>,
    alpha: f64,
) -> RunAssessment {
    let samples = &result.samples;
    let by_iteration = floor.per == Per::Iteration && samples.iter().all(|s| s.iteration.is_some());
    let x_of = |s: &Sample| {
        if by_iteration {
            s.iteration.unwrap_or(0) as f64
        } else {
            s.t
        }
    };
    let x: Vec<f64> = samples.iter().map(x_of).collect();
    let warmup_samples = warmup.map(|w| x.iter().take_while(|&&v| v < w).count());
    let policy = GrowthPolicy {
        max_growth: floor.bytes,
        alpha,
        warmup: warmup_samples,
    };
    let series = |name: RunSeries, f: &dyn Fn(&Sample) -> f64| {
        let y: Vec<f64> = samples.iter().map(f).collect();
        SeriesVerdict {
            series: name,
            verdict: decide(&x, &y, &policy),
        }
    };
    let node = samples.iter().any(|s| s.memory.heap_used.is_some());
    let rss_y = without_snapshot_steps(samples, |s| s.memory.rss).series;
    let anon_net = without_snapshot_steps(samples, |s| s.memory.anon);
    let anon = decide(&x, &anon_net.series, &policy);
    let anon_span = AnonSpan {
        start: samples.first().map_or(0.0, |s| s.memory.anon as f64),
        length: x.last().copied().unwrap_or(0.0) - x.first().copied().unwrap_or(0.0),
        snapshots_left: anon_net.left,
    };
    let rss = SeriesVerdict {
        series: RunSeries::Rss,
        verdict: decide(&x, &rss_y, &policy),
    };
    let rss_verdict = rss.verdict.clone();
    let heap_and_external = |s: &Sample| s.memory.v8_bytes().unwrap_or(0) as f64;
    let (primary, components) = if node {
        let total = series(RunSeries::HeapAndExternal, &heap_and_external);
        let heap = series(RunSeries::Heap, &|s| s.memory.heap_used.unwrap_or(0) as f64);
        let external = series(RunSeries::External, &|s| {
            s.memory.external.unwrap_or(0) as f64
        });
        (total, vec![heap, external, rss])
    } else {
        (rss.clone(), vec![rss])
    };
    let primary_y: Vec<f64> = if node {
        samples.iter().map(heap_and_external).collect()
    } else {
        rss_y.clone()
    };
    let mut primary = primary;
    let mut points = PointsUsed {
        forced: samples.len(),
        ..PointsUsed::default()
    };
    // From the primary verdict just made: the whole series is not decided again.
    let mut decided_after =
        samples_needed(&x, &primary_y, &policy, primary.verdict.outcome).map(|k| x[k - 1]);
    if node {
        let cheap: Vec<(f64, f64)> = result
            .cheap_points
            .iter()
            .filter_map(|c| {
                let at = if by_iteration {
                    c.iteration? as f64
                } else {
                    c.t
                };
                Some((at, (c.heap_used + c.external) as f64))
            })
            .collect();
        if let Some(both) = with_major_gc(&x, &primary_y, &primary.verdict, &cheap, &policy) {
            points.major_gc = both.used;
            points.with_major_gc = Some(both.verdict.outcome);
            points.major_gc_offset = Some(both.offset);
            // The forced points are the authority: the others decide only what they left
            // open.
            if primary.verdict.outcome == Outcome::Inconclusive
                && both.verdict.outcome != Outcome::Inconclusive
            {
                points.decided_by = DecidedBy::ForcedAndMajorGc;
                decided_after =
                    samples_needed(&both.x, &both.y, &both.policy, both.verdict.outcome)
                        .map(|k| both.x[k - 1]);
                // The warm-up is the forced series' (taken off before the two were merged):
                // the threads check and PSS count it in forced samples.
                let (warmup, detected) = (
                    primary.verdict.warmup_samples,
                    primary.verdict.warmup_detected,
                );
                primary.verdict = both.verdict;
                primary.verdict.warmup_samples = warmup;
                primary.verdict.warmup_detected = detected;
            }
        }
    }
    let outcome = primary.verdict.outcome;
    let grows = (outcome == Outcome::Leak).then(|| {
        if !node {
            return MemoryKind::Native;
        }
        // The part that leaks is the one that grows; of two alike, the one with the
        // larger slope (an external series inconclusive beside a heap that leaks was
        // named for its point slope, its interval reaching below zero).
        let series = |name: RunSeries| components.iter().find(|c| c.series == name);
        let slope = |name: RunSeries| series(name).map_or(0.0, |c| c.verdict.slope.slope);
        let leaks =
            |name: RunSeries| series(name).is_some_and(|c| c.verdict.outcome == Outcome::Leak);
        match (leaks(RunSeries::Heap), leaks(RunSeries::External)) {
            (true, false) => MemoryKind::V8Heap,
            (false, true) => MemoryKind::External,
            _ if slope(RunSeries::External) > slope(RunSeries::Heap) => MemoryKind::External,
            _ => MemoryKind::V8Heap,
        }
    });
    let unit = if by_iteration {
        Per::Iteration
    } else {
        Per::Second
    };
    let threads = (
        samples.first().map_or(0, |s| s.memory.threads),
        samples.last().map_or(0, |s| s.memory.threads),
    );
    let ran_to = match (by_iteration, result.last_iteration) {
        (true, Some(n)) => n as f64,
        _ => x.last().copied().unwrap_or(0.0),
    };
    let mut sentence = sentence(
        &primary,
        &components,
        grows,
        floor.bytes,
        unit,
        node,
        &x,
        ran_to,
    );
    if let Some(said) = points_sentence(&points, outcome) {
        sentence.push(' ');
        sentence.push_str(&said);
    }
    if let (false, Some(seen)) = (node, &result.uninspected_node) {
        sentence = rss_only(sentence, seen);
    }
    let warmup_x = x.get(primary.verdict.warmup_samples).copied();
    let pss = crate::pss::compare(
        samples,
        &x,
        warmup_x.filter(|_| primary.verdict.warmup_samples > 0),
        &policy,
        &rss_verdict,
        !node,
    );
    RunAssessment {
        outcome,
        primary,
        components,
        grows,
        floor_bytes: floor.bytes,
        unit,
        threads,
        pss,
        checks: Vec::new(),
        decided_after,
        objects: None,
        worker_heaps: None,
        points,
        sentence,
    }
    .with_native_headline(node, &anon, anon_span, floor.bytes)
}

/// The heap series with the points after V8's own major GCs fitted in.
struct Both {
    /// The points of both kinds after the warm-up, in order.
    x: Vec<f64>,
    y: Vec<f64>,
    /// The policy they were decided with (no warm-up: it was taken off).
    policy: GrowthPolicy,
    verdict: GrowthVerdict,
    /// Points after major GCs used.
    used: usize,
    /// What was taken off them, bytes.
    offset: f64,
}

/// Decides the heap series (`x`, `y`, decided alone as `forced`) with the `cheap` points
/// (x, heap + external) read after V8's own major GCs fitted in, when at least
/// [`MIN_MAJOR_GC_POINTS`] of them fall within the forced samples' span after the
/// warm-up. V8 runs its major GCs while the workload runs and marks concurrently: what
/// died while it marked is still there after, so these points sit above the forced ones
/// by a varying amount (hundreds of kilobytes on a 30 MB heap). They are levelled first
/// by the median of the distance from the forced samples' line of those within the
/// forced samples' span (beyond it the line is an extrapolation): the level comes from
/// the forced samples, the slope from the points of both kinds.
fn with_major_gc(
    x: &[f64],
    y: &[f64],
    forced: &GrowthVerdict,
    cheap: &[(f64, f64)],
    policy: &GrowthPolicy,
) -> Option<Both> {
    let from = *x.get(forced.warmup_samples)?;
    let to = x.last().copied().unwrap_or(from);
    let used: Vec<(f64, f64)> = cheap
        .iter()
        .copied()
        .filter(|(cx, _)| *cx >= from)
        .collect();
    let line = |at: f64| forced.slope.intercept + forced.slope.slope * at;
    let mut above: Vec<f64> = used
        .iter()
        .filter(|(cx, _)| *cx <= to)
        .map(|(cx, cy)| cy - line(*cx))
        .collect();
    if above.len() < MIN_MAJOR_GC_POINTS || !forced.slope.slope.is_finite() {
        return None;
    }
    above.sort_by(f64::total_cmp);
    let offset = above[above.len() / 2];
    let mut merged: Vec<(f64, f64)> = x[forced.warmup_samples..]
        .iter()
        .copied()
        .zip(y[forced.warmup_samples..].iter().copied())
        .chain(used.iter().map(|(cx, cy)| (*cx, cy - offset)))
        .collect();
    merged.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mx, my): (Vec<f64>, Vec<f64>) = merged.into_iter().unzip();
    let policy = GrowthPolicy {
        warmup: Some(0),
        ..*policy
    };
    let verdict = decide(&mx, &my, &policy);
    Some(Both {
        x: mx,
        y: my,
        policy,
        verdict,
        used: used.len(),
        offset,
    })
}

/// What the points after V8's own major GCs did, for the verdict's paragraph (`outcome`:
/// the verdict).
fn points_sentence(points: &PointsUsed, outcome: Outcome) -> Option<String> {
    let with = points.with_major_gc?;
    let offset = human_bytes(points.major_gc_offset.unwrap_or(0.0).abs().round() as u64);
    Some(match points.decided_by {
        DecidedBy::ForcedAndMajorGc => format!(
            "Decided by {} forced-GC samples and {} points read after V8's own major GCs together (levelled by {offset} to the forced ones); the forced samples alone were inconclusive.",
            points.forced, points.major_gc
        ),
        DecidedBy::Forced => format!(
            "Decided by the {} forced-GC samples; with the {} points read after V8's own major GCs as well the series says {}{}.",
            points.forced,
            points.major_gc,
            with.word(),
            if with == outcome {
                " too"
            } else {
                ", and the forced samples decide"
            }
        ),
    })
}

/// Anonymous memory must grow this many times the floor, more than four times the heap
/// plus external memory, and by [`NATIVE_MIN_SHARE`] of where it started, to be a native
/// leak of a Node process: V8 takes memory from the system in steps as its heap grows,
/// keeps what it used to build leaktrail's snapshots and creeps up for a while after
/// each (a clean service on npm libraries: +3 KiB an iteration over 3,000 iterations with
/// three snapshots), and a service that warms up faults in more of Node's code (file
/// pages: RSS, not anonymous memory).
const NATIVE_FLOOR_FACTOR: f64 = 32.0;

/// The least growth of anonymous memory over the run, as a share of its first sample,
/// that can be a native leak of a Node process.
const NATIVE_MIN_SHARE: f64 = 0.25;

/// Native growth over the run must reach this many times what one of leaktrail's
/// snapshots left (the largest step at one). A clean Express service, its workload ending
/// by itself (five snapshots on the doubling schedule), read 0.29–0.67 times on 12 runs
/// beside a CPU hog, and 1.26 once (a smaller first step, and later snapshots that gave
/// nothing back); an addon keeping 64 KiB a request read 5.9, one keeping 16 KiB 1.51
/// over 3,000 requests (a longer run, or its RSS note, tells that one).
const NATIVE_SNAPSHOT_FACTOR: f64 = 1.5;

/// Where the anonymous memory of a run started, how long the run was (in the unit of its
/// x axis) and what leaktrail's snapshots left in it.
struct AnonSpan {
    start: f64,
    length: f64,
    snapshots_left: f64,
}

impl RunAssessment {
    /// For Node: anonymous memory that grows while the heap does not is a leak of native
    /// memory, said first (`r` is the verdict on the process tree's anonymous memory with
    /// what the snapshots left taken out, `span` where it started and the run's length).
    fn with_native_headline(
        mut self,
        node: bool,
        r: &GrowthVerdict,
        span: AnonSpan,
        floor: f64,
    ) -> RunAssessment {
        let heap = &self.primary.verdict;
        // Growth over the run, from where the series started. It must also reach
        // [`NATIVE_SNAPSHOT_FACTOR`] times what one of leaktrail's snapshots left in the
        // process: a clean process creeps up after a snapshot by up to about that much
        // before it levels off (an Express service: +17 MiB over ~1,000 iterations after
        // each, then flat for 12,000), so less cannot be told from our own doing.
        let growth = r.slope.slope * span.length;
        let grown = growth >= NATIVE_MIN_SHARE * span.start
            && growth >= NATIVE_SNAPSHOT_FACTOR * span.snapshots_left;
        let native = node
            && grown
            && self.outcome != Outcome::Leak
            && r.outcome == Outcome::Leak
            && !r.saturating
            && r.slope.low >= NATIVE_FLOOR_FACTOR * floor
            && r.slope.low > 4.0 * heap.slope.high.max(0.0);
        if native {
            let unit = &self.unit;
            self.sentence = format!(
                "Leak of native memory: the anonymous memory of the process tree grows {}/{unit} (95 % interval {} to {}, trend p = {:.1e}) while the live V8 heap plus external memory does not ({}/{unit}): memory outside the JavaScript heap — a native addon or library, or threads' stacks. The heap alone: {}",
                bytes(r.slope.slope),
                bytes(r.slope.low),
                bytes(r.slope.high),
                r.trend.p_value,
                bytes(heap.slope.slope),
                self.sentence
            );
            self.outcome = Outcome::Leak;
            self.grows = Some(MemoryKind::Native);
        }
        self
    }
}

/// What [`without_snapshot_steps`] gives: the series and what it took out.
struct NetOfSnapshots {
    /// The series, less what the snapshots left.
    series: Vec<f64>,
    /// The largest step up at a snapshot: what the snapshots left, in bytes.
    left: f64,
}

/// A resident-memory series with what leaktrail's own heap snapshots left in the process
/// taken out.
///
/// V8 builds a snapshot in memory it takes from the process's malloc arena and frees into
/// it afterwards: resident memory steps up at the first snapshot and keeps that memory
/// (the change from the last sample before the snapshot to the first after it). The next
/// snapshot takes its memory from what the first left, so in a clean process it adds
/// little or nothing; in a process that grows natively, what the first left is what it
/// allocates from meanwhile (its resident memory stays flat for a while), and the next
/// snapshot steps up again by what was taken. So what the snapshots left is the largest
/// step, not their sum: later steps up to it are the process's own growth, and stay in.
/// (Taking every step out whole read an addon keeping 64 KiB an iteration as 21–25 KiB,
/// at the edge of being called a leak at all.) Drops at a snapshot stay in: the snapshot
/// gave memory back, and a clean process grows back into it afterwards (an Express
/// service: −8 to −17 MiB at a snapshot, then back up within a few hundred iterations).
/// Taking a drop out counted that regrowth as growth of its own, a native leak of
/// 20 KiB an iteration in a process whose memory is flat without snapshots.
/// The largest step is what [`crate::SnapshotResidue`] follows while a run is live (the
/// snapshot guard's residue), here read back from the samples.
fn without_snapshot_steps(samples: &[Sample], of: impl Fn(&Sample) -> u64) -> NetOfSnapshots {
    let mut residue = crate::SnapshotResidue::default();
    let mut series = Vec::with_capacity(samples.len());
    for (i, s) in samples.iter().enumerate() {
        if s.after_snapshot && i > 0 {
            residue.began(of(&samples[i - 1]));
            residue.read(of(s));
        }
        series.push(of(s) as f64 - residue.most() as f64);
    }
    NetOfSnapshots {
        series,
        left: residue.most() as f64,
    }
}

/// `sentence` of a run that judged a tree with a Node process in it by RSS alone: its
/// RSS cannot tell the V8 heap from native memory, so "native" is not said, and the user
/// learns how to let leaktrail look inside.
fn rss_only(sentence: String, seen: &crate::UninspectedNode) -> String {
    let mut command = seen.command.clone();
    if command.chars().count() > 60 {
        command = command.chars().take(59).chain(['…']).collect();
    }
    format!(
        "{} Judged by RSS only: the process tree runs Node (PID {}: `{command}`), which leaktrail did not start as Node, so it cannot tell the V8 heap from native memory or name a culprit. Run it as `leaktrail run -- node …`, or add --node when the command passes its environment on to one Node process (`sh -c`, a shell script).",
        sentence.replace(&format!(" {}", MemoryKind::Native.phrase()), ""),
        seen.pid
    )
}

/// ": a run to about iteration 9,000", where the samples an inconclusive verdict asks for
/// would come at this run's pace of samples: what the user sets is the run's length, not
/// its samples. Empty when the pace is unknown (fewer than two samples used).
/// `ran_to` is where the run ended: a fast loop runs on past its last sample, and the
/// advice was a run to iteration 7,867 of a run that had gone to 8,000.
fn longer_run(v: &GrowthVerdict, x: &[f64], ran_to: f64, unit: Per) -> String {
    let (Some(more), Some(&last), Some(&first)) =
        (v.more_samples_needed, x.last(), x.get(v.warmup_samples))
    else {
        return String::new();
    };
    if more == 0 || v.samples_used < 2 || last <= first {
        return String::new();
    }
    let pace = (last - first) / (v.samples_used - 1) as f64;
    let until = (last.max(ran_to) + pace * more as f64).round() as u64;
    match unit {
        Per::Iteration => format!(": a run to about iteration {}", group_digits(until)),
        Per::Second => format!(": a run of about {} s", group_digits(until)),
    }
}

/// A size in bytes, signed, for sentences.
fn bytes(b: f64) -> String {
    let rounded = b.round() as i64;
    if rounded < 0 {
        signed_bytes(rounded)
    } else {
        human_bytes(rounded as u64)
    }
}

#[allow(clippy::too_many_arguments)]
fn sentence(
    primary: &SeriesVerdict,
    components: &[SeriesVerdict],
    grows: Option<MemoryKind>,
    floor: f64,
    unit: Per,
    node: bool,
    x: &[f64],
    ran_to: f64,
) -> String {
    let v = &primary.verdict;
    let what = if node {
        "the live V8 heap plus external memory (after a forced GC)"
    } else {
        "the resident memory (RSS) of the process tree"
    };
    // Two points make one slope and no interval (it would read "219 B to 219 B").
    let slope = match v.samples_used > 2 {
        true => format!(
            "{}/{unit} (95 % interval {} to {})",
            bytes(v.slope.slope),
            bytes(v.slope.low),
            bytes(v.slope.high)
        ),
        false => format!("{}/{unit}", bytes(v.slope.slope)),
    };
    let warm = if v.warmup_samples > 0 {
        format!(
            " after a warm-up of {} samples{}",
            v.warmup_samples,
            if v.warmup_detected {
                " (found in the series)"
            } else {
                ""
            }
        )
    } else {
        String::new()
    };
    let mut s = match v.outcome {
        Outcome::Leak => format!(
            "Leak: {what} grows {slope} over {} samples{warm}, above the floor of {}/{unit} (trend p = {:.1e}).",
            v.samples_used,
            bytes(floor),
            v.trend.p_value
        ),
        Outcome::NoLeak if v.saturating => format!(
            "No leak: {what} grew at first but levels off (a cache filling to its cap?); the last third grows less than {}/{unit}.",
            bytes(floor)
        ),
        Outcome::NoLeak => format!(
            "No leak: {what} changes {slope} over {} samples{warm}, at or below the floor of {}/{unit}.",
            v.samples_used,
            bytes(floor)
        ),
        Outcome::Inconclusive => format!(
            "Inconclusive: {what} changes {slope} over {} samples{warm}; {}. About {} more samples would decide{}.",
            v.samples_used,
            v.reason,
            v.more_samples_needed.unwrap_or(0),
            longer_run(v, x, ran_to, unit)
        ),
    };
    if let Some(kind) = grows {
        s.push(' ');
        s.push_str(kind.phrase());
        if node {
            s.push_str(&native_note(primary, components, unit).unwrap_or_default());
        }
    }
    if node && primary.verdict.outcome != Outcome::Leak {
        if let Some(note) = rss_note(components, unit) {
            s.push_str(&note);
        }
    }
    s
}

impl RunAssessment {
    /// Takes back the note that RSS grows "while the heap does not" ([`rss_note`]): a
    /// heap leak decided after all (by the objects, or in a worker thread's heap) explains
    /// the growth of RSS.
    pub(crate) fn take_back_rss_note(&mut self) {
        if let Some(note) = rss_note(&self.components, self.unit) {
            self.sentence = self.sentence.replace(&note, "");
        }
    }
}

/// How many times faster than the heap (with external memory) RSS must grow for the
/// objects kept to be said to hold native memory. V8's pages, the allocator and what
/// leaktrail's own snapshots leave behind make a heap leak's RSS grow faster than its heap:
/// 5.6× (an incident log), and 17–24× for WeakMap metadata of 0.5 KiB an iteration, whose
/// RSS grows 4.8× as fast as its heap without snapshots (each snapshot stepped RSS up by
/// 5–9 MiB, and only the largest step is taken out). Kept `Intl` formatters hold ICU's
/// memory (64× as fast without snapshots) and read 45–66× as fast.
const NATIVE_FACTOR: f64 = 32.0;

/// " RSS grows … N× as fast: what is kept holds native memory too": said of a leak whose
/// RSS leaks [`NATIVE_FACTOR`] times faster than the heap series `primary`; the culprit
/// in the heap is then what holds memory the heap does not count.
pub(crate) fn native_note(
    primary: &SeriesVerdict,
    components: &[SeriesVerdict],
    unit: Per,
) -> Option<String> {
    let rss = components
        .iter()
        .find(|c| c.series == RunSeries::Rss && c.verdict.outcome == Outcome::Leak)?;
    let (rss, heap) = (rss.verdict.slope.slope, primary.verdict.slope.slope);
    (rss >= NATIVE_FACTOR * heap.max(1.0)).then(|| {
        let faster = match heap > 1.0 {
            true => format!("{:.0}× as fast", rss / heap),
            false => "while the heap does not".to_owned(),
        };
        format!(
            " RSS grows {}/{unit}, {faster}: what is kept holds native memory too (Intl formatters, zlib or crypto contexts, an addon's allocations), which the V8 heap does not count.",
            bytes(rss)
        )
    })
}

/// " Note: RSS grows … while the heap does not": said when the heap series is no leak
/// and RSS is one. Taken back when the snapshots decide the heap leaks after all.
pub(crate) fn rss_note(components: &[SeriesVerdict], unit: Per) -> Option<String> {
    let rss = components
        .iter()
        .find(|c| c.series == RunSeries::Rss && c.verdict.outcome == Outcome::Leak)?;
    Some(format!(
        " Note: RSS grows {}/{unit} while the heap does not — native memory, or V8 still growing its heap.",
        bytes(rss.verdict.slope.slope)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_longer_run_is_asked_from_where_the_run_ended() {
        // Six samples of a slope near the floor with noise: not enough to decide.
        let x: Vec<f64> = (1..=6).map(|k| k as f64 * 1000.0).collect();
        let y = [0.0, 400_000.0, 150_000.0, 700_000.0, 300_000.0, 900_000.0];
        let v = decide(
            &x,
            &y,
            &GrowthPolicy {
                max_growth: 256.0,
                alpha: 0.05,
                warmup: Some(0),
            },
        );
        assert_eq!(v.outcome, Outcome::Inconclusive, "{v:?}");
        let more = v.more_samples_needed.expect("more samples") as f64;
        let pace = 5000.0 / (v.samples_used - 1) as f64;
        // The last sample was at 6,000; the workload ran on to 8,000.
        let at = |s: String| -> f64 {
            s.rsplit(' ')
                .next()
                .expect("a number")
                .replace(',', "")
                .parse()
                .expect("n")
        };
        assert_eq!(
            at(longer_run(&v, &x, 6000.0, Per::Iteration)),
            (6000.0 + pace * more).round()
        );
        assert_eq!(
            at(longer_run(&v, &x, 8000.0, Per::Iteration)),
            (8000.0 + pace * more).round()
        );
    }

    /// Samples of anonymous memory, `snapshots` marking the first sample after each.
    fn series(anon: &[u64], snapshots: &[usize]) -> Vec<Sample> {
        anon.iter()
            .enumerate()
            .map(|(i, &a)| Sample {
                t: i as f64,
                iteration: Some(i as u64),
                memory: leaktrail_sampler::MemoryReading {
                    anon: a,
                    ..Default::default()
                },
                processes: 1,
                after_snapshot: snapshots.contains(&i),
            })
            .collect()
    }

    /// A process that allocates `per_sample` natively and never frees it, under snapshots
    /// that each need `need` bytes of its malloc arena and free them into it afterwards.
    fn native_leak(per_sample: u64, need: u64, snapshots: &[usize]) -> Vec<u64> {
        let (mut resident, mut free) = (100 * MIB, 0);
        (0..40)
            .map(|i| {
                if snapshots.contains(&i) {
                    // The snapshot takes what is free, then fresh pages, and frees it all.
                    resident += need.saturating_sub(free);
                    free = free.max(need);
                }
                let drawn = free.min(per_sample);
                free -= drawn;
                resident += per_sample - drawn;
                resident
            })
            .collect()
    }

    #[test]
    fn a_clean_process_keeps_what_the_first_snapshot_left() {
        // +28 MiB at the first snapshot; the later ones reuse it (+0.2 MiB, a drop).
        let mut anon = vec![50 * MIB; 30];
        for (i, a) in anon.iter_mut().enumerate() {
            *a += match i {
                0..=4 => 0,
                5..=14 => 28 * MIB,
                15..=24 => 28 * MIB + MIB / 5,
                _ => 27 * MIB,
            };
        }
        let net = without_snapshot_steps(&series(&anon, &[5, 15, 25]), |s| s.memory.anon);
        let y = &net.series;
        assert_eq!(net.left, (28 * MIB) as f64);
        // Flat but for the second snapshot's small step, which reads as growth, and the
        // third's drop, which stays in.
        let flat = 50.0 * MIB as f64;
        assert!(
            y.iter()
                .all(|&v| v >= flat - MIB as f64 && v <= flat + (MIB / 5) as f64),
            "{y:?}"
        );
        assert!(y[29] < y[15], "the drop stays in: {y:?}");
    }

    #[test]
    fn a_clean_process_growing_back_after_a_drop_at_a_snapshot_is_not_a_native_leak() {
        // An Express service (scenarios/npm/express-session-cookie-kept-clean.js): +28 MiB
        // at the first snapshot, then it creeps up 1 MiB a sample; each later snapshot
        // gives the creep back (9 MiB), and it grows back into it.
        let snapshots = [5, 15, 25, 35];
        let anon: Vec<u64> = (0..45u64)
            .map(|i| {
                let since = snapshots.iter().rev().find(|&&k| k <= i as usize);
                let creep = since.map_or(0, |&k| (i - k as u64).min(12));
                let base = if i < 5 { 20 } else { 48 };
                (base + creep) * MIB
            })
            .collect();
        let mut samples = series(&anon, &snapshots);
        for s in &mut samples {
            // The heap is flat.
            s.memory.heap_used = Some(8 * MIB);
            s.memory.external = Some(MIB);
        }
        let net = without_snapshot_steps(&samples, |s| s.memory.anon);
        let first = net.series[5];
        assert!(
            net.series
                .iter()
                .skip(5)
                .all(|&v| v <= first + (12 * MIB) as f64),
            "regrowth is not counted twice: {:?}",
            net.series
        );
        let result = RunResult {
            samples,
            ..RunResult::default()
        };
        let floor = GrowthFloor {
            bytes: 256.0,
            per: Per::Iteration,
        };
        let a = assess(&result, floor, Some(0.0), 0.05);
        assert_ne!(a.grows, Some(MemoryKind::Native), "{}", a.sentence);
    }

    #[test]
    fn a_native_leak_keeps_the_growth_that_refilled_the_snapshots_memory() {
        let snapshots = [5, 15, 25, 35];
        let anon = native_leak(MIB, 6 * MIB, &snapshots);
        let s = series(&anon, &snapshots);
        let y = without_snapshot_steps(&s, |s| s.memory.anon).series;
        let x: Vec<f64> = (0..s.len()).map(|i| i as f64).collect();
        let slope = leaktrail_stats::theil_sen(&x, &y, 0.05).slope / MIB as f64;
        // Every step taken out whole read 0.4 MiB a sample here. What the first snapshot
        // left and the process used before the second is still out: a little under 1.
        assert!(slope > 0.9 && slope <= 1.0, "{slope} MiB a sample: {y:?}");
    }
}
