//! Analyses of parsed V8 heap snapshots: what a heap holds and what grew.
//!
//! - [`Classification`] gives every node a DevTools-style class (`StreamEntry`,
//!   `(string)`, `onConfigChanged()`) and a growth [`Family`].
//! - [`Summary`] totals one snapshot by node type, family and class.
//! - [`SnapshotDigest`] keeps what a diff needs of a snapshot (ids, sizes, classes) so that
//!   the full graph can be dropped; [`SnapshotDiff::between`] compares two digests by class,
//!   by family and by object id, and ends in a [`GrowthVerdict`]: module-graph growth,
//!   external memory, or a runtime data leak.
//! - [`SnapshotCensus`] is the compact record of one snapshot that a watcher stores and
//!   trends are computed from; [`CensusDiff::between`] compares two censuses by class and
//!   by family, with the same [`GrowthVerdict`] (raw files may be long gone).
//! - [`snapshot_dir`] lists a directory of snapshots, parses their names and pairs the
//!   earliest and latest snapshot of each process.
//! - [`ClassSurvivors`] counts the live objects of one class, with the path of one.
//! - [`SnapshotIdentity`] says whether two snapshots are of one process, in order.
//!
//! All analysis types are plain data and `Serialize`; the JSON they produce is the
//! documented output schema (`docs/json-schema.md`).

#![deny(missing_docs)]

mod census;
mod census_diff;
mod census_leaks;
mod census_report;
mod class;
mod cluster_growth;
mod collections;
mod diff;
mod family;
mod growing;
mod handles;
mod heap;
mod identity;
mod idset;
mod leaks;
mod retainers;
pub mod shape;
pub mod snapshot_dir;
mod summary;
mod survivors;
pub mod units;
mod verdict;

pub use census::{shape_label, CensusLimits, CollectionRecord, SnapshotCensus};
pub use census_diff::{CensusClassDelta, CensusDiff, CensusFamilyDelta};
pub use census_leaks::{
    CensusCluster, CensusLeaks, LeakCulprit, LeakWindow, WindowTracker, CENSUS_CLUSTERS,
};
pub use class::Classification;
pub use cluster_growth::{ClusterGrowth, IN_STEP_RATIO, MIN_STEADY_OBJECTS};
pub use collections::{
    collection_entries, growing_collections, CollectionCensus, GrowingCollection,
};
pub use diff::{ClassChange, ClassDelta, FamilyDelta, SnapshotDiff, SnapshotDigest};
pub use family::Family;
pub use growing::{
    census_places, growing_places, GrowingObject, GrowingPlace, SizedObjects, SizedPlace,
    CENSUS_PLACES, CENSUS_PLACE_MIN_SIZE,
};
pub use handles::{HandleTotals, Handles, HandlesDelta, ListenerCount, ListenerDelta};
pub use heap::{edge_label, HeapAnalysis, ObjectView, StepView};
pub use identity::{IdentityError, SnapshotIdentity};
pub use idset::IdSet;
pub use leaks::{EarlierSnapshot, FamilySizes, LeakCluster, LeakReport, MIN_CLUSTER_BYTES};
pub use retainers::{ClassRetainers, Held, ObjectRetainers, PathGroup};
pub use summary::{ClassStats, GroupTotal, LargeObject, SnapshotInfo, Summary};
pub use survivors::ClassSurvivors;
pub use verdict::{GrowthKind, GrowthVerdict};
