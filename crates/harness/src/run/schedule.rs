//! When the culprit's heap snapshots are taken.
//!
//! `leaks` needs three snapshots spread over the steady part of a run: BASE, TARGET and
//! FINAL, far enough apart that a leak adds objects in both intervals. When leaktrail
//! bounds the run (`--iterations`, `--duration`) it knows the end and places them at
//! fractions of it. When the workload ends by itself — a test that stops when it is done,
//! the usual case in CI — the end is unknown, so the snapshots follow the run
//! **geometrically**: one once [`DOUBLING_AFTER_SAMPLES`] samples are taken (the series
//! has its start, and the workload its warm-up), then one each time the progress
//! (iterations, or seconds when sampling by time) has doubled, keeping only the last
//! [`DOUBLING_KEEP`] files. A snapshot pauses the workload, so a fast loop gets its
//! snapshots at the iterations they are due, however short the run. Whenever the run ends, the kept ones lie in the last
//! three quarters of it, the newest in its second half — and the snapshot Node allows at
//! its exit (see `end`) makes FINAL the very end. A snapshot costs one pause per doubling:
//! about log₂ of the run's length in all.

/// Snapshots a doubling schedule keeps (the oldest file is removed beyond this).
pub const DOUBLING_KEEP: usize = 3;

/// Samples taken before a doubling schedule's first snapshot: each snapshot costs the
/// sample points after it (see `SETTLE_POINTS`), and early ones would starve a short
/// run's series. Not more: a fast loop outruns its samples (each takes a turn of its
/// event loop), and with 8 a run of 3,000 iterations at 14,000 a second had its first
/// snapshot at iteration 2,200, too late for a second one before it ended.
pub const DOUBLING_AFTER_SAMPLES: usize = 5;

/// When to take heap snapshots during a run.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum SnapshotPlan {
    /// No snapshots.
    #[default]
    None,
    /// At these fractions of the known bound, in (0, 1], ascending.
    AtFractions(Vec<f64>),
    /// The end is unknown: after [`DOUBLING_AFTER_SAMPLES`] samples, then each time the
    /// progress doubles; the last [`DOUBLING_KEEP`] are kept.
    Doubling,
}

impl SnapshotPlan {
    /// `k` snapshots over a run of known bound (none for 0): spread over its steady part,
    /// the last just before the end, since a workload that stops by itself at the bound
    /// may already be exiting at the last iteration.
    pub fn spread(k: usize) -> SnapshotPlan {
        match k {
            0 => SnapshotPlan::None,
            1 => SnapshotPlan::AtFractions(vec![1.0]),
            k => SnapshotPlan::AtFractions(
                (0..k)
                    .map(|i| 0.4 + 0.55 * i as f64 / (k - 1) as f64)
                    .collect(),
            ),
        }
    }
}

/// Where a schedule is in a run.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    /// Fraction plans: the index of the next fraction.
    next_fraction: usize,
    /// Doubling plans: the progress at which the next snapshot is due.
    next_progress: Option<f64>,
}

/// How far a run is when a sample is taken.
#[derive(Clone, Copy, Debug)]
pub(super) struct Progress {
    /// Share of the known bound, 0 to 1, when there is one.
    pub fraction: Option<f64>,
    /// The iteration count, or seconds when sampling by time.
    pub amount: f64,
    /// Samples taken so far.
    pub samples: usize,
}

impl Schedule {
    /// True when a snapshot is due at `p`; the schedule then moves on.
    pub fn due(&mut self, plan: &SnapshotPlan, p: Progress) -> bool {
        if !self.is_due(plan, p) {
            return false;
        }
        match plan {
            SnapshotPlan::None => {}
            SnapshotPlan::AtFractions(_) => self.next_fraction += 1,
            SnapshotPlan::Doubling => self.next_progress = Some(p.amount * 2.0),
        }
        true
    }

    /// True when a snapshot would be due at `p`, without moving on: a point the sampling
    /// budget would skip is still taken when a snapshot is due there, or a fast loop's
    /// snapshots drift to wherever the next point the budget allows falls (a run bounded
    /// at 3,000 iterations had them at 2,053, 2,228 and 3,500, a window of 175 iterations
    /// for the culprit instead of about 800).
    pub fn is_due(&self, plan: &SnapshotPlan, p: Progress) -> bool {
        match plan {
            SnapshotPlan::None => false,
            SnapshotPlan::AtFractions(at) => match (p.fraction, at.get(self.next_fraction)) {
                (Some(f), Some(&next)) => f + 1e-9 >= next,
                _ => false,
            },
            SnapshotPlan::Doubling => match self.next_progress {
                None => p.amount > 0.0 && p.samples >= DOUBLING_AFTER_SAMPLES,
                Some(next) => p.amount >= next,
            },
        }
    }

    /// How many snapshot files the plan keeps (older ones are removed).
    pub fn keep(plan: &SnapshotPlan) -> usize {
        match plan {
            SnapshotPlan::Doubling => DOUBLING_KEEP,
            _ => usize::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(amount: f64) -> Progress {
        Progress {
            fraction: None,
            amount,
            samples: DOUBLING_AFTER_SAMPLES,
        }
    }

    #[test]
    fn doubling_starts_after_some_samples_and_doubles() {
        let plan = SnapshotPlan::Doubling;
        let mut s = Schedule::default();
        let early = Progress {
            samples: DOUBLING_AFTER_SAMPLES - 1,
            ..at(100.0)
        };
        assert!(!s.due(&plan, early));
        assert!(!s.due(&plan, at(0.0)));
        assert!(s.is_due(&plan, at(150.0)) && s.is_due(&plan, at(150.0)));
        assert!(s.due(&plan, at(150.0)));
        assert!(!s.is_due(&plan, at(299.0)));
        assert!(!s.due(&plan, at(299.0)));
        assert!(s.due(&plan, at(300.0)));
        assert!(!s.due(&plan, at(599.0)));
        assert!(s.due(&plan, at(700.0)));
        assert!(s.due(&plan, at(1400.0)));
    }

    #[test]
    fn fractions_are_taken_in_order_once() {
        let plan = SnapshotPlan::AtFractions(vec![0.4, 0.7, 0.95]);
        let mut s = Schedule::default();
        let f = |x: f64| Progress {
            fraction: Some(x),
            amount: x * 100.0,
            samples: 0,
        };
        assert!(!s.due(&plan, f(0.3)));
        assert!(s.due(&plan, f(0.45)));
        assert!(!s.due(&plan, f(0.5)));
        assert!(s.due(&plan, f(0.99)));
        assert!(s.due(&plan, f(0.99)));
        assert!(!s.due(&plan, f(1.0)));
    }
}
