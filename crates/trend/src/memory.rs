//! The memory series' judgement: a verdict's assessment, whether a series grew enough,
//! the live heap's parts, and time to OOM.

#[cfg(doc)]
use leaktrail_analysis::SnapshotCensus;
use leaktrail_stats::{decide, GrowthPolicy, Outcome};

use crate::model::{
    Assessment, MemoryLimit, MemorySeries, MemoryTrend, RatePerHour, SeriesBasis, SlopeSource,
    TimeToOom,
};

/// Snapshots from which the heap's time to OOM is projected from their census totals (the
/// live heap) rather than from the heap samples.
pub const MIN_LIVE_CENSUSES: usize = 3;

/// What a significant rise whose whole slope interval is under the floor is called.
#[derive(Clone, Copy)]
pub(crate) enum RiseUnderFloor {
    /// Growing: a class or collection, whose share of the heap's growth can be far under
    /// the heap's floor and still be the culprit.
    Suspect,
    /// Stable: a memory series, where a label for it would flag every healthy service (a
    /// trend test finds the smallest steady rise given samples enough), as `run` would not.
    NoLeak,
}

/// Maps a verdict to an assessment; `big_enough` says the series grew by the noise floor.
pub(crate) fn assessment_of(
    v: &leaktrail_stats::GrowthVerdict,
    alpha: f64,
    big_enough: bool,
    under_floor: RiseUnderFloor,
) -> Assessment {
    // A significant rank trend with a median slope of zero (steps among flat stretches)
    // is no growth to report: "growing at 0 B/h" says nothing.
    let upward = v.trend.p_value < alpha && v.trend.s > 0.0 && v.slope.slope > 0.0;
    match (v.outcome, under_floor) {
        (Outcome::Leak, _) if big_enough => Assessment::Leaking,
        (Outcome::Leak, _) => Assessment::Growing,
        _ if v.samples_used < leaktrail_stats::MIN_SAMPLES => Assessment::Insufficient,
        _ if v.saturating => Assessment::Growing,
        // The slope's interval reaches above the floor: it may yet be a leak.
        (Outcome::Inconclusive, _) if upward => Assessment::Growing,
        // No significant trend, but an interval reaching above the floor: a memory
        // series cannot be called stable yet (a leak's heap samples, read through a
        // garbage sawtooth of hundreds of MiB beside a CPU hog, were "stable … at 3.7
        // GiB/h" while its live heap went 3 → 12 → 19 MiB).
        (Outcome::Inconclusive, RiseUnderFloor::NoLeak) => Assessment::Insufficient,
        (Outcome::NoLeak, RiseUnderFloor::Suspect) if upward => Assessment::Growing,
        _ => Assessment::Stable,
    }
}

pub(crate) fn memory_trend(
    series: MemorySeries,
    pts: &[(f64, f64)],
    gp: &GrowthPolicy,
    min_growth: u64,
    limit: Option<(MemoryLimit, u64)>,
) -> Option<MemoryTrend> {
    let last = pts.last()?;
    let (v, assessment) = judge_memory(pts, gp, last.1, min_growth);
    let current = last.1.max(0.0) as u64;
    let time_to_oom = match (limit, assessment) {
        (Some((kind, limit)), Assessment::Leaking | Assessment::Growing)
            if v.slope.slope > 0.0 && limit > current =>
        {
            let room = (limit - current) as f64;
            Some(TimeToOom {
                limit_kind: kind,
                limit,
                current,
                seconds: room / v.slope.slope,
                seconds_early: room / v.slope.high.max(v.slope.slope),
                seconds_late: (v.slope.low > 0.0).then(|| room / v.slope.low),
                slope_from: SlopeSource::Samples,
                points: v.samples_used,
                slope_per_hour: v.slope.slope * 3600.0,
            })
        }
        _ => None,
    };
    Some(MemoryTrend {
        series: series.to_owned(),
        samples: v.samples_used,
        warmup_samples: v.warmup_samples,
        basis: SeriesBasis::Samples,
        current,
        rate: RatePerHour::from_per_second(&v.slope),
        p_value: v.trend.p_value,
        saturating: v.saturating,
        assessment,
        time_to_oom,
    })
}

/// How much faster than the floor code and V8's internals must grow to make the heap
/// leak on their own: JIT warm-up and feedback go on for minutes at up to about the
/// floor (a clean service on npm libraries: ~1 MiB/h four minutes in), while a program
/// that generates code per request, or gives its objects shapes of their own, grows them
/// by far more.
const CODE_FLOOR_FACTOR: f64 = 10.0;

/// The verdict on a memory series' points and what it is called; `level` is what its
/// growth must come to a share of ([`grew_enough`]).
fn judge_memory(
    pts: &[(f64, f64)],
    gp: &GrowthPolicy,
    level: f64,
    min_growth: u64,
) -> (leaktrail_stats::GrowthVerdict, Assessment) {
    let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let v = decide(&xs, &ys, gp);
    let big_enough = grew_enough(&v, &xs, level, min_growth);
    let assessment = assessment_of(&v, gp.alpha, big_enough, RiseUnderFloor::NoLeak);
    (v, assessment)
}

/// Whether a memory series grew enough over its points to leak: its fitted growth over
/// their span (slope × span) at least `min_growth` bytes and 1 % of its latest level
/// (`level`). A rise of 1 MiB/h is significant on ten points, but four minutes of it
/// is 70 KB: Node's RSS creeps so for minutes after a start (the allocator and V8's
/// pages settling), and no one should be paged for it until it has come to something.
fn grew_enough(
    v: &leaktrail_stats::GrowthVerdict,
    xs: &[f64],
    level: f64,
    min_growth: u64,
) -> bool {
    let span = xs.last().zip(xs.first()).map_or(0.0, |(b, a)| b - a);
    v.slope.slope * span >= (min_growth as f64).max(level * MIN_GROWTH_SHARE)
}

/// The share of its level a memory series must have grown by to leak ([`grew_enough`]).
const MIN_GROWTH_SHARE: f64 = 0.01;

/// What the live heap is called, from its census points past start-up (`live`: totals,
/// `data`: [`SnapshotCensus::data_size`]): the worse of its data against the floor and
/// of the rest (code, V8's internals) against [`CODE_FLOOR_FACTOR`] times the floor.
pub(crate) fn heap_assessment(
    live: &[(f64, f64)],
    data: &[(f64, f64)],
    gp: &GrowthPolicy,
    min_growth: u64,
) -> Assessment {
    let level = live.last().map_or(0.0, |p| p.1);
    let judged =
        |points: &[(f64, f64)], gp: &GrowthPolicy| judge_memory(points, gp, level, min_growth).1;
    let apart: Vec<(f64, f64)> = live
        .iter()
        .zip(data)
        .map(|(l, d)| (l.0, l.1 - d.1))
        .collect();
    let code_gp = GrowthPolicy {
        max_growth: gp.max_growth * CODE_FLOOR_FACTOR,
        ..*gp
    };
    judged(data, gp).max(judged(&apart, &code_gp))
}

/// The heap's time to OOM from the live heap: the census totals `live` (seconds, bytes),
/// each taken after a full GC, fitted by Theil–Sen (its interval gives the range) and
/// carried from the latest census forward to `now`. `None` with fewer than
/// [`MIN_LIVE_CENSUSES`] censuses (the samples' projection stands); `Some(None)` when the
/// live heap does not grow, or is already at the limit.
pub(crate) fn live_heap_time_to_oom(
    live: &[(f64, f64)],
    now: f64,
    gp: &GrowthPolicy,
    limit: Option<(MemoryLimit, u64)>,
) -> Option<Option<TimeToOom>> {
    let (kind, limit) = limit?;
    let (last_t, last_y) = *live.last()?;
    if live.len() < MIN_LIVE_CENSUSES {
        return None;
    }
    let xs: Vec<f64> = live.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = live.iter().map(|p| p.1).collect();
    // Too few points for the warm-up to be found: none is dropped.
    let v = decide(&xs, &ys, gp);
    let slope = v.slope;
    if slope.slope <= 0.0 {
        return Some(None);
    }
    let current = (last_y + slope.slope * (now - last_t).max(0.0)).max(0.0) as u64;
    if current >= limit {
        return Some(None);
    }
    let room = (limit - current) as f64;
    Some(Some(TimeToOom {
        limit_kind: kind,
        limit,
        current,
        seconds: room / slope.slope,
        seconds_early: room / slope.high.max(slope.slope),
        seconds_late: (slope.low > 0.0).then(|| room / slope.low),
        slope_from: SlopeSource::LiveHeap,
        points: v.samples_used,
        slope_per_hour: slope.slope * 3600.0,
    }))
}
