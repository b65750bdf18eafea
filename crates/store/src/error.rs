//! What can go wrong with a store, and the helpers that name the file in an error.

use crate::{DB_FILE, SCHEMA_VERSION};

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

/// An I/O error on `path` as a [`StoreError`].
pub(crate) fn io(path: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_owned(),
        error,
    }
}

/// A SQLite error on `path` as a [`StoreError`].
pub(crate) fn sql(path: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Sql {
        path: path.to_owned(),
        error,
    }
}
