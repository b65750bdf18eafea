//! The leak-test harness: run a workload, sample its memory from outside, decide.
//!
//! [`run`] starts the command in its own process group, with `--inspect=127.0.0.1:0` added
//! to `NODE_OPTIONS` for Node targets, reads the inspector URL from stderr and the
//! iteration numbers from stdout, and at every sample point takes:
//! - the process tree's RSS, anonymous memory and threads ([`leaktrail_sampler`]);
//! - for Node, after a forced full GC over the inspector, the V8 heap in use and
//!   `process.memoryUsage().external` ([`leaktrail_inspector`]).
//!
//! Nothing is added to the workload's code; sampling stays within an overhead budget
//! (skipping points whose predicted cost would exceed it), and PSS, slow to read, is read
//! on a budget of its own. [`assess`] then decides with
//! [`leaktrail_stats::decide`] on the series that matters — the live V8 heap plus external
//! memory for Node (RSS keeps rising for thousands of iterations while V8 grows its heap,
//! so it decides nothing there), RSS otherwise — and says which memory grows, with PSS
//! beside RSS ([`PssComparison`]). [`check_threads`] and [`check_expect_freed`] add the
//! checks that fail a run on their own: threads back to their baseline, and no object of
//! a class left in the heap at the end. Threads or resident memory that grow while the
//! heap does not are the headline: a leak of threads or native memory.
//! [`weigh_objects`] weighs the culprit's snapshots into the verdict: objects that grew
//! in step with the run decide a slow leak the bytes missed.
//!
//! [`leak_test`] puts these together as `leaktrail run` does, from a validated
//! [`LeakTestPlan`].
//!
//! The workload is started and stopped whole by `leaktrail-process`, which `watch` and
//! `trace` use too.

#![deny(missing_docs)]

mod assess;
mod census_worker;
mod check;
mod checks;
mod evidence;
mod floor;
mod leak_test;
mod lines;
mod profile;
mod pss;
mod run;
mod snapshot_room;
mod tree_inspector;
mod worker_heaps;

pub use assess::{
    assess, DecidedBy, MemoryKind, PointsUsed, RunAssessment, RunSeries, SeriesVerdict,
    MIN_MAJOR_GC_POINTS,
};
pub use census_worker::{
    census_of_file, census_of_stream, CensusWorker, StreamingCensus, MAX_STREAM_BYTES,
};
pub use check::{Check, CheckDetail, CheckStatus, FreedCheck, ThreadCheck};
pub use checks::{check_expect_freed, check_threads};
pub use evidence::{
    census_culprit, culprit_snapshots, find_culprit, paths, weigh_objects, CulpritFinding,
    ObjectEvidence, IN_STEP_RATIO,
};
pub use floor::{ByteSize, GrowthFloor, Per};
pub use leak_test::{leak_test, LeakTest, LeakTestEvent, LeakTestPlan, CULPRIT_CLUSTERS};
/// The memory reading a [`Sample`] holds.
pub use leaktrail_sampler::MemoryReading;
pub use lines::{for_each_line, MAX_LINE};
pub use profile::{ProfileRequest, RecordedProfiles, ALLOC_PROFILE_FILE, CPU_PROFILE_FILE};
pub use pss::PssComparison;
pub use run::{
    run, CheapPoint, EndSnapshot, ExitInfo, HarnessError, PointKind, PssMode, RunConfig, RunResult,
    RunSnapshot, Sample, SnapshotPlan, UninspectedNode, WorkerHeaps, DOUBLING_KEEP,
};
pub use snapshot_room::{SnapshotResidue, SnapshotShortfall, SNAPSHOT_NEED_FACTOR};
pub use tree_inspector::is_launcher_inspector;
pub use worker_heaps::{weigh_worker_heaps, worker_culprit_snapshots, WorkerHeapGrowth};
