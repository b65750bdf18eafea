//! The sampling budget: which sample points to take, and when to read PSS.
//!
//! A sample costs the workload time: the forced full GC and the heap reads run on its main
//! thread, and `/proc/PID/smaps_rollup` walks its page tables under its mmap lock. (Reading
//! `/proc/PID/status` and listing the tree do neither: they run beside the workload, and
//! count only for the pace below.) The budget keeps that cost below a share of the run's
//! wall time *before* it is spent: the
//! next sample's cost is predicted as the median of the last few (a full GC costs about
//! what the previous one did, the heap grows slowly) and the point is skipped when taking
//! it would bring the share above the budget. Checking after the fact instead overshoots
//! by a whole sample each time, which on a short run is several percent. Samples are also
//! paced, at most one per half the predicted cost ÷ budget seconds: at the budget's rate
//! they come every cost ÷ budget seconds, and budget left unspent during a pause (a heap
//! snapshot) is caught up at twice that rate instead of in one burst of samples. And
//! leaktrail's own work for a sample (its wall time, `/proc` included) takes at most
//! [`BUSY_SHARE`] of the time, so that it keeps up with the workload's output: a sample
//! filed under an iteration line must be read soon after that line.
//!
//! A sample can cost the workload more after its pause than during it (V8 recompiling
//! code the forced GC deoptimized): that after-effect, estimated from the workload's pace
//! (see `aftermath`), counts in the time spent and in each sample's predicted cost.
//!
//! PSS is read on a budget of its own ([`PSS_SHARE`] of the run; [`PSS_SHARE_NODE`] for
//! Node, where the verdict is on the heap and PSS is only reported), only at samples taken,
//! and always at the first and the last: about 45 ms on a 1.5 GB process, well under a
//! millisecond on a small one, so small processes get it often and large ones rarely.
//! Its time counts in the time spent sampling, so the overall budget takes fewer samples
//! when PSS is costly.

use std::collections::VecDeque;

/// Share of the run's wall time PSS reads may take.
pub const PSS_SHARE: f64 = 0.01;

/// The same for Node targets: PSS is only reported there, and the overall budget is
/// better spent on heap samples.
pub const PSS_SHARE_NODE: f64 = 0.0025;

/// When to read PSS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PssMode {
    /// On its own budget ([`PSS_SHARE`]), and at the first and the last sample.
    #[default]
    Auto,
    /// At every sample taken.
    Always,
    /// Never.
    Never,
}

/// Costs remembered for the prediction.
const RECENT: usize = 7;

/// The shortest gap between samples, as a fraction of cost ÷ budget (see the module doc).
const PACE: f64 = 0.5;

/// At most this share of the time goes to leaktrail's own work for samples.
pub const BUSY_SHARE: f64 = 0.2;

/// Remembers what samples cost and decides whether the next one fits.
#[derive(Debug, Default)]
pub struct Budget {
    /// The share of wall time sampling may take (0.05 = 5 %); `None` takes every point.
    share: Option<f64>,
    /// Seconds the workload was paused for the last samples (PSS left out).
    recent: VecDeque<f64>,
    /// Wall seconds leaktrail spent on the last samples (PSS left out).
    recent_busy: VecDeque<f64>,
    /// When the last sample was taken (seconds into the run).
    last_at: Option<f64>,
    /// Seconds of the last PSS reads.
    recent_pss: VecDeque<f64>,
    /// Seconds spent reading PSS so far.
    pss_spent: f64,
    /// When to read PSS.
    pss: PssMode,
    /// The share of the run PSS reads may take in [`PssMode::Auto`].
    pss_share: f64,
    /// Seconds not held against the budget: the first sample's.
    exempt: f64,
    /// Points skipped to stay within the budget.
    pub skipped: u64,
}

fn remember(list: &mut VecDeque<f64>, cost: f64) {
    if list.len() == RECENT {
        list.pop_front();
    }
    list.push_back(cost);
}

/// The median of `list` (the upper one of an even count; 0 when empty).
pub(super) fn median(list: &VecDeque<f64>) -> f64 {
    let mut v: Vec<f64> = list.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

impl Budget {
    /// A budget of `share` of the wall time (`None`: no limit), PSS read as `pss` says
    /// (in [`PssMode::Auto`], on `pss_share` of the run).
    pub fn new(share: Option<f64>, pss: PssMode, pss_share: f64) -> Budget {
        Budget {
            share: share.filter(|s| *s > 0.0),
            pss,
            pss_share,
            ..Budget::default()
        }
    }

    /// The predicted cost of the next sample (PSS left out), seconds.
    pub fn predicted(&self) -> f64 {
        median(&self.recent)
    }

    /// Whether a sample fits, given `spent` seconds of sampling so far (after-effects
    /// included), `elapsed` seconds of run and `after`, a sample's after-effect beyond its
    /// pause: the share after taking it must stay within the budget, and the last sample
    /// must be at least half its cost ÷ budget ago.
    pub fn allows(&self, spent: f64, elapsed: f64, after: f64) -> bool {
        let Some(share) = self.share else {
            return true;
        };
        let next = self.predicted() + after;
        let gap = (PACE * next / share).max(median(&self.recent_busy) / BUSY_SHARE);
        let paced = self.last_at.is_none_or(|last| elapsed - last >= gap);
        paced && spent - self.exempt + next <= share * (elapsed + next)
    }

    /// Leaves `cost` out of the budget: the first sample's. It is always taken (it is the
    /// baseline), often costs several times more than the next ones (the workload is
    /// still starting), and counted, it would stop sampling for seconds on a short run.
    /// (It still paces the next one: that sample, also early, tends to cost as much.)
    pub fn exempt(&mut self, cost: f64) {
        self.exempt += cost;
    }

    /// Counts a point skipped for the budget.
    pub fn skip(&mut self) {
        self.skipped += 1;
    }

    /// Records a sample taken at `at` seconds into the run, PSS left out: `paused`, the
    /// seconds it cost the workload, and `busy`, the wall seconds leaktrail spent on it.
    pub fn record(&mut self, at: f64, paused: f64, busy: f64) {
        remember(&mut self.recent, paused);
        remember(&mut self.recent_busy, busy);
        self.last_at = Some(at);
    }

    /// Whether to read PSS at this sample (in [`PssMode::Auto`]: always at the first and
    /// the last, `edge`; otherwise when it fits its own share of the `elapsed` seconds and
    /// the overall budget, `spent` seconds having been spent).
    pub fn allows_pss(&self, edge: bool, spent: f64, elapsed: f64) -> bool {
        match self.pss {
            PssMode::Always => return true,
            PssMode::Never => return false,
            PssMode::Auto if edge => return true,
            PssMode::Auto => {}
        }
        let next = median(&self.recent_pss);
        let own = self.pss_spent + next <= self.pss_share * (elapsed + next);
        let overall = self
            .share
            .is_none_or(|share| spent + next <= share * (elapsed + next));
        own && overall
    }

    /// Seconds spent reading PSS so far.
    pub fn pss_spent(&self) -> f64 {
        self.pss_spent
    }

    /// Records what a PSS read cost.
    pub fn record_pss(&mut self, cost: f64) {
        self.pss_spent += cost;
        remember(&mut self.recent_pss, cost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_a_point_that_would_go_over() {
        let mut b = Budget::new(Some(0.05), PssMode::Auto, PSS_SHARE);
        for _ in 0..5 {
            b.record(0.5, 0.010, 0.012);
        }
        // 40 ms spent over 1 s: one more 10 ms sample makes 50/1010 < 5 %.
        assert!(b.allows(0.040, 1.0, 0.0));
        // 45 ms spent: 55/1010 > 5 %.
        assert!(!b.allows(0.045, 1.0, 0.0));
        // Paced: 10 ms at 5 % is one sample per 200 ms, caught up at most at twice that
        // rate however much budget is left.
        assert!(!b.allows(0.0, 0.58, 0.0));
        assert!(b.allows(0.0, 0.61, 0.0));
        // No budget: always.
        assert!(Budget::new(None, PssMode::Auto, PSS_SHARE).allows(10.0, 1.0, 0.0));
        assert!(Budget::new(Some(0.0), PssMode::Auto, PSS_SHARE).allows(10.0, 1.0, 0.0));
    }

    #[test]
    fn an_after_effect_makes_samples_dearer() {
        let mut b = Budget::new(Some(0.05), PssMode::Auto, PSS_SHARE);
        for _ in 0..5 {
            b.record(0.5, 0.010, 0.012);
        }
        // 10 ms paused: fits at 1 s with 40 ms spent; 30 ms more after each does not,
        // and the pace stretches from 100 ms to 400 ms.
        assert!(b.allows(0.040, 1.0, 0.0));
        assert!(!b.allows(0.040, 1.0, 0.030));
        assert!(b.allows(0.0, 0.61, 0.0));
        assert!(!b.allows(0.0, 0.89, 0.030));
        assert!(b.allows(0.0, 0.91, 0.030));
    }

    #[test]
    fn the_first_sample_is_not_held_against_the_budget() {
        let mut b = Budget::new(Some(0.05), PssMode::Auto, PSS_SHARE);
        b.record(0.4, 0.150, 0.150);
        b.record(0.8, 0.010, 0.012);
        b.record(1.2, 0.010, 0.012);
        // 170 ms spent by 1.5 s: over 5 % counted whole, within it without the first.
        assert!(!b.allows(0.170, 1.5, 0.0));
        b.exempt(0.150);
        assert!(b.allows(0.170, 1.5, 0.0));
    }

    #[test]
    fn leaktrail_keeps_up_with_the_workload() {
        // Nothing paused (not Node), 5 ms of /proc work per sample: at most one per 25 ms.
        let mut b = Budget::new(Some(0.05), PssMode::Auto, PSS_SHARE);
        b.record(1.0, 0.0, 0.005);
        assert!(!b.allows(0.0, 1.02, 0.0));
        assert!(b.allows(0.0, 1.026, 0.0));
    }

    #[test]
    fn predicts_from_the_median_not_an_outlier() {
        let mut b = Budget::new(Some(0.05), PssMode::Auto, PSS_SHARE);
        for c in [0.010, 0.011, 0.500, 0.009, 0.010] {
            b.record(0.0, c, c);
        }
        assert!((b.predicted() - 0.010).abs() < 1e-9);
    }

    #[test]
    fn pss_on_its_own_share() {
        let mut b = Budget::new(Some(0.05), PssMode::Auto, PSS_SHARE);
        b.record_pss(0.045);
        // 45 ms of PSS in 2 s: another would make 90/2045 > 1 %.
        assert!(!b.allows_pss(false, 0.0, 2.0));
        assert!(b.allows_pss(true, 0.0, 2.0), "first and last always");
        // In 10 s it fits, unless the overall budget is spent.
        assert!(b.allows_pss(false, 0.0, 10.0));
        assert!(!b.allows_pss(false, 0.5, 10.0));
        // Or as asked.
        let mut always = Budget::new(Some(0.05), PssMode::Always, PSS_SHARE);
        always.record_pss(10.0);
        assert!(always.allows_pss(false, 0.5, 1.0));
        assert!(!Budget::new(None, PssMode::Never, PSS_SHARE).allows_pss(true, 0.0, 1.0));
    }
}
