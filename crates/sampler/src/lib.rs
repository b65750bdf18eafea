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
//!
//! For following a tree as it forks (`leaktrail trace`), [`list_processes`] and
//! [`descendants`] give the tree from several roots, [`process_info`] what a process runs
//! (command line, executable, start time, caught signals) and [`holds_open`] whether a
//! process still has a file open.
//!
//! [`MemoryReading`] is the one shape of a memory reading: `run`'s samples and the watcher's
//! stored samples hold one, with the heap fields filled over the inspector.
//!
//! [`HeldBack`] says how long a process was kept from running (waiting for a CPU, or
//! stopped), so that a wait for its progress counts only the time it could run.
//!
//! [`MemoryCgroup`] is the memory cgroup a process runs in (v2, or v1 on older and hybrid
//! hosts): its limit, the OOM kills counted in it, and [`system_oom_kills`] the machine's.
//! [`memory_headroom`] is what a process could still take, machine and cgroup together.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use procfs::process::{all_processes, FDTarget, Process};
use serde::Serialize;

mod held_back;
mod reading;

pub use held_back::{held_back_between, HeldBack, HeldBackClock, SchedReading};
pub use reading::MemoryReading;

/// Memory of one process.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ProcessMemory {
    /// The process id.
    pub pid: i32,
    /// Its parent.
    pub ppid: i32,
    /// What the kernel says it holds (no heap fields).
    #[serde(flatten)]
    pub memory: MemoryReading,
}

/// The sum over a process tree, and each member.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TreeSample {
    /// The tree's sum of kernel memory (no heap fields); PSS only when asked for.
    #[serde(flatten)]
    pub total: MemoryReading,
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

    /// The root's PID.
    pub fn root(&self) -> i32 {
        self.root
    }

    /// PIDs of the root and its living descendants, the root first.
    pub fn pids(&self) -> Vec<(i32, i32)> {
        let mut tree: Vec<(i32, i32)> = descendants(&list_processes(), &[self.root])
            .iter()
            .map(|p| (p.pid, p.ppid))
            .collect();
        if tree.is_empty() {
            tree.push((self.root, 0));
        }
        tree
    }

    /// The process of the tree listening on loopback `port` (an inspector's), if any.
    pub fn listening_on(&self, port: u16) -> Option<i32> {
        self.pids()
            .into_iter()
            .map(|(pid, _)| pid)
            .find(|&pid| loopback_listening_ports(pid).contains(&port))
    }

    /// True when the process of the tree listening on loopback `port` runs a launcher
    /// ([`runs_launcher`]): npm's own inspector, not its script's.
    pub fn launcher_on(&self, port: u16) -> bool {
        self.listening_on(port)
            .and_then(process_info)
            .is_some_and(|info| runs_launcher(&info.cmdline))
    }

    /// Samples every process of the tree; `with_pss` also reads `smaps_rollup` (slow).
    /// `None` when the root has exited.
    pub fn sample(&self, with_pss: bool) -> Option<TreeSample> {
        let mut out = TreeSample::default();
        out.total.pss = with_pss.then_some(0);
        for (pid, ppid) in self.pids() {
            let Some(m) = sample_process(pid, ppid, with_pss) else {
                if pid == self.root {
                    return None;
                }
                continue;
            };
            out.total.add_resident(&m.memory);
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

/// A process as `/proc/PID/stat` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessEntry {
    /// The process id.
    pub pid: i32,
    /// Its parent.
    pub ppid: i32,
    /// When it started, in clock ticks since boot ([`clock_ticks_per_second`]); with the
    /// PID it names one process, since PIDs are reused.
    pub start_ticks: u64,
    /// CPU time it has used, user and system, in clock ticks.
    pub cpu_ticks: u64,
    /// Running or waiting for a CPU (`R`), or in uninterruptible I/O (`D`), when listed:
    /// busy, as opposed to sleeping until something happens.
    pub busy: bool,
}

/// Every process of the system.
pub fn list_processes() -> Vec<ProcessEntry> {
    let mut out = Vec::new();
    if let Ok(all) = all_processes() {
        for p in all.flatten() {
            if let Ok(stat) = p.stat() {
                out.push(ProcessEntry {
                    pid: stat.pid,
                    ppid: stat.ppid,
                    start_ticks: stat.starttime,
                    cpu_ticks: stat.utime + stat.stime,
                    busy: matches!(stat.state, 'R' | 'D'),
                });
            }
        }
    }
    out
}

/// The living `roots` (in their order) and then their descendants, breadth-first; each
/// process once.
pub fn descendants(all: &[ProcessEntry], roots: &[i32]) -> Vec<ProcessEntry> {
    let mut tree: Vec<ProcessEntry> = Vec::new();
    for r in roots {
        if let Some(p) = all.iter().find(|p| p.pid == *r) {
            if !tree.iter().any(|t| t.pid == p.pid) {
                tree.push(*p);
            }
        }
    }
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i].pid;
        for p in all.iter().filter(|p| p.ppid == parent && p.pid != parent) {
            if !tree.iter().any(|t| t.pid == p.pid) {
                tree.push(*p);
            }
        }
        i += 1;
    }
    tree
}

/// The kernel's clock ticks per second, the unit of [`ProcessEntry::start_ticks`].
pub fn clock_ticks_per_second() -> u64 {
    procfs::ticks_per_second()
}

/// What a process runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its command line (`/proc/PID/cmdline`); empty for kernel threads and zombies.
    pub cmdline: Vec<String>,
    /// Its executable (`/proc/PID/exe`), when readable.
    pub exe: Option<PathBuf>,
    /// Signals it catches (`SigCgt` of `/proc/PID/status`): bit `n - 1` for signal `n`.
    pub caught_signals: u64,
}

impl ProcessInfo {
    /// True when the process has a handler for signal `signal` (so sending it does not
    /// run the default action, which for `SIGUSR2` is to terminate).
    pub fn catches(&self, signal: i32) -> bool {
        (1..=64).contains(&signal) && self.caught_signals & (1u64 << (signal - 1)) != 0
    }
}

/// Reads what `pid` runs; `None` when it is gone.
pub fn process_info(pid: i32) -> Option<ProcessInfo> {
    let p = Process::new(pid).ok()?;
    let status = p.status().ok()?;
    Some(ProcessInfo {
        cmdline: p.cmdline().unwrap_or_default(),
        exe: p.exe().ok(),
        caught_signals: status.sigcgt,
    })
}

/// True when a program's path or file name is Node's: `node`, `nodejs` or a versioned
/// `node20`, `node20.11`. Exact, so `nodemon` (a Node program that starts another) is not:
/// `watch --pid` sends what it takes for Node SIGUSR1, which kills other programs, and
/// `run` would put the inspector into the wrong process.
pub fn is_node_program(program: &str) -> bool {
    let name = Path::new(program)
        .file_name()
        .map_or(program.into(), |n| n.to_string_lossy());
    name == "nodejs"
        || name
            .strip_prefix("node")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Node programs that start the workload in a Node process of their own and wait for it:
/// package managers running a project's script (`npm run test`), and the launchers such
/// scripts go through (`cross-env NODE_ENV=test node load.js`, `tsx`, `nodemon`, coverage
/// with `c8` or `nyc`). As the file names they are run by, without `.js`/`.cjs`/`.mjs`.
/// (`ts-node` runs the workload in its own process: not one.)
const LAUNCHERS: [&str; 21] = [
    "npm",
    "npx",
    "npm-cli",
    "npx-cli",
    "yarn",
    "pnpm",
    "pnpx",
    "corepack",
    "cross-env",
    "cross-env-shell",
    "dotenv",
    "env-cmd",
    "tsx",
    "nodemon",
    "ts-node-dev",
    "tsnd",
    "c8",
    "nyc",
    "run-s",
    "run-p",
    "npm-run-all",
];

/// True when a program's path or file name is a launcher's ([`LAUNCHERS`]: `npm`, `npx`,
/// `yarn`, `pnpm`, `cross-env`, `tsx`, …): `npm run test` is Node running npm, which
/// starts the project's script in a Node process of its own — the one to inspect.
pub fn is_launcher(program: &str) -> bool {
    // npm sets its process title ("npm run test"), which overwrites its command line.
    let program = program.split_whitespace().next().unwrap_or(program);
    let name = Path::new(program)
        .file_name()
        .map_or(program.into(), |n| n.to_string_lossy());
    let stem = [".js", ".cjs", ".mjs"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name);
    LAUNCHERS.contains(&stem)
}

/// True when a Node process's command line runs a launcher ([`is_launcher`]: `node
/// …/npm-cli.js run test`), by its program or the script Node was given.
pub fn runs_launcher(cmdline: &[String]) -> bool {
    cmdline
        .iter()
        .filter(|arg| !arg.is_empty())
        .take(2)
        .any(|arg| is_launcher(arg))
}

/// Whether `pid` still runs: a zombie (exited, not yet reaped by its parent) does not.
pub fn is_running(pid: i32) -> bool {
    Process::new(pid)
        .and_then(|p| p.stat())
        .is_ok_and(|stat| stat.state != 'Z' && stat.state != 'X')
}

/// True when `pid`'s environment (as it was at its exec) has the variable `name`.
pub fn has_env_var(pid: i32, name: &str) -> bool {
    Process::new(pid)
        .and_then(|p| p.environ())
        .is_ok_and(|env| env.contains_key(std::ffi::OsStr::new(name)))
}

/// True when `pid` has `path` open (one of its `/proc/PID/fd` links points to it).
pub fn holds_open(pid: i32, path: &Path) -> bool {
    let Ok(fds) = Process::new(pid).and_then(|p| p.fd()) else {
        return false;
    };
    fds.flatten()
        .any(|fd| matches!(&fd.target, FDTarget::Path(p) if p == path))
}

/// Reads one process; `None` when it is gone.
pub fn sample_process(pid: i32, ppid: i32, with_pss: bool) -> Option<ProcessMemory> {
    let p = Process::new(pid).ok()?;
    let status = p.status().ok()?;
    let pss = if with_pss { pss(pid) } else { None };
    Some(ProcessMemory {
        pid,
        ppid,
        memory: MemoryReading {
            rss: status.vmrss.unwrap_or(0) * 1024,
            anon: status.rssanon.unwrap_or(0) * 1024,
            pss,
            threads: status.threads,
            ..MemoryReading::default()
        },
    })
}

/// TCP ports on which `pid` listens on the loopback address (IPv4 or IPv6), found by
/// matching the socket inodes of its open files against `/proc/net/tcp{,6}`. Used to find
/// an inspector that was opened with `SIGUSR1`, whose port the process only tells its own
/// stderr.
pub fn loopback_listening_ports(pid: i32) -> Vec<u16> {
    use procfs::process::FDTarget;
    let Ok(p) = Process::new(pid) else {
        return Vec::new();
    };
    let inodes: std::collections::HashSet<u64> = match p.fd() {
        Ok(fds) => fds
            .flatten()
            .filter_map(|fd| match fd.target {
                FDTarget::Socket(inode) => Some(inode),
                _ => None,
            })
            .collect(),
        Err(_) => return Vec::new(),
    };
    let mut ports: Vec<u16> = Vec::new();
    let tables = [p.tcp(), p.tcp6()];
    for table in tables.into_iter().flatten() {
        for e in table {
            if e.state == procfs::net::TcpState::Listen
                && e.local_address.ip().is_loopback()
                && inodes.contains(&e.inode)
            {
                ports.push(e.local_address.port());
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The memory cgroup a process runs in, as mounted here: cgroup v2 (unified) or v1 (the
/// `memory` controller's own hierarchy). Their files differ, not their meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemoryCgroup {
    /// A cgroup v2 directory under `/sys/fs/cgroup`.
    V2(PathBuf),
    /// A cgroup v1 directory under `/sys/fs/cgroup/memory`.
    V1(PathBuf),
}

impl MemoryCgroup {
    /// The memory cgroups `pid` is in (one per mounted hierarchy; usually one), from
    /// `/proc/PID/cgroup`. Hybrid systems list both a v2 and a v1 line.
    pub fn of(pid: i32) -> Vec<MemoryCgroup> {
        let Ok(cgroups) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            return Vec::new();
        };
        cgroups
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                let under = |root: &str| match path.trim_start_matches('/') {
                    "" => PathBuf::from(root),
                    rel => Path::new(root).join(rel),
                };
                if controllers.is_empty() {
                    Some(MemoryCgroup::V2(under("/sys/fs/cgroup")))
                } else if controllers.split(',').any(|c| c == "memory") {
                    Some(MemoryCgroup::V1(under("/sys/fs/cgroup/memory")))
                } else {
                    None
                }
            })
            .filter(|c| c.dir().is_dir())
            .collect()
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        match self {
            MemoryCgroup::V2(d) | MemoryCgroup::V1(d) => d,
        }
    }

    /// Its hierarchy's root, above which the ancestors stop.
    fn root(&self) -> &'static str {
        match self {
            MemoryCgroup::V2(_) => "/sys/fs/cgroup",
            MemoryCgroup::V1(_) => "/sys/fs/cgroup/memory",
        }
    }

    /// Its memory limit, the tightest along its ancestors (v2 `memory.max`, v1
    /// `memory.limit_in_bytes`); `None` when unlimited.
    pub fn limit(&self) -> Option<u64> {
        let file = match self {
            MemoryCgroup::V2(_) => "memory.max",
            MemoryCgroup::V1(_) => "memory.limit_in_bytes",
        };
        let mut best: Option<u64> = None;
        let mut dir = self.dir().to_owned();
        loop {
            if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
                // v2 writes "max" and v1 a huge number for "no limit".
                if let Ok(v) = text.trim().parse::<u64>() {
                    if v < (1 << 60) {
                        best = Some(best.map_or(v, |b| b.min(v)));
                    }
                }
            }
            if dir.as_os_str().len() <= self.root().len() || !dir.pop() {
                break;
            }
        }
        best
    }

    /// What it uses now (v2 `memory.current`, v1 `memory.usage_in_bytes`), bytes.
    pub fn usage(&self) -> Option<u64> {
        let file = match self {
            MemoryCgroup::V2(d) => d.join("memory.current"),
            MemoryCgroup::V1(d) => d.join("memory.usage_in_bytes"),
        };
        std::fs::read_to_string(file).ok()?.trim().parse().ok()
    }

    /// How many processes of this cgroup the kernel's OOM killer has killed: the
    /// `oom_kill` line of v2 `memory.events` or of v1 `memory.oom_control` (Linux 4.13+).
    pub fn oom_kills(&self) -> Option<u64> {
        let file = match self {
            MemoryCgroup::V2(d) => d.join("memory.events"),
            MemoryCgroup::V1(d) => d.join("memory.oom_control"),
        };
        oom_kill_line(&std::fs::read_to_string(file).ok()?)
    }
}

/// The `oom_kill N` line of a cgroup's `memory.events`/`memory.oom_control` or of
/// `/proc/vmstat` (the same spelling in all three).
fn oom_kill_line(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
}

/// OOM kills on the whole machine so far (`oom_kill` in `/proc/vmstat`): the only count a
/// process outside any limited cgroup leaves when the global OOM killer takes it.
pub fn system_oom_kills() -> Option<u64> {
    oom_kill_line(&std::fs::read_to_string("/proc/vmstat").ok()?)
}

/// The memory limit of the cgroup (v2 `memory.max`, or v1 `memory.limit_in_bytes`) that
/// `pid` runs in, the tightest along its ancestors; `None` when unlimited or unknown.
pub fn cgroup_memory_limit(pid: i32) -> Option<u64> {
    MemoryCgroup::of(pid)
        .iter()
        .filter_map(MemoryCgroup::limit)
        .min()
}

/// Memory process `pid` could still take without pushing the machine or its cgroup into
/// reclaim or the OOM killer: the kernel's `MemAvailable`, capped by each limited memory
/// cgroup's limit less its usage. `None` when `/proc/meminfo` cannot be read.
pub fn memory_headroom(pid: i32) -> Option<u64> {
    let meminfo: procfs::Meminfo = procfs::Current::current().ok()?;
    let mut headroom = meminfo.mem_available?;
    for cgroup in MemoryCgroup::of(pid) {
        if let (Some(limit), Some(usage)) = (cgroup.limit(), cgroup.usage()) {
            headroom = headroom.min(limit.saturating_sub(usage));
        }
    }
    Some(headroom)
}

#[cfg(test)]
mod tests {
    #[test]
    fn launchers_are_told_by_program_script_or_title() {
        // Command lines as /proc gives them, arguments split at `|`.
        let runs = |cmdline: &str| {
            let args: Vec<String> = cmdline.split('|').map(str::to_owned).collect();
            super::runs_launcher(&args)
        };
        for launcher in [
            "node|/usr/lib/node_modules/npm/bin/npm-cli.js|run|t",
            "npm run leak||", // the process title npm sets over its command line
            "node|/usr/local/bin/pnpm|test",
            "node|/p/node_modules/.bin/cross-env|A=1|node|x.js",
            "node|/p/node_modules/nodemon/bin/nodemon.js|x.js",
        ] {
            assert!(runs(launcher), "{launcher}");
        }
        for workload in [
            "node|--expose-gc|runner.js",
            "node|npm-audit-report.js",
            "node|/p/node_modules/.bin/ts-node|x.ts", // runs the workload in itself
        ] {
            assert!(!runs(workload), "{workload}");
        }
        assert!(super::is_launcher("/usr/bin/npx"));
        assert!(!super::is_launcher("node"));
    }

    #[test]
    fn the_headroom_is_some_of_the_machines_memory() {
        let total: procfs::Meminfo = procfs::Current::current().expect("/proc/meminfo");
        let headroom = super::memory_headroom(std::process::id() as i32).expect("MemAvailable");
        assert!(headroom > 0 && headroom <= total.mem_total, "{headroom}");
    }

    #[test]
    fn node_is_named_exactly() {
        for yes in [
            "node",
            "/usr/bin/node",
            "nodejs",
            "node20",
            "node18.19",
            "/opt/node20.11",
        ] {
            assert!(super::is_node_program(yes), "{yes}");
        }
        for no in [
            "nodemon",
            "/usr/bin/nodemon",
            "node_exporter",
            "nodered",
            "nod",
            "npx",
            "node-gyp",
            "deno",
            "",
        ] {
            assert!(!super::is_node_program(no), "{no}");
        }
    }

    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn reads_limits_and_oom_kills_in_both_cgroup_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (v1, v2) = (dir.path().join("v1"), dir.path().join("v2"));
        std::fs::create_dir_all(&v1).expect("v1");
        std::fs::create_dir_all(&v2).expect("v2");
        // The files as the kernel writes them.
        std::fs::write(
            v1.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        )
        .expect("write");
        std::fs::write(v1.join("memory.limit_in_bytes"), "134217728\n").expect("write");
        std::fs::write(
            v2.join("memory.events"),
            "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n",
        )
        .expect("write");
        std::fs::write(v2.join("memory.max"), "max\n").expect("write");
        let (v1, v2) = (MemoryCgroup::V1(v1), MemoryCgroup::V2(v2));
        assert_eq!(v1.oom_kills(), Some(3));
        assert_eq!(v2.oom_kills(), Some(2));
        assert_eq!(v1.limit(), Some(128 << 20));
        assert_eq!(v2.limit(), None, "\"max\" is no limit");
        // This process's own cgroups exist where /proc says they are.
        for c in MemoryCgroup::of(std::process::id() as i32) {
            assert!(c.dir().is_dir(), "{c:?}");
        }
        assert!(system_oom_kills().is_some(), "/proc/vmstat has oom_kill");
    }

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
                    pss.is_some_and(|p| p > 64 * 1024 && p <= s.total.rss),
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
        assert!(
            s.total.rss > 0 && s.total.rss == s.processes.iter().map(|p| p.memory.rss).sum::<u64>()
        );
        assert!(s.total.threads >= 3);
        assert!(
            s.total.pss.is_some_and(|p| p > 0 && p <= s.total.rss),
            "{s:?}"
        );
        assert!(
            tree.sample(false).is_none(),
            "a reaped root gives no sample"
        );
    }

    #[test]
    fn finds_a_listening_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let ports = loopback_listening_ports(std::process::id() as i32);
        assert!(ports.contains(&port), "{port} not in {ports:?}");
    }

    #[test]
    fn follows_a_tree_from_several_roots() {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("sleep 30 & wait")
            .spawn()
            .expect("sh starts");
        let pid = child.id() as i32;
        let mut found = None;
        for _ in 0..100 {
            let tree = descendants(&list_processes(), &[pid, -5]);
            // The forked child is `sh` until it has exec'd `sleep`.
            let execd = |p: &ProcessEntry| {
                process_info(p.pid).is_some_and(|i| i.cmdline == ["sleep", "30"])
            };
            if tree.len() == 2 && execd(&tree[1]) {
                found = Some(tree);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let tree = found.expect("sh and its sleep");
        assert_eq!(tree[0].pid, pid);
        assert_eq!(tree[1].ppid, pid);
        assert!(tree[1].start_ticks >= tree[0].start_ticks);
        // The sleep as a root of its own: found once, first.
        let again = descendants(&list_processes(), &[tree[1].pid, pid]);
        assert_eq!(again[0].pid, tree[1].pid);
        assert_eq!(again.len(), 2);
        let info = process_info(tree[1].pid).expect("sleep is alive");
        assert_eq!(info.cmdline, ["sleep", "30"]);
        assert!(info.exe.is_some());
        assert!(!info.catches(12), "sleep has no SIGUSR2 handler");
        assert!(!has_env_var(tree[1].pid, "LEAKTRAIL_NO_SUCH_VARIABLE"));
        assert!(has_env_var(tree[1].pid, "PATH"));
        let _ = Command::new("kill").arg(tree[1].pid.to_string()).status();
        let _ = child.wait();
        assert!(process_info(pid).is_none(), "a reaped process has no info");
    }

    #[test]
    fn sees_an_open_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("open.txt");
        let me = std::process::id() as i32;
        let file = std::fs::File::create(&path).expect("create");
        assert!(holds_open(me, &path));
        drop(file);
        assert!(!holds_open(me, &path));
        assert!(!holds_open(-1, &path));
    }

    #[test]
    fn this_process() {
        let me = sample_process(std::process::id() as i32, 0, false).expect("self");
        assert!(
            me.memory.rss > 0
                && me.memory.anon > 0
                && me.memory.threads >= 1
                && me.memory.pss.is_none()
        );
    }
}
