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

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

use leaktrail_analysis::{
    CensusLeaks, ClassStats, CollectionRecord, Family, GroupTotal, SnapshotCensus, SnapshotInfo,
};

/// The schema version this build writes and reads (and it reads versions 1 to 3 too).
pub const SCHEMA_VERSION: i64 = 4;

/// The database file's name inside the store directory.
pub const DB_FILE: &str = "leaktrail.db";

/// Each connection's SQLite page cache, in KiB (the pragma takes a negative count for KiB).
const PAGE_CACHE_KIB: i64 = 64;

/// What can go wrong with a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory or a file in it could not be used.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: String,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// SQLite refused.
    #[error("{path}: {error}")]
    Sql {
        /// The database file.
        path: String,
        /// SQLite's words, said in the message (not also a `source()`).
        error: rusqlite::Error,
    },
    /// The store path exists and is not a directory.
    #[error("{0}: not a directory (a store is a directory)")]
    NotADirectory(String),
    /// No store at this path.
    #[error(
        "{0}: no leaktrail store here (no {DB_FILE}); start one with `leaktrail watch --store DIR`"
    )]
    Missing(String),
    /// The store was written by a newer leaktrail.
    #[error("{path}: store schema version {found}, this leaktrail reads up to {SCHEMA_VERSION}")]
    TooNew {
        /// The database file.
        path: String,
        /// Its version.
        found: i64,
    },
    /// A stored value is not what this build expects.
    #[error("{path}: {detail}")]
    Corrupt {
        /// The database file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// A row id of `targets`.
pub type TargetId = i64;
/// A row id of `incarnations`.
pub type IncarnationId = i64;
/// A row id of `snapshots`.
pub type SnapshotId = i64;

/// A watched service.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Target {
    /// Row id.
    pub id: TargetId,
    /// Its name (unique in the store).
    pub name: String,
    /// The command line, when leaktrail started it.
    pub command: Option<String>,
    /// When it was first watched, ms since the epoch.
    pub created_at: i64,
}

/// One lifetime of a target's process.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Incarnation {
    /// Row id.
    pub id: IncarnationId,
    /// The target.
    pub target_id: TargetId,
    /// Its process id.
    pub pid: i64,
    /// Start, ms since the epoch.
    pub started_at: i64,
    /// End, when it ended.
    pub ended_at: Option<i64>,
    /// Exit code, when it exited.
    pub exit_code: Option<i64>,
    /// Signal that killed it.
    pub signal: Option<i64>,
    /// How it ended: `exited`, `signal`, `oom-kill`, `v8-heap-oom`, `stopped` (by the
    /// watcher), `detached` (left running); `None` while running or if the watcher died.
    pub end_reason: Option<String>,
    /// The V8 heap limit (`heap_size_limit`), bytes.
    pub heap_limit: Option<i64>,
    /// The cgroup memory limit, bytes.
    pub memory_limit: Option<i64>,
}

/// How an incarnation ended.
#[derive(Clone, Debug, PartialEq)]
pub struct IncarnationEnd {
    /// When, ms since the epoch.
    pub ended_at: i64,
    /// Exit code.
    pub exit_code: Option<i64>,
    /// Killing signal.
    pub signal: Option<i64>,
    /// `exited`, `signal`, `oom-kill`, `v8-heap-oom`, `stopped` or `detached`.
    pub reason: String,
}

/// One memory sample.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct SampleRecord {
    /// The incarnation sampled.
    pub incarnation_id: IncarnationId,
    /// When, ms since the epoch.
    pub t: i64,
    /// RSS of the process tree, bytes.
    pub rss: i64,
    /// Anonymous RSS, bytes.
    pub anon: Option<i64>,
    /// PSS, bytes (read only now and then: it is slow).
    pub pss: Option<i64>,
    /// Threads of the tree.
    pub threads: i64,
    /// V8 heap in use, bytes (Node only).
    pub heap_used: Option<i64>,
    /// V8 heap reserved, bytes.
    pub heap_total: Option<i64>,
    /// `process.memoryUsage().external`, bytes.
    pub external: Option<i64>,
    /// Taken while a heap snapshot was being built: V8 allocates to serialize it, so RSS
    /// jumps for reasons of the watcher's own; the RSS verdict leaves such samples out.
    #[serde(default)]
    pub in_snapshot: bool,
}

/// One snapshot of the index.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SnapshotRecord {
    /// Row id.
    pub id: SnapshotId,
    /// The incarnation it was taken of.
    pub incarnation_id: IncarnationId,
    /// When, ms since the epoch.
    pub t: i64,
    /// File name under `snapshots/`.
    pub file: String,
    /// File size, bytes.
    pub file_size: i64,
    /// When the raw file was deleted under the disk budget (the census stays).
    pub file_deleted_at: Option<i64>,
    /// Nodes.
    pub node_count: i64,
    /// Edges.
    pub edge_count: i64,
    /// Sum of self sizes, bytes.
    pub total_self_size: i64,
    /// Why it was taken: `schedule`, `growth`, `first`, `manual`.
    pub reason: String,
}

impl SnapshotRecord {
    /// A census holding only what this index row says (the facts; no families, classes or
    /// collections yet).
    pub fn facts_only(&self) -> SnapshotCensus {
        SnapshotCensus {
            info: SnapshotInfo {
                path: self.file.clone(),
                file_size: self.file_size as u64,
                node_count: self.node_count as u64,
                edge_count: self.edge_count as u64,
                total_self_size: self.total_self_size as u64,
            },
            families: Vec::new(),
            classes: Vec::new(),
            collections: Vec::new(),
            max_node_id: None,
            leaks: None,
        }
    }
}

/// One class row of a stored census, borrowed from the query that read it.
#[derive(Clone, Copy, Debug)]
pub struct ClassRowRef<'a> {
    /// The snapshot whose census it is.
    pub snapshot: SnapshotId,
    /// Class name.
    pub class: &'a str,
    /// The class's growth family.
    pub family: Family,
    /// Objects.
    pub count: u64,
    /// Their self size, bytes.
    pub self_size: u64,
    /// Their retained size, bytes, when the census kept it.
    pub retained_size: Option<u64>,
}

/// One collection row of a stored census, borrowed from the query that read it.
#[derive(Clone, Copy, Debug)]
pub struct CollectionRowRef<'a> {
    /// The snapshot whose census it is.
    pub snapshot: SnapshotId,
    /// V8 node id.
    pub id: u32,
    /// Its kind (`Map`, `Array`, …).
    pub kind: &'a str,
    /// Entries.
    pub entries: u64,
    /// Retained size, bytes.
    pub retained_size: u64,
    /// Retainer path from a GC root.
    pub path: &'a str,
    /// The path's shape; `None` in rows written before shapes were recorded.
    pub shape: Option<&'a str>,
}

/// An open store.
pub struct Store {
    dir: PathBuf,
    db_path: String,
    conn: Connection,
    /// `snapshot_collections` has the `shape` column (version 2 on).
    shapes: bool,
    /// `samples` has the `in_snapshot` column (version 3 on).
    snapshot_marks: bool,
    /// `snapshot_leaks` exists (version 4 on).
    leak_evidence: bool,
}

impl Store {
    /// Opens the store in `dir` for writing, creating the directory (0700) and the database
    /// (0600) when missing.
    /// A database already there is refused, before anything in `dir` is created or
    /// changed, unless it is a store this build can write (or a database without a single
    /// table, which holds nothing to lose).
    pub fn create(dir: &Path) -> Result<Store, StoreError> {
        if dir.exists() && !dir.is_dir() {
            return Err(StoreError::NotADirectory(dir.display().to_string()));
        }
        let db = dir.join(DB_FILE);
        let db_path = db.display().to_string();
        // `exists` follows symbolic links: a dangling one is no database, and building
        // one would write through it, so it counts as there and the check refuses it.
        let there = db.exists() || db.symlink_metadata().is_ok();
        if there {
            check_writable_store(&db, &db_path)?;
        }
        create_private_dir(dir)?;
        create_private_dir(&dir.join("snapshots"))?;
        if !there {
            build_new_database(&db)?;
        } else {
            // A store copied or restored with a wider mode is made private again: its
            // censuses name the heap's classes and its snapshots hold the heap's strings.
            // Best effort: a store this user cannot chmod, it cannot write either.
            for file in [
                DB_FILE,
                &format!("{DB_FILE}-wal"),
                &format!("{DB_FILE}-shm"),
            ] {
                let _ = leaktrail_snapshot::private::restrict_file(&dir.join(file));
            }
        }
        let conn = Connection::open(&db).map_err(sql(&db_path))?;
        let mut store = Store {
            dir: dir.to_owned(),
            db_path,
            conn,
            shapes: false,
            snapshot_marks: false,
            leak_evidence: false,
        };
        store.wait_for_writer()?;
        store.configure()?;
        store.migrate()?;
        store.shapes = true;
        store.snapshot_marks = true;
        store.leak_evidence = true;
        Ok(store)
    }

    /// Opens an existing store for reading (and the few writes a server makes: none to the
    /// database). Fails with [`StoreError::Missing`] when `dir` holds no store.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = dir.join(DB_FILE);
        let db_path = db.display().to_string();
        if !db.is_file() {
            return Err(StoreError::Missing(dir.display().to_string()));
        }
        let conn = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql(&db_path))?;
        let mut store = Store {
            dir: dir.to_owned(),
            db_path,
            conn,
            shapes: false,
            snapshot_marks: false,
            leak_evidence: false,
        };
        // Read the version before `configure`, which writes (the journal mode): a SQLite
        // file that is not a store is refused untouched.
        store.wait_for_writer()?;
        let version = store.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: store.db_path.clone(),
                found: version,
            });
        }
        if version == 0 {
            return Err(not_a_store(&store.db_path, &store.schema_objects()?));
        }
        store.configure()?;
        store.shapes = version >= 2;
        store.snapshot_marks = version >= 3;
        store.leak_evidence = version >= 4;
        Ok(store)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where raw snapshot files go.
    pub fn snapshots_dir(&self) -> PathBuf {
        self.dir.join("snapshots")
    }

    fn wait_for_writer(&self) -> Result<(), StoreError> {
        // A reader (serve) and the writer (watch) may work at once: wait for each other's
        // short transactions instead of failing.
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql(&self.db_path))
    }

    fn configure(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(sql(&self.db_path))?;
        // SQLite's default page cache is up to 2 MB per connection and fills as the
        // database grows, so a long watch (the watcher's connection and the server's)
        // would grow by megabytes for a cache its queries barely use: they read recent
        // rows or one census at a time, from pages the OS caches anyway. Measured: with
        // 64 KiB instead of 512, `GET /api/memory/trend` over 200 censuses took 23 ms
        // against 21 (noise), and an accelerated watch --serve kept 0.6 MB less.
        self.conn
            .pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
            .map_err(sql(&self.db_path))
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        let has_meta: bool = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sql(&self.db_path))?
            > 0;
        if !has_meta {
            return Ok(0);
        }
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(&self.db_path))?;
        match v {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| StoreError::Corrupt {
                path: self.db_path.clone(),
                detail: format!("schema_version is {v:?}"),
            }),
        }
    }

    /// The names in `sqlite_master` (tables, indexes, views, triggers), sorted.
    fn schema_objects(&self) -> Result<Vec<String>, StoreError> {
        let mut names = self
            .conn
            .prepare("SELECT name FROM sqlite_master ORDER BY name")
            .map_err(sql(&self.db_path))?;
        let names = names
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(sql(&self.db_path))?;
        Ok(names)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let version = self.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.db_path.clone(),
                found: version,
            });
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version == 0 {
            return self.conn.execute_batch(SCHEMA).map_err(sql(&self.db_path));
        }
        // Version 1: add `shape`; version 2: add `in_snapshot`. Two watchers may open the
        // store at once: the version is read again under the write lock, so each column is
        // added once.
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sql(&self.db_path))?;
        let upgraded = (|| {
            if self.schema_version()? == 1 {
                self.conn
                    .execute_batch(MIGRATE_V1_TO_V2)
                    .map_err(sql(&self.db_path))?;
            }
            if self.schema_version()? == 2 {
                self.conn
                    .execute_batch(MIGRATE_V2_TO_V3)
                    .map_err(sql(&self.db_path))?;
            }
            if self.schema_version()? == 3 {
                self.conn
                    .execute_batch(MIGRATE_V3_TO_V4)
                    .map_err(sql(&self.db_path))?;
            }
            self.conn
                .execute_batch("COMMIT")
                .map_err(sql(&self.db_path))
        })();
        if upgraded.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        upgraded
    }

    /// The target named `name`, created when new.
    pub fn target(&mut self, name: &str, command: Option<&str>) -> Result<TargetId, StoreError> {
        let p = self.db_path.clone();
        self.conn
            .execute(
                "INSERT INTO targets(name, command, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET command = coalesce(excluded.command, command)",
                params![name, command, now_ms()],
            )
            .map_err(sql(&p))?;
        self.conn
            .query_row("SELECT id FROM targets WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .map_err(sql(&p))
    }

    /// Records the start of a process of `target`.
    pub fn start_incarnation(
        &mut self,
        target: TargetId,
        pid: i64,
        started_at: i64,
    ) -> Result<IncarnationId, StoreError> {
        self.conn
            .execute(
                "INSERT INTO incarnations(target_id, pid, started_at) VALUES (?1, ?2, ?3)",
                params![target, pid, started_at],
            )
            .map_err(sql(&self.db_path))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the memory limits that apply to an incarnation.
    pub fn set_limits(
        &mut self,
        id: IncarnationId,
        heap_limit: Option<i64>,
        memory_limit: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE incarnations SET heap_limit = coalesce(?2, heap_limit),
                 memory_limit = coalesce(?3, memory_limit) WHERE id = ?1",
                params![id, heap_limit, memory_limit],
            )
            .map(|_| ())
            .map_err(sql(&self.db_path))
    }

    /// Records how an incarnation ended.
    pub fn end_incarnation(
        &mut self,
        id: IncarnationId,
        end: &IncarnationEnd,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE incarnations SET ended_at = ?2, exit_code = ?3, signal = ?4, end_reason = ?5
                 WHERE id = ?1",
                params![id, end.ended_at, end.exit_code, end.signal, end.reason],
            )
            .map(|_| ())
            .map_err(sql(&self.db_path))
    }

    /// Appends a sample (its own transaction).
    pub fn add_sample(&mut self, s: &SampleRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO samples(incarnation_id, t, rss, anon, pss, threads, heap_used, heap_total, external, in_snapshot)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    s.incarnation_id,
                    s.t,
                    s.rss,
                    s.anon,
                    s.pss,
                    s.threads,
                    s.heap_used,
                    s.heap_total,
                    s.external,
                    s.in_snapshot
                ],
            )
            .map(|_| ())
            .map_err(sql(&self.db_path))
    }

    /// Indexes a snapshot file (already under [`Store::snapshots_dir`]) with its census, in
    /// one transaction.
    pub fn add_snapshot(
        &mut self,
        incarnation: IncarnationId,
        t: i64,
        file: &str,
        reason: &str,
        census: &SnapshotCensus,
    ) -> Result<SnapshotId, StoreError> {
        let p = self.db_path.clone();
        let tx = self.conn.transaction().map_err(sql(&p))?;
        tx.execute(
            "INSERT INTO snapshots(incarnation_id, t, file, file_size, node_count, edge_count, total_self_size, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                incarnation,
                t,
                file,
                census.info.file_size as i64,
                census.info.node_count as i64,
                census.info.edge_count as i64,
                census.info.total_self_size as i64,
                reason
            ],
        )
        .map_err(sql(&p))?;
        let id = tx.last_insert_rowid();
        {
            let mut fam = tx
                .prepare(
                    "INSERT INTO snapshot_families(snapshot_id, family, count, self_size) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql(&p))?;
            for f in &census.families {
                fam.execute(params![id, f.name, f.count as i64, f.self_size as i64])
                    .map_err(sql(&p))?;
            }
            let mut cls = tx
                .prepare(
                    "INSERT OR REPLACE INTO snapshot_classes(snapshot_id, class, family, count, self_size, retained_size)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql(&p))?;
            for c in &census.classes {
                cls.execute(params![
                    id,
                    c.class,
                    c.family.key(),
                    c.count as i64,
                    c.self_size as i64,
                    c.retained_size.map(|r| r as i64)
                ])
                .map_err(sql(&p))?;
            }
            let mut col = tx
                .prepare(
                    "INSERT INTO snapshot_collections(snapshot_id, node_id, kind, entries, retained_size, path, shape)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql(&p))?;
            for c in &census.collections {
                col.execute(params![
                    id,
                    c.id as i64,
                    c.kind,
                    c.entries as i64,
                    c.retained_size as i64,
                    c.path,
                    c.shape
                ])
                .map_err(sql(&p))?;
            }
            if let Some(leaks) = &census.leaks {
                let evidence = serde_json::to_string(leaks).map_err(|e| StoreError::Corrupt {
                    path: p.clone(),
                    detail: format!("cannot write the leak evidence: {e}"),
                })?;
                tx.execute(
                    "INSERT INTO snapshot_leaks(snapshot_id, evidence) VALUES (?1, ?2)",
                    params![id, evidence],
                )
                .map_err(sql(&p))?;
            }
        }
        tx.commit().map_err(sql(&p))?;
        Ok(id)
    }

    /// Notes that a snapshot's raw file was deleted; its census stays.
    pub fn mark_file_deleted(&mut self, id: SnapshotId, at: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE snapshots SET file_deleted_at = ?2 WHERE id = ?1",
                params![id, at],
            )
            .map(|_| ())
            .map_err(sql(&self.db_path))
    }

    /// Every target, oldest first.
    pub fn targets(&self) -> Result<Vec<Target>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare("SELECT id, name, command, created_at FROM targets ORDER BY id")
            .map_err(sql(p))?;
        let rows = st
            .query_map([], |r| {
                Ok(Target {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    command: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })
            .map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// The incarnations of `target`, oldest first.
    pub fn incarnations(&self, target: TargetId) -> Result<Vec<Incarnation>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare(
                "SELECT id, target_id, pid, started_at, ended_at, exit_code, signal, end_reason, heap_limit, memory_limit
                 FROM incarnations WHERE target_id = ?1 ORDER BY started_at, id",
            )
            .map_err(sql(p))?;
        let rows = st
            .query_map([target], |r| {
                Ok(Incarnation {
                    id: r.get(0)?,
                    target_id: r.get(1)?,
                    pid: r.get(2)?,
                    started_at: r.get(3)?,
                    ended_at: r.get(4)?,
                    exit_code: r.get(5)?,
                    signal: r.get(6)?,
                    end_reason: r.get(7)?,
                    heap_limit: r.get(8)?,
                    memory_limit: r.get(9)?,
                })
            })
            .map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// Samples of `target` taken at or after `since` (ms), oldest first, at most `limit`
    /// (the most recent ones when there are more).
    pub fn samples(
        &self,
        target: TargetId,
        since: i64,
        limit: usize,
    ) -> Result<Vec<SampleRecord>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT * FROM (
                   SELECT s.incarnation_id, s.t, s.rss, s.anon, s.pss, s.threads, s.heap_used, s.heap_total, s.external, {}
                   FROM samples s JOIN incarnations i ON i.id = s.incarnation_id
                   WHERE i.target_id = ?1 AND s.t >= ?2 ORDER BY s.t DESC LIMIT ?3
                 ) ORDER BY t",
                self.in_snapshot_column("s.")
            ))
            .map_err(sql(p))?;
        let rows = st
            .query_map(params![target, since, limit as i64], sample_row)
            .map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// Samples of one incarnation taken at or after `since` (ms), oldest first, at most
    /// `limit` (the most recent ones when there are more). Reads the `(incarnation, t)`
    /// index backwards: no sort.
    pub fn incarnation_samples(
        &self,
        incarnation: IncarnationId,
        since: i64,
        limit: usize,
    ) -> Result<Vec<SampleRecord>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT incarnation_id, t, rss, anon, pss, threads, heap_used, heap_total, external, {}
                 FROM samples WHERE incarnation_id = ?1 AND t >= ?2 ORDER BY t DESC LIMIT ?3",
                self.in_snapshot_column("")
            ))
            .map_err(sql(p))?;
        let rows = st
            .query_map(params![incarnation, since, limit as i64], sample_row)
            .map_err(sql(p))?;
        let mut out: Vec<SampleRecord> = rows.collect::<Result<_, _>>().map_err(sql(p))?;
        out.reverse();
        Ok(out)
    }

    /// The snapshot index of `target`, oldest first.
    pub fn snapshots(&self, target: TargetId) -> Result<Vec<SnapshotRecord>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare(
                "SELECT s.id, s.incarnation_id, s.t, s.file, s.file_size, s.file_deleted_at,
                        s.node_count, s.edge_count, s.total_self_size, s.reason
                 FROM snapshots s JOIN incarnations i ON i.id = s.incarnation_id
                 WHERE i.target_id = ?1 ORDER BY s.t, s.id",
            )
            .map_err(sql(p))?;
        let rows = st.query_map([target], snapshot_row).map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// Every snapshot whose raw file is still on disk, oldest first (for the disk budget).
    pub fn snapshots_on_disk(&self) -> Result<Vec<SnapshotRecord>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare(
                "SELECT id, incarnation_id, t, file, file_size, file_deleted_at,
                        node_count, edge_count, total_self_size, reason
                 FROM snapshots WHERE file_deleted_at IS NULL ORDER BY t, id",
            )
            .map_err(sql(p))?;
        let rows = st.query_map([], snapshot_row).map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// One snapshot of the index.
    pub fn snapshot(&self, id: SnapshotId) -> Result<Option<SnapshotRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, incarnation_id, t, file, file_size, file_deleted_at,
                        node_count, edge_count, total_self_size, reason
                 FROM snapshots WHERE id = ?1",
                [id],
                snapshot_row,
            )
            .optional()
            .map_err(sql(&self.db_path))
    }

    /// The censuses of every snapshot of one incarnation, oldest first, each as
    /// [`Store::census`] gives it — read in three queries rather than three per snapshot
    /// (a trend over 200 snapshots reads ~90,000 rows); of the leak evidence, only the newest
    /// census's.
    pub fn incarnation_censuses(
        &self,
        incarnation: IncarnationId,
    ) -> Result<Vec<(SnapshotRecord, SnapshotCensus)>, StoreError> {
        let p = &self.db_path;
        let corrupt = |detail: String| StoreError::Corrupt {
            path: p.clone(),
            detail,
        };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, incarnation_id, t, file, file_size, file_deleted_at,
                        node_count, edge_count, total_self_size, reason
                 FROM snapshots WHERE incarnation_id = ?1 ORDER BY t, id",
            )
            .map_err(sql(p))?;
        let records: Vec<SnapshotRecord> = st
            .query_map([incarnation], snapshot_row)
            .map_err(sql(p))?
            .collect::<Result<_, _>>()
            .map_err(sql(p))?;
        let index: std::collections::HashMap<SnapshotId, usize> =
            records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let mut out: Vec<(SnapshotRecord, SnapshotCensus)> = records
            .into_iter()
            .map(|r| {
                let census = r.facts_only();
                (r, census)
            })
            .collect();
        let slot = |id: i64| {
            index
                .get(&id)
                .copied()
                .ok_or_else(|| corrupt(format!("census row of unknown snapshot {id}")))
        };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT f.snapshot_id, f.family, f.count, f.self_size
                 FROM snapshots s JOIN snapshot_families f ON f.snapshot_id = s.id
                 WHERE s.incarnation_id = ?1",
            )
            .map_err(sql(p))?;
        let mut rows = st.query([incarnation]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            let i = slot(r.get(0).map_err(sql(p))?)?;
            out[i].1.families.push(family_total(r, 1).map_err(sql(p))?);
        }
        let mut missing = None;
        self.for_each_incarnation_class(incarnation, |row| match slot(row.snapshot) {
            Ok(i) => out[i].1.classes.push(ClassStats {
                class: row.class.to_owned(),
                family: row.family,
                count: row.count,
                self_size: row.self_size,
                retained_size: row.retained_size,
            }),
            Err(e) => missing = Some(e),
        })?;
        self.for_each_incarnation_collection(incarnation, |row| match slot(row.snapshot) {
            Ok(i) => out[i].1.collections.push(CollectionRecord {
                id: row.id,
                kind: row.kind.to_owned(),
                entries: row.entries,
                retained_size: row.retained_size,
                path: row.path.to_owned(),
                shape: row.shape.map(str::to_owned),
            }),
            Err(e) => missing = Some(e),
        })?;
        if let Some(e) = missing {
            return Err(e);
        }
        // The order `census` gives: classes by self size, collections by entries, largest
        // first (ties as the table's key order, class name or node id).
        for (_, c) in &mut out {
            c.classes.sort_by(|a, b| {
                b.self_size
                    .cmp(&a.self_size)
                    .then_with(|| a.class.cmp(&b.class))
            });
            c.collections
                .sort_by(|a, b| b.entries.cmp(&a.entries).then_with(|| a.id.cmp(&b.id)));
        }
        // Only the newest census's leak evidence is read: a trend names its culprits from
        // it, and older ones would cost a JSON parse each for nothing.
        if let Some((rec, census)) = out.last_mut() {
            census.leaks = self.leak_evidence(rec.id)?;
        }
        Ok(out)
    }

    /// Calls `f` with every class row of every census of one incarnation, in no particular
    /// order, borrowed from the query: a trend over hundreds of censuses reads hundreds of
    /// thousands of rows, and a server that allocated a string for each would leave its
    /// heap fragmented by every refresh.
    pub fn for_each_incarnation_class(
        &self,
        incarnation: IncarnationId,
        mut f: impl FnMut(ClassRowRef<'_>),
    ) -> Result<(), StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT c.snapshot_id, c.class, c.family, c.count, c.self_size, c.retained_size
                 FROM snapshots s JOIN snapshot_classes c ON c.snapshot_id = s.id
                 WHERE s.incarnation_id = ?1",
            )
            .map_err(sql(p))?;
        let mut rows = st.query([incarnation]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            let family = text(r, 2, p)?;
            f(ClassRowRef {
                snapshot: r.get(0).map_err(sql(p))?,
                class: text(r, 1, p)?,
                family: Family::from_key(family).ok_or_else(|| StoreError::Corrupt {
                    path: p.clone(),
                    detail: format!("unknown family {family:?}"),
                })?,
                count: r.get::<_, i64>(3).map_err(sql(p))? as u64,
                self_size: r.get::<_, i64>(4).map_err(sql(p))? as u64,
                retained_size: r
                    .get::<_, Option<i64>>(5)
                    .map_err(sql(p))?
                    .map(|v| v as u64),
            });
        }
        Ok(())
    }

    /// Calls `f` with every collection row of every census of one incarnation, in no
    /// particular order, borrowed from the query (as
    /// [`Store::for_each_incarnation_class`]).
    pub fn for_each_incarnation_collection(
        &self,
        incarnation: IncarnationId,
        mut f: impl FnMut(CollectionRowRef<'_>),
    ) -> Result<(), StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT c.snapshot_id, c.node_id, c.kind, c.entries, c.retained_size, c.path, {}
                 FROM snapshots s JOIN snapshot_collections c ON c.snapshot_id = s.id
                 WHERE s.incarnation_id = ?1",
                self.shape_column("c.")
            ))
            .map_err(sql(p))?;
        let mut rows = st.query([incarnation]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            f(CollectionRowRef {
                snapshot: r.get(0).map_err(sql(p))?,
                id: r.get::<_, i64>(1).map_err(sql(p))? as u32,
                kind: text(r, 2, p)?,
                entries: r.get::<_, i64>(3).map_err(sql(p))? as u64,
                retained_size: r.get::<_, i64>(4).map_err(sql(p))? as u64,
                path: text(r, 5, p)?,
                shape: r
                    .get_ref(6)
                    .and_then(|v| v.as_str_or_null().map_err(rusqlite::Error::from))
                    .map_err(sql(p))?,
            });
        }
        Ok(())
    }

    /// The `shape` column as a query selects it: NULL from a version 1 store read without
    /// being upgraded. `table` is the table's alias with its dot, or empty.
    fn shape_column(&self, table: &str) -> String {
        if self.shapes {
            format!("{table}shape")
        } else {
            "NULL".to_owned()
        }
    }

    /// The `in_snapshot` column as a query selects it: NULL from a store older than
    /// version 3 read without being upgraded. `table` is the alias with its dot, or empty.
    fn in_snapshot_column(&self, table: &str) -> String {
        if self.snapshot_marks {
            format!("{table}in_snapshot")
        } else {
            "NULL".to_owned()
        }
    }

    /// The census of a snapshot, as stored.
    pub fn census(&self, snapshot: &SnapshotRecord) -> Result<SnapshotCensus, StoreError> {
        let p = &self.db_path;
        let mut census = snapshot.facts_only();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT family, count, self_size FROM snapshot_families WHERE snapshot_id = ?1",
            )
            .map_err(sql(p))?;
        let mut rows = st.query([snapshot.id]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            census.families.push(family_total(r, 0).map_err(sql(p))?);
        }
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT class, family, count, self_size, retained_size FROM snapshot_classes
                 WHERE snapshot_id = ?1 ORDER BY self_size DESC",
            )
            .map_err(sql(p))?;
        let mut rows = st.query([snapshot.id]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            census.classes.push(class_stats(r, 0, p)?);
        }
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT node_id, kind, entries, retained_size, path, {} FROM snapshot_collections
                 WHERE snapshot_id = ?1 ORDER BY entries DESC",
                self.shape_column("")
            ))
            .map_err(sql(p))?;
        let mut rows = st.query([snapshot.id]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            census
                .collections
                .push(collection_record(r, 0).map_err(sql(p))?);
        }
        census.leaks = self.leak_evidence(snapshot.id)?;
        Ok(census)
    }

    /// The leak evidence stored with a snapshot's census ([`CensusLeaks`]), if it has any.
    pub fn leak_evidence(&self, snapshot: SnapshotId) -> Result<Option<CensusLeaks>, StoreError> {
        if !self.leak_evidence {
            return Ok(None);
        }
        let p = &self.db_path;
        let evidence: Option<String> = self
            .conn
            .prepare_cached("SELECT evidence FROM snapshot_leaks WHERE snapshot_id = ?1")
            .and_then(|mut st| st.query_row([snapshot], |r| r.get(0)).optional())
            .map_err(sql(p))?;
        evidence
            .map(|e| {
                serde_json::from_str(&e).map_err(|e| StoreError::Corrupt {
                    path: p.clone(),
                    detail: format!("the leak evidence of snapshot {snapshot}: {e}"),
                })
            })
            .transpose()
    }
}

/// Column `at` of `r` as text borrowed from the row.
fn text<'r>(r: &'r rusqlite::Row<'_>, at: usize, db_path: &str) -> Result<&'r str, StoreError> {
    r.get_ref(at)
        .and_then(|v| v.as_str().map_err(rusqlite::Error::from))
        .map_err(sql(db_path))
}

/// A `snapshot_families` row from column `at` on: `family, count, self_size`.
fn family_total(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<GroupTotal> {
    Ok(GroupTotal {
        name: r.get(at)?,
        count: r.get::<_, i64>(at + 1)? as u64,
        self_size: r.get::<_, i64>(at + 2)? as u64,
    })
}

/// A `snapshot_classes` row from column `at` on: `class, family, count, self_size,
/// retained_size`; an unknown family key is a corrupt store (`db_path`).
fn class_stats(r: &rusqlite::Row<'_>, at: usize, db_path: &str) -> Result<ClassStats, StoreError> {
    let family: String = r.get(at + 1).map_err(sql(db_path))?;
    Ok(ClassStats {
        class: r.get(at).map_err(sql(db_path))?,
        family: Family::from_key(&family).ok_or_else(|| StoreError::Corrupt {
            path: db_path.to_owned(),
            detail: format!("unknown family {family:?}"),
        })?,
        count: r.get::<_, i64>(at + 2).map_err(sql(db_path))? as u64,
        self_size: r.get::<_, i64>(at + 3).map_err(sql(db_path))? as u64,
        retained_size: r
            .get::<_, Option<i64>>(at + 4)
            .map_err(sql(db_path))?
            .map(|v| v as u64),
    })
}

/// A `snapshot_collections` row from column `at` on: `node_id, kind, entries,
/// retained_size, path, shape`.
fn collection_record(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<CollectionRecord> {
    Ok(CollectionRecord {
        id: r.get::<_, i64>(at)? as u32,
        kind: r.get(at + 1)?,
        entries: r.get::<_, i64>(at + 2)? as u64,
        retained_size: r.get::<_, i64>(at + 3)? as u64,
        path: r.get(at + 4)?,
        shape: r.get(at + 5)?,
    })
}

fn sample_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SampleRecord> {
    Ok(SampleRecord {
        incarnation_id: r.get(0)?,
        t: r.get(1)?,
        rss: r.get(2)?,
        anon: r.get(3)?,
        pss: r.get(4)?,
        threads: r.get(5)?,
        heap_used: r.get(6)?,
        heap_total: r.get(7)?,
        external: r.get(8)?,
        // NULL in rows of older watchers, which never sampled during a snapshot.
        in_snapshot: r.get::<_, Option<bool>>(9)?.unwrap_or(false),
    })
}

fn snapshot_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotRecord> {
    Ok(SnapshotRecord {
        id: r.get(0)?,
        incarnation_id: r.get(1)?,
        t: r.get(2)?,
        file: r.get(3)?,
        file_size: r.get(4)?,
        file_deleted_at: r.get(5)?,
        node_count: r.get(6)?,
        edge_count: r.get(7)?,
        total_self_size: r.get(8)?,
        reason: r.get(9)?,
    })
}

/// The current schema, for a new store.
const SCHEMA: &str = "
BEGIN;
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS targets(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, command TEXT, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS incarnations(
  id INTEGER PRIMARY KEY, target_id INTEGER NOT NULL REFERENCES targets(id),
  pid INTEGER NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER,
  exit_code INTEGER, signal INTEGER, end_reason TEXT, heap_limit INTEGER, memory_limit INTEGER);
CREATE TABLE IF NOT EXISTS samples(
  incarnation_id INTEGER NOT NULL REFERENCES incarnations(id), t INTEGER NOT NULL,
  rss INTEGER NOT NULL, anon INTEGER, pss INTEGER, threads INTEGER NOT NULL,
  heap_used INTEGER, heap_total INTEGER, external INTEGER, in_snapshot INTEGER);
CREATE INDEX IF NOT EXISTS samples_by_time ON samples(incarnation_id, t);
CREATE TABLE IF NOT EXISTS snapshots(
  id INTEGER PRIMARY KEY, incarnation_id INTEGER NOT NULL REFERENCES incarnations(id),
  t INTEGER NOT NULL, file TEXT NOT NULL, file_size INTEGER NOT NULL, file_deleted_at INTEGER,
  node_count INTEGER NOT NULL, edge_count INTEGER NOT NULL, total_self_size INTEGER NOT NULL,
  reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot_families(
  snapshot_id INTEGER NOT NULL REFERENCES snapshots(id), family TEXT NOT NULL,
  count INTEGER NOT NULL, self_size INTEGER NOT NULL, PRIMARY KEY(snapshot_id, family)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot_classes(
  snapshot_id INTEGER NOT NULL REFERENCES snapshots(id), class TEXT NOT NULL, family TEXT NOT NULL,
  count INTEGER NOT NULL, self_size INTEGER NOT NULL, retained_size INTEGER,
  PRIMARY KEY(snapshot_id, class)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot_collections(
  snapshot_id INTEGER NOT NULL REFERENCES snapshots(id), node_id INTEGER NOT NULL,
  kind TEXT NOT NULL, entries INTEGER NOT NULL, retained_size INTEGER NOT NULL, path TEXT NOT NULL,
  shape TEXT, PRIMARY KEY(snapshot_id, node_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot_leaks(
  snapshot_id INTEGER PRIMARY KEY REFERENCES snapshots(id), evidence TEXT NOT NULL);
INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '4');
COMMIT;
";

/// Version 1 to 2, run inside a write transaction: collections get their path's shape.
const MIGRATE_V1_TO_V2: &str = "
ALTER TABLE snapshot_collections ADD COLUMN shape TEXT;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
";

/// Version 2 to 3, run inside a write transaction: samples say whether a snapshot was
/// being built when they were taken (NULL in older rows).
const MIGRATE_V2_TO_V3: &str = "
ALTER TABLE samples ADD COLUMN in_snapshot INTEGER;
UPDATE meta SET value = '3' WHERE key = 'schema_version';
";

/// Version 3 to 4, run inside a write transaction: a census keeps its leak roots against
/// the two censuses before it, as JSON ([`CensusLeaks`]).
const MIGRATE_V3_TO_V4: &str = "
CREATE TABLE snapshot_leaks(
  snapshot_id INTEGER PRIMARY KEY REFERENCES snapshots(id), evidence TEXT NOT NULL);
UPDATE meta SET value = '4' WHERE key = 'schema_version';
";

/// Creates the database at `db` with its schema, so that it appears under its name only
/// complete: a server started beside a starting watcher would otherwise open the empty
/// file and refuse it as "not a leaktrail store". The schema is written to a private file
/// beside it, which is then linked to `db` (link, unlike rename, never replaces a store
/// another watcher created meanwhile).
fn build_new_database(db: &Path) -> Result<(), StoreError> {
    let building = db.with_file_name(format!("{DB_FILE}.new-{}", std::process::id()));
    let building_path = building.display().to_string();
    remove_abandoned_builds(db);
    // SQLite gives its -wal and -shm files the main file's mode, so creating that 0600
    // first keeps all three private.
    leaktrail_snapshot::private::create_new_file(&building).map_err(io(&building_path))?;
    let built = (|| {
        let conn = Connection::open(&building).map_err(sql(&building_path))?;
        conn.execute_batch("PRAGMA journal_mode = WAL;")
            .map_err(sql(&building_path))?;
        conn.execute_batch(SCHEMA).map_err(sql(&building_path))?;
        // Closing checkpoints the WAL into the file and removes it.
        conn.close().map_err(|(_, e)| sql(&building_path)(e))?;
        match std::fs::hard_link(&building, db) {
            Ok(()) => Ok(()),
            // Another watcher created the store just now: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            // A file system without hard links: rename, which is as atomic for readers.
            Err(_) => std::fs::rename(&building, db).map_err(io(&db.display().to_string())),
        }
    })();
    let _ = std::fs::remove_file(&building);
    built
}

/// Removes databases left half-built by a watcher killed while building one: a build
/// takes milliseconds, so one a minute old is abandoned.
fn remove_abandoned_builds(db: &Path) {
    let Some(dir) = db.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{DB_FILE}.new-");
    for entry in entries.filter_map(Result::ok) {
        let abandoned = entry.file_name().to_string_lossy().starts_with(&prefix)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(60));
        if abandoned {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Refuses the existing database at `db` unless the writer may use it: a store of a
/// schema this build knows, or a database without a single table (what a watcher of an
/// older build, which made the database in place, left when killed before its schema).
/// The connection is read-only, so what is refused is left byte for byte as it was: no
/// journal mode switched, no table added, no file mode narrowed.
fn check_writable_store(db: &Path, db_path: &str) -> Result<(), StoreError> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql(db_path))?;
    let probe = Store {
        dir: PathBuf::new(),
        db_path: db_path.to_owned(),
        conn,
        shapes: false,
        snapshot_marks: false,
        leak_evidence: false,
    };
    probe.wait_for_writer()?;
    let version = probe.schema_version()?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: db_path.to_owned(),
            found: version,
        });
    }
    if version == 0 {
        let objects = probe.schema_objects()?;
        if !objects.is_empty() {
            return Err(not_a_store(db_path, &objects));
        }
    }
    Ok(())
}

/// The refusal of a SQLite file that is not a store, naming what it holds so the user
/// can tell whose it is.
fn not_a_store(db_path: &str, objects: &[String]) -> StoreError {
    const SHOWN: usize = 5;
    let holds = if objects.is_empty() {
        "no tables".to_owned()
    } else {
        let mut names = objects
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if objects.len() > SHOWN {
            names.push_str(&format!(" and {} more", objects.len() - SHOWN));
        }
        format!("tables of its own: {names}")
    };
    StoreError::Corrupt {
        path: db_path.to_owned(),
        detail: format!(
            "not a leaktrail store (a SQLite database with no leaktrail schema version, {holds}); \
             left untouched: give --store a directory of its own"
        ),
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Creates `dir` (and parents) owner-only, as [`leaktrail_snapshot::private::create_dir`]
/// does, with the store's errors.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.exists() && !dir.is_dir() {
        return Err(StoreError::NotADirectory(dir.display().to_string()));
    }
    leaktrail_snapshot::private::create_dir(dir).map_err(io(&dir.display().to_string()))
}

fn io(path: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_owned(),
        error,
    }
}

fn sql(path: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Sql {
        path: path.to_owned(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(n: u64) -> SnapshotCensus {
        SnapshotCensus {
            info: SnapshotInfo {
                path: "x".into(),
                file_size: 1000 + n,
                node_count: 10,
                edge_count: 20,
                total_self_size: 500,
            },
            families: vec![GroupTotal {
                name: "objects".into(),
                count: 3,
                self_size: 300,
            }],
            classes: vec![ClassStats {
                class: "StreamEntry".into(),
                family: Family::Objects,
                count: n,
                self_size: 64 * n,
                retained_size: Some(100 * n),
            }],
            collections: vec![CollectionRecord {
                id: 77,
                kind: "Map".into(),
                entries: n,
                retained_size: 9,
                path: "(GC roots) → StreamRegistry.streams".into(),
                shape: Some("registry\u{1}StreamRegistry\u{2}streams\u{1}Map\u{2}".into()),
            }],
        }
    }

    /// A store as version 1 wrote it: no `shape` column.
    fn version_1_store(dir: &Path) {
        create_private_dir(dir).expect("dir");
        create_private_dir(&dir.join("snapshots")).expect("snapshots");
        let v1 = SCHEMA
            .replace("shape TEXT, ", "")
            .replace(", in_snapshot INTEGER", "")
            .replace("'schema_version', '3'", "'schema_version', '1'");
        let conn = Connection::open(dir.join(DB_FILE)).expect("open");
        conn.execute_batch(&v1).expect("v1 schema");
        conn.execute_batch(
            "INSERT INTO targets(id, name, created_at) VALUES (1, 'api', 0);
             INSERT INTO incarnations(id, target_id, pid, started_at) VALUES (1, 1, 42, 0);
             INSERT INTO samples(incarnation_id, t, rss, threads) VALUES (1, 5, 100, 7);
             INSERT INTO snapshots(id, incarnation_id, t, file, file_size, node_count, edge_count, total_self_size, reason)
               VALUES (1, 1, 10, 'a.heapsnapshot', 1, 1, 1, 1, 'first');
             INSERT INTO snapshot_collections(snapshot_id, node_id, kind, entries, retained_size, path)
               VALUES (1, 77, 'Map', 5, 9, '(GC roots) → StreamRegistry.streams');",
        )
        .expect("v1 rows");
    }

    #[test]
    fn a_version_1_store_is_read_and_upgraded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store_dir = dir.path().join("store");
        version_1_store(&store_dir);
        // A reader leaves it as it is and reads no shapes.
        {
            let s = Store::open(&store_dir).expect("open v1");
            assert_eq!(s.schema_version().expect("version"), 1);
            let snaps = s.snapshots(1).expect("snaps");
            let c = s.census(&snaps[0]).expect("census");
            assert_eq!(c.collections[0].path, "(GC roots) → StreamRegistry.streams");
            assert_eq!(c.collections[0].shape, None);
            let batch = s.incarnation_censuses(1).expect("batch");
            assert_eq!(batch[0].1.collections, c.collections);
            let samples = s.incarnation_samples(1, 0, 10).expect("samples");
            assert_eq!((samples.len(), samples[0].in_snapshot), (1, false));
            assert_eq!(s.samples(1, 0, 10).expect("samples"), samples);
        }
        // A writer upgrades it: old rows keep no shape, new ones have theirs.
        let mut s = Store::create(&store_dir).expect("upgrade");
        assert_eq!(s.schema_version().expect("version"), SCHEMA_VERSION);
        s.add_snapshot(1, 20, "b.heapsnapshot", "second", &census(6))
            .expect("snap");
        let marked = SampleRecord {
            incarnation_id: 1,
            t: 30,
            rss: 900,
            threads: 7,
            in_snapshot: true,
            ..SampleRecord::default()
        };
        s.add_sample(&marked).expect("marked sample");
        drop(s);
        // Opening it again for writing does not add the column twice.
        drop(Store::create(&store_dir).expect("again"));
        let s = Store::open(&store_dir).expect("open v2");
        let batch = s.incarnation_censuses(1).expect("batch");
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].1.collections[0].shape, None);
        assert_eq!(batch[1].1.collections, census(6).collections);
        // The old sample reads as unmarked, the new one keeps its mark.
        let samples = s.incarnation_samples(1, 0, 10).expect("samples");
        let marks: Vec<bool> = samples.iter().map(|x| x.in_snapshot).collect();
        assert_eq!(marks, [false, true]);
        assert_eq!(samples[1], marked);
    }

    #[test]
    fn round_trips_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store_dir = dir.path().join("store");
        {
            let mut s = Store::create(&store_dir).expect("create");
            let t = s.target("api", Some("node server.js")).expect("target");
            assert_eq!(s.target("api", None).expect("again"), t);
            let i = s.start_incarnation(t, 42, 1000).expect("inc");
            s.set_limits(i, Some(4 << 30), None).expect("limits");
            for k in 0..3 {
                s.add_sample(&SampleRecord {
                    incarnation_id: i,
                    t: 1000 + k * 10,
                    rss: 100 + k,
                    threads: 7,
                    heap_used: Some(50 + k),
                    ..SampleRecord::default()
                })
                .expect("sample");
            }
            let id = s
                .add_snapshot(i, 1020, "a.heapsnapshot", "first", &census(5))
                .expect("snap");
            s.mark_file_deleted(id, 2000).expect("delete");
            s.end_incarnation(
                i,
                &IncarnationEnd {
                    ended_at: 3000,
                    exit_code: None,
                    signal: Some(9),
                    reason: "oom-kill".into(),
                },
            )
            .expect("end");
        }
        let s = Store::open(&store_dir).expect("open");
        let t = s.targets().expect("targets");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].command.as_deref(), Some("node server.js"));
        let inc = s.incarnations(t[0].id).expect("incs");
        assert_eq!(inc[0].end_reason.as_deref(), Some("oom-kill"));
        assert_eq!(inc[0].heap_limit, Some(4 << 30));
        let samples = s.samples(t[0].id, 1010, 10).expect("samples");
        assert_eq!(
            samples.iter().map(|s| s.t).collect::<Vec<_>>(),
            [1010, 1020]
        );
        assert_eq!(
            s.samples(t[0].id, 0, 1).expect("limit")[0].t,
            1020,
            "a limit keeps the newest"
        );
        assert_eq!(
            s.incarnation_samples(inc[0].id, 1005, 1)
                .expect("by incarnation")[0]
                .t,
            1020
        );
        assert_eq!(
            s.incarnation_samples(inc[0].id, 0, 10)
                .expect("by incarnation")
                .iter()
                .map(|s| s.t)
                .collect::<Vec<_>>(),
            [1000, 1010, 1020]
        );
        let snaps = s.snapshots(t[0].id).expect("snaps");
        assert_eq!(snaps[0].file_deleted_at, Some(2000));
        assert!(s.snapshots_on_disk().expect("on disk").is_empty());
        let c = s.census(&snaps[0]).expect("census");
        let batch = s.incarnation_censuses(inc[0].id).expect("batch");
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].0, snaps[0]);
        assert_eq!(format!("{:?}", batch[0].1), format!("{c:?}"));
        assert_eq!(c.classes[0].count, 5);
        assert_eq!(c.classes[0].retained_size, Some(500));
        assert_eq!(c.collections, census(5).collections);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&store_dir), 0o700);
            assert_eq!(mode(&store_dir.join(DB_FILE)), 0o600);
            // A store restored with a wider mode is made private again when written.
            drop(s);
            let db = store_dir.join(DB_FILE);
            std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let s = Store::create(&store_dir).expect("reopen");
            assert_eq!(mode(&db), 0o600);
            assert_eq!(s.targets().expect("targets").len(), 1, "data kept");
        }
    }

    #[test]
    fn a_store_being_created_is_missing_or_whole_to_a_reader() {
        // `serve` started beside a starting `watch` once read the new database before its
        // schema was written and refused it as "not a leaktrail store".
        let root = tempfile::tempdir().expect("tempdir");
        let dirs: Vec<PathBuf> = (0..100).map(|i| root.path().join(i.to_string())).collect();
        let writer_dirs = dirs.clone();
        let writer = std::thread::spawn(move || {
            for d in &writer_dirs {
                Store::create(d).expect("create");
            }
        });
        let mut whole = 0;
        for d in &dirs {
            loop {
                match Store::open(d) {
                    Ok(_) => {
                        whole += 1;
                        break;
                    }
                    Err(StoreError::Missing(_)) => std::thread::yield_now(),
                    Err(e) => panic!("a reader saw a half-made store: {e}"),
                }
            }
        }
        writer.join().expect("writer");
        assert_eq!(whole, dirs.len());
        let leftovers: Vec<_> = std::fs::read_dir(&dirs[0])
            .expect("read_dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".new-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_build_abandoned_by_a_killed_watcher_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join(format!("{DB_FILE}.new-999999"));
        let fresh = dir.path().join(format!("{DB_FILE}.new-999998"));
        for f in [&old, &fresh] {
            std::fs::write(f, b"half a database").expect("write");
        }
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(hour_ago))
            .expect("set mtime");
        Store::create(dir.path()).expect("create");
        assert!(!old.exists(), "an hour-old build is abandoned");
        // One being built right now by another watcher is left to it.
        assert!(fresh.exists());
        Store::open(dir.path()).expect("a whole store");
    }

    #[test]
    fn another_programs_database_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join(DB_FILE);
        let other = Connection::open(&db).expect("open");
        other
            .execute_batch("CREATE TABLE notes(text TEXT); INSERT INTO notes VALUES ('mine');")
            .expect("create");
        drop(other);
        let before = std::fs::read(&db).expect("read");
        let err = Store::open(dir.path()).err().expect("refused");
        assert!(err.to_string().contains("not a leaktrail store"), "{err}");
        assert_eq!(std::fs::read(&db).expect("read"), before);
        assert!(!dir.path().join(format!("{DB_FILE}-wal")).exists());
    }

    /// What `Store::create` must leave as it found it: the file's bytes and mode, the
    /// directory's mode and listing, the journal mode and the tables.
    #[cfg(unix)]
    fn foreign_state(dir: &Path) -> (Vec<u8>, u32, u32, Vec<String>, String, Vec<String>) {
        use std::os::unix::fs::PermissionsExt;
        let db = dir.join(DB_FILE);
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode();
        let mut listing: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        listing.sort();
        let bytes = std::fs::read(&db).expect("read");
        let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open read-only");
        let journal: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("journal mode");
        let mut tables = conn
            .prepare("SELECT name FROM sqlite_master ORDER BY name")
            .expect("prepare");
        let tables = tables
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<Vec<String>, _>>()
            .expect("names");
        (bytes, mode(&db), mode(dir), listing, journal, tables)
    }

    #[cfg(unix)]
    #[test]
    fn the_writer_refuses_another_programs_database_untouched() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join(DB_FILE);
        let other = Connection::open(&db).expect("open");
        other
            .execute_batch(
                "CREATE TABLE notes(text TEXT); INSERT INTO notes VALUES ('mine');
                 CREATE INDEX notes_text ON notes(text);",
            )
            .expect("create");
        drop(other);
        // Modes a store would narrow: refusing must not narrow them either.
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let before = foreign_state(dir.path());
        assert_eq!(before.4, "delete");
        let err = Store::create(dir.path()).err().expect("refused");
        let said = err.to_string();
        assert!(said.contains("not a leaktrail store"), "{said}");
        assert!(said.contains(&db.display().to_string()), "{said}");
        assert!(
            said.contains("notes"),
            "it names what the file holds: {said}"
        );
        assert_eq!(foreign_state(dir.path()), before);
    }

    #[test]
    fn the_writer_refuses_a_newer_store_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        Store::create(dir.path()).expect("create");
        let db = dir.path().join(DB_FILE);
        Connection::open(&db)
            .and_then(|c| {
                c.execute_batch("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
            })
            .expect("bump");
        let before = std::fs::read(&db).expect("read");
        let err = Store::create(dir.path()).err().expect("refused");
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
        assert_eq!(std::fs::read(&db).expect("read"), before);
    }

    #[test]
    fn the_writer_refuses_a_file_that_is_not_sqlite_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join(DB_FILE);
        std::fs::write(&db, b"not a database at all, just text").expect("write");
        let err = Store::create(dir.path()).err().expect("refused");
        assert!(err.to_string().contains(DB_FILE), "{err}");
        assert_eq!(
            std::fs::read(&db).expect("read"),
            b"not a database at all, just text"
        );
        assert!(!dir.path().join("snapshots").exists());
    }

    #[test]
    fn the_writer_takes_an_empty_database_for_its_store() {
        // What a watcher of a build before stores were built beside their name left when
        // killed before its schema: a database without a single table.
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join(DB_FILE);
        Connection::open(&db)
            .and_then(|c| c.execute_batch("PRAGMA journal_mode = WAL;"))
            .expect("empty database");
        Store::create(dir.path()).expect("an empty database becomes the store");
        Store::open(dir.path()).expect("a whole store");
    }

    #[test]
    fn refuses_what_is_not_a_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Missing(_))
        ));
        std::fs::write(
            dir.path().join(DB_FILE),
            b"not a database at all, just text",
        )
        .expect("write");
        let err = Store::open(dir.path()).err().expect("refused");
        assert!(err.to_string().contains(DB_FILE), "{err}");
    }
}
