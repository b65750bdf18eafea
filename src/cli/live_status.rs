//! The one-line status `run` keeps on a terminal while the workload runs.

/// The one-line status on a terminal: iteration, heap, RSS and the slope so far.
pub struct LiveStatus {
    enabled: bool,
    by_iteration: bool,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl LiveStatus {
    /// A status line, written only when `enabled` (stderr is a terminal).
    pub fn new(enabled: bool, by_iteration: bool) -> LiveStatus {
        LiveStatus {
            enabled,
            by_iteration,
            xs: Vec::new(),
            ys: Vec::new(),
        }
    }

    /// Shows sample `s`.
    pub fn update(&mut self, s: &leaktrail_harness::Sample) {
        if !self.enabled {
            return;
        }
        use leaktrail_analysis::units::{human_bytes, signed_bytes};
        let y = s.memory.v8_bytes().unwrap_or(s.memory.rss);
        let x = if self.by_iteration {
            s.iteration.unwrap_or(0) as f64
        } else {
            s.t
        };
        self.xs.push(x);
        self.ys.push(y as f64);
        let slope = if self.xs.len() >= 5 {
            let est = leaktrail_stats::theil_sen(&self.xs, &self.ys, 0.05);
            let unit = match self.by_iteration {
                true => leaktrail_harness::Per::Iteration,
                false => leaktrail_harness::Per::Second,
            };
            format!("  slope {}/{unit}", signed_bytes(est.slope as i64))
        } else {
            String::new()
        };
        let at = match s.iteration {
            Some(n) => format!("iteration {n}"),
            None => format!("{:.0} s", s.t),
        };
        let heap = s
            .memory
            .heap_used
            .map_or(String::new(), |h| format!("  heap {}", human_bytes(h)));
        eprint!(
            "\r\x1b[2K{at}{heap}  RSS {}{slope}",
            human_bytes(s.memory.rss)
        );
    }

    /// Clears the line; later samples are not shown.
    pub fn finish(&mut self) {
        if self.enabled && !self.xs.is_empty() {
            eprint!("\r\x1b[2K");
        }
        self.enabled = false;
    }
}

impl Drop for LiveStatus {
    /// An error ends the run early: its message starts on a clear line.
    fn drop(&mut self) {
        self.finish();
    }
}
