//! Whether snapshots are of one process, and in the order they were taken.
//!
//! V8 gives an object an id the first time a snapshot sees it and keeps it for the object's
//! life; ids are handed out in increasing order and never reused. So two snapshots of one
//! process agree on what every id they share is (its type and name), and an object that is
//! in the later one only has an id above every id of the earlier one. Snapshots of two
//! processes share many small ids by chance (each process numbers from the same start),
//! mostly naming different objects: 26,589 of 43,205 shared ids differed between two Node
//! programs, none of 43,199 between two snapshots of one. `diff` and `leaks` given such
//! files would report what "grew" between two unrelated heaps, so they refuse them.
//!
//! A snapshot is fingerprinted by a sample of its ids (every [`SAMPLE_EVERY`]th serial id,
//! the same ids in every snapshot), each with a hash of its node's type and name: about
//! 100,000 entries for a 500 MB snapshot.

use std::hash::{Hash, Hasher};

use leaktrail_snapshot::HeapSnapshot;

use crate::census_leaks::has_serial_id;

/// One serial id in this many (counted in V8's steps of 2) is sampled.
pub const SAMPLE_EVERY: u32 = 61;

/// Fewer shared (or new) sampled ids than this decide nothing.
const MIN_COMPARED: usize = 50;

/// Above this share of shared ids naming different objects, two snapshots are of two
/// processes (one process: none).
const MAX_DIFFERING_SHARE: f64 = 0.05;

/// Above this share of what one snapshot holds alone being older (or newer) than all of the
/// other, the two were given in the wrong order (right order: none, or next to none).
const MAX_OLD_NEW_SHARE: f64 = 0.5;

/// What says which process a snapshot is of, and when in its life it was taken.
#[derive(Clone, Debug)]
pub struct SnapshotIdentity {
    /// The highest serial id in the snapshot.
    max_id: u32,
    /// Sampled ids, ascending, each with the hash of its node's type and name.
    sample: Vec<(u32, u64)>,
}

/// Why two snapshots cannot be compared.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IdentityError {
    /// They are of two processes.
    #[error(
        "{before} and {after} are not snapshots of one process: {differing} of the {shared} \
         sampled objects they both have an id for differ in type or name (within one \
         process an id always names the same object)"
    )]
    TwoProcesses {
        /// The earlier file.
        before: String,
        /// The later file.
        after: String,
        /// Sampled shared ids naming different objects.
        differing: usize,
        /// Sampled shared ids.
        shared: usize,
    },
    /// The later one was taken first.
    #[error(
        "{after} was taken before {before} (the objects either holds alone are older or \
         newer than all of the other's: ids are handed out in increasing order); give the \
         snapshots oldest first"
    )]
    OutOfOrder {
        /// The file given first.
        before: String,
        /// The file given second.
        after: String,
    },
}

impl SnapshotIdentity {
    /// Fingerprints `snap`.
    pub fn of(snap: &HeapSnapshot) -> SnapshotIdentity {
        let mut max_id = 0;
        let mut sample = Vec::new();
        for v in 0..snap.node_count() as u32 {
            if !has_serial_id(snap, v) {
                continue;
            }
            let id = snap.node_id(v);
            max_id = max_id.max(id);
            if (id / 2) % SAMPLE_EVERY == 0 {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (snap.node_kind(v) as u8).hash(&mut h);
                snap.node_name(v).hash(&mut h);
                sample.push((id, h.finish()));
            }
        }
        sample.sort_unstable();
        sample.dedup_by_key(|e| e.0);
        SnapshotIdentity { max_id, sample }
    }

    /// Checks that `after` is a later snapshot of the process `self` is of; the paths
    /// name them in the error.
    pub fn check_later(
        &self,
        after: &SnapshotIdentity,
        before_path: &str,
        after_path: &str,
    ) -> Result<(), IdentityError> {
        let (mut shared, mut differing) = (0usize, 0usize);
        // Only in `after`, and of them with ids below the newest of `self`.
        let (mut new, mut old) = (0usize, 0usize);
        // Only in `self`, and of them with ids above the newest of `after`.
        let (mut gone, mut newer) = (0usize, 0usize);
        let mut gone_one = |id: u32| {
            gone += 1;
            newer += usize::from(id > after.max_id);
        };
        let mut earlier = self.sample.iter().peekable();
        for &(id, hash) in &after.sample {
            while let Some(e) = earlier.next_if(|e| e.0 < id) {
                gone_one(e.0);
            }
            match earlier.peek() {
                Some(&&(eid, ehash)) if eid == id => {
                    earlier.next();
                    shared += 1;
                    differing += usize::from(ehash != hash);
                }
                _ => {
                    new += 1;
                    old += usize::from(id < self.max_id);
                }
            }
        }
        for e in earlier {
            gone_one(e.0);
        }
        if shared >= MIN_COMPARED && differing as f64 > shared as f64 * MAX_DIFFERING_SHARE {
            return Err(IdentityError::TwoProcesses {
                before: before_path.to_owned(),
                after: after_path.to_owned(),
                differing,
                shared,
            });
        }
        // In order, what only `after` holds was allocated since `self` (ids above all of
        // its), and what only `self` holds died, whatever its age; given the other way
        // round, what one holds alone is older or newer than all of the other.
        let backwards = |part: usize, of: usize| {
            of >= MIN_COMPARED && part as f64 > of as f64 * MAX_OLD_NEW_SHARE
        };
        if backwards(old, new) || backwards(newer, gone) {
            return Err(IdentityError::OutOfOrder {
                before: before_path.to_owned(),
                after: after_path.to_owned(),
            });
        }
        Ok(())
    }
}
