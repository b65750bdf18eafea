//! [`decide`]: leak, no leak, or not yet known.
//!
//! Rules, on the samples after the warm-up (given, or found by [`warmup_end`]):
//! 1. fewer than [`MIN_SAMPLES`] samples: **inconclusive**;
//! 2. the slope's interval reaches above the floor, but the last third's whole interval
//!    is at or below it and clearly below the earlier slope: **saturating** growth (a
//!    cache filling to its cap) — **no leak**; unless most of the rise came in one step
//!    and the flat stretch after it is shorter than the rise before it (a table that
//!    doubles its capacity in steps looks so until its next step): **inconclusive**;
//! 3. the Mann–Kendall trend is significant at `alpha` *and* the whole confidence interval
//!    of the Theil–Sen slope is above the floor: **leak**;
//! 4. the whole confidence interval is at or below the floor: **no leak** (it may grow, but
//!    less than the floor: significance alone never makes a leak);
//! 5. otherwise **inconclusive**, with an estimate of how many more samples would narrow
//!    the interval enough to decide (assuming its width shrinks like 1/n, which is
//!    conservative for autocorrelated samples).

use serde::Serialize;

use crate::slope::{slope_and_trend, theil_sen, warmup_end, SlopeEstimate, TrendTest};

/// Fewer steady samples than this decide nothing.
pub const MIN_SAMPLES: usize = 8;

/// What counts as a leak.
#[derive(Clone, Copy, Debug)]
pub struct GrowthPolicy {
    /// The practical floor: growth per unit of x (bytes per iteration, per second) at or
    /// below which memory is not leaking, however significant the trend.
    pub max_growth: f64,
    /// Significance level of the trend test and `1 - alpha` the interval's coverage.
    pub alpha: f64,
    /// Samples to drop at the start; `None` finds the warm-up from the series.
    pub warmup: Option<usize>,
}

/// The three outcomes (exit codes 0, 1 and 3 of `leaktrail run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Memory does not grow beyond the floor.
    NoLeak,
    /// Memory grows, significantly and beyond the floor.
    Leak,
    /// The samples do not decide yet.
    Inconclusive,
}

impl Outcome {
    /// `leak`, `no leak`, `inconclusive`: the outcome in a sentence.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Leak => "leak",
            Outcome::NoLeak => "no leak",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// The decision and what it rests on.
#[derive(Clone, Debug, Serialize)]
pub struct GrowthVerdict {
    /// The outcome.
    pub outcome: Outcome,
    /// Theil–Sen slope of the steady samples, with its interval.
    pub slope: SlopeEstimate,
    /// Mann–Kendall test of the steady samples.
    pub trend: TrendTest,
    /// Samples dropped as warm-up.
    pub warmup_samples: usize,
    /// Whether the warm-up was found from the series (not given).
    pub warmup_detected: bool,
    /// Growth that flattens out: early slope above the floor, the last third below.
    pub saturating: bool,
    /// Inconclusive because it levelled off only after a late step ([`late_step`]): the
    /// flat stretch of a table that doubles, or a one-time allocation.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub late_step: bool,
    /// Slope of the last third, when computed.
    pub tail_slope: Option<SlopeEstimate>,
    /// Samples after the warm-up.
    pub samples_used: usize,
    /// When inconclusive: about how many more samples would decide.
    pub more_samples_needed: Option<usize>,
    /// Why, in a few words.
    pub reason: String,
}

/// Decides whether `y` (memory) grows with `x` (iterations or seconds).
pub fn decide(x: &[f64], y: &[f64], policy: &GrowthPolicy) -> GrowthVerdict {
    let n = x.len().min(y.len());
    let (warmup_samples, warmup_detected) = match policy.warmup {
        Some(w) => (w.min(n), false),
        None => match warmup_end(&x[..n], &y[..n]) {
            Some(k) => (k, true),
            None => (0, false),
        },
    };
    let (xs, ys) = (&x[warmup_samples..n], &y[warmup_samples..n]);
    let m = xs.len();
    let (slope, trend) = slope_and_trend(xs, ys, policy.alpha);
    let mut v = GrowthVerdict {
        outcome: Outcome::Inconclusive,
        slope,
        trend,
        warmup_samples,
        warmup_detected,
        saturating: false,
        late_step: false,
        tail_slope: None,
        samples_used: m,
        more_samples_needed: None,
        reason: String::new(),
    };
    // A warm-up that ended in a step late in the run may be no warm-up at all: the
    // flat stretch after a table's doubling.
    if warmup_detected {
        if let Some(more) = late_step(&x[..n], &y[..n], policy.max_growth) {
            v.more_samples_needed = Some(more);
            v.late_step = true;
            v.reason = LATE_STEP.into();
            return v;
        }
    }
    if m < MIN_SAMPLES {
        v.more_samples_needed = Some(MIN_SAMPLES - m);
        v.reason = format!("only {m} samples after the warm-up");
        return v;
    }
    let floor = policy.max_growth;
    if slope.high > floor && m >= 3 * MIN_SAMPLES {
        let tail = theil_sen(&xs[2 * m / 3..], &ys[2 * m / 3..], policy.alpha);
        let early = theil_sen(&xs[..2 * m / 3], &ys[..2 * m / 3], policy.alpha);
        v.tail_slope = Some(tail);
        if tail.high <= floor && early.low > tail.high {
            if let Some(more) = late_step(xs, ys, floor) {
                v.more_samples_needed = Some(more);
                v.late_step = true;
                v.reason = LATE_STEP.into();
                return v;
            }
            v.saturating = true;
            v.outcome = Outcome::NoLeak;
            v.reason = "growth is saturating: the last third stays below the floor".into();
            return v;
        }
    }
    let significant = trend.p_value < policy.alpha;
    if significant && slope.low > floor {
        v.outcome = Outcome::Leak;
        v.reason = "significant trend and the whole slope interval is above the floor".into();
    } else if slope.high <= floor {
        v.outcome = Outcome::NoLeak;
        v.reason = if significant && slope.slope > 0.0 {
            "grows, but the whole slope interval is at or below the floor".into()
        } else {
            "no growth beyond the floor".into()
        };
    } else {
        let half = (slope.high - slope.low) / 2.0;
        let needed = (slope.slope - floor).abs().max(half * 0.1);
        let factor = (half / needed).clamp(1.0, 100.0);
        v.more_samples_needed = Some(((m as f64) * (factor - 1.0)).ceil().max(1.0) as usize);
        v.reason = if significant {
            "significant trend, but the slope interval straddles the floor".into()
        } else {
            "no significant trend yet, and the slope interval reaches above the floor".into()
        };
    }
    v
}

/// Why a series that levels off after a late step is inconclusive ([`late_step`]).
const LATE_STEP: &str = "it rose in a step late in the run and has been flat for less than it took to get there: a one-time allocation, or a Map, Set or array that grows its table by doubling and would not have doubled again yet";

/// A series that levels off only after a step of at least this share of its rise is
/// told from a cache filling to its cap by how long it has been flat ([`late_step`]).
const STEP_SHARE: f64 = 0.3;

/// For a series that rose and levels off: when most of its rise came in one step
/// ([`STEP_SHARE`] or more of it) and the flat stretch after that step is shorter than the
/// stretch before it, how many more samples would make the flat stretch as long. `None`
/// otherwise.
///
/// A hash table (a `Map`, a `Set`, an object's dictionary) or an array that gains
/// entries holding no objects of their own (numbers) grows only when its capacity
/// doubles: flat, a step, flat twice as long, a step twice as large. A leak of that
/// kind whose last step came past the middle of the run looks like a cache that
/// filled: only a flat stretch longer than the rise before it tells them apart.
fn late_step(xs: &[f64], ys: &[f64], floor: f64) -> Option<usize> {
    let m = xs.len();
    let median = |v: &[f64]| -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let start = median(&ys[..(m / 6).max(3)]);
    let end = median(&ys[2 * m / 3..]);
    let rise = end - start;
    // Spread over the run, the rise must be half the floor or more: noise around a
    // small warm-up is no table that doubles.
    if rise <= 0.0 || rise < 0.5 * floor * (xs[m - 1] - xs[0]) {
        return None;
    }
    // The last sample below 60 % of the rise: after a doubling step's, the level before
    // it is about half the rise.
    let below = ys.iter().rposition(|&y| y < start + 0.6 * rise)?;
    let reached = below + 1;
    if reached < 3 || reached + 3 > m {
        return None;
    }
    let step = median(&ys[reached..reached + 3]) - median(&ys[reached - 3..reached]);
    // And stand out of the flat stretch's own noise (its median absolute deviation).
    let level = median(&ys[reached..]);
    let deviations: Vec<f64> = ys[reached..].iter().map(|y| (y - level).abs()).collect();
    let noise = median(&deviations);
    let (before, after) = (xs[reached] - xs[0], xs[m - 1] - xs[reached]);
    if step < STEP_SHARE * rise || step < 4.0 * noise || after >= before {
        return None;
    }
    let per_sample = (xs[m - 1] - xs[0]) / (m - 1) as f64;
    Some((((before - after) / per_sample.max(f64::MIN_POSITIVE)).ceil() as usize).max(1))
}

/// Prefix lengths [`samples_needed`] decides on, at most.
const PREFIX_CHECKS: usize = 64;

/// How many samples the verdict needed: the shortest prefix of the series from which
/// every longer prefix reaches `outcome`, the whole series' own (what [`decide`] gave for
/// it: a run cut there would have been decided the same). `None` for an inconclusive
/// series. Long series are checked on a grid of at most 64 prefix lengths, so the answer
/// may be up to 1/64 of the series late.
pub fn samples_needed(
    x: &[f64],
    y: &[f64],
    policy: &GrowthPolicy,
    outcome: Outcome,
) -> Option<usize> {
    let n = x.len().min(y.len());
    if outcome == Outcome::Inconclusive {
        return None;
    }
    let step = (n.saturating_sub(MIN_SAMPLES) / PREFIX_CHECKS).max(1);
    // From the whole series backwards: the first prefix that decides otherwise ends it.
    let mut needed = n;
    let mut k = n;
    while k > step && k - step >= MIN_SAMPLES {
        k -= step;
        if decide(&x[..k], &y[..k], policy).outcome != outcome {
            break;
        }
        needed = k;
    }
    Some(needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic noise source (xorshift), uniform in [-1, 1).
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    fn series(n: usize, f: impl Fn(f64) -> f64, noise: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut r = Noise(seed);
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let y = x.iter().map(|&t| f(t) + noise * r.next()).collect();
        (x, y)
    }

    fn policy(max_growth: f64) -> GrowthPolicy {
        GrowthPolicy {
            max_growth,
            alpha: 0.01,
            warmup: None,
        }
    }

    #[test]
    fn linear_growth_is_a_leak() {
        // 5 KB per sample over a 50 MB heap with ±200 KB of GC noise.
        let (x, y) = series(200, |t| 50e6 + 5_000.0 * t, 200_000.0, 1);
        let v = decide(&x, &y, &policy(1_000.0));
        assert_eq!(v.outcome, Outcome::Leak, "{v:?}");
        assert!((v.slope.slope - 5_000.0).abs() < 500.0, "{v:?}");
        assert!(v.slope.low <= 5_000.0 && 5_000.0 <= v.slope.high);
    }

    #[test]
    fn a_clear_leak_is_decided_long_before_the_end() {
        let (x, y) = series(200, |t| 50e6 + 5_000.0 * t, 200_000.0, 1);
        let p = policy(1_000.0);
        let needed = samples_needed(&x, &y, &p, decide(&x, &y, &p).outcome).expect("decided");
        assert!((MIN_SAMPLES..100).contains(&needed), "{needed}");
        for k in (needed..=200).step_by(7) {
            assert_eq!(decide(&x[..k], &y[..k], &p).outcome, Outcome::Leak, "{k}");
        }
        // Just before it, some prefix decided otherwise.
        let step = (200 - MIN_SAMPLES) / PREFIX_CHECKS;
        if needed > MIN_SAMPLES + step {
            let k = needed - step;
            assert_ne!(decide(&x[..k], &y[..k], &p).outcome, Outcome::Leak, "{k}");
        }
        // Nothing to say for a series that does not decide.
        let (x, y) = series(20, |t| 50e6 + 1_000.0 * t, 400_000.0, 2);
        assert_eq!(decide(&x, &y, &p).outcome, Outcome::Inconclusive);
        assert_eq!(samples_needed(&x, &y, &p, Outcome::Inconclusive), None);
    }

    #[test]
    fn noise_alone_is_no_leak() {
        for seed in 1..6 {
            let (x, y) = series(300, |_| 50e6, 300_000.0, seed);
            let v = decide(&x, &y, &policy(1_000.0));
            assert_eq!(v.outcome, Outcome::NoLeak, "seed {seed}: {v:?}");
        }
    }

    #[test]
    fn saturating_cache_is_no_leak() {
        // A cache filling towards its cap: 1 − e^(−t/40).
        let (x, y) = series(400, |t| 50e6 + 3e6 * (1.0 - (-t / 40.0).exp()), 20_000.0, 3);
        let v = decide(&x, &y, &policy(1_000.0));
        assert_eq!(v.outcome, Outcome::NoLeak, "{v:?}");
        assert!(v.warmup_detected || v.saturating, "{v:?}");
    }

    #[test]
    fn a_table_doubling_in_steps_is_not_called_a_cache_that_filled() {
        // A Set of numbers gaining 40 a step: its table doubles at 205, 410, 819 and
        // 1,638 steps (the last +1.2 MB), and would again at 3,276, past the end.
        let table = |t: f64| {
            let steps = [205.0, 410.0, 819.0, 1638.0];
            50e6 + steps
                .iter()
                .filter(|&&s| t >= s)
                .map(|s| 750.0 * s)
                .sum::<f64>()
        };
        let x: Vec<f64> = (0..120).map(|i| 25.0 * i as f64).collect();
        let mut r = Noise(11);
        let y: Vec<f64> = x.iter().map(|&t| table(t) + 60_000.0 * r.next()).collect();
        let v = decide(&x, &y, &policy(256.0));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{v:?}");
        assert!(v.reason.contains("doubling"), "{v:?}");
        // About the samples that make the flat stretch as long as the rise: ~10.
        assert!(
            v.more_samples_needed.is_some_and(|k| (5..=20).contains(&k)),
            "{v:?}"
        );
        // Run twice as long it steps again: a leak.
        let x: Vec<f64> = (0..240).map(|i| 25.0 * i as f64).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&t| {
                table(t) + if t >= 3276.0 { 750.0 * 3276.0 } else { 0.0 } + 60_000.0 * r.next()
            })
            .collect();
        assert_ne!(decide(&x, &y, &policy(256.0)).outcome, Outcome::NoLeak);
        // Found as the end of a warm-up instead (no earlier steps to see): the same.
        let late = |t: f64| 50e6 + if t >= 1638.0 { 1.2e6 } else { 0.0 };
        let x: Vec<f64> = (0..120).map(|i| 25.0 * i as f64).collect();
        let y: Vec<f64> = x.iter().map(|&t| late(t) + 60_000.0 * r.next()).collect();
        let v = decide(&x, &y, &policy(256.0));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{v:?}");
        // A small warm-up ending late in noise (60 KB, ±40 KB: 20 B an iteration spread
        // over the run) is no table that doubles.
        let small = |t: f64| 50e6 + if t >= 1600.0 { 60_000.0 } else { 0.0 };
        for seed in 20..30 {
            let mut r = Noise(seed);
            let y: Vec<f64> = x.iter().map(|&t| small(t) + 40_000.0 * r.next()).collect();
            let v = decide(&x, &y, &policy(256.0));
            assert!(!v.late_step, "seed {seed}: {v:?}");
        }
        // A cache that filled early in the run, in steps too, is still no leak.
        let early = |t: f64| {
            50e6 + [100.0, 200.0, 400.0]
                .iter()
                .filter(|&&s| t >= s)
                .map(|s| 750.0 * s)
                .sum::<f64>()
        };
        let y: Vec<f64> = (0..120)
            .map(|i| early(25.0 * i as f64) + 60_000.0 * r.next())
            .collect();
        let x: Vec<f64> = (0..120).map(|i| 25.0 * i as f64).collect();
        assert_eq!(decide(&x, &y, &policy(256.0)).outcome, Outcome::NoLeak);
    }

    #[test]
    fn warmup_then_flat_is_no_leak_and_the_warmup_is_found() {
        let (x, y) = series(300, |t| 50e6 + 20_000.0 * t.min(60.0), 10_000.0, 4);
        let v = decide(&x, &y, &policy(1_000.0));
        assert_eq!(v.outcome, Outcome::NoLeak, "{v:?}");
        assert!(v.warmup_detected);
        assert!((40..=80).contains(&v.warmup_samples), "{v:?}");
    }

    #[test]
    fn sawtooth_without_net_growth_is_no_leak() {
        // GC-like sawtooth: climbs 1 MB over 20 samples, then drops back.
        let (x, y) = series(400, |t| 50e6 + 50_000.0 * (t % 20.0), 5_000.0, 5);
        let v = decide(&x, &y, &policy(1_000.0));
        assert_eq!(v.outcome, Outcome::NoLeak, "{v:?}");
    }

    #[test]
    fn sawtooth_on_a_leak_is_a_leak() {
        let (x, y) = series(
            400,
            |t| 50e6 + 50_000.0 * (t % 20.0) + 4_000.0 * t,
            5_000.0,
            6,
        );
        let v = decide(&x, &y, &policy(1_000.0));
        assert_eq!(v.outcome, Outcome::Leak, "{v:?}");
    }

    #[test]
    fn one_step_is_not_a_trend() {
        // A one-time allocation halfway (a lazily built table): flat before and after.
        let (x, y) = series(
            300,
            |t| 50e6 + if t < 150.0 { 0.0 } else { 2e6 },
            50_000.0,
            7,
        );
        let v = decide(
            &x,
            &y,
            &GrowthPolicy {
                max_growth: 20_000.0,
                alpha: 0.01,
                warmup: Some(0),
            },
        );
        assert_ne!(v.outcome, Outcome::Leak, "{v:?}");
    }

    #[test]
    fn slow_growth_below_the_floor_is_no_leak_and_short_runs_are_inconclusive() {
        let (x, y) = series(300, |t| 50e6 + 100.0 * t, 1_000.0, 8);
        let v = decide(&x, &y, &policy(1_000.0));
        assert_eq!(v.outcome, Outcome::NoLeak, "significant but tiny: {v:?}");

        let (x, y) = series(12, |t| 50e6 + 1_500.0 * t, 200_000.0, 9);
        let v = decide(
            &x,
            &y,
            &GrowthPolicy {
                max_growth: 1_000.0,
                alpha: 0.01,
                warmup: Some(0),
            },
        );
        assert_eq!(v.outcome, Outcome::Inconclusive, "{v:?}");
        assert!(v.more_samples_needed.is_some_and(|m| m > 0));
    }

    #[test]
    fn autocorrelated_random_walk_is_not_called_a_leak() {
        // A random walk has long excursions that an uncorrected Mann–Kendall calls trends.
        let mut wrong = 0;
        for seed in 11..31 {
            let mut r = Noise(seed);
            let x: Vec<f64> = (0..300).map(|i| i as f64).collect();
            let mut level = 50e6;
            let y: Vec<f64> = x
                .iter()
                .map(|_| {
                    level += 2_000.0 * r.next();
                    level
                })
                .collect();
            let v = decide(&x, &y, &policy(1_000.0));
            if v.outcome == Outcome::Leak {
                wrong += 1;
            }
        }
        assert!(wrong <= 2, "{wrong} of 20 random walks called leaks");
    }
}
