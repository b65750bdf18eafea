//! SIGINT, SIGTERM and SIGHUP while a workload runs: the first is leaktrail's to act on,
//! the second ends leaktrail at once.
//!
//! A workload runs in a process group of its own (so that its whole tree can be stopped),
//! which is not the terminal's: Ctrl-C reaches leaktrail only. Without handlers leaktrail
//! would die at once and leave the workload running and nothing written. With them, the
//! first signal is recorded for the run to act on (`run` stops the tree and writes what
//! it measured; `trace` passes the signal on); a second, from half a second on, ends
//! leaktrail with 128 + signal, as the default action would have.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Signals that stop a run.
pub const STOP_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

/// A second stop signal this soon after the first is the same stop delivered twice.
pub const SAME_SIGNAL: std::time::Duration = std::time::Duration::from_millis(500);

/// The handlers of the stop signals for the time of one run.
pub struct StopSignals {
    pending: PendingSignal,
    /// The actions that record a signal.
    recording: Vec<signal_hook::SigId>,
}

/// The signal received and not yet acted on; cheap to clone into a watcher thread.
#[derive(Clone)]
pub struct PendingSignal {
    /// Set once a signal has been taken (or the run is over): the next one ends us.
    armed: Arc<AtomicBool>,
    /// The last signal received, 0 when none is waiting.
    received: Arc<AtomicUsize>,
}

impl StopSignals {
    /// Installs the handlers (for the whole process, until [`StopSignals::disarm`]).
    pub fn install() -> StopSignals {
        let pending = PendingSignal {
            armed: Arc::new(AtomicBool::new(false)),
            received: Arc::new(AtomicUsize::new(0)),
        };
        let mut recording = Vec::new();
        for sig in STOP_SIGNALS {
            // Registered first, so it sees `armed` before this signal sets anything. It
            // stays after the run: with no action left, a signal would be ignored.
            let _ = signal_hook::flag::register_conditional_shutdown(
                sig,
                128 + sig,
                pending.armed.clone(),
            );
            if let Ok(id) =
                signal_hook::flag::register_usize(sig, pending.received.clone(), sig as usize)
            {
                recording.push(id);
            }
        }
        StopSignals { pending, recording }
    }

    /// The signal waiting to be acted on, if any (see [`PendingSignal::take`]).
    pub fn take(&self) -> Option<i32> {
        self.pending.take()
    }

    /// A handle for another thread to take the signal from.
    pub fn pending(&self) -> PendingSignal {
        self.pending.clone()
    }

    /// The run is over: a stop signal from now on ends leaktrail (as it would have without
    /// the handlers); the recording actions are removed.
    pub fn disarm(self) {
        self.pending.armed.store(true, Ordering::SeqCst);
        for id in self.recording {
            signal_hook::low_level::unregister(id);
        }
    }
}

impl PendingSignal {
    /// The signal waiting to be acted on, if any; once one is taken, the next is fatal —
    /// from [`SAME_SIGNAL`] on: a process manager that signals the whole group (systemd's
    /// default, coreutils `timeout`) and a wrapper that passes the signal on deliver one
    /// stop twice within milliseconds, and it must not kill leaktrail before its report.
    pub fn take(&self) -> Option<i32> {
        match self.received.swap(0, Ordering::SeqCst) {
            0 => None,
            s => {
                let armed = self.armed.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(SAME_SIGNAL);
                    armed.store(true, Ordering::SeqCst);
                });
                Some(s as i32)
            }
        }
    }
}

/// The name of a signal, for messages: `SIGINT`, `SIGSEGV`; `signal 40` for the rest.
pub fn signal_name(signal: i32) -> String {
    use signal_hook::consts::*;
    let name = match signal {
        SIGHUP => "SIGHUP",
        SIGINT => "SIGINT",
        SIGQUIT => "SIGQUIT",
        SIGILL => "SIGILL",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        SIGFPE => "SIGFPE",
        SIGKILL => "SIGKILL",
        SIGUSR1 => "SIGUSR1",
        SIGSEGV => "SIGSEGV",
        SIGUSR2 => "SIGUSR2",
        SIGPIPE => "SIGPIPE",
        SIGTERM => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}
