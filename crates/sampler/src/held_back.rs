//! Time a process was kept from running by others: waiting for a CPU on a busy machine,
//! or stopped (SIGSTOP, a job-control stop).
//!
//! A wait for a process's progress (its next iteration line, an inspector's answer) is a
//! wait for work it does: on a loaded machine a healthy process may get a fifth of a CPU,
//! and a stopped one gets none. Such a wait counts only the time the process could run;
//! [`HeldBack`] gives the rest, to be left out. The kernel measures the first part itself:
//! `/proc/PID/schedstat`'s second field is the time the thread spent runnable on a run
//! queue, not running (the main thread: where Node runs JavaScript, its inspector's
//! commands and heap snapshots). A stop is seen by polling the state in `/proc/PID/stat`.
//! [`HeldBackClock`] polls from a thread of its own: the caller may itself be blocked for
//! seconds in a call the process does not answer because it is stopped.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One reading of how much a process was held back so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedReading {
    /// When it was read.
    pub at: Instant,
    /// The main thread's total time waiting for a CPU (zero where the kernel does not say).
    pub run_delay: Duration,
    /// Stopped (state `T` or `t`) when read.
    pub stopped: bool,
}

impl SchedReading {
    /// Reads `pid` now; `None` when it is gone.
    pub fn read(pid: i32) -> Option<SchedReading> {
        let at = Instant::now();
        let process = procfs::process::Process::new(pid).ok()?;
        let state = process.stat().ok()?.state;
        // Without CONFIG_SCHED_INFO there is no schedstat: only stops are left out then.
        let run_delay = process
            .schedstat()
            .map_or(Duration::ZERO, |s| Duration::from_nanos(s.run_delay));
        Some(SchedReading {
            at,
            run_delay,
            stopped: matches!(state, 'T' | 't'),
        })
    }
}

/// How long the process was held back between two readings: the run delay added, plus
/// the whole interval when it was stopped at both (a stop that began or ended in between
/// is not counted: the wait is then at most one poll less patient). Never more than the
/// interval.
pub fn held_back_between(before: &SchedReading, after: &SchedReading) -> Duration {
    let interval = after.at.saturating_duration_since(before.at);
    if before.stopped && after.stopped {
        return interval;
    }
    after
        .run_delay
        .saturating_sub(before.run_delay)
        .min(interval)
}

/// Follows how long one process is held back, reading after reading.
#[derive(Debug)]
pub struct HeldBack {
    pid: i32,
    last: Option<SchedReading>,
}

impl HeldBack {
    /// Follows `pid`, from now.
    pub fn new(pid: i32) -> HeldBack {
        HeldBack {
            pid,
            last: SchedReading::read(pid),
        }
    }

    /// The process followed.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// How long the process was held back since the last call (or since [`HeldBack::new`]);
    /// zero once it is gone.
    pub fn since_last(&mut self) -> Duration {
        let Some(now) = SchedReading::read(self.pid) else {
            return Duration::ZERO;
        };
        let held = self
            .last
            .as_ref()
            .map_or(Duration::ZERO, |last| held_back_between(last, &now));
        self.last = Some(now);
        held
    }
}

/// The time a process was held back so far, kept up to date by a thread of its own (one
/// reading every `every`) until [`HeldBackClock::stop`]. Clones share the clock.
#[derive(Clone, Debug)]
pub struct HeldBackClock {
    shared: Arc<ClockShared>,
}

#[derive(Debug)]
struct ClockShared {
    /// The process followed (changed by [`HeldBackClock::follow`]).
    pid: AtomicI32,
    /// Nanoseconds held back so far.
    held_ns: AtomicU64,
    stop: AtomicBool,
}

impl HeldBackClock {
    /// Starts following `pid`, from zero now.
    pub fn start(pid: i32, every: Duration) -> HeldBackClock {
        let shared = Arc::new(ClockShared {
            pid: AtomicI32::new(pid),
            held_ns: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let polled = shared.clone();
        std::thread::spawn(move || {
            let mut follow = HeldBack::new(pid);
            while !polled.stop.load(Ordering::SeqCst) {
                std::thread::sleep(every);
                let pid = polled.pid.load(Ordering::SeqCst);
                if pid != follow.pid() {
                    follow = HeldBack::new(pid);
                }
                let held = u64::try_from(follow.since_last().as_nanos()).unwrap_or(u64::MAX);
                polled.held_ns.fetch_add(held, Ordering::SeqCst);
            }
        });
        HeldBackClock { shared }
    }

    /// Follows `pid` from now on (the process found to do the work, under a wrapper).
    pub fn follow(&self, pid: i32) {
        self.shared.pid.store(pid, Ordering::SeqCst);
    }

    /// The time held back since [`HeldBackClock::start`]; it only grows.
    pub fn held(&self) -> Duration {
        Duration::from_nanos(self.shared.held_ns.load(Ordering::SeqCst))
    }

    /// Stops the polling thread (within one `every`); [`HeldBackClock::held`] stays.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at: Instant, delay_ms: u64, stopped: bool) -> SchedReading {
        SchedReading {
            at,
            run_delay: Duration::from_millis(delay_ms),
            stopped,
        }
    }

    #[test]
    fn reads_a_running_process_and_not_a_missing_one() {
        let own = SchedReading::read(std::process::id() as i32).expect("this process");
        assert!(!own.stopped);
        assert!(SchedReading::read(i32::MAX).is_none());
    }

    #[test]
    fn a_process_waiting_for_a_cpu_is_held_back_for_that_wait() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        // 800 ms of the second on a run queue: it ran 200 ms.
        let held = held_back_between(&reading(t0, 100, false), &reading(t1, 900, false));
        assert_eq!(held, Duration::from_millis(800));
    }

    #[test]
    fn a_stopped_process_is_held_back_the_whole_interval() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(
            held_back_between(&reading(t0, 100, true), &reading(t1, 100, true)),
            Duration::from_secs(2)
        );
        // Stopped at one end only: the stop's share is unknown, and not counted.
        assert_eq!(
            held_back_between(&reading(t0, 100, false), &reading(t1, 100, true)),
            Duration::ZERO
        );
    }

    #[test]
    fn never_more_than_the_interval_nor_less_than_nothing() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(10);
        // Run delay of other threads' making cannot exceed the wall clock.
        assert_eq!(
            held_back_between(&reading(t0, 0, false), &reading(t1, 500, false)),
            Duration::from_millis(10)
        );
        // A counter that went back (a reused PID) adds nothing.
        assert_eq!(
            held_back_between(&reading(t0, 500, false), &reading(t1, 0, false)),
            Duration::ZERO
        );
    }

    #[test]
    fn follows_a_live_process() {
        let mut own = HeldBack::new(std::process::id() as i32);
        let waited = own.since_last();
        // Whatever the load, no more than the time between the two readings.
        assert!(waited < Duration::from_secs(60), "{waited:?}");
        let mut gone = HeldBack::new(i32::MAX);
        assert_eq!(gone.since_last(), Duration::ZERO);
    }

    #[test]
    fn the_clock_counts_a_stop_while_its_owner_is_busy_elsewhere() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        let pid = child.id() as i32;
        let clock = HeldBackClock::start(pid, Duration::from_millis(20));
        let kill = |signal: &str| {
            std::process::Command::new("kill")
                .args([signal, &pid.to_string()])
                .status()
                .expect("kill runs")
        };
        let stopped_at = Instant::now();
        assert!(kill("-STOP").success());
        // Nothing is asked of the clock while the process is stopped; it counts by itself
        // (however late its thread runs on a busy machine).
        while clock.held() < Duration::from_millis(200) {
            assert!(
                stopped_at.elapsed() < Duration::from_secs(60),
                "a minute stopped, {:?} counted",
                clock.held()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(kill("-CONT").success());
        let (held, wall) = (clock.held(), stopped_at.elapsed());
        clock.stop();
        let _ = child.kill();
        let _ = child.wait();
        assert!(held <= wall, "{held:?} held back in {wall:?}");
    }
}
