//! Giving samples, cheap points and snapshots the iteration they measured, as the
//! workload's lines arrive.

use std::time::{Duration, Instant};

use super::{gc, label, later, CheapPoint, PointKind, Session, OWN_GC_MARGIN};

impl Session<'_> {
    /// An iteration line, read at `at`.
    pub(super) fn line_read(&mut self, n: u64, at: Instant) {
        self.aftermath.line(at);
        self.stall.iteration(n, at);
        for (target, label) in self.labeller.line(n, at) {
            self.label(target, label);
        }
        self.result.last_iteration = self.result.last_iteration.max(Some(n));
    }

    /// Gives a point its iteration.
    pub(super) fn label(&mut self, target: label::Target, n: u64) {
        match target {
            label::Target::Sample(i) => {
                if let Some(s) = self.result.samples.get_mut(i) {
                    s.iteration = Some(n);
                }
            }
            label::Target::Cheap(i) => {
                if let Some(c) = self.result.cheap_points.get_mut(i) {
                    c.iteration = Some(n);
                    self.cheap_last = later(self.cheap_last, n as f64);
                }
            }
            label::Target::Snapshot(k) => {
                self.snapshot_labels.insert(k, n);
            }
        }
    }

    /// The progress of the last point of either kind.
    pub(super) fn last_cheap_or_forced(&self) -> Option<f64> {
        match (self.last_point, self.cheap_last) {
            (Some(p), Some(c)) => Some(p.max(c)),
            (p, c) => p.or(c),
        }
    }

    /// Takes in the points the GC watcher sent since the last call (see [`CheapPoint`]):
    /// each is put on leaktrail's clock, dropped when it is one of leaktrail's own GCs (a
    /// sample's or a snapshot's: [`OWN_GC_MARGIN`] around them) or came before the first
    /// iteration line, labelled like a sample, and its reading's time counted as sampling
    /// time.
    pub(super) fn take_cheap(&mut self) {
        let (Some(origin), Some(inspector)) = (self.clock, self.inspector.as_mut()) else {
            return;
        };
        // A connection that broke is found out by the next call.
        let _ = inspector.poll();
        let by_iteration = self.config.iteration_pattern.is_some();
        for payload in inspector.take_kept() {
            let Some(r) = gc::parse_cheap(&payload) else {
                continue;
            };
            let at = Duration::try_from_secs_f64((r.at_ms / 1000.0).clamp(0.0, 1e7))
                .ok()
                .and_then(|d| origin.checked_add(d));
            let Some(at) = at.filter(|at| *at >= self.start) else {
                continue;
            };
            let own = self
                .own_gcs
                .iter()
                .any(|(from, to)| at + OWN_GC_MARGIN >= *from && at <= *to + OWN_GC_MARGIN);
            // Before the first line remembered (the workload starting): no iteration to
            // label it with.
            if own || (by_iteration && !self.labeller.can_label(at)) {
                continue;
            }
            let cost = r.heap.paused.unwrap_or(0.0);
            self.result.cheap_seconds += cost;
            self.result.sampling_seconds += cost;
            let i = self.result.cheap_points.len();
            let t = at.duration_since(self.start).as_secs_f64();
            self.result.cheap_points.push(CheapPoint {
                t,
                iteration: None,
                kind: PointKind::MajorGc,
                heap_used: r.heap.heap.used_size,
                heap_total: r.heap.heap.total_size,
                external: r.heap.external,
            });
            if !by_iteration {
                self.cheap_last = later(self.cheap_last, t);
            } else if let Some(n) = self.labeller.measured(label::Target::Cheap(i), at, 0.0) {
                self.label(label::Target::Cheap(i), n);
            }
        }
    }

    /// Labels the samples no later line labelled, and the snapshots with their samples.
    pub(super) fn finish_labels(&mut self) {
        for (target, label) in self.labeller.finish() {
            self.label(target, label);
        }
        for snap in &mut self.result.snapshots {
            if let Some(&n) = self.snapshot_labels.get(&snap.number) {
                snap.iteration = Some(n);
            } else if let Some(s) = self.result.samples.get(snap.sample) {
                snap.iteration = s.iteration;
            }
        }
    }
}
