//! A run sampled by iteration that no longer progresses.
//!
//! Sample points are the workload's iteration lines: when no new number arrives (no line
//! matches the pattern, the number does not parse, the same number again and again, the
//! workload hangs), nothing is sampled and nothing ends the run. A CI job would then sit
//! until its own timeout and keep nothing; instead the run ends with a fault that says
//! what was seen on stdout.
//!
//! The clock counts only the time the workload could run: time it waited for a CPU or was
//! stopped ([`StallWatch::excuse`]) is left out, so a healthy workload on a busy machine
//! is slow, not stalled. And it counts only while the workload's code runs: once Node
//! says it is exiting, what is left is leaktrail's own snapshot at exit, which the
//! inspector's wait bounds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The stall limit before the first iteration line: Node start-up, module loading and a
/// TypeScript build come first.
pub const FIRST_LINE_WAIT: Duration = Duration::from_secs(60);
/// The least stall limit once iterations arrive.
pub const MIN_STALL: Duration = Duration::from_secs(10);
/// Once iterations arrive, the limit is this many times the longest gap between them.
pub const GAP_FACTOR: u32 = 10;
/// Lines of stdout kept for the message.
const TAIL: usize = 5;

/// What the workload printed on stdout, as far as iterations are concerned.
#[derive(Debug, Default)]
pub struct StdoutSeen {
    /// The last lines, whatever they said.
    pub tail: VecDeque<String>,
    /// Lines read.
    pub lines: u64,
    /// The last line that matched the pattern but whose number did not parse.
    pub unparsed: Option<String>,
}

impl StdoutSeen {
    /// Records a line read.
    pub fn line(&mut self, line: &str) {
        self.lines += 1;
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());
    }
}

/// Watches the progress of iterations.
#[derive(Debug)]
pub struct StallWatch {
    /// The limit given on the command line, if any.
    fixed: Option<Duration>,
    /// When progress was last seen (or the clock restarted), moved on by the time the
    /// workload was held back since.
    since: Instant,
    /// When progress was last seen (or the clock restarted), on the wall clock.
    progress_at: Instant,
    /// The highest iteration read.
    highest: Option<u64>,
    /// The longest time between two new iterations.
    longest_gap: Option<Duration>,
    /// Time left out since progress was last seen: the workload was held back.
    excused: Duration,
}

impl StallWatch {
    /// A watch whose clock starts now; `fixed` overrides the limit scaled to the pace.
    pub fn new(fixed: Option<Duration>) -> StallWatch {
        let now = Instant::now();
        StallWatch {
            fixed,
            since: now,
            progress_at: now,
            highest: None,
            longest_gap: None,
            excused: Duration::ZERO,
        }
    }

    /// Restarts the clock: the workload was held or paused by leaktrail until now.
    pub fn restart(&mut self, now: Instant) {
        if now > self.since {
            self.since = now;
            self.excused = Duration::ZERO;
        }
        self.progress_at = self.progress_at.max(now);
    }

    /// Leaves out `held` of the time before `now`: the workload waited that long for a CPU
    /// or was stopped, and could not progress.
    pub fn excuse(&mut self, held: Duration, now: Instant) {
        let moved = (self.since + held).min(now.max(self.since));
        self.excused += moved.saturating_duration_since(self.since);
        self.since = moved;
    }

    /// An iteration line read at `at`.
    pub fn iteration(&mut self, n: u64, at: Instant) {
        if self.highest.is_some_and(|h| n <= h) {
            return;
        }
        if self.highest.is_some() {
            let gap = at.saturating_duration_since(self.since);
            self.longest_gap = Some(self.longest_gap.map_or(gap, |g| g.max(gap)));
        }
        self.highest = Some(n);
        if at > self.since {
            self.since = at;
            self.excused = Duration::ZERO;
        }
        self.progress_at = self.progress_at.max(at);
    }

    /// How long without a new iteration counts as a stall: as given, or scaled to the
    /// pace seen so far.
    pub fn limit(&self) -> Duration {
        if let Some(fixed) = self.fixed {
            return fixed;
        }
        match self.longest_gap {
            None if self.highest.is_none() => FIRST_LINE_WAIT,
            None => MIN_STALL,
            Some(gap) => (gap * GAP_FACTOR).max(MIN_STALL),
        }
    }

    /// True when no new iteration arrived within the limit of time the workload could
    /// run, or within [`leaktrail_inspector::HELD_BACK_CEILING`] times the limit at all.
    pub fn stalled(&self, now: Instant) -> bool {
        // `since` is `progress_at` moved on by the time left out.
        let waited = now.saturating_duration_since(self.progress_at);
        let ran = now.saturating_duration_since(self.since);
        leaktrail_inspector::past_limit(waited, waited.saturating_sub(ran), self.limit())
    }

    /// Why the run stalled at `now`, for the fault message: what stdout said, how long was
    /// waited, and what would fix it.
    pub fn describe(&self, pattern: &str, seen: &StdoutSeen, now: Instant) -> String {
        let human = |d: Duration| leaktrail_analysis::units::human_duration(d.as_secs_f64());
        // The limit, or less when the ceiling ended the wait.
        let ran = now.saturating_duration_since(self.since).min(self.limit());
        // The wall time too when the workload was held back for a tenth of the limit or
        // more: a busy machine reads as such.
        let waited = match self.excused * 10 < self.limit() {
            true => human(ran),
            false => format!(
                "{} of time it could run ({} in all, {} of it waiting for a CPU or stopped)",
                human(ran),
                human(now.saturating_duration_since(self.progress_at)),
                human(self.excused)
            ),
        };
        let what = match (self.highest, &seen.unparsed) {
            (Some(n), _) => format!(
                "the iteration number stayed at {n} for {waited}{}",
                self.longest_gap.map_or(String::new(), |g| format!(
                    " (the longest gap between iterations before was {})",
                    leaktrail_analysis::units::human_duration(g.as_secs_f64())
                ))
            ),
            (None, Some(line)) => format!(
                "lines matched --iteration-pattern `{pattern}` but its first group is not a whole number below 2^64 (`{}`), and no new iteration came for {waited}",
                clip(line)
            ),
            (None, None) if seen.lines == 0 => {
                format!("the workload printed nothing on stdout for {waited}")
            }
            (None, None) => format!(
                "no stdout line matched --iteration-pattern `{pattern}` for {waited} ({} lines read, the last `{}`)",
                seen.lines,
                seen.tail.back().map_or(String::new(), |l| clip(l))
            ),
        };
        format!(
            "{what}; leaktrail stopped it (--stall-timeout sets how long to wait; a workload prints its iteration number on each pass, e.g. `iteration=42`, or --interval samples by time)"
        )
    }
}

/// A line cut for a message.
fn clip(line: &str) -> String {
    const MAX: usize = 120;
    match line.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_follows_the_pace() {
        let mut w = StallWatch::new(None);
        let t0 = Instant::now();
        assert_eq!(w.limit(), FIRST_LINE_WAIT);
        w.iteration(1, t0);
        assert_eq!(w.limit(), MIN_STALL);
        w.iteration(2, t0 + Duration::from_secs(3));
        assert_eq!(w.limit(), Duration::from_secs(30));
        // The same number again is no progress.
        w.iteration(2, t0 + Duration::from_secs(20));
        assert!(!w.stalled(t0 + Duration::from_secs(32)));
        assert!(w.stalled(t0 + Duration::from_secs(34)));
        // A pause of leaktrail's own does not count.
        w.restart(t0 + Duration::from_secs(33));
        assert!(!w.stalled(t0 + Duration::from_secs(34)));
    }

    #[test]
    fn time_held_back_is_not_a_stall() {
        let mut w = StallWatch::new(Some(Duration::from_secs(10)));
        let t0 = Instant::now();
        w.iteration(1, t0);
        // 30 s pass, 25 s of them waiting for a CPU (or stopped): it ran 5 s.
        w.excuse(Duration::from_secs(25), t0 + Duration::from_secs(30));
        assert!(!w.stalled(t0 + Duration::from_secs(30)));
        assert!(w.stalled(t0 + Duration::from_secs(35)));
        let m = w.describe(
            "iteration=(\\d+)",
            &StdoutSeen::default(),
            t0 + Duration::from_secs(35),
        );
        assert!(
            m.contains("stayed at 1 for 10 s of time it could run (35 s in all, 25 s of it waiting for a CPU or stopped)"),
            "{m}"
        );
        // The gap to the next iteration is the time it could run.
        w.iteration(2, t0 + Duration::from_secs(33));
        w.iteration(3, t0 + Duration::from_secs(34));
        assert_eq!(w.limit(), Duration::from_secs(10));
        let mut paced = StallWatch::new(None);
        let t1 = paced.since;
        paced.iteration(1, t1);
        paced.excuse(Duration::from_secs(20), t1 + Duration::from_secs(21));
        paced.iteration(2, t1 + Duration::from_secs(22));
        assert_eq!(
            paced.limit(),
            Duration::from_secs(20),
            "gap of 2 s run × 10"
        );
    }

    #[test]
    fn an_excuse_never_moves_the_clock_past_now() {
        let mut w = StallWatch::new(Some(Duration::from_secs(1)));
        let t0 = Instant::now();
        w.iteration(1, t0);
        // More held back than elapsed (two readings' rounding): the clock stops at now.
        w.excuse(Duration::from_secs(5), t0 + Duration::from_secs(2));
        assert!(!w.stalled(t0 + Duration::from_secs(2)));
        assert!(w.stalled(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn a_workload_held_back_for_good_still_ends_the_wait() {
        let mut w = StallWatch::new(Some(Duration::from_secs(1)));
        let t0 = w.since;
        // Stopped for good: every second of it held back.
        for s in 1..=9 {
            w.excuse(Duration::from_secs(1), t0 + Duration::from_secs(s));
            assert!(!w.stalled(t0 + Duration::from_secs(s)), "{s} s");
        }
        w.excuse(Duration::from_secs(1), t0 + Duration::from_secs(10));
        assert!(w.stalled(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn a_fixed_limit_wins() {
        let w = StallWatch::new(Some(Duration::from_millis(500)));
        assert_eq!(w.limit(), Duration::from_millis(500));
    }

    #[test]
    fn says_what_stdout_showed() {
        let w = StallWatch::new(Some(Duration::from_secs(2)));
        let now = w.since + Duration::from_secs(2);
        let mut seen = StdoutSeen::default();
        assert!(w
            .describe("iteration=(\\d+)", &seen, now)
            .starts_with("the workload printed nothing on stdout for 2 s;"));
        seen.line("step 1");
        seen.line("step 2");
        let m = w.describe("iteration=(\\d+)", &seen, now);
        assert!(m.contains("no stdout line matched --iteration-pattern `iteration=(\\d+)`"));
        assert!(m.contains("2 lines read, the last `step 2`"), "{m}");
        seen.unparsed = Some("iteration=99999999999999999999999".into());
        let m = w.describe("iteration=(\\d+)", &seen, now);
        assert!(m.contains("not a whole number"), "{m}");
    }
}
