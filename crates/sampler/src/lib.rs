//! Memory of a Linux process tree, read from `/proc` (through the `procfs` crate).
//!
//! A test runner or a service forks workers, so the tree is what counts: [`ProcessTree`]
//! finds every descendant of a root PID (by scanning the parent PIDs in `/proc/*/stat`,
//! which works without `CONFIG_PROC_CHILDREN`) and [`ProcessTree::sample`] sums, per
//! process and in total:
//!
//! | field | source | cost |
//! |---|---|---|
//! | RSS, anonymous RSS, threads | `/proc/PID/status` (`VmRSS`, `RssAnon`, `Threads`) | ~50 µs |
//! | PSS | `/proc/PID/smaps_rollup` | ~45 ms for a 1.5 GB Node process: it walks the page tables under the target's mmap lock, so ask for it rarely |
//!
//! Processes that exit between listing and reading are skipped, not errors.

use procfs::process::{all_processes, Process};
use serde::Serialize;

/// Memory of one process.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ProcessMemory {
    /// The process id.
    pub pid: i32,
    /// Its parent.
    pub ppid: i32,
    /// Resident set size, bytes.
    pub rss: u64,
    /// Resident anonymous memory (heap, stacks; not file mappings), bytes.
    pub anon: u64,
    /// Proportional set size, bytes, when asked for.
    pub pss: Option<u64>,
    /// Threads.
    pub threads: u64,
}

/// The sum over a process tree, and each member.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TreeSample {
    /// Sum of RSS, bytes.
    pub rss: u64,
    /// Sum of anonymous RSS, bytes.
    pub anon: u64,
    /// Sum of PSS, bytes, when asked for.
    pub pss: Option<u64>,
    /// Sum of threads.
    pub threads: u64,
    /// Every process of the tree, the root first.
    pub processes: Vec<ProcessMemory>,
}

/// A root process and its descendants.
pub struct ProcessTree {
    root: i32,
}

impl ProcessTree {
    /// The tree under `root` (included).
    pub fn new(root: i32) -> ProcessTree {
        ProcessTree { root }
    }

    /// PIDs of the root and its living descendants, the root first.
    pub fn pids(&self) -> Vec<(i32, i32)> {
        let mut parents: Vec<(i32, i32)> = Vec::new();
        if let Ok(all) = all_processes() {
            for p in all.flatten() {
                if let Ok(stat) = p.stat() {
                    parents.push((stat.pid, stat.ppid));
                }
            }
        }
        let mut tree = vec![(
            self.root,
            parents.iter().find(|p| p.0 == self.root).map_or(0, |p| p.1),
        )];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i].0;
            tree.extend(
                parents
                    .iter()
                    .filter(|p| p.1 == parent && p.0 != parent)
                    .copied(),
            );
            i += 1;
        }
        tree
    }

    /// Samples every process of the tree; `with_pss` also reads `smaps_rollup` (slow).
    /// `None` when the root has exited.
    pub fn sample(&self, with_pss: bool) -> Option<TreeSample> {
        let mut out = TreeSample {
            pss: with_pss.then_some(0),
            ..TreeSample::default()
        };
        for (pid, ppid) in self.pids() {
            let Some(m) = sample_process(pid, ppid, with_pss) else {
                if pid == self.root {
                    return None;
                }
                continue;
            };
            out.rss += m.rss;
            out.anon += m.anon;
            out.threads += m.threads;
            if let (Some(total), Some(p)) = (out.pss.as_mut(), m.pss) {
                *total += p;
            }
            out.processes.push(m);
        }
        Some(out)
    }
}

/// PSS of one process, bytes (`/proc/PID/smaps_rollup`: slow, see the crate doc); `None`
/// when it is gone or unreadable.
pub fn pss(pid: i32) -> Option<u64> {
    let rollup = Process::new(pid).ok()?.smaps_rollup().ok()?;
    rollup
        .memory_map_rollup
        .0
        .first()
        .and_then(|m| m.extension.map.get("Pss").copied())
}

/// PSS of the processes of a tree sample, summed; `None` when the root's cannot be read.
/// Processes that exited since the sample count for nothing.
pub fn tree_pss(tree: &TreeSample) -> Option<u64> {
    let mut total = 0;
    for (i, p) in tree.processes.iter().enumerate() {
        match pss(p.pid) {
            Some(v) => total += v,
            None if i == 0 => return None,
            None => {}
        }
    }
    Some(total)
}

/// Reads one process; `None` when it is gone.
pub fn sample_process(pid: i32, ppid: i32, with_pss: bool) -> Option<ProcessMemory> {
    let p = Process::new(pid).ok()?;
    let status = p.status().ok()?;
    let pss = if with_pss { pss(pid) } else { None };
    Some(ProcessMemory {
        pid,
        ppid,
        rss: status.vmrss.unwrap_or(0) * 1024,
        anon: status.rssanon.unwrap_or(0) * 1024,
        pss,
        threads: status.threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn samples_a_tree_of_processes() {
        // A shell with two sleeping children.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("sleep 30 & sleep 30 & wait")
            .stdout(Stdio::null())
            .spawn()
            .expect("sh starts");
        let pid = child.id() as i32;
        let tree = ProcessTree::new(pid);
        let mut sample = None;
        for _ in 0..50 {
            let s = tree.sample(true).expect("root alive");
            if s.processes.len() >= 3 {
                let pss = tree_pss(&s);
                // Bytes, not kB: three processes map well over 64 KiB of their own.
                assert!(
                    pss.is_some_and(|p| p > 64 * 1024 && p <= s.rss),
                    "{pss:?} {s:?}"
                );
                sample = Some(s);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = Command::new("pkill")
            .arg("-P")
            .arg(pid.to_string())
            .status();
        let _ = child.kill();
        let _ = child.wait();
        let s = sample.expect("the two children appear");
        assert_eq!(s.processes[0].pid, pid);
        assert!(s.processes[1..].iter().all(|p| p.ppid == pid));
        assert!(s.rss > 0 && s.rss == s.processes.iter().map(|p| p.rss).sum::<u64>());
        assert!(s.threads >= 3);
        assert!(s.pss.is_some_and(|p| p > 0 && p <= s.rss), "{s:?}");
        assert!(
            tree.sample(false).is_none(),
            "a reaped root gives no sample"
        );
    }

    #[test]
    fn this_process() {
        let me = sample_process(std::process::id() as i32, 0, false).expect("self");
        assert!(me.rss > 0 && me.anon > 0 && me.threads >= 1 && me.pss.is_none());
    }
}
