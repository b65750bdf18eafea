//! Opening a store: the [`Store`] handle, the private directory and database a watcher
//! creates, a reader's open, and each connection's settings.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::{io, sql};
use crate::schema::{build_new_database, check_writable_store, not_a_store};
use crate::{StoreError, DB_FILE, SCHEMA_VERSION};

/// Each connection's SQLite page cache, in KiB (the pragma takes a negative count for KiB).
const PAGE_CACHE_KIB: i64 = 64;

/// An open store.
pub struct Store {
    /// The store directory.
    pub(crate) dir: PathBuf,
    /// The database file, as errors name it.
    pub(crate) db_path: String,
    /// The connection.
    pub(crate) conn: Connection,
    /// `snapshot_collections` has the `shape` column (version 2 on).
    pub(crate) shapes: bool,
    /// `samples` has the `in_snapshot` column (version 3 on).
    pub(crate) snapshot_marks: bool,
    /// `snapshot_evidence` exists (version 4 on).
    pub(crate) leak_evidence: bool,
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
                let _ = leaktrail_private_files::restrict_file(&dir.join(file));
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

    /// Waits for another connection's transaction instead of failing at once.
    pub(crate) fn wait_for_writer(&self) -> Result<(), StoreError> {
        // A reader (serve) and the writer (watch) may work at once: wait for each other's
        // short transactions instead of failing.
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql(&self.db_path))
    }

    /// WAL mode, `synchronous = NORMAL`, foreign keys and a small page cache.
    pub(crate) fn configure(&self) -> Result<(), StoreError> {
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
}

/// Creates `dir` (and parents) owner-only, as [`leaktrail_private_files::create_dir`]
/// does, with the store's errors.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.exists() && !dir.is_dir() {
        return Err(StoreError::NotADirectory(dir.display().to_string()));
    }
    leaktrail_private_files::create_dir(dir).map_err(io(&dir.display().to_string()))
}
