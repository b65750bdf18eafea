//! Parse errors: every one names the file and, when known, the byte offset.

use std::fmt;
use std::path::PathBuf;

/// A snapshot that could not be read or is not a well-formed V8 heap snapshot.
#[derive(Debug)]
pub struct ParseError {
    /// The file that was being read.
    pub path: PathBuf,
    /// Byte offset in the file where the problem was found, when known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// What is wrong with a snapshot file.
#[derive(Debug, thiserror::Error)]
pub enum ParseErrorKind {
    /// The file could not be opened or read. The system's words are in the message, so the
    /// error is not also returned as `source()`: a renderer of the chain would say it twice.
    #[error("cannot read: {0}")]
    Io(std::io::Error),
    /// The file is empty.
    #[error("file is empty, not a heap snapshot")]
    Empty,
    /// The file does not look like a `.heapsnapshot` at all.
    #[error("not a V8 heap snapshot: {0}")]
    NotASnapshot(String),
    /// The `snapshot.meta` header is missing fields or malformed.
    #[error("bad snapshot header: {0}")]
    BadMeta(String),
    /// The file ends in the middle of something.
    #[error("file is truncated: ended inside {0}")]
    Truncated(&'static str),
    /// A byte that does not belong where it stands.
    #[error("unexpected {found} in {context}")]
    Syntax {
        /// A printable rendering of what was found.
        found: String,
        /// Which part of the file was being read.
        context: &'static str,
    },
    /// A number too large for its field.
    #[error("number too large in {0}")]
    Overflow(&'static str),
    /// Something other than white space follows the snapshot's closing `}`.
    #[error("{found} after the end of the snapshot's JSON object")]
    TrailingBytes {
        /// A printable rendering of the first such byte.
        found: String,
    },
    /// A header count is more records than the file's size can hold, so it is refused
    /// before anything is allocated from it.
    #[error("header says {field} {declared}, but a file of {file_size} bytes holds at most {fits} ({per_record} integers each): the file is cut short or its header is wrong")]
    CountTooLarge {
        /// `node_count` or `edge_count`.
        field: &'static str,
        /// What the header declares.
        declared: u64,
        /// The most records of that kind the rest of the file could hold.
        fits: u64,
        /// Integers per record.
        per_record: usize,
        /// The file's size in bytes.
        file_size: u64,
    },
    /// The file got shorter or longer while it was read (still being written, truncated,
    /// rotated).
    #[error("changed size while being read: {was} bytes when opened, {now} now")]
    ChangedSize {
        /// Size when the file was opened.
        was: u64,
        /// Size seen later (where reading stopped, when the file is gone).
        now: u64,
    },
    /// The file was written to while it was read, without changing size.
    #[error("was modified while being read")]
    Modified,
    /// A required top-level section is absent.
    #[error("no \"{0}\" array in the file")]
    MissingSection(&'static str),
    /// The header and an array disagree on the number of records.
    #[error("header says {expected} {what} but the array holds {actual}")]
    CountMismatch {
        /// `nodes`, `edges` or `edges (sum of node edge_count)`.
        what: &'static str,
        /// What the header declares.
        expected: usize,
        /// What the file holds.
        actual: usize,
    },
    /// An edge's `to_node` does not point at the start of a node.
    #[error("edge {edge} points to nodes[{value}], which is not the start of one of the {node_count} nodes")]
    EdgeTargetOutOfRange {
        /// Index of the edge.
        edge: usize,
        /// The raw `to_node` value.
        value: u32,
        /// Number of nodes.
        node_count: usize,
    },
    /// A name refers to a string that the strings table does not have.
    #[error("{what} {index} names string {value}, but the strings table has only {len} entries")]
    StringIndexOutOfRange {
        /// `node` or `edge`.
        what: &'static str,
        /// Index of the node or edge.
        index: usize,
        /// The string index it names.
        value: u32,
        /// Size of the strings table.
        len: usize,
    },
    /// A `type` value outside the type table.
    #[error("{what} {index} has type {value}, but the type table has only {len} entries")]
    TypeOutOfRange {
        /// `node` or `edge`.
        what: &'static str,
        /// Index of the node or edge.
        index: usize,
        /// The raw type value.
        value: u32,
        /// Size of the type table.
        len: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.kind)?;
        if let Some(offset) = self.offset {
            write!(f, " (at byte {offset})")?;
        }
        Ok(())
    }
}

// No `source()`: every cause, the system's I/O error too, is in the message already.
impl std::error::Error for ParseError {}

/// A parse error located at a byte offset but not yet tied to a file.
#[derive(Debug)]
pub(crate) struct Located {
    pub offset: Option<u64>,
    pub kind: ParseErrorKind,
}

impl Located {
    pub(crate) fn at(offset: u64, kind: ParseErrorKind) -> Located {
        Located {
            offset: Some(offset),
            kind,
        }
    }

    pub(crate) fn anywhere(kind: ParseErrorKind) -> Located {
        Located { offset: None, kind }
    }

    pub(crate) fn in_file(self, path: PathBuf) -> ParseError {
        ParseError {
            path,
            offset: self.offset,
            kind: self.kind,
        }
    }
}

/// Renders a byte for an error message.
pub(crate) fn describe_byte(b: u8) -> String {
    match b {
        b' '..=b'~' => format!("'{}'", b as char),
        _ => format!("byte 0x{b:02x}"),
    }
}
