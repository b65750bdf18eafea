//! CPU and allocation profiles recorded over the inspector during a run.
//!
//! The profilers start right after the harness connects and stop at the end of the run,
//! before the session closes: when the harness stops the workload (iteration or time
//! bound), or when Node, having finished, waits for the debugger to disconnect. An exiting
//! Node never answers a forced GC, but still answers `Profiler.stop`; so while profiling,
//! a call in flight at exit is abandoned ([`Inspector::set_abort_flag`]) instead of the
//! connection being cut, and the session lives long enough to collect the profiles.
//! They are written as Node writes them (`.cpuprofile`, `.heapprofile`), owner-only: they
//! name scripts, paths and URLs.

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use leaktrail_inspector::{Inspector, InspectorError};
use leaktrail_private_files::create_file;

/// The CPU profile's file name in [`ProfileRequest::dir`].
pub const CPU_PROFILE_FILE: &str = "profile.cpuprofile";
/// The allocation profile's file name in [`ProfileRequest::dir`].
pub const ALLOC_PROFILE_FILE: &str = "alloc.heapprofile";

/// Which profiles to record during a run, and where to write them.
#[derive(Clone, Debug)]
pub struct ProfileRequest {
    /// Record a CPU profile sampled at this interval ([`CPU_PROFILE_FILE`]).
    pub cpu_interval: Option<Duration>,
    /// Record a sampling heap profile, one sample per this many bytes allocated on
    /// average ([`ALLOC_PROFILE_FILE`]).
    pub alloc_interval: Option<u64>,
    /// The directory the files go to.
    pub dir: PathBuf,
}

/// The profiles a run wrote, and the ones it could not.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecordedProfiles {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Why a requested profile is missing.
    pub errors: Vec<String>,
}

/// The profilers of one session.
pub(crate) struct Profiling {
    request: Option<ProfileRequest>,
    /// Set by the stderr reader when Node starts exiting.
    exiting: Arc<AtomicBool>,
    cpu: bool,
    alloc: bool,
}

impl Profiling {
    pub(crate) fn new(request: Option<ProfileRequest>, exiting: Arc<AtomicBool>) -> Profiling {
        Profiling {
            request,
            exiting,
            cpu: false,
            alloc: false,
        }
    }

    /// Starts the requested profilers on a fresh connection. `cut` is where the stderr
    /// reader finds the connection to cut at exit; profiling takes it away and uses the
    /// abort flag instead, which keeps the session.
    pub(crate) fn start(
        &mut self,
        inspector: &mut Inspector,
        cut: &Mutex<Option<TcpStream>>,
        record: &mut RecordedProfiles,
    ) {
        let Some(request) = &self.request else {
            return;
        };
        if let Some(interval) = request.cpu_interval {
            match inspector.start_cpu_profile(interval) {
                Ok(()) => self.cpu = true,
                Err(e) => record.errors.push(format!("CPU profile not started: {e}")),
            }
        }
        if let Some(bytes) = request.alloc_interval {
            match inspector.heap_sampling_start(bytes) {
                Ok(()) => self.alloc = true,
                Err(e) => record
                    .errors
                    .push(format!("allocation profile not started: {e}")),
            }
        }
        if self.cpu || self.alloc {
            if let Ok(mut cut) = cut.lock() {
                cut.take();
            }
            inspector.set_abort_flag(Some(self.exiting.clone()));
        }
    }

    /// Stops the running profilers and writes their files. Without a connection the
    /// profiles are lost, and `record` says so.
    pub(crate) fn stop(
        &mut self,
        inspector: Option<&mut Inspector>,
        record: &mut RecordedProfiles,
    ) {
        let (Some(request), true) = (&self.request, self.cpu || self.alloc) else {
            return;
        };
        let Some(inspector) = inspector else {
            record
                .errors
                .push("profiles lost: the inspector connection was gone".to_owned());
            return;
        };
        // Node answers these even while exiting: no reason to give up on them.
        inspector.set_abort_flag(None);
        let mut save = |what: &str,
                        file: &str,
                        answer: Result<serde_json::Value, InspectorError>| {
            let path = request.dir.join(file);
            let written = answer.map_err(|e| e.to_string()).and_then(|profile| {
                let mut f = create_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                serde_json::to_writer(&mut f, &profile)
                    .map_err(std::io::Error::from)
                    .and_then(|_| f.flush())
                    .map_err(|e| {
                        let _ = std::fs::remove_file(&path);
                        format!("{}: {e}", path.display())
                    })
            });
            match written {
                Ok(()) => record.files.push(path),
                Err(e) => record.errors.push(format!("{what} lost: {e}")),
            }
        };
        if std::mem::take(&mut self.cpu) {
            save("CPU profile", CPU_PROFILE_FILE, inspector.profiler_stop());
        }
        if std::mem::take(&mut self.alloc) {
            save(
                "allocation profile",
                ALLOC_PROFILE_FILE,
                inspector.heap_sampling_stop(),
            );
        }
    }
}
