//! Where a process's growth is counted from: its RSS once start-up is over.
//!
//! A Node process's RSS rises steeply while it starts: the runtime's own bootstrap (about
//! 20–40 MB in some 100 ms), then the modules it loads before doing anything (a test
//! runner, Jest's runtime, npm for `npx`: tens of MB over a second or two). None of that
//! is growth, and counting it from the first sample fails every process of a clean suite
//! on any useful `--fail-on-growth` limit. The baseline is therefore taken after
//! start-up:
//!
//! - **settled**: a process that lives at least the settle time (`--settle`, default
//!   [`DEFAULT_SETTLE_SECONDS`], counted from its start as `/proc` gives it, not from
//!   when trace first saw it) is measured from its first sample at or after that age.
//!   Time, not the shape of the curve, because start-up often comes in steps with flat
//!   stretches between them (a Jest worker: bootstrap, wait for the first file, load the
//!   test environment), and a shape rule would stop at the first flat stretch. A leak in
//!   a long-lived process keeps growing after the settle time, so it is still seen.
//! - **levelled**: a process that ends before the settle time (a `node --test` file
//!   process, often well under a second) has no such sample. It is measured from the
//!   first sample after which its RSS stopped rising: the next sample is at most
//!   [`LEVEL_BYTES`] or [`LEVEL_FRACTION`] of its RSS higher. Its start-up rise is the
//!   rise before that first level stretch, so it does not count, and growth after it does.
//!   On a busy machine a start-up also stops rising while it waits for a CPU, and that
//!   stall is not its end: a step counts as level only when the process was asleep at
//!   its end or ran at least [`LEVEL_CPU_SECONDS`] during it without growing. (A shared
//!   CI runner failed a clean `node --test` file this way: baseline mid-bootstrap, the
//!   rest of the bootstrap, +22 MiB, counted as growth.)
//! - **none**: a short process whose RSS rose at every sample until it ended never
//!   finished starting up as far as RSS can tell (two samples, mid-bootstrap and after it,
//!   look exactly like this): start-up and growth cannot be told apart, so it has no
//!   growth figure rather than a wrong one. Its peak is still reported.
//!
//! Growth is then the highest RSS from the baseline sample on minus the baseline (a peak
//! during start-up is not growth), and net growth the last sample minus the baseline.
//!
//! The same rule measures a worker thread's own heap for `--fail-on-growth` ([`Sample`]
//! is either series): a thread's start-up — the runner's worker code, then the modules its
//! first test file imports — is no more growth than a process's, and counting from its
//! first file's start failed clean threads that import a lot.

use serde::Serialize;

use crate::model::{ProcessRecord, RssPoint};
use crate::threads::{HeapPoint, ThreadRecord};

/// One point of a memory series a [`Baseline`] is found in: a process's RSS sample or a
/// worker thread's own heap.
pub trait Sample {
    /// Seconds from the command's start.
    fn t(&self) -> f64;
    /// Bytes.
    fn bytes(&self) -> u64;
    /// Whether the series could have risen from `earlier` to this point and did not for
    /// want of something to do, rather than for want of a CPU: true unless the process is
    /// known to have been busy at this point with less than [`LEVEL_CPU_SECONDS`] of CPU
    /// since `earlier`.
    fn ran_since(&self, earlier: &Self) -> bool {
        let _ = earlier;
        true
    }
}

impl Sample for RssPoint {
    fn t(&self) -> f64 {
        self.t
    }
    fn bytes(&self) -> u64 {
        self.rss
    }
    fn ran_since(&self, earlier: &Self) -> bool {
        match (earlier.cpu, self.cpu) {
            (Some(a), Some(b)) => !b.busy || b.seconds - a.seconds >= LEVEL_CPU_SECONDS,
            _ => true,
        }
    }
}

impl Sample for HeapPoint {
    fn t(&self) -> f64 {
        self.t
    }
    fn bytes(&self) -> u64 {
        self.heap
    }
}

/// The default settle time, seconds: longer than Node's bootstrap on a loaded machine and
/// than the module loading of the usual test workers.
pub const DEFAULT_SETTLE_SECONDS: f64 = 2.0;

/// A step of at most this many bytes between two samples counts as level: RSS moves by
/// a few hundred KB while an idle Node process collects garbage.
pub const LEVEL_BYTES: u64 = 1 << 20;

/// …or at most this fraction of the RSS, for large processes whose heap breathes more.
pub const LEVEL_FRACTION: f64 = 0.02;

/// A busy process's step is level only with this much CPU in it: Node's bootstrap grows
/// RSS by megabytes in that much work, so a step this long without growth is not a stall.
pub const LEVEL_CPU_SECONDS: f64 = 0.05;

/// How the baseline was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineRule {
    /// The first sample once the process had lived the settle time.
    Settled,
    /// A process shorter than the settle time: the first sample its RSS levelled off at.
    Levelled,
}

/// The RSS growth is counted from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Baseline {
    /// Which sample (index into the process's samples).
    #[serde(skip)]
    pub index: usize,
    /// When, seconds from the command's start.
    pub t: f64,
    /// Its RSS (for a worker thread, its own heap), bytes.
    pub rss: u64,
    /// How it was chosen.
    pub rule: BaselineRule,
}

impl Baseline {
    /// Finds the baseline of a process that started at `start` (seconds from the
    /// command's start) from its samples; `None` with fewer than two samples or when its
    /// start-up never levelled off (see the module documentation).
    pub fn find<S: Sample>(samples: &[S], start: f64, settle: f64) -> Option<Baseline> {
        if samples.len() < 2 {
            return None;
        }
        let at = |index: usize, rule: BaselineRule| Baseline {
            index,
            t: samples[index].t(),
            rss: samples[index].bytes(),
            rule,
        };
        // A small tolerance: /proc gives the start to 10 ms.
        if let Some(i) = samples.iter().position(|s| s.t() - start >= settle - 0.01) {
            return Some(at(i, BaselineRule::Settled));
        }
        samples
            .windows(2)
            .position(|w| {
                let level = LEVEL_BYTES.max((w[0].bytes() as f64 * LEVEL_FRACTION) as u64);
                w[1].bytes() <= w[0].bytes().saturating_add(level) && w[1].ran_since(&w[0])
            })
            .map(|i| at(i, BaselineRule::Levelled))
    }

    /// The highest sample from the baseline on minus the baseline.
    pub fn growth<S: Sample>(&self, samples: &[S]) -> i64 {
        let peak = samples
            .get(self.index..)
            .unwrap_or_default()
            .iter()
            .map(Sample::bytes)
            .max()
            .unwrap_or(self.rss);
        peak as i64 - self.rss as i64
    }

    /// The last sample minus the baseline.
    pub fn net_growth<S: Sample>(&self, samples: &[S]) -> i64 {
        samples
            .last()
            .map_or(0, |s| s.bytes() as i64 - self.rss as i64)
    }
}

impl ProcessRecord {
    /// The RSS its growth is counted from, once start-up is over (see [`Baseline`]);
    /// `settle` is the settle time in seconds.
    pub fn baseline(&self, settle: f64) -> Option<Baseline> {
        Baseline::find(&self.samples, self.start, settle)
    }

    /// How far its RSS rose after start-up: the peak from the baseline on minus the
    /// baseline; `None` without a baseline. The peak, not the last sample: a process that
    /// exits frees its heap while it tears down, and the last sample may fall there.
    pub fn growth(&self, settle: f64) -> Option<i64> {
        self.baseline(settle).map(|b| b.growth(&self.samples))
    }

    /// Last sample minus the baseline; `None` without a baseline.
    pub fn net_growth(&self, settle: f64) -> Option<i64> {
        self.baseline(settle).map(|b| b.net_growth(&self.samples))
    }
}

impl ThreadRecord {
    /// Where the growth of its own heap is counted from, by the rule processes' RSS is
    /// (see [`Baseline`]): its start is its first heap point (its preload's first sample,
    /// as the thread starts).
    pub fn heap_baseline(&self, settle: f64) -> Option<Baseline> {
        Baseline::find(&self.heap_samples, self.start, settle)
    }

    /// How far its own heap rose after start-up, as [`ProcessRecord::growth`] for RSS:
    /// what `--fail-on-growth` checks; `None` without a baseline.
    pub fn heap_growth_after_startup(&self, settle: f64) -> Option<i64> {
        self.heap_baseline(settle)
            .map(|b| b.growth(&self.heap_samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CpuState;

    const MB: u64 = 1 << 20;

    fn series(start_t: f64, step: f64, mb: &[u64]) -> Vec<RssPoint> {
        mb.iter()
            .enumerate()
            .map(|(i, m)| RssPoint {
                t: start_t + i as f64 * step,
                rss: m * MB,
                cpu: None,
            })
            .collect()
    }

    #[test]
    fn a_long_process_is_measured_from_its_settle_time() {
        // Bootstrap, a flat stretch, more start-up, then flat: only what follows 2 s counts.
        let s = series(0.1, 0.5, &[20, 43, 43, 90, 92, 92, 93, 92]);
        let b = Baseline::find(&s, 0.0, 2.0).expect("baseline");
        assert_eq!(b.rule, BaselineRule::Settled);
        assert_eq!(b.rss, 92 * MB);
        assert_eq!(b.growth(&s), MB as i64);
        assert_eq!(b.net_growth(&s), 0);
    }

    #[test]
    fn a_short_process_is_measured_from_where_it_levelled() {
        let s = series(0.05, 0.1, &[20, 43, 43, 55, 65, 75, 70]);
        let b = Baseline::find(&s, 0.0, 2.0).expect("baseline");
        assert_eq!(b.rule, BaselineRule::Levelled);
        assert_eq!(b.rss, 43 * MB);
        assert_eq!(b.growth(&s), 32 * MB as i64);
        assert_eq!(b.net_growth(&s), 27 * MB as i64);
    }

    /// `series` with the CPU state `/proc` gave at each point: (CPU seconds, busy).
    fn with_cpu(mut s: Vec<RssPoint>, cpu: &[(f64, bool)]) -> Vec<RssPoint> {
        for (p, &(seconds, busy)) in s.iter_mut().zip(cpu) {
            p.cpu = Some(CpuState { seconds, busy });
        }
        s
    }

    #[test]
    fn a_start_up_stalled_for_a_cpu_is_not_where_it_levelled() {
        // Bootstrap, a step without growth while it waited for a CPU (busy, 10 ms of CPU),
        // the rest of the bootstrap (+22 MiB), then a quick test and the exit.
        let rss = [20, 30, 30, 52, 52, 53];
        let stalled = with_cpu(
            series(0.05, 0.1, &rss),
            &[
                (0.02, true),
                (0.05, true),
                (0.06, true),
                (0.12, true),
                (0.2, true),
                (0.26, false),
            ],
        );
        let b = Baseline::find(&stalled, 0.0, 2.0).expect("baseline");
        assert_eq!((b.rule, b.rss), (BaselineRule::Levelled, 52 * MB));
        assert_eq!(b.growth(&stalled), MB as i64);
        // The same RSS with CPU in the flat step (it ran and did not grow), or asleep at
        // its end (start-up over, waiting for work): level there, as before.
        for cpu in [
            [
                (0.02, true),
                (0.05, true),
                (0.11, true),
                (0.12, true),
                (0.2, true),
                (0.26, false),
            ],
            [
                (0.02, true),
                (0.05, true),
                (0.06, false),
                (0.12, true),
                (0.2, true),
                (0.26, false),
            ],
        ] {
            let s = with_cpu(series(0.05, 0.1, &rss), &cpu);
            let b = Baseline::find(&s, 0.0, 2.0).expect("baseline");
            assert_eq!(b.rss, 30 * MB, "{cpu:?}");
        }
    }

    #[test]
    fn a_process_still_rising_when_it_ends_has_no_baseline() {
        assert_eq!(
            Baseline::find(&series(0.05, 0.1, &[20, 43]), 0.0, 2.0),
            None
        );
        assert_eq!(Baseline::find(&series(0.05, 0.1, &[43]), 0.0, 2.0), None);
    }

    #[test]
    fn the_start_counts_not_the_first_sight() {
        // First seen at 1.2 s, started at 0.1 s: settled from its second sample on.
        let s = series(1.2, 1.0, &[60, 61, 80]);
        let b = Baseline::find(&s, 0.1, 2.0).expect("baseline");
        assert_eq!((b.rule, b.index), (BaselineRule::Settled, 1));
    }
}
