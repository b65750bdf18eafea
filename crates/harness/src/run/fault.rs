//! What went wrong in a run, as one sentence: leaktrail's fault or the workload's.

use super::RunResult;

impl RunResult {
    /// The fault that voids the verdict, if any: one the run recorded (the inspector
    /// dropped, the iterations stalled, no line matched), or the workload's own end — it
    /// failed, or exited before the `iterations` asked for. A run that leaktrail bounded,
    /// or that a stop signal ended, is no fault.
    pub fn fault(&self, iterations: Option<u64>) -> Option<String> {
        if let Some(f) = &self.fault {
            return Some(f.clone());
        }
        let exit = &self.exit;
        if exit.stopped_by_harness || self.interrupted.is_some() {
            return None;
        }
        if exit.code != Some(0) {
            return Some(format!(
                "the workload ended with {}",
                describe_exit(exit.code, exit.signal)
            ));
        }
        let reached = iterations.is_none_or(|n| self.last_iteration.is_some_and(|i| i >= n));
        // Say where it stopped in iterations, the unit the bound was given in: a workload
        // with a bound of its own below `--iterations` (a runner's default) reads as such.
        (!reached).then(|| {
            let at = self.last_iteration.map_or_else(
                || "before its first iteration line".to_owned(),
                |i| {
                    format!(
                        "at iteration {}",
                        leaktrail_analysis::units::group_digits(i)
                    )
                },
            );
            format!(
                "the workload exited {at} ({} samples), before the {} iterations asked for",
                self.samples.len(),
                leaktrail_analysis::units::group_digits(iterations.unwrap_or(0))
            )
        })
    }
}

fn describe_exit(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(9)) => "signal 9 (SIGKILL: out of memory?)".to_owned(),
        (None, Some(s)) => leaktrail_process::signal_name(s),
        (None, None) => "an unknown status".to_owned(),
    }
}
