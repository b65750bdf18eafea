//! The report types: what a trend says about a target, its memory series, classes and
//! collections.

use serde::Serialize;

use leaktrail_analysis::{GrowingPlace, LeakCulprit};
use leaktrail_stats::SlopeEstimate;
use leaktrail_store::Incarnation;

#[cfg(doc)]
use crate::restarts;

/// What counts as a leak in production.
#[derive(Clone, Copy, Debug)]
pub struct TrendPolicy {
    /// Growth per hour at or below which a series is not leaking, bytes.
    pub floor_per_hour: f64,
    /// Significance level of the trend test.
    pub alpha: f64,
    /// A class or collection must grow at least this much over the window to leak, bytes.
    pub min_growth_bytes: u64,
}

impl Default for TrendPolicy {
    fn default() -> TrendPolicy {
        TrendPolicy {
            floor_per_hour: 1024.0 * 1024.0,
            alpha: 0.05,
            min_growth_bytes: 256 * 1024,
        }
    }
}

/// The answer for one series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    /// Too few points to decide.
    Insufficient,
    /// Flat (or falling).
    Stable,
    /// Significantly upward and possibly above the floor, or saturating.
    Growing,
    /// Significantly upward beyond the floor.
    Leaking,
}

impl Assessment {
    /// The word reports print.
    pub fn label(self) -> &'static str {
        match self {
            Assessment::Insufficient => "insufficient data",
            Assessment::Stable => "stable",
            Assessment::Growing => "growing",
            Assessment::Leaking => "leaking",
        }
    }

    /// A number for Prometheus: 0 stable (or insufficient), 1 growing, 2 leaking.
    pub fn level(self) -> u8 {
        match self {
            Assessment::Insufficient | Assessment::Stable => 0,
            Assessment::Growing => 1,
            Assessment::Leaking => 2,
        }
    }
}

/// A slope per hour with its confidence interval.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct RatePerHour {
    /// Theil–Sen slope, units per hour.
    pub slope: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
}

impl RatePerHour {
    pub(crate) fn from_per_second(s: &SlopeEstimate) -> RatePerHour {
        RatePerHour {
            slope: s.slope * 3600.0,
            low: s.low * 3600.0,
            high: s.high * 3600.0,
        }
    }
}

/// The trend of one class across the snapshots.
#[derive(Clone, Debug, Serialize)]
pub struct ClassTrend {
    /// Class name.
    pub class: String,
    /// Its family key (`objects`, `code`, …).
    pub family: String,
    /// Instances in the first and last snapshot.
    pub count_first: u64,
    /// Instances in the last snapshot.
    pub count_last: u64,
    /// Self size in the first snapshot, bytes.
    pub size_first: u64,
    /// Self size in the last snapshot, bytes.
    pub size_last: u64,
    /// Retained size in the last snapshot, bytes.
    pub retained_last: Option<u64>,
    /// Self-size growth per hour.
    pub rate: RatePerHour,
    /// Mann–Kendall p-value.
    pub p_value: f64,
    /// The answer.
    pub assessment: Assessment,
}

/// The trend of one collection (followed by its node id).
#[derive(Clone, Debug, Serialize)]
pub struct CollectionTrend {
    /// V8 node id.
    pub id: u32,
    /// `Map`, `Set`, `Array` or `Object`.
    pub kind: String,
    /// Its retainer path in the last snapshot.
    pub path: String,
    /// Entries in the first and last snapshot it appears in.
    pub entries_first: u64,
    /// Entries in the last snapshot.
    pub entries_last: u64,
    /// Retained size in the last snapshot, bytes.
    pub retained_last: u64,
    /// Entries per hour.
    pub rate: RatePerHour,
    /// The answer.
    pub assessment: Assessment,
    /// The shape of its retainer path in the last snapshot, when the census recorded it
    /// ([`leaktrail_analysis::CollectionRecord::shape`]); its group says it in words.
    #[serde(skip)]
    pub shape: Option<String>,
}

/// Collections held the same way — their retainer paths share a shape, as an `events`
/// array in every `Session` of a map does — reported as one row: forty such arrays are one
/// thing to fix, not forty.
#[derive(Clone, Debug, Serialize)]
pub struct CollectionGroup {
    /// What they are (`` `Session.events` (Array), one per entry of `sessions` ``); a
    /// collection whose census recorded no shape is a group of its own, `Array @123`.
    pub label: String,
    /// `Map`, `Set`, `Array` or `Object`.
    pub kind: String,
    /// The retainer path of its largest member in the last snapshot.
    pub path: String,
    /// Its members, the collections whose entries changed.
    pub count: usize,
    /// Members growing or leaking.
    pub growing: usize,
    /// Their node ids, in the order of the collections list (leaking, then largest, first).
    pub ids: Vec<u32>,
    /// Entries of all members, each in the first snapshot it appears in.
    pub entries_first: u64,
    /// Entries of all members in the last snapshot each appears in.
    pub entries_last: u64,
    /// Entries gained by all members together (last minus first).
    pub entries_growth: i64,
    /// Retained size of all members in the last snapshot, bytes.
    pub retained_last: u64,
    /// The members' slopes added up, entries per hour.
    pub entries_per_hour: f64,
    /// The worst of its members' answers.
    pub assessment: Assessment,
}

impl CollectionGroup {
    /// Groups `collections` (in their report order) by kind and path shape, the worst and
    /// largest group first.
    pub fn group(collections: &[CollectionTrend]) -> Vec<CollectionGroup> {
        let mut groups: Vec<CollectionGroup> = Vec::new();
        let mut by_shape: std::collections::HashMap<(&str, &str), usize> =
            std::collections::HashMap::new();
        for c in collections {
            let slot = match &c.shape {
                Some(shape) => by_shape.get(&(c.kind.as_str(), shape.as_str())).copied(),
                None => None,
            };
            let i = match slot {
                Some(i) => i,
                None => {
                    groups.push(CollectionGroup {
                        // Named once its members are counted (below).
                        label: String::new(),
                        kind: c.kind.clone(),
                        path: c.path.clone(),
                        count: 0,
                        growing: 0,
                        ids: Vec::new(),
                        entries_first: 0,
                        entries_last: 0,
                        entries_growth: 0,
                        retained_last: 0,
                        entries_per_hour: 0.0,
                        assessment: c.assessment,
                    });
                    if let Some(shape) = &c.shape {
                        by_shape.insert((c.kind.as_str(), shape.as_str()), groups.len() - 1);
                    }
                    groups.len() - 1
                }
            };
            let g = &mut groups[i];
            g.count += 1;
            if c.assessment >= Assessment::Growing {
                g.growing += 1;
            }
            g.ids.push(c.id);
            g.entries_first += c.entries_first;
            g.entries_last += c.entries_last;
            g.entries_growth += c.entries_last as i64 - c.entries_first as i64;
            g.retained_last += c.retained_last;
            g.entries_per_hour += c.rate.slope;
            g.assessment = g.assessment.max(c.assessment);
        }
        let mut shapes = by_shape
            .into_iter()
            .map(|((_, shape), i)| (i, shape))
            .collect::<std::collections::HashMap<usize, &str>>();
        for (i, g) in groups.iter_mut().enumerate() {
            g.label = match (shapes.remove(&i), g.ids.first()) {
                (Some(shape), _) => leaktrail_analysis::shape_label(shape, g.count > 1),
                (None, Some(id)) => format!("{} @{id}", g.kind),
                (None, None) => g.kind.clone(),
            };
        }
        // Stable: groups of equal rank keep the collections' order.
        groups.sort_by(|a, b| {
            b.assessment
                .cmp(&a.assessment)
                .then(b.retained_last.cmp(&a.retained_last))
        });
        groups
    }
}

/// A memory series a trend is fitted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemorySeries {
    /// The V8 heap in use (Node).
    HeapUsed,
    /// Resident memory.
    Rss,
    /// Each snapshot's total self size (a directory of snapshots, no samples).
    SnapshotSelfSize,
}

impl MemorySeries {
    /// Its name in reports and metric labels: `heap_used`, `rss`, `snapshot self size`.
    pub fn name(self) -> &'static str {
        match self {
            MemorySeries::HeapUsed => "heap_used",
            MemorySeries::Rss => "rss",
            MemorySeries::SnapshotSelfSize => "snapshot self size",
        }
    }
}

/// The limit a memory series runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryLimit {
    /// V8's `heap_size_limit`, for the heap.
    V8Heap,
    /// The cgroup's `memory.max`, for RSS.
    Cgroup,
}

impl MemoryLimit {
    /// Its name in reports and metric labels: `v8 heap limit`, `cgroup memory.max`.
    pub fn name(self) -> &'static str {
        match self {
            MemoryLimit::V8Heap => "v8 heap limit",
            MemoryLimit::Cgroup => "cgroup memory.max",
        }
    }
}

/// What a time to OOM's slope was fitted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlopeSource {
    /// Snapshot census totals, each taken after a full GC.
    LiveHeap,
    /// The series itself; for the heap, readings with garbage.
    Samples,
}

impl SlopeSource {
    /// Its name in reports: `live heap`, `samples`.
    pub fn name(self) -> &'static str {
        match self {
            SlopeSource::LiveHeap => "live heap",
            SlopeSource::Samples => "samples",
        }
    }
}

impl serde::Serialize for MemorySeries {
    /// As its name: the one spelling of it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl serde::Serialize for MemoryLimit {
    /// As its name: the one spelling of it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl serde::Serialize for SlopeSource {
    /// As its name: the one spelling of it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// When memory would reach its limit at the current rate.
#[derive(Clone, Debug, Serialize)]
pub struct TimeToOom {
    /// Which limit.
    pub limit_kind: MemoryLimit,
    /// The limit, bytes.
    pub limit: u64,
    /// The latest value, bytes.
    pub current: u64,
    /// Seconds at the fitted slope.
    pub seconds: f64,
    /// Seconds at the high end of the slope's interval (the early end).
    pub seconds_early: f64,
    /// Seconds at the low end (the late end); `None` when the low end is flat or falling.
    pub seconds_late: Option<f64>,
    /// What the slope comes from.
    pub slope_from: SlopeSource,
    /// Points the slope was fitted on.
    pub points: usize,
    /// The slope projected, bytes per hour.
    pub slope_per_hour: f64,
}

/// What the points of a memory series are.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SeriesBasis {
    /// Every sample (the heap's read without a GC: garbage included), or each snapshot's
    /// total for a directory of snapshots.
    Samples,
    /// One point per snapshot, each after its full GC (from [`leaktrail_stats::MIN_SAMPLES`]
    /// snapshots on): for the heap its census total (the live heap; judged by its parts,
    /// see the crate doc), for Node's RSS the first sample after it.
    AfterGc,
    /// Node's RSS from every sample, before there are enough snapshots: shown and
    /// projected, at most *growing*, and not counted in the overall assessment (between
    /// GCs it swings with the heap's garbage, and it climbs through start-up).
    SamplesNotCounted,
}

/// The trend of a memory series (samples).
#[derive(Clone, Debug, Serialize)]
pub struct MemoryTrend {
    /// Which series.
    pub series: MemorySeries,
    /// Samples used (after warm-up).
    pub samples: usize,
    /// Samples left out at the start as warm-up (start-up growth that flattened).
    pub warmup_samples: usize,
    /// What the points are.
    pub basis: SeriesBasis,
    /// The latest value, bytes.
    pub current: u64,
    /// Growth per hour.
    pub rate: RatePerHour,
    /// Mann–Kendall p-value.
    pub p_value: f64,
    /// Whether the growth flattens out.
    pub saturating: bool,
    /// The answer.
    pub assessment: Assessment,
    /// Projection against the nearer limit, when growing and a limit is known.
    pub time_to_oom: Option<TimeToOom>,
}

/// The trend report of one target.
#[derive(Clone, Debug, Serialize)]
pub struct TrendReport {
    /// The target's name.
    pub target: String,
    /// The incarnation assessed.
    pub incarnation: Option<Incarnation>,
    /// Restarts of the target: earlier incarnations that died (see [`restarts`]).
    pub restarts: u64,
    /// How earlier incarnations ended, oldest first (`exited 1`, `oom-kill`, …).
    pub endings: Vec<String>,
    /// Snapshots of the incarnation used.
    pub snapshots: usize,
    /// First and last time covered, ms since the epoch.
    pub window: Option<(i64, i64)>,
    /// The worst of the memory series and the classes.
    pub overall: Assessment,
    /// One sentence.
    pub sentence: String,
    /// The nearer of the memory series' projections (V8 heap limit, cgroup limit).
    pub time_to_oom: Option<TimeToOom>,
    /// Memory series: the V8 heap (Node) and RSS.
    pub memory: Vec<MemoryTrend>,
    /// Classes, leaking first, then by growth.
    pub classes: Vec<ClassTrend>,
    /// Collections whose entries changed, leaking first.
    pub collections: Vec<CollectionTrend>,
    /// The same collections grouped by the shape of their retainer paths, leaking first.
    pub collection_groups: Vec<CollectionGroup>,
    /// Where the newest three censuses say the heap leaks: objects allocated between the
    /// first two still alive in the third, of a class that grew in both intervals
    /// ([`LeakCulprit`]), largest first. Named from three censuses; the class trends
    /// sharpen the rate with more.
    pub culprits: Vec<LeakCulprit>,
    /// Objects at one place whose own size rose across the newest three censuses — a string
    /// appended to, an array pushed to — that no cluster of new objects names, largest
    /// growth first ([`GrowingPlace`]).
    pub growing_places: Vec<GrowingPlace>,
}
