//! When snapshots are taken: a schedule that ramps up from the first snapshot to
//! `snapshot_every`, and an early one when the recent samples grow significantly.

use std::time::Duration;

use leaktrail_stats::{decide, GrowthPolicy, Outcome};

use crate::WatchConfig;

/// Why a snapshot is taken; stored and reported as [`SnapshotReason::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SnapshotReason {
    /// The first of an incarnation, at its first sample.
    First,
    /// Due by the schedule ([`scheduled_gap`]).
    Schedule,
    /// Brought forward by significant growth ([`growing`]).
    Growth,
}

impl SnapshotReason {
    /// The word the store and the events keep.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SnapshotReason::First => "first",
            SnapshotReason::Schedule => "schedule",
            SnapshotReason::Growth => "growth",
        }
    }
}

/// The gap after the first scheduled snapshot: the start of [`scheduled_gap`]'s ramp.
pub const FIRST_SNAPSHOT_GAP: Duration = Duration::from_secs(30);

/// The time from the `done`th snapshot of an incarnation to the next scheduled one: 30 s
/// after the first, doubling after each (1 min, 2 min, 4 min, …) up to `snapshot_every`,
/// so that three censuses — what naming a culprit takes — come within the first two
/// minutes, and then the schedule settles. A snapshot pauses the service while V8 builds
/// it, so no gap is shorter than 10 times the last one took (a 30 s snapshot of a 600 MB
/// heap waits 5 min), unless `snapshot_every` itself is shorter.
pub fn scheduled_gap(config: &WatchConfig, done: u32, took: Duration) -> Duration {
    let ramp = FIRST_SNAPSHOT_GAP.saturating_mul(1 << done.saturating_sub(1).min(20));
    ramp.max(took.saturating_mul(10)).min(config.snapshot_every)
}

/// Whether the recent samples (`(seconds, bytes)`, at least 8) show significant growth
/// faster than [`WatchConfig::growth_trigger_per_hour`]: an early snapshot is worth taking.
pub(crate) fn growing(samples: &[(f64, f64)], config: &WatchConfig) -> bool {
    if samples.len() < 8 {
        return false;
    }
    let (x, y): (Vec<f64>, Vec<f64>) = samples.iter().copied().unzip();
    let v = decide(
        &x,
        &y,
        &GrowthPolicy {
            max_growth: config.growth_trigger_per_hour / 3600.0,
            alpha: 0.05,
            warmup: None,
        },
    );
    v.outcome == Outcome::Leak
}
