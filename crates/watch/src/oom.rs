//! The OOM witness: whether the kernel's OOM killer, rather than someone's `kill -9`,
//! ended a process.

use leaktrail_sampler::{system_oom_kills, MemoryCgroup};

/// Tells an OOM kill from any other death: the kernel's `oom_kill` counts in the memory
/// cgroups the process was last seen in (or the machine's, when none can be read), taken
/// at each sample and compared once it has died. A process killed by the OOM killer dies
/// of SIGKILL like one killed by hand; only this count tells them apart.
pub(crate) struct OomWitness {
    /// The counts one sample before the latest: the latest reading may come after the
    /// kill (the process is dying, not yet reaped), and would then hide it.
    previous: OomCounts,
    /// The latest counts.
    latest: OomCounts,
}

impl OomWitness {
    /// The witness of `pid`, with its counts now.
    pub(crate) fn of(pid: i32) -> OomWitness {
        OomWitness {
            previous: OomCounts::of(pid),
            latest: OomCounts::of(pid),
        }
    }

    /// Reads the counts of `pid` again (at each sample).
    pub(crate) fn read(&mut self, pid: i32) {
        // The process may have moved to another cgroup (a wrapper that places itself); one
        // that died since its memory was read keeps the last cgroups it was seen in.
        let counts = OomCounts::of(pid);
        if !counts.cgroups.is_empty() || self.latest.cgroups.is_empty() {
            self.previous = std::mem::replace(&mut self.latest, counts);
        }
    }

    /// Whether an OOM kill was counted since the reading before the latest.
    pub(crate) fn saw_a_kill(&self) -> bool {
        self.previous.saw_a_kill()
    }
}

/// The `oom_kill` counts of a process's memory cgroups at one moment.
struct OomCounts {
    /// Each memory cgroup with its count when last read.
    cgroups: Vec<(MemoryCgroup, u64)>,
    /// The machine's count, for a process in no readable cgroup.
    system: Option<u64>,
}

impl OomCounts {
    /// The counts for `pid` now.
    fn of(pid: i32) -> OomCounts {
        let cgroups: Vec<(MemoryCgroup, u64)> = MemoryCgroup::of(pid)
            .into_iter()
            .filter_map(|c| c.oom_kills().map(|n| (c, n)))
            .collect();
        let system = if cgroups.is_empty() {
            system_oom_kills()
        } else {
            None
        };
        OomCounts { cgroups, system }
    }

    /// Whether an OOM kill was counted since these counts were read.
    fn saw_a_kill(&self) -> bool {
        let in_cgroup = self
            .cgroups
            .iter()
            .any(|(c, then)| c.oom_kills().is_some_and(|now| now > *then));
        let on_machine = self
            .system
            .zip(system_oom_kills())
            .is_some_and(|(then, now)| now > then);
        in_cgroup || on_machine
    }
}
