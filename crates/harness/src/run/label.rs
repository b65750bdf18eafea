//! Which iteration a sample measured, and how densely points are taken.
//!
//! A sample is triggered by an iteration line, but the heap is measured later: the
//! request crosses the inspector, and with `--expose-gc` it waits for the workload's
//! current step to end. A loop doing tens of thousands of iterations a second is then
//! thousands of iterations past its line, and labelling the heap with the line's number
//! inflates the slope many times (the heap at iteration 5,000 plotted at 3,000). So each
//! sample is labelled with the iteration the workload was at **when it was measured**:
//! interpolated between the last line read before that moment and the first line after
//! it, the pause the sample itself caused taken out (the workload makes no progress while
//! it is paused).
//!
//! Lines are stamped by the reader thread as they arrive (stdout to a pipe is written
//! synchronously by Node, so a line arrives when it is printed). The same goes for the
//! points read after V8's own major GCs, which reach leaktrail after the fact: they are
//! labelled from the lines around the moment of the GC, kept for a while
//! ([`HISTORY`] lines).
//!
//! **Density.** The overhead budget skips points whose cost would exceed its share of the
//! run. On a fast loop or a busy machine that can leave a handful of points for a whole
//! run, and no verdict. Whatever the budget, a point is taken once the progress has grown
//! by [`MIN_DENSITY`] since the last point taken: about 20 points per tenfold of the run
//! (log-spaced), what they cost reported with the rest.

use std::time::Instant;

/// A point is always taken once progress has grown by this share since the last one.
pub const MIN_DENSITY: f64 = 0.12;

/// Points after V8's own major GCs count for [`MIN_DENSITY`], but a forced sample is still
/// taken whatever the budget once progress has grown by this share since the last forced
/// one (doubled: about three per tenfold of the run), so that the forced samples — the
/// authority — span the run and the points of the two kinds overlap (the major-GC points
/// are levelled on the forced samples' line where both are).
pub const FORCED_SPREAD: f64 = 1.0;

/// Lines remembered for points that arrive after the fact.
pub const HISTORY: usize = 4096;

/// What a label is for: a sample (forced GC) or a cheap point, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// `RunResult::samples[i]`.
    Sample(usize),
    /// `RunResult::cheap_points[i]`.
    Cheap(usize),
    /// The `n`th heap snapshot taken (from 1): a fast loop runs on between the sample a
    /// snapshot follows and the snapshot, hundreds of iterations at tens of thousands a
    /// second.
    Snapshot(u64),
}

/// A sample waiting for the line after it.
#[derive(Debug)]
struct Pending {
    sample: Target,
    measured: Instant,
    paused: f64,
    before: Option<(Instant, u64)>,
}

/// Labels samples with the iteration they measured.
#[derive(Debug, Default)]
pub(super) struct Labeller {
    /// The last [`HISTORY`] lines, oldest first.
    history: std::collections::VecDeque<(Instant, u64)>,
    pending: Vec<Pending>,
}

impl Labeller {
    /// A point (`sample`) measured at `measured`, the workload paused `paused` seconds by
    /// it. Returns its label at once when a line read after that moment is known already
    /// (a point that arrived after the fact), else it waits for the next line.
    pub fn measured(&mut self, sample: Target, measured: Instant, paused: f64) -> Option<u64> {
        let before = self
            .history
            .iter()
            .rev()
            .find(|(at, _)| *at <= measured)
            .copied();
        let p = Pending {
            sample,
            measured,
            paused,
            before,
        };
        if let Some(&(after, n1)) = self.history.iter().find(|(at, _)| *at > measured) {
            // Older than every line remembered: no label.
            before?;
            return Some(interpolate(&p, after, n1));
        }
        self.pending.push(p);
        None
    }

    /// True when a point measured at `measured` can be labelled: a line was read at or
    /// before it (the first lines are remembered until [`HISTORY`] later ones).
    pub fn can_label(&self, measured: Instant) -> bool {
        self.history.front().is_some_and(|(at, _)| *at <= measured)
    }

    /// An iteration line read at `at`; returns the points it labels, as (point,
    /// iteration).
    pub fn line(&mut self, n: u64, at: Instant) -> Vec<(Target, u64)> {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((at, n));
        let mut done = Vec::new();
        self.pending.retain_mut(|p| {
            if at <= p.measured {
                p.before = Some((at, n));
                return true;
            }
            done.push((p.sample, interpolate(p, at, n)));
            false
        });
        done
    }

    /// The run is over: samples with no line after them keep the last line before.
    pub fn finish(&mut self) -> Vec<(Target, u64)> {
        self.pending
            .drain(..)
            .filter_map(|p| p.before.map(|(_, n)| (p.sample, n)))
            .collect()
    }
}

fn interpolate(p: &Pending, after: Instant, n1: u64) -> u64 {
    let Some((t0, n0)) = p.before else {
        return n1;
    };
    let span = after.duration_since(t0).as_secs_f64() - p.paused;
    let done = p.measured.duration_since(t0).as_secs_f64();
    if span <= 0.0 || n1 <= n0 {
        return n0;
    }
    let share = (done / span).clamp(0.0, 1.0);
    n0 + ((n1 - n0) as f64 * share).round() as u64
}

/// True when a point at progress `amount` is due whatever the budget: it is
/// [`MIN_DENSITY`] past the last point taken (at `last`).
pub fn density_due(last: Option<f64>, amount: f64) -> bool {
    last.is_some_and(|l| amount >= l * (1.0 + MIN_DENSITY) && amount > l)
}

/// True when a forced sample at progress `amount` is due whatever the budget and
/// whatever points V8's own GCs gave: it is [`FORCED_SPREAD`] past the last forced
/// sample (at `last`).
pub fn forced_due(last: Option<f64>, amount: f64) -> bool {
    last.is_some_and(|l| amount >= l * (1.0 + FORCED_SPREAD) && amount > l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_sample_is_labelled_where_it_was_measured() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut l = Labeller::default();
        assert!(l.line(1000, ms(0)).is_empty());
        // Measured at 100 ms, paused 20 ms; the next line (3,000) at 220 ms: the workload
        // ran 200 ms between the lines, half of it before the measurement.
        assert_eq!(l.measured(Target::Sample(0), ms(100), 0.020), None);
        assert!(l.line(1500, ms(50)).is_empty());
        let done = l.line(3000, ms(220));
        // From the line at 50 ms (1,500): 50 ms of 150 ms of running → 2,000.
        assert_eq!(done, vec![(Target::Sample(0), 2000)]);
    }

    #[test]
    fn a_point_that_arrives_after_the_fact_is_labelled_from_the_lines_around_it() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut l = Labeller::default();
        for (n, at) in [(100, 10), (200, 20), (300, 30), (400, 40)] {
            assert!(l.line(n, ms(at)).is_empty());
        }
        // A major GC that ended at 25 ms, heard of at 40 ms: between 200 and 300.
        assert_eq!(l.measured(Target::Cheap(0), ms(25), 0.0), Some(250));
        // One after the last line waits for the next.
        assert_eq!(l.measured(Target::Cheap(1), ms(45), 0.0), None);
        assert_eq!(l.line(500, ms(50)), vec![(Target::Cheap(1), 450)]);
        // One older than every line remembered gets no label.
        assert_eq!(l.measured(Target::Cheap(2), ms(5), 0.0), None);
        assert_eq!(l.finish(), vec![]);
    }

    #[test]
    fn a_sample_after_the_last_line_keeps_it() {
        let t0 = Instant::now();
        let mut l = Labeller::default();
        l.line(400, t0);
        l.measured(Target::Sample(3), t0 + Duration::from_millis(5), 0.001);
        assert_eq!(l.finish(), vec![(Target::Sample(3), 400)]);
    }

    #[test]
    fn density_forces_log_spaced_points() {
        assert!(!density_due(None, 100.0));
        assert!(!density_due(Some(1000.0), 1100.0));
        assert!(density_due(Some(1000.0), 1120.0));
        assert!(!density_due(Some(0.0), 0.0));
        assert!(!forced_due(Some(1000.0), 1999.0));
        assert!(forced_due(Some(1000.0), 2000.0));
        assert!(!forced_due(None, 2000.0));
    }
}
