//! What to watch and how: the target, its configuration, and the check that a target can
//! be watched at all, made before the store is so that a typo leaves nothing behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use leaktrail_analysis::CensusLimits;

use crate::{node_process, CensusWorker, WatchError};

/// What to watch.
#[derive(Clone, Debug)]
pub enum WatchTarget {
    /// A process that is already running.
    Pid(i32),
    /// A command to start (and restart).
    Command(Vec<String>),
}

/// How to watch.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// The process.
    pub target: WatchTarget,
    /// The store directory.
    pub store_dir: PathBuf,
    /// The target's name in the store (default: the script or program name).
    pub name: Option<String>,
    /// Time between samples.
    pub sample_every: Duration,
    /// Time between scheduled snapshots.
    pub snapshot_every: Duration,
    /// Least time between two snapshots, however fast memory grows.
    pub min_snapshot_gap: Duration,
    /// Raw snapshot files kept (oldest deleted first).
    pub keep: Option<usize>,
    /// Bytes of raw snapshot files kept.
    pub max_disk: Option<u64>,
    /// Start the command again when it dies.
    pub restart: bool,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Use the Node inspector (heap samples, snapshots).
    pub inspector: bool,
    /// Force a full GC before each heap sample (precise, but pauses the service: for
    /// staging and tests, not production).
    pub gc_before_sample: bool,
    /// Sample the process alone, not its descendants.
    pub process_only: bool,
    /// Read PSS every this many samples (0: never).
    pub pss_every: u32,
    /// Growth per hour that triggers an early snapshot, bytes.
    pub growth_trigger_per_hour: f64,
    /// What a census keeps.
    pub census: CensusLimits,
    /// Where snapshots are parsed (a child process keeps the watcher's memory its own).
    pub census_worker: CensusWorker,
    /// How long after the watcher starts a command its censuses are start-up (default
    /// 30 s): caches fill and modules load then, and what is allocated and kept rises
    /// across three censuses like a leak, so they are no leak evidence.
    pub start_up: Duration,
    /// Write each snapshot to the store's `snapshots/` before its census (the default).
    /// Without, an inspector snapshot streams from V8 straight into the census's parser
    /// through a pipe and no raw file is ever written, anywhere: a heap holds every secret
    /// of the process. (A `--heapsnapshot-signal` snapshot is Node's own file: this mode
    /// needs the inspector.)
    pub raw_snapshots: bool,
}

/// Checks that `target` can be watched: the process is there, or the command's program is
/// an executable file. Done before the store is made, so that a typo leaves nothing behind.
pub fn check_target(target: &WatchTarget) -> Result<(), WatchError> {
    match target {
        WatchTarget::Pid(pid) => match node_process::cmdline(*pid) {
            Some(_) => Ok(()),
            None => Err(WatchError::NoProcess(*pid)),
        },
        WatchTarget::Command(command) => {
            let spawn_error = |error| WatchError::Spawn {
                command: command.join(" "),
                error,
            };
            let program = command.first().ok_or_else(|| {
                spawn_error(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "no command given",
                ))
            })?;
            find_program(program).map_err(spawn_error)
        }
    }
}

/// Whether `program` can be started as `Command::new(program)` would: a path (with a
/// `/`) to an executable file, or a name found in `PATH`. A start can still fail for what
/// this does not see (an interpreter line naming a missing program); that failure comes
/// after the store is made, as it would with a program deleted between check and start.
fn find_program(program: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| -> std::io::Result<()> {
        let meta = std::fs::metadata(path)?;
        if meta.is_dir() {
            return Err(std::io::Error::from_raw_os_error(libc::EISDIR));
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EACCES));
        }
        Ok(())
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    // The child's search path is this process's PATH (the watcher does not change it);
    // without one, the C library's default.
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    if std::env::split_paths(&path).any(|dir| executable(&dir.join(program)).is_ok()) {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "no such program in PATH",
    ))
}
