//! A workload's processes, started and stopped whole: `run`, `watch` and `trace` start the
//! command in a process group of its own ([`spawn_in_group`], [`spawn_workload`], with
//! Node held on a pipe until leaktrail is attached, [`Hold`]) and stop its whole tree
//! ([`stop_group`]); [`StopSignals`] records SIGINT, SIGTERM and SIGHUP for the run to act
//! on while the workload runs.

#![deny(missing_docs)]

mod signals;
mod spawn;

pub use signals::{signal_name, PendingSignal, StopSignals, STOP_SIGNALS};
pub use spawn::{
    signal_group, spawn_in_group, spawn_workload, stop_group, wait_exit, Hold, NodeStart,
    HOLD_PRELOAD, NODE_OPTIONS_WITH_VALUE,
};
