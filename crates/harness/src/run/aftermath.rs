//! What a sample costs the workload after its pause.
//!
//! A forced full GC can cost more than the pause it is timed by: V8 deoptimizes optimized
//! code that holds objects the GC found dead (`--trace-deopt` says "weak objects") and
//! compiles it again, and the workload runs slower until it has. On churn-noise (a
//! megabyte of short-lived objects a step), a full GC every 75 steps brought 80
//! deoptimizations and 282 optimizations against 1 and 30 without, and the run took about
//! a third longer while the pauses came to under 5 %.
//!
//! The estimate uses the workload's own pace: the time between consecutive iteration
//! lines, stamped as they are read. An interval in which a sample was taken, less the
//! sample's pause, is compared with the median of the recent intervals without one; the
//! excess, summed over the run, is the after-effect. Single excesses are noisy either way
//! (a natural GC, a slow step), so they are summed as they come, negatives included, and
//! only the sum is clamped at zero. Sampling by time (no iteration lines) has no pace to
//! compare: nothing is estimated there.

use std::collections::VecDeque;
use std::time::Instant;

use super::budget::median;

/// Intervals without a sample remembered for the baseline.
const BASELINE: usize = 15;

/// Fewer intervals without a sample than this make no baseline yet.
const MIN_BASELINE: usize = 4;

/// Intervals left out after a heap snapshot: the one it was taken in, and those in which
/// V8 rebuilds what it dropped for it (its cost is the snapshot's, reported apart).
const AFTER_SNAPSHOT: u32 = 3;

/// The after-effect of samples, estimated from the workload's pace.
#[derive(Debug, Default)]
pub struct Aftermath {
    /// When the last iteration line was read.
    last_line: Option<Instant>,
    /// Samples taken since that line: when each ended, and its pause (seconds).
    in_interval: Vec<(Instant, f64)>,
    /// Recent intervals without a sample (seconds).
    clean: VecDeque<f64>,
    /// The excesses summed so far (seconds; may be negative).
    sum: f64,
    /// Samples whose excess was measured.
    measured: u64,
    /// Intervals still to leave out (a heap snapshot was taken).
    left_out: u32,
}

impl Aftermath {
    /// An iteration line read at `at`: closes the interval since the previous one.
    pub fn line(&mut self, at: Instant) {
        if let Some(last) = self.last_line {
            let interval = at.saturating_duration_since(last).as_secs_f64();
            // Samples that ended after this line belong to the next interval.
            let (inside, later): (Vec<_>, Vec<_>) =
                self.in_interval.iter().partition(|(end, _)| *end <= at);
            self.in_interval = later;
            if self.left_out > 0 {
                self.left_out -= 1;
            } else if inside.is_empty() {
                if self.clean.len() == BASELINE {
                    self.clean.pop_front();
                }
                self.clean.push_back(interval);
            } else if self.clean.len() >= MIN_BASELINE {
                let paused: f64 = inside.iter().map(|(_, p)| p).sum();
                self.sum += interval - paused - median(&self.clean);
                self.measured += inside.len() as u64;
            }
        }
        self.last_line = Some(at);
    }

    /// A sample that ended at `at` and paused the workload for `paused` seconds.
    pub fn sampled(&mut self, at: Instant, paused: f64) {
        if self.last_line.is_some() {
            self.in_interval.push((at, paused));
        }
    }

    /// A heap snapshot was just taken: the interval it falls in and the next few say
    /// nothing about samples.
    pub fn disturbed(&mut self) {
        self.left_out = AFTER_SNAPSHOT;
    }

    /// The after-effect so far, seconds (never negative).
    pub fn seconds(&self) -> f64 {
        self.sum.max(0.0)
    }

    /// The after-effect of one sample on average, seconds, once some were measured.
    pub fn per_sample(&self) -> Option<f64> {
        (self.measured > 0).then(|| self.seconds() / self.measured as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Lines every `step` ms; a sample of `pause` ms in every `every`-th interval, which
    /// then lasts `pause + extra` ms longer.
    fn run(lines: usize, every: usize, pause: u64, extra: u64) -> Aftermath {
        let mut a = Aftermath::default();
        let t0 = Instant::now();
        let mut t = t0;
        for i in 0..lines {
            a.line(t);
            let mut next = t + Duration::from_millis(30);
            if i % every == every - 1 {
                a.sampled(t + Duration::from_millis(1 + pause), pause as f64 / 1000.0);
                next += Duration::from_millis(pause + extra);
            }
            t = next;
        }
        a
    }

    #[test]
    fn the_excess_beyond_the_pause_is_the_after_effect() {
        // 20 samples, each followed by 25 ms more than its 5 ms pause.
        let a = run(100, 5, 5, 25);
        assert!(
            (a.seconds() - 0.025 * a.measured as f64).abs() < 1e-3,
            "{a:?}"
        );
        assert!(a.measured >= 18, "{a:?}");
        let per = a.per_sample().expect("measured");
        assert!((per - 0.025).abs() < 1e-3, "{per}");
    }

    #[test]
    fn a_pause_with_nothing_after_it_costs_nothing_more() {
        let a = run(100, 4, 5, 0);
        assert!(a.seconds() < 1e-3, "{a:?}");
    }

    #[test]
    fn a_heap_snapshot_is_not_an_after_effect() {
        let mut a = run(40, 4, 5, 0);
        let before = (a.sum, a.measured);
        // A sample and a 400 ms snapshot in one interval, then two slow ones.
        let mut t = a.last_line.expect("lines") + Duration::from_millis(30);
        a.sampled(t - Duration::from_millis(25), 0.005);
        a.disturbed();
        for slow in [435, 60, 50, 30] {
            a.line(t);
            t += Duration::from_millis(slow);
        }
        a.line(t);
        assert_eq!((a.sum, a.measured), before);
    }

    #[test]
    fn no_baseline_no_estimate() {
        // A sample in every interval: nothing to compare with.
        let a = run(50, 1, 5, 25);
        assert_eq!(a.measured, 0);
        assert_eq!(a.per_sample(), None);
    }
}
