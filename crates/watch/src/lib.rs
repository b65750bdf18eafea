//! `watch`: follow a running service for hours into a bounded
//! [`Store`](leaktrail_store::Store).
//!
//! Every `sample_every` the watcher reads the process tree's RSS, anonymous memory and
//! threads from `/proc` (PSS every few samples: it walks the page tables), and for Node the
//! V8 heap in use and `external` memory over the inspector — without forcing a GC, which
//! would pause a production service (unless `gc_before_sample` asks for it): the heap then
//! includes garbage, a sawtooth that the trend's robust slope averages out over a window
//! much longer than one GC cycle. Snapshots are always taken after a full GC.
//!
//! Heap snapshots are taken at the start, every `snapshot_every`, and sooner when the
//! recent samples turn to significant growth (at most one per `min_snapshot_gap`), on a
//! thread of their own: sampling `/proc` goes on meanwhile, without
//! the heap, and those samples are marked `in_snapshot` (V8's serializer lifts RSS). Each is
//! parsed at once ([`CensusWorker`]: in a child process, or on a worker thread) into a
//! [`SnapshotCensus`](leaktrail_analysis::SnapshotCensus) stored with it; raw files
//! are then deleted oldest first to stay within `keep` files and `max_disk` bytes. Censuses
//! are never deleted; a raw file without a census (its watcher was killed while writing or
//! parsing it) is deleted once it is an hour old.
//!
//! The watcher keeps its own memory flat: snapshots parsed in a child process
//! ([`CensusWorker::Process`]), and ([`own_memory`]) two malloc arenas, freed memory
//! handed back after each analysis and every minute, a small SQLite page cache.
//!
//! Targets:
//! - **a running process** (`--pid`): the inspector is found among the process's loopback
//!   listening ports, or opened with `SIGUSR1` (Node's documented switch: it opens a
//!   debugging port on 127.0.0.1:9229 or the `--inspect-port` given, for anyone on the
//!   machine who can reach loopback). A process started with `--heapsnapshot-signal=SIG`
//!   gets that signal for snapshots instead, and Node writes the file itself.
//! - **a command** (`-- CMD`): started in its own process group with the inspector on a
//!   free loopback port; with `restart` it is started again when it dies, each run a new
//!   incarnation with how it ended (exit code, signal, OOM kill by the cgroup, V8 heap out of
//!   memory). What a dead command left in its process group is stopped before the next
//!   start. An inspector that fails is tried again every 10 s.
//!
//! # How the crate is laid out
//!
//! Read it in the order a watch runs:
//!
//! - `config`: what to watch and how ([`WatchConfig`]); [`check_target`] before any store
//!   is made.
//! - `watcher`: [`watch`] — the outer loop: the store, then one incarnation after another
//!   (a restarted command is a new one), backing off in a crash loop.
//! - `incarnation`: one run of the process and its inner loop (sample, snapshot, store the
//!   censuses, notice the end), with its parts beside it: the inspector connection, the
//!   snapshots in flight, the command's stderr, how the run ended.
//! - `schedule`: when a snapshot is due ([`scheduled_gap`], the growth trigger).
//! - `analyser`: the thread that turns snapshot files into censuses, through a
//!   [`CensusWorker`] (from the harness, which `run` shares), against the leak windows
//!   of the run.
//! - `retention`: the disk budget for raw snapshot files, and leftovers of killed watchers.
//! - `oom`: whether the OOM killer ended the process.
//! - `node_process`: facts about a process read from `/proc` (is it Node, its snapshot
//!   signal); [`own_memory`]: the watcher's own allocator settings.
//! - `events`: what the watcher reports ([`WatchEvent`], [`WatchSummary`], [`WatchError`]).

#![deny(missing_docs)]

mod analyser;
mod config;
mod events;
mod incarnation;
mod node_process;
mod oom;
pub mod own_memory;
mod retention;
mod schedule;
mod watcher;

// The census worker lives with the harness, whose `run --no-raw-snapshots` streams too.
pub use config::{check_target, WatchConfig, WatchTarget};
pub use events::{WatchError, WatchEvent, WatchSummary};
pub use leaktrail_harness::{
    census_of_file, census_of_stream, CensusWorker, StreamingCensus, MAX_STREAM_BYTES,
};
pub use node_process::{heapsnapshot_signal, is_node};
pub use schedule::{scheduled_gap, FIRST_SNAPSHOT_GAP};
pub use watcher::watch;
