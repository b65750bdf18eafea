//! Starting and stopping a workload leaktrail owns: in its own process group (so the
//! whole tree can be stopped, and Ctrl-C at leaktrail's terminal does not reach it first),
//! killed if leaktrail dies, with the Node inspector requested through `NODE_OPTIONS`.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Starts `command` (program and arguments). `inspect` appends `--inspect=127.0.0.1:0` to
/// the `NODE_OPTIONS` it inherits (other programs ignore it); stdin is closed.
pub fn spawn_workload(
    command: &[String],
    inspect: bool,
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
        .stdin(Stdio::null());
    cmd.process_group(0);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of the
    // parent; it is the only thing done between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
    if inspect {
        let mut options = std::env::var("NODE_OPTIONS").unwrap_or_default();
        options.push_str(" --inspect=127.0.0.1:0");
        cmd.env("NODE_OPTIONS", options.trim());
    }
    cmd.spawn()
}

/// Stops the workload's process group: SIGTERM, then SIGKILL after `grace`.
pub fn stop_workload(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
    }
    if wait_exit(child, grace).is_none() {
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = child.kill();
    }
}

/// Waits up to `timeout` for the child to exit.
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
