//! What each process of a test run does — runs tests or only coordinates — and so which
//! processes are snapshotted.
//!
//! A heap snapshot pauses its process for seconds; the processes worth that cost are the
//! ones that run test files, where a leak between files accumulates. The others — npm or
//! npx, a runner's main process that only schedules files (Jest's parent, Vitest's main
//! process, Mocha's `--parallel` main process, the `node --test` runner) — are snapshotted
//! only on request (`snapshot_coordinators`): a snapshot of Vitest's main process stalls
//! the scheduling of every file.
//!
//! Roles come from two places while the command runs:
//! - trace's preload ([`crate::hooks`]) appends a `role` line to its events file as soon as
//!   a process knows what it is (`worker`: a runner's worker, or Jest in band;
//!   `coordinator`: a runner's main process), and a `start` line per test file; the
//!   [`RoleFeed`] reads the lines added since the last sample;
//! - the command line and environment: a `node --test` file process
//!   (`NODE_TEST_CONTEXT`) runs tests, the `node --test` runner coordinates.
//!
//! Once any process is known to belong to a test runner, the run is a test run and only
//! processes that run tests are snapshotted; until then — and in a run with no test runner
//! at all (`node server.js`, a script forking workers) — every Node process is, as it
//! would be without roles.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a process does in a test run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Role {
    /// `jest`, `vitest`, `mocha` or `node --test`.
    pub runner: String,
    /// It runs test files (a worker, a `node --test` file process, Jest in band).
    pub runs_tests: bool,
    /// It is the runner's main process, scheduling files.
    pub coordinates: bool,
    /// Its test files run in its worker threads (Vitest's threads pool), each a lane of
    /// its own ([`crate::threads`]), rather than in its main thread.
    #[serde(default)]
    pub in_threads: bool,
}

impl Role {
    /// A short label for the report: `jest worker`, `vitest coordinator`, `jest in band`,
    /// `mocha serial` (Mocha without --parallel: its one process runs every file),
    /// `vitest threads pool` (a main process whose worker threads run the files),
    /// `node --test file`, `node --test runner`.
    pub fn label(&self) -> String {
        let node_test = self.runner == "node --test";
        let what = match (self.runs_tests, self.coordinates) {
            (true, true) if self.in_threads => "threads pool",
            // Mocha's own word for the mode it runs every file in itself.
            (true, true) if self.runner == "mocha" => "serial",
            (true, true) => "in band",
            (true, false) if node_test => "file",
            (true, false) => "worker",
            (false, _) if node_test => "runner",
            (false, _) => "coordinator",
        };
        format!("{} {what}", self.runner)
    }

    fn merge(&mut self, other: &Role) {
        if self.runner.is_empty() {
            self.runner.clone_from(&other.runner);
        }
        self.runs_tests |= other.runs_tests;
        self.coordinates |= other.coordinates;
        self.in_threads |= other.in_threads;
    }
}

/// The role of a process from its command line alone: the `node --test` runner and the
/// file processes it starts (`test_file`, found by `NODE_TEST_CONTEXT`).
pub fn role_from_command(node: bool, command: &[String], test_file: bool) -> Option<Role> {
    let runner = || "node --test".to_owned();
    if test_file {
        return Some(Role {
            runner: runner(),
            runs_tests: true,
            coordinates: false,
            in_threads: false,
        });
    }
    let test_flag = command
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--test");
    (node && test_flag).then(|| Role {
        runner: runner(),
        runs_tests: false,
        coordinates: true,
        in_threads: false,
    })
}

/// The roles known so far, by PID, and the preload's events file they are read from.
#[derive(Debug, Default)]
pub struct Roles {
    by_pid: HashMap<i32, Role>,
    /// Processes whose main thread runs test files under the preload's hooks: they can
    /// snapshot themselves between files ([`crate::boundaries`]).
    hooked_workers: HashSet<i32>,
    /// Processes whose worker threads run test files under the preload's hooks: each such
    /// thread snapshots its own heap between files ([`crate::threads`]).
    thread_workers: HashSet<i32>,
    feed: Option<RoleFeed>,
}

impl Roles {
    /// Roles read from `feed` (the preload's events file) as well as command lines.
    pub fn following(feed: Option<RoleFeed>) -> Roles {
        Roles {
            by_pid: HashMap::new(),
            hooked_workers: HashSet::new(),
            thread_workers: HashSet::new(),
            feed,
        }
    }

    /// True when the preload's events are read (it tells workers from coordinators).
    pub fn follows_preload(&self) -> bool {
        self.feed.is_some()
    }

    /// Reads the roles the preload wrote since the last call.
    pub fn poll(&mut self) {
        if let Some(feed) = &mut self.feed {
            for (pid, role, main_thread) in feed.poll() {
                if role.runs_tests && main_thread {
                    self.hooked_workers.insert(pid);
                }
                if role.runs_tests && !main_thread {
                    self.thread_workers.insert(pid);
                }
                self.by_pid.entry(pid).or_default().merge(&role);
            }
        }
    }

    /// Records what `pid` was seen doing; a process can both coordinate and run tests.
    pub fn note(&mut self, pid: i32, role: &Role) {
        self.by_pid.entry(pid).or_default().merge(role);
    }

    /// What `pid` does, when known.
    pub fn of(&self, pid: i32) -> Option<&Role> {
        self.by_pid.get(&pid)
    }

    /// True when the preload said `pid`'s main thread runs test files: it then writes its
    /// own snapshots at file boundaries when asked to ([`crate::boundaries`]).
    pub fn hooked_worker(&self, pid: i32) -> bool {
        self.hooked_workers.contains(&pid)
    }

    /// True when the preload said test files run in worker threads of `pid`: those threads
    /// snapshot their own heaps at file boundaries when asked to ([`crate::threads`]).
    pub fn thread_worker(&self, pid: i32) -> bool {
        self.thread_workers.contains(&pid)
    }

    /// True once any process is known to belong to a test runner.
    pub fn test_run(&self) -> bool {
        !self.by_pid.is_empty()
    }

    /// Whether a Node process `pid` is snapshotted; `Err` says why not. With
    /// `coordinators`, or in a run where no test runner was recognised, every Node process
    /// is.
    pub fn snapshot_wanted(&self, pid: i32, coordinators: bool) -> Result<(), String> {
        if coordinators || !self.test_run() {
            return Ok(());
        }
        match self.of(pid) {
            Some(r) if r.runs_tests => Ok(()),
            Some(r) => Err(format!("the {}, which runs no tests", r.label())),
            None => Err("not a test runner's worker: runs no tests".to_owned()),
        }
    }
}

/// One line of the preload's events file, as far as roles go.
#[derive(Deserialize)]
struct Line {
    runner: String,
    event: String,
    #[serde(default)]
    role: String,
    pid: i32,
    #[serde(default)]
    tid: u32,
}

/// Reads the preload's events file as it grows: the lines completed since the last read.
#[derive(Debug)]
pub struct RoleFeed {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl RoleFeed {
    /// Follows the events file at `path` from its start.
    pub fn new(path: PathBuf) -> RoleFeed {
        RoleFeed {
            path,
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// The roles stated in the lines written since the last call. A file's `start` line
    /// says its process runs tests (a process that wrote no `role` line of its own, or
    /// whose role line came later, is still known). Unreadable lines are skipped here;
    /// [`crate::hooks::FileHooks::read`] counts them at the end. Each role comes with
    /// whether the line came from the process's main thread.
    pub fn poll(&mut self) -> Vec<(i32, Role, bool)> {
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&self.path).and_then(|mut f| {
            f.seek(SeekFrom::Start(self.offset))?;
            f.read_to_end(&mut bytes)
        });
        let Ok(n) = read else {
            return Vec::new();
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&bytes);
        // Only complete lines: a worker may be halfway through writing one.
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        String::from_utf8_lossy(&complete)
            .lines()
            .filter_map(|l| serde_json::from_str::<Line>(l).ok())
            .filter_map(|l| {
                let role = match (l.event.as_str(), l.role.as_str()) {
                    ("role", "coordinator") => (false, true),
                    ("role", "worker") | ("start", _) => (true, false),
                    _ => return None,
                };
                Some((
                    l.pid,
                    Role {
                        runner: l.runner,
                        runs_tests: role.0,
                        coordinates: role.1,
                        in_threads: role.0 && l.tid != 0,
                    },
                    l.tid == 0,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn labels_and_command_roles() {
        let runner = role_from_command(true, &args("node --test test/"), false).expect("runner");
        assert_eq!(runner.label(), "node --test runner");
        let file = role_from_command(true, &args("node /w/a.test.js"), true).expect("file");
        assert_eq!(file.label(), "node --test file");
        assert_eq!(
            role_from_command(true, &args("node a.js -- --test"), false),
            None
        );
        assert_eq!(role_from_command(false, &args("sh --test"), false), None);
        let mut band = Role {
            runner: "jest".to_owned(),
            coordinates: true,
            ..Role::default()
        };
        assert_eq!(band.label(), "jest coordinator");
        band.merge(&Role {
            runner: "jest".to_owned(),
            runs_tests: true,
            ..Role::default()
        });
        assert_eq!(band.label(), "jest in band");
        let serial = Role {
            runner: "mocha".to_owned(),
            runs_tests: true,
            coordinates: true,
            in_threads: false,
        };
        assert_eq!(serial.label(), "mocha serial");
        let mut pool = Role {
            runner: "vitest".to_owned(),
            coordinates: true,
            ..Role::default()
        };
        pool.merge(&Role {
            runner: "vitest".to_owned(),
            runs_tests: true,
            in_threads: true,
            ..Role::default()
        });
        assert_eq!(pool.label(), "vitest threads pool");
    }

    #[test]
    fn only_test_processes_once_a_runner_is_known() {
        let mut roles = Roles::default();
        // No runner: everything, as without roles.
        assert_eq!(roles.snapshot_wanted(1, false), Ok(()));
        roles.note(
            2,
            &Role {
                runner: "vitest".to_owned(),
                coordinates: true,
                ..Role::default()
            },
        );
        assert_eq!(
            roles.snapshot_wanted(2, false),
            Err("the vitest coordinator, which runs no tests".to_owned())
        );
        assert!(roles.snapshot_wanted(1, false).is_err());
        assert_eq!(roles.snapshot_wanted(1, true), Ok(()));
        // Vitest threads: the main process runs the files in its threads.
        roles.note(
            2,
            &Role {
                runner: "vitest".to_owned(),
                runs_tests: true,
                coordinates: false,
                in_threads: true,
            },
        );
        assert_eq!(roles.snapshot_wanted(2, false), Ok(()));
    }

    #[test]
    fn feed_reads_complete_lines_as_they_come() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let mut f = std::fs::File::create(&path).expect("create");
        let mut feed = RoleFeed::new(path);
        assert!(feed.poll().is_empty());
        // Two lines and half of a third: only the complete lines are read.
        let text = [
            r#"{"runner":"jest","event":"role","role":"coordinator","pid":5,"tid":0,"t":1}"#,
            r#"{"runner":"jest","event":"end","file":"/a","pid":6,"tid":0,"t":1}"#,
            r#"{"runner":"jest","event":"ro"#,
        ]
        .join("\n");
        f.write_all(text.as_bytes()).expect("write");
        let got = feed.poll();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 5);
        assert!(got[0].1.coordinates && !got[0].1.runs_tests);
        writeln!(f, r#"le","role":"worker","pid":7,"tid":0,"t":2}}"#).expect("write");
        writeln!(
            f,
            r#"{{"runner":"mocha","event":"start","file":"/b","pid":8,"tid":0,"t":3}}"#
        )
        .expect("write");
        let got: Vec<(i32, String)> = feed
            .poll()
            .into_iter()
            .map(|(pid, r, _)| (pid, r.label()))
            .collect();
        assert_eq!(
            got,
            [
                (7, "jest worker".to_owned()),
                (8, "mocha worker".to_owned())
            ]
        );
        assert!(feed.poll().is_empty());
    }
}
