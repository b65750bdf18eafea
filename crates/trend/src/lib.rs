//! Is a watched service leaking? Trends over stored samples and snapshot censuses.
//!
//! [`TrendReport::assess`] looks at one target's latest incarnation (a restart starts a new
//! heap, so series never cross incarnations) and answers per class, per collection and
//! overall with an [`Assessment`]. Every series is judged by [`leaktrail_stats::decide`]
//! (Theil–Sen slope with its confidence interval, Mann–Kendall with the autocorrelation
//! correction, warm-up found from the series, saturation detected):
//!
//! | assessment | rule |
//! |---|---|
//! | **leaking** | `decide` says leak: a significant trend whose whole slope interval is above the floor, not saturating — and it grew by enough over the window: a class or collection by the noise floor, a memory series by [`TrendPolicy::min_growth_bytes`] and 1 % of its level (four minutes of 1 MiB/h is 70 KB, what Node's RSS creeps by after a start) |
//! | **growing** | not leaking, but the trend is significantly upward and its slope interval reaches above the floor (not yet decided), or growth above the floor that saturates (a cache filling); for a class or collection also any significant rise under the floor (a suspect: its share of the heap's growth can be small) |
//! | **stable** | neither: for a class, no significant rise; for a memory series, a whole slope interval at or below the floor (what `run` calls no leak) |
//! | **insufficient** | fewer than 8 points after the warm-up, or a memory series with no significant rise whose interval reaches above the floor: nothing is decided |
//!
//! The memory series are the V8 heap in use (`heap_used`, Node) and RSS from the samples
//! (RSS without the samples taken while the watcher had a heap snapshot built, which V8's
//! serializer lifts);
//! without samples (snapshots only) it is each snapshot's total self size. `external`
//! memory (Buffers, ArrayBuffers) is not part of the heap series: V8's heap limit does not
//! count it, so it would bring the heap's time to OOM forward; it grows RSS, whose series
//! runs against the cgroup's limit.
//!
//! Floors: the memory series (V8 heap for Node, else RSS) and each class use
//! [`TrendPolicy::floor_per_hour`]; a class or collection must also have grown by
//! [`TrendPolicy::min_growth_bytes`] or 0.5 % of the heap over the window, so that a class
//! of a few kilobytes does not make a leak; classes whose size moved by less than a quarter
//! of that are left out of the report (stable). The overall assessment is the worst of the
//! memory series, or *leaking* if a class of data leaks (a class merely growing is a suspect
//! shown in the table, not an alarm; a class of the code family never raises it: JIT
//! warm-up goes on for minutes, and a program that keeps compiling grows the heap series);
//! restarts are reported beside it (a crash loop keeps
//! each incarnation short, so its series never grow long — the restart count is the
//! alarm then).
//!
//! Time to OOM projects the memory series' slope against the nearer limit: the V8 heap
//! limit (`heap_size_limit`) for the heap, the cgroup `memory.max` for RSS. Its range comes
//! from the slope's confidence interval (the low slope gives the late end; a low slope at
//! or below zero leaves the late end open). The heap's projection runs on the live heap
//! when there are [`MIN_LIVE_CENSUSES`] snapshots: their census totals, each taken after a
//! full GC, from the latest total carried forward to the latest sample. From
//! [`leaktrail_stats::MIN_SAMPLES`] snapshots past start-up the censuses also decide
//! whether the heap grows, by their parts: the data ([`SnapshotCensus::data_size`])
//! against the floor, code and V8's internals against ten times it (JIT warm-up grows
//! them for minutes; code generated per request grows them far faster). Heap samples are
//! read without a GC, and the garbage between two GCs grows with the heap, so their slope
//! overstates the growth (1.1 GiB/h against 644 MiB/h from the censuses of one service);
//! they still decide *whether* the heap grows, with many more points.

#![deny(missing_docs)]

mod cache;
mod directory;
mod input;
mod memory;
mod model;
mod report;
mod snapshots;
mod table;
#[cfg(test)]
mod tests;

pub use cache::TrendCache;
pub use directory::{snapshot_groups, DatedSnapshot, FileOrder, SnapshotGroup};
pub use input::{TrendInput, MAX_TREND_SAMPLES, START_UP_SECONDS};
pub use memory::MIN_LIVE_CENSUSES;
pub use model::{
    Assessment, ClassTrend, CollectionGroup, CollectionTrend, MemoryLimit, MemorySeries,
    MemoryTrend, RatePerHour, SeriesBasis, SlopeSource, TimeToOom, TrendPolicy, TrendReport,
};
pub use report::restarts;
pub use snapshots::SnapshotTrends;
pub use table::CensusTable;

#[cfg(doc)]
use leaktrail_analysis::SnapshotCensus;
