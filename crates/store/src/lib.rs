//! The watcher's store: one directory with an embedded SQLite database (`leaktrail.db`, WAL
//! mode) and the raw snapshot files (`snapshots/`), kept under a disk budget.
//!
//! ```text
//! STORE/
//!   leaktrail.db (+ -wal, -shm)   targets, incarnations, samples, snapshot index, censuses
//!   snapshots/<target>-<incarnation>-<seq>.heapsnapshot   raw files, oldest deleted first
//!   reports/trend-<time>.md       reports saved by `POST /api/memory/trend/save`
//! ```
//!
//! The directory is created mode 0700 and every file 0600: snapshots hold the heap's
//! strings (tokens, secrets), and samples say what runs where.
//!
//! ## Schema (version 3)
//!
//! | table | one row per | columns |
//! |---|---|---|
//! | `meta` | setting | `key`, `value` (`schema_version` = 3) |
//! | `targets` | watched service | `id`, `name` (unique), `command`, `created_at` |
//! | `incarnations` | process lifetime (a restart starts a new one) | `id`, `target_id`, `pid`, `started_at`, `ended_at`, `exit_code`, `signal`, `end_reason` (`exited`, `signal`, `oom-kill`, `v8-heap-oom`, `stopped`, `detached`; none while running or when the watcher was killed), `heap_limit`, `memory_limit` |
//! | `samples` | sample | `incarnation_id`, `t`, `rss`, `anon`, `pss`, `threads`, `heap_used`, `heap_total`, `external`, `in_snapshot` (1: taken while the watcher had a heap snapshot built, when V8 allocates to serialize it and RSS jumps) |
//! | `snapshots` | heap snapshot | `id`, `incarnation_id`, `t`, `file` (name under `snapshots/`), `file_size`, `file_deleted_at`, `node_count`, `edge_count`, `total_self_size`, `reason` |
//! | `snapshot_families` | snapshot × family | `snapshot_id`, `family`, `count`, `self_size` |
//! | `snapshot_classes` | snapshot × class kept | `snapshot_id`, `class`, `family`, `count`, `self_size`, `retained_size` |
//! | `snapshot_collections` | snapshot × collection kept | `snapshot_id`, `node_id`, `kind`, `entries`, `retained_size`, `path`, `shape` (the retainer path's shape: collections held the same way share it) |
//!
//! Times are milliseconds since the Unix epoch; sizes are bytes; columns that were not
//! measured are NULL. A store with a newer schema version than this build knows is refused,
//! and so is a SQLite file that is not a store (another program's, at `DIR/leaktrail.db`): by
//! the writer ([`Store::create`]) as by readers, before anything in it or beside it is changed.
//!
//! Version 1 had no `shape`. A watcher opening a version 1 store adds the column (rows
//! already there keep it NULL: their collections are listed one by one); a reader
//! ([`Store::open`], which never writes the schema) reads `shape` as NULL from it.
//! Version 2 had no `in_snapshot`: it is added the same way, NULL in older rows (read as
//! not taken during a snapshot, which is exact: older watchers sampled nothing then).
//!
//! ## Crash safety
//!
//! Every sample and every snapshot census is its own transaction, in WAL mode with
//! `synchronous = NORMAL`: a `kill -9` of the watcher at any moment leaves a database that
//! opens, with at most the transaction in flight lost. (An OS crash may lose the last few
//! transactions too; it cannot corrupt the file.) A new database is built beside its name
//! and linked into place with its schema, so a reader never finds a half-made store.
//!
//! ## Modules
//!
//! `records` (what a store holds, row by row), `error`, `open` (the [`Store`] handle,
//! creating and opening a store), `schema` (the SQL, migrations, refusing what is not a
//! store), `write` (what the watcher writes), `read` (what readers ask).

#![deny(missing_docs)]

mod error;
mod open;
mod read;
mod records;
mod schema;
#[cfg(test)]
mod tests;
mod write;

pub use error::StoreError;
/// The memory reading a [`SampleRecord`] holds, for readers that build samples.
pub use leaktrail_sampler::MemoryReading;
pub use open::{create_private_dir, Store};
pub use records::{
    now_ms, ClassRowRef, CollectionRowRef, EndReason, Incarnation, IncarnationEnd, IncarnationId,
    SampleRecord, SnapshotId, SnapshotRecord, Target, TargetId,
};

/// The schema version this build writes and reads (and it reads versions 1 to 3 too).
pub const SCHEMA_VERSION: i64 = 4;

/// The database file's name inside the store directory.
pub const DB_FILE: &str = "leaktrail.db";
