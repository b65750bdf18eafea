//! The database schema: the SQL of a new store, the migrations from older versions, how a
//! new database is built beside its name, and the checks that refuse what is not a store.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::{io, sql};
use crate::{Store, StoreError, DB_FILE, SCHEMA_VERSION};

impl Store {
    /// The schema version in `meta`; 0 when there is none.
    pub(crate) fn schema_version(&self) -> Result<i64, StoreError> {
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
    pub(crate) fn schema_objects(&self) -> Result<Vec<String>, StoreError> {
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

    /// Brings the schema to [`SCHEMA_VERSION`]: writes it into an empty database, or
    /// upgrades an older store under the write lock.
    pub(crate) fn migrate(&self) -> Result<(), StoreError> {
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
}

/// The current schema, for a new store.
pub(crate) const SCHEMA: &str = "
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
CREATE TABLE IF NOT EXISTS snapshot_evidence(
  snapshot_id INTEGER PRIMARY KEY REFERENCES snapshots(id), leaks TEXT, places TEXT);
INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '4');
COMMIT;
";

/// Version 1 to 2, run inside a write transaction: collections get their path's shape.
pub(crate) const MIGRATE_V1_TO_V2: &str = "
ALTER TABLE snapshot_collections ADD COLUMN shape TEXT;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
";

/// Version 2 to 3, run inside a write transaction: samples say whether a snapshot was
/// being built when they were taken (NULL in older rows).
pub(crate) const MIGRATE_V2_TO_V3: &str = "
ALTER TABLE samples ADD COLUMN in_snapshot INTEGER;
UPDATE meta SET value = '3' WHERE key = 'schema_version';
";

/// Version 3 to 4, run inside a write transaction: a census keeps its leak roots against
/// the two censuses before it ([`leaktrail_analysis::CensusLeaks`]) and its largest
/// objects with their places ([`leaktrail_analysis::SizedPlace`]), each as JSON.
pub(crate) const MIGRATE_V3_TO_V4: &str = "
CREATE TABLE snapshot_evidence(
  snapshot_id INTEGER PRIMARY KEY REFERENCES snapshots(id), leaks TEXT, places TEXT);
UPDATE meta SET value = '4' WHERE key = 'schema_version';
";

/// Creates the database at `db` with its schema, so that it appears under its name only
/// complete: a server started beside a starting watcher would otherwise open the empty
/// file and refuse it as "not a leaktrail store". The schema is written to a private file
/// beside it, which is then linked to `db` (link, unlike rename, never replaces a store
/// another watcher created meanwhile).
pub(crate) fn build_new_database(db: &Path) -> Result<(), StoreError> {
    let building = db.with_file_name(format!("{DB_FILE}.new-{}", std::process::id()));
    let building_path = building.display().to_string();
    remove_abandoned_builds(db);
    // SQLite gives its -wal and -shm files the main file's mode, so creating that 0600
    // first keeps all three private.
    leaktrail_private_files::create_new_file(&building).map_err(io(&building_path))?;
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
pub(crate) fn remove_abandoned_builds(db: &Path) {
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
pub(crate) fn check_writable_store(db: &Path, db_path: &str) -> Result<(), StoreError> {
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
pub(crate) fn not_a_store(db_path: &str, objects: &[String]) -> StoreError {
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
