//! `leaktrail trace -- CMD`: the memory of every process of a test run, per PID and lane.
//!
//! A test suite that runs out of memory does so in one of its workers, and what matters is
//! which worker grew, how, and while running which file. [`trace`] runs the command in its
//! own process group and follows its whole tree as it forks: every `interval` it lists the
//! descendants of the command (and of every process already seen, so that an orphan
//! re-parented away from the tree stays followed) from `/proc` and records per PID the
//! command line, parent, start and end, and an RSS timeline ([`leaktrail_sampler`]).
//!
//! With `snapshot_every`, Node processes get `--heapsnapshot-signal=SIGUSR2` and a private
//! `--diagnostic-dir` through `NODE_OPTIONS`; each Node process of the tree that runs
//! tests (in a test run; every one otherwise, [`roles`]) is sent `SIGUSR2` once it has run `snapshot_every`, and again `snapshot_every` after each
//! snapshot is written (only when `/proc` shows it handles the signal, which by default
//! would kill it), and the files it writes are moved, once complete, into
//! `<out>/<lane>/<pid>-<n>.heapsnapshot` ([`snapshots`], [`lane`]). With `snapshot_at_files`
//! (the default), the workers trace's preload hooks snapshot themselves between test files
//! instead, never mid-test, and only once they grow, diffed against their runner's reference
//! baseline when they have no snapshot of their own from before ([`boundaries`],
//! [`lazy`]); the cost is reported either way. Without a snapshot, the workers the preload
//! hooks run V8's sampling heap profiler and, after a file that grew them, say where the
//! memory they kept was allocated, for a fraction of a snapshot's cost ([`allocations`]).
//!
//! [`TraceReport::build`] then summarises per lane and PID: peak RSS, growth from a
//! baseline taken once the process's start-up is over ([`baseline`]), a Theil–Sen slope ([`leaktrail_stats`]), and the earliest-vs-latest
//! heap diff with its growth verdict — module graph or runtime objects
//! ([`leaktrail_analysis::SnapshotDiff`]); it attributes growth to test files reported by
//! the workers of Jest, Vitest and Mocha through trace's preload ([`hooks`]), named in TAP,
//! by a JSON reporter file or by `node --test`'s per-file processes ([`files`]); gives
//! each worker thread that ran test files a lane of its own with its own heap series,
//! snapshots and verdict ([`threads`]); and
//! decides the exit status (the command's, passed through, or `--fail-on-growth`).

#![deny(missing_docs)]

pub mod allocations;
pub mod baseline;
pub mod boundaries;
pub mod files;
pub mod hooks;
pub mod lane;
pub mod lazy;
mod model;
pub mod reporter;
pub mod roles;
pub mod snapshots;
pub mod streamed;
mod summary;
pub mod tap;
pub mod threads;
mod tracer;
pub mod unseen;

pub use baseline::{Baseline, BaselineRule, DEFAULT_SETTLE_SECONDS};
pub use lane::LaneRule;
pub use model::{CpuState, ProcessRecord, RssPoint};
pub use summary::{
    growth_label, GrowthGate, HeapBaseline, HeapGrowth, LaneSummary, ProcessSummary,
    SummaryOptions, ThreadGrowth, ThreadSummary, ThreadVerdict, TraceReport, MIN_SLOPE_SAMPLES,
    THREAD_HEAP_GROWTH,
};
pub use tracer::{trace, CommandExit, TraceConfig, TraceError, TraceRun};
