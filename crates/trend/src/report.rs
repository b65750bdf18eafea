//! [`TrendReport::assess`]: the memory series, restarts and the one-sentence summary.

use leaktrail_analysis::units::human_duration;
use leaktrail_stats::GrowthPolicy;
use leaktrail_store::{EndReason, Incarnation};

use crate::input::{rss_after_gc, TrendInput, START_UP_SECONDS};
use crate::memory::{heap_assessment, live_heap_time_to_oom, memory_trend};
use crate::model::{
    Assessment, MemoryLimit, MemorySeries, SeriesBasis, SlopeSource, TrendPolicy, TrendReport,
};
use crate::snapshots::SnapshotTrends;
#[cfg(doc)]
use crate::TrendCache;

impl TrendReport {
    /// Assesses one target.
    pub fn assess(input: &TrendInput, policy: &TrendPolicy) -> TrendReport {
        let trends = SnapshotTrends::assess(&input.snapshots, policy);
        TrendReport::assess_with(input, policy, trends)
    }

    /// Assesses one target with its class and collection trends already computed (from
    /// the same snapshots: see [`TrendCache`]); `input.snapshots` then needs only each
    /// census's facts.
    pub fn assess_with(
        input: &TrendInput,
        policy: &TrendPolicy,
        trends: SnapshotTrends,
    ) -> TrendReport {
        let incarnation = input.incarnations.last().cloned();
        let floor_per_s = policy.floor_per_hour / 3600.0;
        let gp = GrowthPolicy {
            max_growth: floor_per_s,
            alpha: policy.alpha,
            warmup: None,
        };

        let mut memory = Vec::new();
        let is_node = input.samples.iter().any(|s| s.memory.heap_used.is_some());
        let t0 = input
            .samples
            .first()
            .map(|s| s.t)
            .or(input.snapshots.first().map(|s| s.0.t))
            .unwrap_or(0);
        let secs = |t: i64| (t - t0) as f64 / 1000.0;
        // Points after a full GC judge a series only past the process's start-up: RSS and
        // the live heap climb for its first seconds (code, caches, the heap's own size)
        // as surely as under a leak.
        let started = incarnation.as_ref().map_or(i64::MIN, |i| i.started_at);
        let after_start_up = |t: i64| t.saturating_sub(started) >= START_UP_SECONDS as i64 * 1000;
        // The heap series (snapshot totals or samples) run against V8's limit.
        let heap_limit = incarnation
            .as_ref()
            .and_then(|i| i.heap_limit)
            .map(|l| (MemoryLimit::V8Heap, l as u64));
        if input.samples.is_empty() {
            // Snapshots without samples (a directory of snapshot files): the memory series
            // is each snapshot's total self size.
            let pts: Vec<(f64, f64)> = input
                .snapshots
                .iter()
                .map(|(s, c)| (secs(s.t), c.info.total_self_size as f64))
                .collect();
            memory.extend(memory_trend(
                MemorySeries::SnapshotSelfSize,
                &pts,
                &gp,
                policy.min_growth_bytes,
                heap_limit,
            ));
        }
        if is_node {
            let pts: Vec<(f64, f64)> = input
                .samples
                .iter()
                .filter_map(|s| s.memory.heap_used.map(|h| (secs(s.t), h as f64)))
                .collect();
            let live: Vec<(f64, f64)> = input
                .snapshots
                .iter()
                .map(|(s, c)| (secs(s.t), c.info.total_self_size as f64))
                .collect();
            // Each census's data (its total without code and V8's internals), when the
            // trends carry one per snapshot.
            let data: Vec<(f64, f64)> = if trends.live_data.len() == input.snapshots.len() {
                input
                    .snapshots
                    .iter()
                    .zip(&trends.live_data)
                    .map(|((s, _), &d)| (secs(s.t), d as f64))
                    .collect()
            } else {
                live.clone()
            };
            let past_start_up = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
                input
                    .snapshots
                    .iter()
                    .zip(points)
                    .filter(|((s, _), _)| after_start_up(s.t))
                    .map(|(_, &point)| point)
                    .collect()
            };
            let live_after_start_up = past_start_up(&live);
            // With enough snapshots the live heap (each census taken after a full GC)
            // decides whether the heap grows: samples read without a GC carry the garbage
            // of the moment, a sawtooth whose size changes as the service warms up (a
            // bounded cache was called *leaking* on them). The row shows the live total;
            // what it is called comes from its parts (`heap_assessment`).
            // The live data stopped growing before the window ended: no projection.
            let mut stopped = false;
            let heap = if live_after_start_up.len() >= leaktrail_stats::MIN_SAMPLES {
                memory_trend(
                    MemorySeries::HeapUsed,
                    &live_after_start_up,
                    &gp,
                    policy.min_growth_bytes,
                    heap_limit,
                )
                .map(|mut heap| {
                    heap.basis = SeriesBasis::AfterGc;
                    heap.current = pts.last().map_or(heap.current, |p| p.1 as u64);
                    heap.assessment = heap_assessment(
                        &live_after_start_up,
                        &past_start_up(&data),
                        &gp,
                        policy.min_growth_bytes,
                    );
                    if heap.assessment >= Assessment::Growing
                        && stopped_growing(&live_after_start_up, &gp)
                    {
                        heap.assessment = Assessment::Growing;
                        heap.saturating = true;
                        stopped = true;
                    }
                    if heap.assessment == Assessment::Stable || stopped {
                        heap.time_to_oom = None;
                    }
                    heap
                })
            } else {
                // The samples of the process's start-up are left out when the window
                // began with it and what is left is enough and spans at least as long
                // (the heap climbs through start-up as surely as under a leak: a clean
                // service watched for 150 s was called leaking, its first sample read
                // before its modules had loaded). They count as warm-up. A shorter
                // watch is judged whole: 15 s of a leak's sawtooth after 30 s of
                // start-up hid a leak that 45 s showed.
                let heap_samples = || {
                    input
                        .samples
                        .iter()
                        .filter(|s| s.memory.heap_used.is_some())
                };
                let in_start_up = heap_samples()
                    .take_while(|s| s.t >= started && !after_start_up(s.t))
                    .count();
                let from_start = heap_samples().next().is_some_and(|s| s.t >= started);
                let left = &pts[in_start_up.min(pts.len())..];
                let spans_enough = left
                    .first()
                    .zip(left.last())
                    .is_some_and(|(a, b)| b.0 - a.0 >= START_UP_SECONDS as f64);
                let skip = match from_start
                    && left.len() >= leaktrail_stats::MIN_SAMPLES
                    && spans_enough
                {
                    true => in_start_up,
                    false => 0,
                };
                memory_trend(
                    MemorySeries::HeapUsed,
                    &pts[skip..],
                    &gp,
                    policy.min_growth_bytes,
                    heap_limit,
                )
                .map(|mut heap| {
                    heap.warmup_samples += skip;
                    heap
                })
            };
            if let Some(mut heap) = heap {
                if heap.time_to_oom.is_some() && !stopped {
                    let now = pts.last().map_or(0.0, |p| p.0);
                    // Against V8's heap limit counts what is on V8's heap: ArrayBuffer
                    // backing stores live outside it (a Buffer leak was given a time to
                    // OOM at the heap limit, which 400 MiB of Buffers under a 32 MiB old
                    // space do not reach).
                    let on_heap: Vec<(f64, f64)> =
                        match trends.live_on_heap.len() == input.snapshots.len() {
                            true => input
                                .snapshots
                                .iter()
                                .zip(&trends.live_on_heap)
                                .map(|((s, _), &b)| (secs(s.t), b as f64))
                                .collect(),
                            false => live.clone(),
                        };
                    if let Some(t) = live_heap_time_to_oom(&on_heap, now, &gp, heap_limit) {
                        // The live heap decides when: not growing, it projects no OOM.
                        heap.time_to_oom = t;
                    }
                }
                memory.push(heap);
            }
        }
        // Samples taken while the watcher had a snapshot built are left out: V8 allocates
        // to serialize it and RSS jumps, growth of the watcher's making, not the service's.
        let pts: Vec<(f64, f64)> = input
            .samples
            .iter()
            .filter(|s| !s.in_snapshot)
            .map(|s| (secs(s.t), s.memory.rss as f64))
            .collect();
        let limit = incarnation
            .as_ref()
            .and_then(|i| i.memory_limit)
            .map(|l| (MemoryLimit::Cgroup, l as u64));
        let after_gc: Vec<(f64, f64)> = if is_node {
            let times: Vec<i64> = input
                .snapshots
                .iter()
                .map(|(s, _)| s.t)
                .filter(|&t| after_start_up(t))
                .collect();
            rss_after_gc(&input.samples, &times)
                .into_iter()
                .map(|(t, rss)| (secs(t), rss))
                .collect()
        } else {
            Vec::new()
        };
        let rss = if after_gc.len() >= leaktrail_stats::MIN_SAMPLES {
            // Node with enough snapshots: RSS after each one's full GC decides, and may
            // leak on its own (native memory, buffers, threads).
            memory_trend(
                MemorySeries::Rss,
                &after_gc,
                &gp,
                policy.min_growth_bytes,
                limit,
            )
            .map(|mut rss| {
                rss.basis = SeriesBasis::AfterGc;
                rss.current = pts.last().map_or(rss.current, |p| p.1 as u64);
                rss
            })
        } else {
            memory_trend(MemorySeries::Rss, &pts, &gp, policy.min_growth_bytes, limit).map(
                |mut rss| {
                    if is_node {
                        // Node's RSS between GCs follows the heap's sawtooth and its start-up
                        // climb: shown, projected, but no alarm until the snapshots decide.
                        rss.basis = SeriesBasis::SamplesNotCounted;
                        rss.assessment = rss.assessment.min(Assessment::Growing);
                    }
                    rss
                },
            )
        };
        memory.extend(rss);

        let SnapshotTrends {
            classes,
            collections,
            collection_groups,
            culprits,
            growing_places,
            ..
        } = trends;

        let worst_memory = memory
            .iter()
            .filter(|m| m.basis != SeriesBasis::SamplesNotCounted)
            .map(|m| m.assessment)
            .max();
        // A class growing under the floor is a suspect to show, not an alarm: only one
        // that leaks raises the overall assessment above the memory series'.
        // Code (compiled code, shapes, scripts' sources) is judged apart from data: V8
        // compiles and re-optimises for minutes after a start, so a code class alone
        // raises no alarm — a program that keeps compiling new code (templates, `new
        // Function`) grows the heap, and the heap series says so.
        let worst_class = classes
            .iter()
            .filter(|c| c.family != leaktrail_analysis::Family::Code.key())
            .map(|c| c.assessment)
            .filter(|a| *a == Assessment::Leaking)
            .max();
        let overall = worst_memory
            .into_iter()
            .chain(worst_class)
            .max()
            .unwrap_or(Assessment::Insufficient);
        let restarts = restarts(&input.incarnations);
        let endings = input
            .incarnations
            .iter()
            .filter_map(|i| i.end_reason.map(|r| ending(i, r)))
            .collect();
        let window = match (input.samples.first(), input.samples.last()) {
            (Some(a), Some(b)) => Some((a.t, b.t)),
            _ => input
                .snapshots
                .first()
                .zip(input.snapshots.last())
                .map(|(a, b)| (a.0.t, b.0.t)),
        };
        let time_to_oom = memory
            .iter()
            .filter_map(|m| m.time_to_oom.clone())
            .min_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let mut report = TrendReport {
            time_to_oom,
            target: input.target.name.clone(),
            incarnation,
            restarts,
            endings,
            snapshots: input.snapshots.len(),
            window,
            overall,
            sentence: String::new(),
            memory,
            classes,
            collections,
            collection_groups,
            culprits,
            growing_places,
        };
        report.sentence = sentence(&report);
        report
    }
}

/// Deaths that another incarnation followed: earlier incarnations that exited, were
/// killed or ran out of memory. One the watcher stopped or left (`stopped`, `detached`), or
/// whose watcher was itself killed (no end recorded), is not a restart of the service:
/// re-running `watch` must not look like a crash loop.
pub fn restarts(incarnations: &[Incarnation]) -> u64 {
    let earlier = &incarnations[..incarnations.len().saturating_sub(1)];
    earlier
        .iter()
        .filter(|i| i.end_reason.is_some_and(|r| !r.by_the_watcher()))
        .count() as u64
}

fn ending(i: &Incarnation, reason: EndReason) -> String {
    match (reason, i.exit_code, i.signal) {
        (EndReason::Exited, Some(c), _) => format!("pid {} exited {c}", i.pid),
        (EndReason::Signal, _, Some(s)) => format!("pid {} killed by signal {s}", i.pid),
        (r, _, _) => format!("pid {} {r}", i.pid),
    }
}

fn sentence(r: &TrendReport) -> String {
    use leaktrail_analysis::units::{group_digits, human_bytes, signed_bytes};
    let mut out = match r.overall {
        Assessment::Insufficient => format!(
            "{}: not enough data yet ({} snapshots, {} samples in the latest incarnation).",
            r.target,
            r.snapshots,
            r.memory.first().map_or(0, |m| m.samples)
        ),
        a => {
            // Lead with the series that decided: the worst one counted (the first of
            // equals), not always the heap — a stable heap "at 0 B/h" under a *growing*
            // headline reads as a contradiction.
            let lead = r
                .memory
                .iter()
                .filter(|m| m.basis != SeriesBasis::SamplesNotCounted)
                .rev()
                .max_by_key(|m| m.assessment)
                .or(r.memory.first())
                .map(|m| match a {
                    // A stable series' slope may be large and mean nothing (a sawtooth of
                    // garbage, no significant trend): its interval says so.
                    Assessment::Stable => format!(
                        " {} {} at {}/h (95 % interval {}/h to {}/h).",
                        m.series.name(),
                        human_bytes(m.current),
                        signed_bytes(m.rate.slope as i64),
                        signed_bytes(m.rate.low as i64),
                        signed_bytes(m.rate.high as i64)
                    ),
                    _ => format!(
                        " {} {} at {}/h.",
                        m.series.name(),
                        human_bytes(m.current),
                        human_bytes(m.rate.slope.max(0.0) as u64)
                    ),
                })
                .unwrap_or_default();
            format!("{}: {}.{}", r.target, a.label(), lead)
        }
    };
    // Code classes never make the verdict (V8 compiles for minutes after a start), so
    // none heads it: "stable. Top class: (compiled code) (leaking …)" contradicts itself.
    if let Some(c) = r
        .classes
        .iter()
        .find(|c| c.family != leaktrail_analysis::Family::Code.key())
        .filter(|c| c.assessment >= Assessment::Growing)
    {
        out.push_str(&format!(
            " Top class: {} ({}, {} → {} instances, +{}/h).",
            c.class,
            c.assessment.label(),
            group_digits(c.count_first),
            group_digits(c.count_last),
            human_bytes(c.rate.slope.max(0.0) as u64)
        ));
    }
    if let Some(c) = r.culprits.first() {
        out.push_str(&format!(
            " Culprit: {} objects accumulating in {}.",
            c.cluster.class, c.cluster.holder
        ));
    } else if let Some(g) = r.growing_places.first() {
        out.push_str(&format!(
            " Culprit: the {} at {}, growing.",
            g.place.class, g.place.label
        ));
    }
    if let Some(t) = &r.time_to_oom {
        out.push_str(&format!(
            " Reaches the {} ({}) in about {} ({} – {}).",
            t.limit_kind.name(),
            human_bytes(t.limit),
            human_duration(t.seconds),
            human_duration(t.seconds_early),
            t.seconds_late.map_or("never".into(), human_duration)
        ));
        if t.slope_from == SlopeSource::LiveHeap {
            out.pop();
            out.push_str(&format!(" from the live heap of {} snapshots.", t.points));
        }
    }
    if r.restarts > 0 {
        out.push_str(&format!(" Restarted {} times.", r.restarts));
    }
    out
}

/// True when the live heap's last quarter of the window (three censuses or more) grew at
/// most at the floor: the growth stopped before the window did, as a cache's does once it
/// holds every key (a cache capped at 12,000 entries, full two minutes into a three-minute
/// watch, was called leaking with a time to OOM of 2.1 days). A fit over the whole window
/// still rises; a leak keeps rising in its last quarter too.
fn stopped_growing(data: &[(f64, f64)], gp: &leaktrail_stats::GrowthPolicy) -> bool {
    let (Some(first), Some(last)) = (data.first(), data.last()) else {
        return false;
    };
    let from = last.0 - (last.0 - first.0) / 4.0;
    let tail: Vec<(f64, f64)> = data.iter().copied().filter(|p| p.0 >= from).collect();
    if tail.len() < 3 {
        return false;
    }
    let xs: Vec<f64> = tail.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = tail.iter().map(|p| p.1).collect();
    leaktrail_stats::theil_sen(&xs, &ys, gp.alpha).slope <= gp.max_growth
}
