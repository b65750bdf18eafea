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

/// Intervals left out after those a heap snapshot overlaps: V8 rebuilds in them what it
/// dropped for the snapshot (its cost is the snapshot's, reported apart).
const AFTER_SNAPSHOT: u32 = 2;

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
    /// Intervals still to leave out after the last snapshot.
    left_out: u32,
    /// When the heap snapshots not yet behind the last line began and ended. Lines are
    /// read in order after a snapshot, those of before it first: the interval that spans
    /// it is found by time, not as the next one read (a fast loop's backlog of lines came
    /// first, and the snapshot's seconds were counted as the after-effect of a sample:
    /// 18 s of a 28.6 s run, and the budget then skipped the points a verdict needed).
    snapshots: Vec<(Instant, Instant)>,
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
            let overlaps = self
                .snapshots
                .iter()
                .any(|&(began, ended)| began < at && ended > last);
            // What ended before this line concerns no later interval.
            self.snapshots.retain(|&(_, ended)| ended > at);
            if overlaps {
                self.left_out = AFTER_SNAPSHOT;
            } else if self.left_out > 0 {
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

    /// A heap snapshot was taken from `began` to `ended`: the intervals it overlaps and
    /// the next few say nothing about samples.
    pub fn disturbed(&mut self, began: Instant, ended: Instant) {
        self.snapshots.push((began, ended));
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
        a.disturbed(
            t - Duration::from_millis(20),
            t + Duration::from_millis(410),
        );
        for slow in [435, 60, 50, 30] {
            a.line(t);
            t += Duration::from_millis(slow);
        }
        a.line(t);
        assert_eq!((a.sum, a.measured), before);
    }

    #[test]
    fn lines_read_after_a_snapshot_but_printed_before_it_do_not_hide_it() {
        let mut a = run(40, 4, 5, 0);
        // The last interval's sample, then four clean intervals.
        let last = a.last_line.expect("lines");
        let ms = |m: u64| last + Duration::from_millis(m);
        for m in [30, 60, 90, 120] {
            a.line(ms(m));
        }
        let before = (a.sum, a.measured);
        // A sample, then four lines printed before the snapshot that followed it (a fast
        // loop) but read only once the snapshot was over, and the lines after it; the
        // snapshot's two seconds are no after-effect, and no baseline either.
        a.sampled(ms(121), 0.001);
        a.disturbed(ms(125), ms(2_125));
        for m in [150, 151, 152, 153, 2_150, 2_180, 2_210, 2_240] {
            a.line(ms(m));
        }
        assert!((a.sum - before.0).abs() < 2e-3, "{a:?}");
        assert!(a.clean.iter().all(|&i| i < 0.1), "{a:?}");
    }

    #[test]
    fn no_baseline_no_estimate() {
        // A sample in every interval: nothing to compare with.
        let a = run(50, 1, 5, 25);
        assert_eq!(a.measured, 0);
        assert_eq!(a.per_sample(), None);
    }
}
