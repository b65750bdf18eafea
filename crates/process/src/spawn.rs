//! Starting a workload so that it can be stopped whole, and stopping it.
//!
//! The command gets its own process group, so that the whole tree it forks can be signalled
//! at once (Ctrl-C reaches leaktrail's group, not the workload's), and
//! `PR_SET_PDEATHSIG(SIGKILL)`, so that it dies with leaktrail rather than running on as
//! an orphan.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Spawns `cmd` in a new process group whose leader is killed when leaktrail dies.
pub fn spawn_in_group(cmd: &mut Command) -> std::io::Result<Child> {
    cmd.process_group(0);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of the
    // parent; it is the only thing done between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn()
}

/// What a Node workload is started with.
#[derive(Debug)]
pub enum NodeStart<'a> {
    /// Not as Node: `NODE_OPTIONS` untouched.
    Plain,
    /// `--inspect=127.0.0.1:0` appended to the `NODE_OPTIONS` it inherits.
    Inspect,
    /// As `Inspect`, and held at its start until leaktrail's session is attached, so that
    /// a short workload is measured from its first iteration: the [`Hold`]'s preload is
    /// loaded with `--require` and reads its pipe before the workload's own code runs.
    InspectHeld(&'a mut Hold),
}

/// The preload that holds a Node workload: it reads the pipe leaktrail passes it until
/// leaktrail closes its end — once attached, or when it dies — so it can never wait
/// forever. The variable is removed at once: a Node program the workload starts in turn
/// must not wait too. The inspector's own thread accepts the session meanwhile.
pub const HOLD_PRELOAD: &str = "{ const fd = Number(process.env.LEAKTRAIL_HOLD_FD); delete process.env.LEAKTRAIL_HOLD_FD; if (Number.isInteger(fd) && fd > 2) { const fs = require('fs'); try { while (fs.readSync(fd, Buffer.alloc(1)) > 0); } catch (e) {} try { fs.closeSync(fd); } catch (e) {} } }\n";

/// The preload's file name in its private directory. `.cjs`: CommonJS whatever a
/// `package.json` above the temporary directory or `--experimental-default-type` says.
const HOLD_FILE: &str = "leaktrail-hold.cjs";

/// What holds a Node workload at its start: [`HOLD_PRELOAD`] in a private temporary
/// directory (removed with it) and the pipe it waits on; [`Hold::release`] (or dropping
/// it) lets the workload go.
#[derive(Debug)]
pub struct Hold {
    dir: tempfile::TempDir,
    read: Option<rustix::fd::OwnedFd>,
    write: Option<rustix::fd::OwnedFd>,
}

impl Hold {
    /// Writes the preload and opens the pipe: its read end is inherited by the workload,
    /// its write end kept here.
    pub fn new() -> std::io::Result<Hold> {
        let dir = tempfile::Builder::new()
            .prefix("leaktrail-hold-")
            .tempdir()?;
        leaktrail_private_files::write_file(&dir.path().join(HOLD_FILE), HOLD_PRELOAD)?;
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        Ok(Hold {
            dir,
            read: Some(read),
            write: Some(write),
        })
    }

    /// Lets the workload go.
    pub fn release(&mut self) {
        self.write = None;
    }
}

/// Starts `command` (program and arguments) with [`spawn_in_group`], as Node or not
/// ([`NodeStart`]; other programs ignore `NODE_OPTIONS`); stdin is closed.
pub fn spawn_workload(
    command: &[String],
    mut node: NodeStart<'_>,
    stdout: Stdio,
    stderr: Stdio,
) -> std::io::Result<Child> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command given"))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdout(stdout)
        .stderr(stderr)
        .stdin(Stdio::null())
        // The workload gets no bearer token of leaktrail's server: it is not its secret.
        .env_remove("LEAKTRAIL_TOKEN");
    if !matches!(node, NodeStart::Plain) {
        let mut options = std::env::var("NODE_OPTIONS").unwrap_or_default();
        options.push_str(" --inspect=127.0.0.1:0");
        if let NodeStart::InspectHeld(hold) = &node {
            if let Some(read) = &hold.read {
                // The read end is inherited across exec: it alone loses close-on-exec.
                use rustix::fd::AsRawFd;
                rustix::io::fcntl_setfd(read, rustix::io::FdFlags::empty())?;
                cmd.env("LEAKTRAIL_HOLD_FD", read.as_raw_fd().to_string());
                // NODE_OPTIONS takes a path with spaces only quoted, `"` and `\` escaped.
                let quoted = hold
                    .dir
                    .path()
                    .join(HOLD_FILE)
                    .display()
                    .to_string()
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"");
                options.push_str(&format!(" --require \"{quoted}\""));
            }
        }
        cmd.env("NODE_OPTIONS", options.trim());
    }
    let child = spawn_in_group(&mut cmd)?;
    // leaktrail's copy of the read end closes once the workload has its own: the workload
    // would otherwise never see the pipe close.
    if let NodeStart::InspectHeld(hold) = &mut node {
        hold.read = None;
    }
    Ok(child)
}

/// Sends `signal` (a signal number) to the process group led by `child`.
pub fn signal_group(child: &Child, signal: i32) -> std::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(child.id() as i32)
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let signal = rustix::process::Signal::from_named_raw(signal)
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    rustix::process::kill_process_group(pid, signal).map_err(std::io::Error::from)
}

/// Stops what is left of `child`'s process group: SIGTERM, then SIGKILL after `grace`.
/// The group may outlive its leader (workers of an exited runner), so it is signalled even
/// when `child` has exited; `child` is reaped.
pub fn stop_group(child: &mut Child, grace: Duration) {
    let leader_done = matches!(child.try_wait(), Ok(Some(_)));
    let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) else {
        return;
    };
    let group_alive = || rustix::process::test_kill_process_group(pid).is_ok();
    if !group_alive() {
        let _ = child.wait();
        return;
    }
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
    let until = Instant::now() + grace;
    while Instant::now() < until && group_alive() {
        if !leader_done {
            let _ = child.try_wait();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if group_alive() {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.wait();
}

/// Waits up to `timeout` for `child` to exit.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Node's options that take their value as the next argument (`-r ./setup.js`) when not
/// written `--require=./setup.js`: without this list the value would be taken for the
/// script (by `watch`'s default target name and `trace`'s lanes alike).
pub const NODE_OPTIONS_WITH_VALUE: &[&str] = &[
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "-C",
    "--conditions",
    "--env-file",
    "--env-file-if-exists",
    "--input-type",
    "--inspect-port",
    "--debug-port",
    "--title",
    "--heapsnapshot-signal",
    "--heapsnapshot-near-heap-limit",
    "--diagnostic-dir",
    "--report-dir",
    "--report-directory",
    "--report-filename",
    "--report-signal",
    "--redirect-warnings",
    "--disable-warning",
    "--unhandled-rejections",
    "--max-old-space-size",
    "--max-semi-space-size",
    "--stack-size",
    "--icu-data-dir",
    "--openssl-config",
    "--secure-heap",
    "--secure-heap-min",
    "--watch-path",
    "--cpu-prof-dir",
    "--cpu-prof-name",
    "--heap-prof-dir",
    "--heap-prof-name",
    "--test-reporter",
    "--test-reporter-destination",
    "--test-name-pattern",
    "--test-skip-pattern",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn stops_a_group_whose_leader_has_exited() {
        // The leader exits at once; its child sleeps on in the same group.
        let mut child = spawn_in_group(Command::new("sh").arg("-c").arg("sleep 30 & exit 0"))
            .expect("sh starts");
        let status = wait_exit(&mut child, Duration::from_secs(5)).expect("sh exits");
        assert!(status.success());
        let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
        assert!(
            rustix::process::test_kill_process_group(pid).is_ok(),
            "the sleep is still in the group"
        );
        stop_group(&mut child, Duration::from_secs(2));
        let mut gone = false;
        for _ in 0..100 {
            if rustix::process::test_kill_process_group(pid).is_err() {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone, "the group is empty");
    }

    #[test]
    fn signals_reach_the_group() {
        let mut child = spawn_in_group(Command::new("sleep").arg("30")).expect("sleep starts");
        signal_group(&child, 15).expect("signal sent");
        let status = wait_exit(&mut child, Duration::from_secs(5)).expect("sleep ends");
        assert_eq!(status.signal(), Some(15));
    }
}
