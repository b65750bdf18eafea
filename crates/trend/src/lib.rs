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
//! | **stable** | neither: no significant rise, or for a memory series one whose whole slope interval is at or below the floor (what `run` calls no leak) |
//! | **insufficient** | fewer than 8 points after the warm-up: nothing is decided |
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

mod cache;
mod table;
pub use cache::TrendCache;
pub use table::CensusTable;

use rayon::prelude::*;
use serde::Serialize;

use leaktrail_analysis::units::human_duration;
use leaktrail_analysis::{growing_places, GrowingPlace, LeakCulprit, SnapshotCensus};
use leaktrail_stats::{decide, GrowthPolicy, Outcome, SlopeEstimate};
use leaktrail_store::{
    EndReason, Incarnation, SampleRecord, SnapshotRecord, Store, StoreError, Target,
};

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
    fn from_per_second(s: &SlopeEstimate) -> RatePerHour {
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

/// When memory would reach its limit at the current rate.
#[derive(Clone, Debug, Serialize)]
pub struct TimeToOom {
    /// Which limit: `v8 heap limit` or `cgroup memory.max`.
    pub limit_kind: String,
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
    /// What the slope comes from: `live heap` (snapshot census totals, each taken after a
    /// full GC) or `samples` (the series itself; for the heap, readings with garbage).
    pub slope_from: String,
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
    /// `heap_used`, `rss`, or `snapshot self size` (snapshots without samples).
    pub series: String,
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

/// Everything a trend is computed from, for one target.
pub struct TrendInput {
    /// The target.
    pub target: Target,
    /// Its incarnations, oldest first.
    pub incarnations: Vec<Incarnation>,
    /// Samples of the latest incarnation, oldest first.
    pub samples: Vec<SampleRecord>,
    /// Snapshots of the latest incarnation with their censuses, oldest first.
    pub snapshots: Vec<(SnapshotRecord, SnapshotCensus)>,
}

/// Node's RSS right after each snapshot at `snapshot_times`, as (time, bytes): the first
/// sample once the snapshot is built (V8 takes it after a full GC, and gives the freed
/// pages back), one point per snapshot. Between GCs a Node service's RSS swings with its
/// heap's garbage by tens of megabytes, and through its first minutes it climbs as code
/// is compiled; after a full GC what is left is the live heap and the memory outside it.
fn rss_after_gc(samples: &[SampleRecord], snapshot_times: &[i64]) -> Vec<(i64, f64)> {
    let outside: Vec<&SampleRecord> = samples.iter().filter(|s| !s.in_snapshot).collect();
    let mut pts: Vec<(i64, f64)> = snapshot_times
        .iter()
        .filter_map(|&t| {
            let after = outside.partition_point(|s| s.t <= t);
            outside.get(after).map(|s| (s.t, s.rss as f64))
        })
        .collect();
    // Two snapshots with no sample between them would give one sample twice.
    pts.dedup_by_key(|p| p.0);
    pts
}

/// The growing places of the newest three censuses, without those a culprit names already
/// (the collection its objects accumulate in grows too).
fn growing_places_of(table: &CensusTable, culprits: &[LeakCulprit]) -> Vec<GrowingPlace> {
    let [first, second, last] = table.places.as_slice() else {
        return Vec::new();
    };
    let min_growth = table
        .leaks
        .as_ref()
        .map_or(64 << 10, |l| l.evidence.min_cluster_bytes);
    growing_places([first, second, last], min_growth)
        .into_iter()
        .filter(|g| {
            let field = format!("`{}`", g.place.edge);
            !culprits.iter().any(|c| c.cluster.holder.contains(&field))
        })
        .collect()
}

/// Seconds after an incarnation starts whose after-GC points (Node's RSS, the live heap)
/// do not judge a series: the watcher's default start-up (`watch --start-up`).
pub const START_UP_SECONDS: u64 = 30;

/// Censuses from which a class's own trend can overrule the newest three: a culprit whose
/// class is stable over at least this many is a cache that filled, not a leak.
const CULPRIT_TREND_CENSUSES: usize = 8;

/// The culprits of the newest census's leak evidence: clusters whose class's instance
/// count rose in both intervals of its window; once the class trends cover
/// [`CULPRIT_TREND_CENSUSES`], only those whose class is not stable.
fn culprits(table: &CensusTable, classes: &[ClassTrend]) -> Vec<LeakCulprit> {
    let Some(leaks) = &table.leaks else {
        return Vec::new();
    };
    let mut found = leaks.evidence.culprits(|class| {
        [
            table.class_count(class, leaks.base),
            table.class_count(class, leaks.target),
        ]
    });
    if table.len() >= CULPRIT_TREND_CENSUSES {
        found.retain(|c| {
            classes
                .iter()
                .any(|t| t.class == c.cluster.class && t.assessment != Assessment::Stable)
        });
    }
    found
}

/// Snapshots from which the heap's time to OOM is projected from their census totals (the
/// live heap) rather than from the heap samples.
pub const MIN_LIVE_CENSUSES: usize = 3;

/// Samples read per trend (the most recent ones).
pub const MAX_TREND_SAMPLES: usize = 20_000;

impl TrendInput {
    /// Reads the latest incarnation of `target` from the store, every census whole: the
    /// reference [`TrendCache::report`] (what `trend --store` and the server use) is
    /// checked against.
    pub fn from_store(store: &Store, target: &Target) -> Result<TrendInput, StoreError> {
        let incarnations = store.incarnations(target.id)?;
        let latest = incarnations.last().map(|i| i.id);
        let mut samples = Vec::new();
        let mut snapshots = Vec::new();
        if let Some(latest) = latest {
            samples = store.incarnation_samples(latest, 0, MAX_TREND_SAMPLES)?;
            snapshots = store.incarnation_censuses(latest)?;
        }
        Ok(TrendInput {
            target: target.clone(),
            incarnations,
            samples,
            snapshots,
        })
    }
}

/// The trends that come from the snapshots alone: classes and collections. They change
/// only when a snapshot is added, so a server keeps them between requests
/// ([`TrendCache`]).
#[derive(Clone, Debug)]
pub struct SnapshotTrends {
    /// Classes, leaking first, then by growth.
    pub classes: Vec<ClassTrend>,
    /// Collections whose entries changed, leaking first.
    pub collections: Vec<CollectionTrend>,
    /// The same, grouped by path shape ([`CollectionGroup::group`]).
    pub collection_groups: Vec<CollectionGroup>,
    /// What the newest three censuses name as the leak ([`LeakCulprit`]), largest first.
    pub culprits: Vec<LeakCulprit>,
    /// Objects whose own size rose across the newest three censuses ([`GrowingPlace`]).
    pub growing_places: Vec<GrowingPlace>,
    /// Each census's data ([`SnapshotCensus::data_size`]), bytes, oldest first: what
    /// judges whether the live heap grows.
    pub live_data: Vec<u64>,
}

impl SnapshotTrends {
    /// Assesses every class and collection across `snapshots` (oldest first).
    pub fn assess(
        snapshots: &[(SnapshotRecord, SnapshotCensus)],
        policy: &TrendPolicy,
    ) -> SnapshotTrends {
        SnapshotTrends::assess_table(&CensusTable::from_censuses(snapshots), policy)
    }

    /// Assesses every class and collection of `table`.
    pub fn assess_table(table: &CensusTable, policy: &TrendPolicy) -> SnapshotTrends {
        let gp = GrowthPolicy {
            max_growth: policy.floor_per_hour / 3600.0,
            alpha: policy.alpha,
            warmup: None,
        };
        let n = table.len();
        let t0 = table.times.first().copied().unwrap_or(0);
        let xs: Vec<f64> = table
            .times
            .iter()
            .map(|t| (t - t0) as f64 / 1000.0)
            .collect();
        let min_growth = policy.min_growth_bytes.max(table.heap_last / 200) as f64;
        // Classes across snapshots: a class missing from a census was below its cut-off,
        // so it counts as 0 there. Hundreds of classes, each a robust fit over every
        // snapshot: in parallel (the order is kept, so the report is the same).
        let runs: Vec<&[table::ClassRow]> = table.class_runs().collect();
        let mut classes: Vec<ClassTrend> = runs
            .par_iter()
            .filter_map(|run| {
                // Each census's row of the class (its first, should one list it twice).
                let mut rows: Vec<Option<&table::ClassRow>> = vec![None; n];
                for r in run.iter() {
                    rows[r.snapshot as usize].get_or_insert(r);
                }
                let ys: Vec<f64> = rows
                    .iter()
                    .map(|r| r.map_or(0.0, |k| k.self_size as f64))
                    .collect();
                let last = rows.iter().rev().flatten().next()?;
                let first = rows.first().copied().flatten();
                let newest = rows.last().copied().flatten();
                // A class that moved less than a quarter of the noise floor cannot leak: it
                // is left out (stable), which also keeps hundreds of classes cheap to assess.
                let (lo, hi) = ys
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), &y| (lo.min(y), hi.max(y)));
                if hi - lo < min_growth / 4.0 {
                    return None;
                }
                let v = decide(&xs, &ys, &gp);
                let grown = ys.last().copied().unwrap_or(0.0) - ys.first().copied().unwrap_or(0.0);
                let assessment = assessment_of(
                    &v,
                    policy.alpha,
                    grown >= min_growth,
                    RiseUnderFloor::Suspect,
                );
                Some(ClassTrend {
                    class: table.name(last.class).to_owned(),
                    family: last.family.key().to_owned(),
                    count_first: first.map_or(0, |k| k.count),
                    count_last: newest.map_or(0, |k| k.count),
                    size_first: first.map_or(0, |k| k.self_size),
                    size_last: newest.map_or(0, |k| k.self_size),
                    retained_last: newest.and_then(|k| k.retained_size),
                    rate: RatePerHour::from_per_second(&v.slope),
                    p_value: v.trend.p_value,
                    assessment,
                })
            })
            .collect();
        classes.sort_by(|a, b| {
            b.assessment.cmp(&a.assessment).then(
                (b.size_last as i64 - b.size_first as i64)
                    .cmp(&(a.size_last as i64 - a.size_first as i64)),
            )
        });

        // Collections, followed by node id; entries are judged against a floor of one
        // entry per minute, and retained growth against the noise floor.
        let mut collections = Vec::new();
        let entry_policy = GrowthPolicy {
            max_growth: 1.0 / 60.0,
            ..gp
        };
        for run in table.collection_runs() {
            // Each census's row of the collection (its first, should one list it twice).
            let mut pts: Vec<&table::CollectionRow> = Vec::with_capacity(run.len());
            for r in run {
                if pts.last().is_none_or(|p| p.snapshot != r.snapshot) {
                    pts.push(r);
                }
            }
            let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
                continue;
            };
            if first.entries == last.entries {
                continue;
            }
            let cx: Vec<f64> = pts.iter().map(|p| xs[p.snapshot as usize]).collect();
            let cy: Vec<f64> = pts.iter().map(|p| p.entries as f64).collect();
            let v = decide(&cx, &cy, &entry_policy);
            let grown = last.retained_size as f64 - first.retained_size as f64;
            collections.push(CollectionTrend {
                id: last.id,
                kind: table.name(last.kind).to_owned(),
                path: table.name(last.path).to_owned(),
                entries_first: first.entries,
                entries_last: last.entries,
                retained_last: last.retained_size,
                rate: RatePerHour::from_per_second(&v.slope),
                assessment: assessment_of(
                    &v,
                    policy.alpha,
                    grown >= min_growth,
                    RiseUnderFloor::Suspect,
                ),
                shape: last.shape.map(|s| table.name(s).to_owned()),
            });
        }
        collections.sort_by(|a, b| {
            b.assessment
                .cmp(&a.assessment)
                .then(b.retained_last.cmp(&a.retained_last))
        });
        let collection_groups = CollectionGroup::group(&collections);
        let culprits = culprits(table, &classes);
        let growing_places = growing_places_of(table, &culprits);

        SnapshotTrends {
            classes,
            collections,
            collection_groups,
            culprits,
            growing_places,
            live_data: table.data_sizes.clone(),
        }
    }
}

impl TrendReport {
    /// Assesses one target.
    pub fn assess(input: &TrendInput, policy: &TrendPolicy) -> TrendReport {
        let trends = SnapshotTrends::assess(&input.snapshots, policy);
        TrendReport::assess_with(input, policy, trends)
    }

    /// Assesses one target with its class and collection trends already computed (from
    /// the same snapshots: see [`TrendCache`]); `input.snapshots` then needs only each
    /// census's facts.
    pub fn assess_with(
        input: &TrendInput,
        policy: &TrendPolicy,
        trends: SnapshotTrends,
    ) -> TrendReport {
        let incarnation = input.incarnations.last().cloned();
        let floor_per_s = policy.floor_per_hour / 3600.0;
        let gp = GrowthPolicy {
            max_growth: floor_per_s,
            alpha: policy.alpha,
            warmup: None,
        };

        let mut memory = Vec::new();
        let is_node = input.samples.iter().any(|s| s.heap_used.is_some());
        let t0 = input
            .samples
            .first()
            .map(|s| s.t)
            .or(input.snapshots.first().map(|s| s.0.t))
            .unwrap_or(0);
        let secs = |t: i64| (t - t0) as f64 / 1000.0;
        // Points after a full GC judge a series only past the process's start-up: RSS and
        // the live heap climb for its first seconds (code, caches, the heap's own size)
        // as surely as under a leak.
        let started = incarnation.as_ref().map_or(i64::MIN, |i| i.started_at);
        let after_start_up = |t: i64| t.saturating_sub(started) >= START_UP_SECONDS as i64 * 1000;
        // The heap series (snapshot totals or samples) run against V8's limit.
        let heap_limit = incarnation
            .as_ref()
            .and_then(|i| i.heap_limit)
            .map(|l| ("v8 heap limit", l as u64));
        if input.samples.is_empty() {
            // Snapshots without samples (a directory of snapshot files): the memory series
            // is each snapshot's total self size.
            let pts: Vec<(f64, f64)> = input
                .snapshots
                .iter()
                .map(|(s, c)| (secs(s.t), c.info.total_self_size as f64))
                .collect();
            memory.extend(memory_trend(
                "snapshot self size",
                &pts,
                &gp,
                policy.min_growth_bytes,
                heap_limit,
            ));
        }
        if is_node {
            let pts: Vec<(f64, f64)> = input
                .samples
                .iter()
                .filter_map(|s| s.heap_used.map(|h| (secs(s.t), h as f64)))
                .collect();
            let live: Vec<(f64, f64)> = input
                .snapshots
                .iter()
                .map(|(s, c)| (secs(s.t), c.info.total_self_size as f64))
                .collect();
            // Each census's data (its total without code and V8's internals), when the
            // trends carry one per snapshot.
            let data: Vec<(f64, f64)> = if trends.live_data.len() == input.snapshots.len() {
                input
                    .snapshots
                    .iter()
                    .zip(&trends.live_data)
                    .map(|((s, _), &d)| (secs(s.t), d as f64))
                    .collect()
            } else {
                live.clone()
            };
            let past_start_up = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
                input
                    .snapshots
                    .iter()
                    .zip(points)
                    .filter(|((s, _), _)| after_start_up(s.t))
                    .map(|(_, &point)| point)
                    .collect()
            };
            let live_after_start_up = past_start_up(&live);
            // With enough snapshots the live heap (each census taken after a full GC)
            // decides whether the heap grows: samples read without a GC carry the garbage
            // of the moment, a sawtooth whose size changes as the service warms up (a
            // bounded cache was called *leaking* on them). The row shows the live total;
            // what it is called comes from its parts (`heap_assessment`).
            let heap = if live_after_start_up.len() >= leaktrail_stats::MIN_SAMPLES {
                memory_trend(
                    "heap_used",
                    &live_after_start_up,
                    &gp,
                    policy.min_growth_bytes,
                    heap_limit,
                )
                .map(|mut heap| {
                    heap.basis = SeriesBasis::AfterGc;
                    heap.current = pts.last().map_or(heap.current, |p| p.1 as u64);
                    heap.assessment = heap_assessment(
                        &live_after_start_up,
                        &past_start_up(&data),
                        &gp,
                        policy.min_growth_bytes,
                    );
                    if heap.assessment == Assessment::Stable {
                        heap.time_to_oom = None;
                    }
                    heap
                })
            } else {
                memory_trend("heap_used", &pts, &gp, policy.min_growth_bytes, heap_limit)
            };
            if let Some(mut heap) = heap {
                if heap.time_to_oom.is_some() {
                    let now = pts.last().map_or(0.0, |p| p.0);
                    if let Some(t) = live_heap_time_to_oom(&live, now, &gp, heap_limit) {
                        // The live heap decides when: not growing, it projects no OOM.
                        heap.time_to_oom = t;
                    }
                }
                memory.push(heap);
            }
        }
        // Samples taken while the watcher had a snapshot built are left out: V8 allocates
        // to serialize it and RSS jumps, growth of the watcher's making, not the service's.
        let pts: Vec<(f64, f64)> = input
            .samples
            .iter()
            .filter(|s| !s.in_snapshot)
            .map(|s| (secs(s.t), s.rss as f64))
            .collect();
        let limit = incarnation
            .as_ref()
            .and_then(|i| i.memory_limit)
            .map(|l| ("cgroup memory.max", l as u64));
        let after_gc: Vec<(f64, f64)> = if is_node {
            let times: Vec<i64> = input
                .snapshots
                .iter()
                .map(|(s, _)| s.t)
                .filter(|&t| after_start_up(t))
                .collect();
            rss_after_gc(&input.samples, &times)
                .into_iter()
                .map(|(t, rss)| (secs(t), rss))
                .collect()
        } else {
            Vec::new()
        };
        let rss = if after_gc.len() >= leaktrail_stats::MIN_SAMPLES {
            // Node with enough snapshots: RSS after each one's full GC decides, and may
            // leak on its own (native memory, buffers, threads).
            memory_trend("rss", &after_gc, &gp, policy.min_growth_bytes, limit).map(|mut rss| {
                rss.basis = SeriesBasis::AfterGc;
                rss.current = pts.last().map_or(rss.current, |p| p.1 as u64);
                rss
            })
        } else {
            memory_trend("rss", &pts, &gp, policy.min_growth_bytes, limit).map(|mut rss| {
                if is_node {
                    // Node's RSS between GCs follows the heap's sawtooth and its start-up
                    // climb: shown, projected, but no alarm until the snapshots decide.
                    rss.basis = SeriesBasis::SamplesNotCounted;
                    rss.assessment = rss.assessment.min(Assessment::Growing);
                }
                rss
            })
        };
        memory.extend(rss);

        let SnapshotTrends {
            classes,
            collections,
            collection_groups,
            culprits,
            growing_places,
            ..
        } = trends;

        let worst_memory = memory
            .iter()
            .filter(|m| m.basis != SeriesBasis::SamplesNotCounted)
            .map(|m| m.assessment)
            .max();
        // A class growing under the floor is a suspect to show, not an alarm: only one
        // that leaks raises the overall assessment above the memory series'.
        // Code (compiled code, shapes, scripts' sources) is judged apart from data: V8
        // compiles and re-optimises for minutes after a start, so a code class alone
        // raises no alarm — a program that keeps compiling new code (templates, `new
        // Function`) grows the heap, and the heap series says so.
        let worst_class = classes
            .iter()
            .filter(|c| c.family != leaktrail_analysis::Family::Code.key())
            .map(|c| c.assessment)
            .filter(|a| *a == Assessment::Leaking)
            .max();
        let overall = worst_memory
            .into_iter()
            .chain(worst_class)
            .max()
            .unwrap_or(Assessment::Insufficient);
        let restarts = restarts(&input.incarnations);
        let endings = input
            .incarnations
            .iter()
            .filter_map(|i| i.end_reason.map(|r| ending(i, r)))
            .collect();
        let window = match (input.samples.first(), input.samples.last()) {
            (Some(a), Some(b)) => Some((a.t, b.t)),
            _ => input
                .snapshots
                .first()
                .zip(input.snapshots.last())
                .map(|(a, b)| (a.0.t, b.0.t)),
        };
        let time_to_oom = memory
            .iter()
            .filter_map(|m| m.time_to_oom.clone())
            .min_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let mut report = TrendReport {
            time_to_oom,
            target: input.target.name.clone(),
            incarnation,
            restarts,
            endings,
            snapshots: input.snapshots.len(),
            window,
            overall,
            sentence: String::new(),
            memory,
            classes,
            collections,
            collection_groups,
            culprits,
            growing_places,
        };
        report.sentence = sentence(&report);
        report
    }
}

/// What a significant rise whose whole slope interval is under the floor is called.
#[derive(Clone, Copy)]
enum RiseUnderFloor {
    /// Growing: a class or collection, whose share of the heap's growth can be far under
    /// the heap's floor and still be the culprit.
    Suspect,
    /// Stable: a memory series, where a label for it would flag every healthy service (a
    /// trend test finds the smallest steady rise given samples enough), as `run` would not.
    NoLeak,
}

/// Maps a verdict to an assessment; `big_enough` says the series grew by the noise floor.
fn assessment_of(
    v: &leaktrail_stats::GrowthVerdict,
    alpha: f64,
    big_enough: bool,
    under_floor: RiseUnderFloor,
) -> Assessment {
    // A significant rank trend with a median slope of zero (steps among flat stretches)
    // is no growth to report: "growing at 0 B/h" says nothing.
    let upward = v.trend.p_value < alpha && v.trend.s > 0.0 && v.slope.slope > 0.0;
    match (v.outcome, under_floor) {
        (Outcome::Leak, _) if big_enough => Assessment::Leaking,
        (Outcome::Leak, _) => Assessment::Growing,
        _ if v.samples_used < leaktrail_stats::MIN_SAMPLES => Assessment::Insufficient,
        _ if v.saturating => Assessment::Growing,
        // The slope's interval reaches above the floor: it may yet be a leak.
        (Outcome::Inconclusive, _) if upward => Assessment::Growing,
        (Outcome::NoLeak, RiseUnderFloor::Suspect) if upward => Assessment::Growing,
        _ => Assessment::Stable,
    }
}

fn memory_trend(
    series: &str,
    pts: &[(f64, f64)],
    gp: &GrowthPolicy,
    min_growth: u64,
    limit: Option<(&str, u64)>,
) -> Option<MemoryTrend> {
    let last = pts.last()?;
    let (v, assessment) = judge_memory(pts, gp, last.1, min_growth);
    let current = last.1.max(0.0) as u64;
    let time_to_oom = match (limit, assessment) {
        (Some((kind, limit)), Assessment::Leaking | Assessment::Growing)
            if v.slope.slope > 0.0 && limit > current =>
        {
            let room = (limit - current) as f64;
            Some(TimeToOom {
                limit_kind: kind.to_owned(),
                limit,
                current,
                seconds: room / v.slope.slope,
                seconds_early: room / v.slope.high.max(v.slope.slope),
                seconds_late: (v.slope.low > 0.0).then(|| room / v.slope.low),
                slope_from: "samples".into(),
                points: v.samples_used,
                slope_per_hour: v.slope.slope * 3600.0,
            })
        }
        _ => None,
    };
    Some(MemoryTrend {
        series: series.to_owned(),
        samples: v.samples_used,
        warmup_samples: v.warmup_samples,
        basis: SeriesBasis::Samples,
        current,
        rate: RatePerHour::from_per_second(&v.slope),
        p_value: v.trend.p_value,
        saturating: v.saturating,
        assessment,
        time_to_oom,
    })
}

/// How much faster than the floor code and V8's internals must grow to make the heap
/// leak on their own: JIT warm-up and feedback go on for minutes at up to about the
/// floor (a clean service on npm libraries: ~1 MiB/h four minutes in), while a program
/// that generates code per request, or gives its objects shapes of their own, grows them
/// by far more.
const CODE_FLOOR_FACTOR: f64 = 10.0;

/// The verdict on a memory series' points and what it is called; `level` is what its
/// growth must come to a share of ([`grew_enough`]).
fn judge_memory(
    pts: &[(f64, f64)],
    gp: &GrowthPolicy,
    level: f64,
    min_growth: u64,
) -> (leaktrail_stats::GrowthVerdict, Assessment) {
    let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let v = decide(&xs, &ys, gp);
    let big_enough = grew_enough(&v, &xs, level, min_growth);
    let assessment = assessment_of(&v, gp.alpha, big_enough, RiseUnderFloor::NoLeak);
    (v, assessment)
}

/// Whether a memory series grew enough over its points to leak: its fitted growth over
/// their span (slope × span) at least `min_growth` bytes and 1 % of its latest level
/// (`level`). A rise of 1 MiB/h is significant on ten points, but four minutes of it
/// is 70 KB: Node's RSS creeps so for minutes after a start (the allocator and V8's
/// pages settling), and no one should be paged for it until it has come to something.
fn grew_enough(
    v: &leaktrail_stats::GrowthVerdict,
    xs: &[f64],
    level: f64,
    min_growth: u64,
) -> bool {
    let span = xs.last().zip(xs.first()).map_or(0.0, |(b, a)| b - a);
    v.slope.slope * span >= (min_growth as f64).max(level * MIN_GROWTH_SHARE)
}

/// The share of its level a memory series must have grown by to leak ([`grew_enough`]).
const MIN_GROWTH_SHARE: f64 = 0.01;

/// What the live heap is called, from its census points past start-up (`live`: totals,
/// `data`: [`SnapshotCensus::data_size`]): the worse of its data against the floor and
/// of the rest (code, V8's internals) against [`CODE_FLOOR_FACTOR`] times the floor.
fn heap_assessment(
    live: &[(f64, f64)],
    data: &[(f64, f64)],
    gp: &GrowthPolicy,
    min_growth: u64,
) -> Assessment {
    let level = live.last().map_or(0.0, |p| p.1);
    let judged =
        |points: &[(f64, f64)], gp: &GrowthPolicy| judge_memory(points, gp, level, min_growth).1;
    let apart: Vec<(f64, f64)> = live
        .iter()
        .zip(data)
        .map(|(l, d)| (l.0, l.1 - d.1))
        .collect();
    let code_gp = GrowthPolicy {
        max_growth: gp.max_growth * CODE_FLOOR_FACTOR,
        ..*gp
    };
    judged(data, gp).max(judged(&apart, &code_gp))
}

/// The heap's time to OOM from the live heap: the census totals `live` (seconds, bytes),
/// each taken after a full GC, fitted by Theil–Sen (its interval gives the range) and
/// carried from the latest census forward to `now`. `None` with fewer than
/// [`MIN_LIVE_CENSUSES`] censuses (the samples' projection stands); `Some(None)` when the
/// live heap does not grow, or is already at the limit.
fn live_heap_time_to_oom(
    live: &[(f64, f64)],
    now: f64,
    gp: &GrowthPolicy,
    limit: Option<(&str, u64)>,
) -> Option<Option<TimeToOom>> {
    let (kind, limit) = limit?;
    let (last_t, last_y) = *live.last()?;
    if live.len() < MIN_LIVE_CENSUSES {
        return None;
    }
    let xs: Vec<f64> = live.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = live.iter().map(|p| p.1).collect();
    // Too few points for the warm-up to be found: none is dropped.
    let v = decide(&xs, &ys, gp);
    let slope = v.slope;
    if slope.slope <= 0.0 {
        return Some(None);
    }
    let current = (last_y + slope.slope * (now - last_t).max(0.0)).max(0.0) as u64;
    if current >= limit {
        return Some(None);
    }
    let room = (limit - current) as f64;
    Some(Some(TimeToOom {
        limit_kind: kind.to_owned(),
        limit,
        current,
        seconds: room / slope.slope,
        seconds_early: room / slope.high.max(slope.slope),
        seconds_late: (slope.low > 0.0).then(|| room / slope.low),
        slope_from: "live heap".into(),
        points: v.samples_used,
        slope_per_hour: slope.slope * 3600.0,
    }))
}

/// Deaths that another incarnation followed: earlier incarnations that exited, were
/// killed or ran out of memory. One the watcher stopped or left (`stopped`, `detached`), or
/// whose watcher was itself killed (no end recorded), is not a restart of the service:
/// re-running `watch` must not look like a crash loop.
pub fn restarts(incarnations: &[Incarnation]) -> u64 {
    let earlier = &incarnations[..incarnations.len().saturating_sub(1)];
    earlier
        .iter()
        .filter(|i| i.end_reason.is_some_and(|r| !r.by_the_watcher()))
        .count() as u64
}

fn ending(i: &Incarnation, reason: EndReason) -> String {
    match (reason, i.exit_code, i.signal) {
        (EndReason::Exited, Some(c), _) => format!("pid {} exited {c}", i.pid),
        (EndReason::Signal, _, Some(s)) => format!("pid {} killed by signal {s}", i.pid),
        (r, _, _) => format!("pid {} {r}", i.pid),
    }
}

fn sentence(r: &TrendReport) -> String {
    use leaktrail_analysis::units::{group_digits, human_bytes};
    let mut out = match r.overall {
        Assessment::Insufficient => format!(
            "{}: not enough data yet ({} snapshots, {} samples in the latest incarnation).",
            r.target,
            r.snapshots,
            r.memory.first().map_or(0, |m| m.samples)
        ),
        a => {
            // Lead with the series that decided: the worst one counted (the first of
            // equals), not always the heap — a stable heap "at 0 B/h" under a *growing*
            // headline reads as a contradiction.
            let lead = r
                .memory
                .iter()
                .filter(|m| m.basis != SeriesBasis::SamplesNotCounted)
                .rev()
                .max_by_key(|m| m.assessment)
                .or(r.memory.first())
                .map(|m| {
                    format!(
                        " {} {} at {}/h.",
                        m.series,
                        human_bytes(m.current),
                        human_bytes(m.rate.slope.max(0.0) as u64)
                    )
                })
                .unwrap_or_default();
            format!("{}: {}.{}", r.target, a.label(), lead)
        }
    };
    if let Some(c) = r
        .classes
        .first()
        .filter(|c| c.assessment >= Assessment::Growing)
    {
        out.push_str(&format!(
            " Top class: {} ({}, {} → {} instances, +{}/h).",
            c.class,
            c.assessment.label(),
            group_digits(c.count_first),
            group_digits(c.count_last),
            human_bytes(c.rate.slope.max(0.0) as u64)
        ));
    }
    if let Some(c) = r.culprits.first() {
        out.push_str(&format!(
            " Culprit: {} objects accumulating in {}.",
            c.cluster.class, c.cluster.holder
        ));
    } else if let Some(g) = r.growing_places.first() {
        out.push_str(&format!(
            " Culprit: the {} at {}, growing.",
            g.place.class, g.place.label
        ));
    }
    if let Some(t) = &r.time_to_oom {
        out.push_str(&format!(
            " Reaches the {} ({}) in about {} ({} – {}).",
            t.limit_kind,
            human_bytes(t.limit),
            human_duration(t.seconds),
            human_duration(t.seconds_early),
            t.seconds_late.map_or("never".into(), human_duration)
        ));
        if t.slope_from == "live heap" {
            out.pop();
            out.push_str(&format!(" from the live heap of {} snapshots.", t.points));
        }
    }
    if r.restarts > 0 {
        out.push_str(&format!(" Restarted {} times.", r.restarts));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaktrail_analysis::{ClassStats, Family, GroupTotal, SnapshotInfo};

    #[test]
    fn collections_of_one_shape_are_one_group() {
        let events =
            "sessions\u{1}Map\u{2}table\u{1}system\u{2}[]\u{1}Session\u{2}events\u{1}Array\u{2}";
        let trend =
            |id: u32, shape: Option<&str>, first: u64, last: u64, a: Assessment| CollectionTrend {
                id,
                kind: "Array".into(),
                path: format!("(GC roots) → sessions → table → {id} → Session.events"),
                entries_first: first,
                entries_last: last,
                retained_last: last * 10,
                rate: RatePerHour {
                    slope: 100.0,
                    low: 50.0,
                    high: 150.0,
                },
                assessment: a,
                shape: shape.map(str::to_owned),
            };
        let groups = CollectionGroup::group(&[
            trend(1, Some(events), 100, 900, Assessment::Leaking),
            trend(2, Some(events), 100, 800, Assessment::Growing),
            trend(3, None, 500, 400, Assessment::Stable),
            trend(4, Some(events), 100, 700, Assessment::Growing),
        ]);
        assert_eq!(groups.len(), 2);
        let g = &groups[0];
        assert_eq!(
            g.label,
            "`Session.events` (Array), one per entry of `sessions`"
        );
        assert_eq!((g.count, g.growing), (3, 3));
        assert_eq!(g.ids, [1, 2, 4]);
        assert_eq!((g.entries_first, g.entries_last), (300, 2400));
        assert_eq!(g.entries_growth, 2100);
        assert_eq!(g.entries_per_hour, 300.0);
        assert_eq!(g.assessment, Assessment::Leaking);
        assert_eq!(groups[1].label, "Array @3");
        assert_eq!(groups[1].growing, 0);
    }

    fn census(t: u64, leak: u64) -> SnapshotCensus {
        let class = |name: &str, count: u64, size: u64| ClassStats {
            class: name.into(),
            family: Family::Objects,
            count,
            self_size: size,
            retained_size: Some(size),
        };
        SnapshotCensus {
            info: SnapshotInfo {
                path: format!("{t}"),
                file_size: 0,
                node_count: 0,
                edge_count: 0,
                total_self_size: 50_000_000 + leak,
            },
            families: vec![GroupTotal {
                name: "objects".into(),
                count: 0,
                self_size: 0,
            }],
            classes: vec![
                class("StreamEntry", leak / 100, leak),
                // Steady, with noise.
                class("Session", 500, 64_000 + (t * 7919 % 13) * 64),
            ],
            collections: vec![],
            max_node_id: None,
            leaks: None,
            places: Vec::new(),
        }
    }

    fn input(hours: u64, heap_limit: Option<i64>) -> TrendInput {
        let target = Target {
            id: 1,
            name: "api".into(),
            command: None,
            created_at: 0,
        };
        let inc = Incarnation {
            id: 1,
            target_id: 1,
            pid: 7,
            started_at: 0,
            ended_at: None,
            exit_code: None,
            signal: None,
            end_reason: None,
            heap_limit,
            memory_limit: None,
        };
        let hour = 3_600_000i64;
        let snapshots = (0..hours)
            .map(|h| {
                let t = h as i64 * hour;
                let rec = SnapshotRecord {
                    id: h as i64,
                    incarnation_id: 1,
                    t,
                    file: String::new(),
                    file_size: 0,
                    file_deleted_at: None,
                    node_count: 0,
                    edge_count: 0,
                    total_self_size: 0,
                    reason: "schedule".into(),
                };
                (rec, census(h, (h * 20) << 20))
            })
            .collect();
        let samples = (0..hours * 6)
            .map(|k| SampleRecord {
                incarnation_id: 1,
                t: k as i64 * hour / 6,
                rss: 200 << 20,
                threads: 11,
                // 20 MiB/h, with a GC sawtooth of 3 MiB.
                heap_used: Some(
                    (100 << 20) + (k as i64 * (20 << 20)) / 6 + (k as i64 % 3) * (1 << 20),
                ),
                ..SampleRecord::default()
            })
            .collect();
        TrendInput {
            target,
            incarnations: vec![inc],
            samples,
            snapshots,
        }
    }

    #[test]
    fn a_growing_class_leaks_and_a_steady_one_does_not() {
        let r = TrendReport::assess(&input(24, Some(2 << 30)), &TrendPolicy::default());
        assert_eq!(r.overall, Assessment::Leaking, "{}", r.sentence);
        assert_eq!(r.classes[0].class, "StreamEntry");
        assert_eq!(r.classes[0].assessment, Assessment::Leaking);
        // Session only wobbles (by far less than the noise floor): left out as stable.
        assert!(
            r.classes.iter().all(|c| c.class != "Session"),
            "{:?}",
            r.classes
        );
        let heap = &r.memory[0];
        assert!(
            (heap.rate.slope - 20.0 * 1048576.0).abs() < 2.0 * 1048576.0,
            "{heap:?}"
        );
        // (2048 - ~580) MiB at 20 MiB/h: about 73 h.
        let t = heap.time_to_oom.as_ref().expect("time to oom");
        assert!((65.0..80.0).contains(&(t.seconds / 3600.0)), "{t:?}");
        assert!(t.seconds_early <= t.seconds && t.seconds_late.is_some_and(|l| l >= t.seconds));
        // RSS is flat here: stable.
        assert_eq!(r.memory[1].assessment, Assessment::Stable);
    }

    #[test]
    fn rss_samples_taken_during_a_snapshot_are_left_out() {
        // RSS flat at 200 MiB, but 1 GiB higher at the samples of the second half's
        // snapshots, the last sample among them.
        let mut with_jumps = input(24, None);
        let n = with_jumps.samples.len();
        for (k, s) in with_jumps.samples.iter_mut().enumerate() {
            if k >= n / 2 && (k % 6 < 2 || k == n - 1) {
                s.rss += 1 << 30;
                s.in_snapshot = true;
                s.heap_used = None;
            }
        }
        let rss = |r: &TrendReport| {
            r.memory
                .iter()
                .find(|m| m.series == "rss")
                .cloned()
                .expect("rss series")
        };
        let marked = rss(&TrendReport::assess(&with_jumps, &TrendPolicy::default()));
        assert_eq!(marked.assessment, Assessment::Stable, "{marked:?}");
        assert_eq!(marked.current, 200 << 20, "the latest unmarked sample");
        // The same samples unmarked are counted: the mark is what leaves them out.
        for s in &mut with_jumps.samples {
            s.in_snapshot = false;
        }
        let unmarked = rss(&TrendReport::assess(&with_jumps, &TrendPolicy::default()));
        assert_eq!(unmarked.current, (200 << 20) + (1 << 30), "{unmarked:?}");
        assert!(unmarked.p_value < marked.p_value, "{unmarked:?} {marked:?}");
    }

    #[test]
    fn the_heap_reaches_its_limit_at_the_live_heaps_pace() {
        // Samples read without a GC: the garbage grows with the heap, 40 MiB/h in all,
        // while the censuses (after a GC) grow 20 MiB/h.
        let mut i = input(24, Some(2 << 30));
        for (k, s) in i.samples.iter_mut().enumerate() {
            s.heap_used = Some((100 << 20) + (k as i64 * (40 << 20)) / 6);
        }
        let r = TrendReport::assess(&i, &TrendPolicy::default());
        let heap = &r.memory[0];
        // With 24 snapshots the live heap decides the row too, not only the time.
        assert_eq!(heap.basis, SeriesBasis::AfterGc);
        assert!((heap.rate.slope / 1048576.0 - 20.0).abs() < 1.0, "{heap:?}");
        let t = heap.time_to_oom.as_ref().expect("time to oom");
        assert_eq!((t.slope_from.as_str(), t.points), ("live heap", 24));
        assert!((t.slope_per_hour / 1048576.0 - 20.0).abs() < 1.0, "{t:?}");
        // The last census (~508 MiB) carried 50 min on: (2048 - ~524) MiB at 20 MiB/h.
        assert!((74.0..78.0).contains(&(t.seconds / 3600.0)), "{t:?}");
        assert!(t.seconds_early <= t.seconds && t.seconds_late.is_some_and(|l| l >= t.seconds));
        assert!(
            r.sentence.contains("from the live heap of 24 snapshots"),
            "{}",
            r.sentence
        );
        // With two snapshots, the samples' slope stands: twice as fast, half the time.
        i.snapshots.truncate(2);
        let r = TrendReport::assess(&i, &TrendPolicy::default());
        let t = r.memory[0].time_to_oom.as_ref().expect("time to oom");
        assert_eq!(t.slope_from, "samples");
        assert!((t.slope_per_hour / 1048576.0 - 40.0).abs() < 2.0, "{t:?}");
        assert!((t.seconds / 3600.0) < 40.0, "{t:?}");
    }

    #[test]
    fn code_and_v8_internals_growing_alone_leave_the_heap_stable() {
        // 24 censuses whose total rises 4 MiB/h, all of it code and V8's internals (JIT
        // warm-up that goes on): the data stays flat, and the heap is stable.
        let mut i = input(24, Some(2 << 30));
        for (h, (_, c)) in i.snapshots.iter_mut().enumerate() {
            let code = (40 << 20) + h as u64 * (3 << 20);
            let system = (5 << 20) + h as u64 * (1 << 20);
            c.info.total_self_size = (50 << 20) + code + system;
            c.families = vec![
                GroupTotal {
                    name: "code".into(),
                    count: 0,
                    self_size: code,
                },
                GroupTotal {
                    name: "system".into(),
                    count: 0,
                    self_size: system,
                },
            ];
            c.classes.retain(|k| k.class == "Session");
        }
        let r = TrendReport::assess(&i, &TrendPolicy::default());
        let heap = &r.memory[0];
        assert_eq!(heap.basis, SeriesBasis::AfterGc);
        assert_eq!(heap.assessment, Assessment::Stable, "{heap:?}");
        assert!(heap.time_to_oom.is_none(), "{heap:?}");
        // The same censuses with the data growing 2 MiB/h besides: leaking.
        for (h, (_, c)) in i.snapshots.iter_mut().enumerate() {
            c.info.total_self_size += h as u64 * (2 << 20);
        }
        let r = TrendReport::assess(&i, &TrendPolicy::default());
        let heap = &r.memory[0];
        assert_eq!(heap.assessment, Assessment::Leaking, "{heap:?}");
        // The row and the time to OOM are the live total's: 6 MiB/h.
        assert!((heap.rate.slope / 1048576.0 - 6.0).abs() < 0.1, "{heap:?}");
        let t = heap.time_to_oom.as_ref().expect("time to oom");
        assert!((t.slope_per_hour / 1048576.0 - 6.0).abs() < 0.1, "{t:?}");
    }

    #[test]
    fn code_growing_ten_times_the_floor_leaks_on_its_own() {
        // Code generated per request: 12 MiB/h of code, the data flat.
        let mut i = input(24, Some(2 << 30));
        for (h, (_, c)) in i.snapshots.iter_mut().enumerate() {
            let code = (40 << 20) + h as u64 * (12 << 20);
            c.info.total_self_size = (50 << 20) + code;
            c.families = vec![GroupTotal {
                name: "code".into(),
                count: 0,
                self_size: code,
            }];
            c.classes.retain(|k| k.class == "Session");
        }
        let r = TrendReport::assess(&i, &TrendPolicy::default());
        let heap = &r.memory[0];
        assert_eq!(heap.assessment, Assessment::Leaking, "{heap:?}");
        assert!(heap.time_to_oom.is_some(), "{heap:?}");
    }

    #[test]
    fn a_memory_series_leaks_only_once_its_growth_comes_to_something() {
        // RSS at 100 MiB, ten points over four minutes, rising steadily: at 3 MiB/h the
        // rise is significant but is 200 KB in all (under 1 % of the level): growing;
        // at 60 MiB/h it is 4 MiB: leaking.
        let gp = GrowthPolicy {
            max_growth: 1048576.0 / 3600.0,
            alpha: 0.05,
            warmup: None,
        };
        let series = |per_hour: f64| -> Vec<(f64, f64)> {
            (0..10)
                .map(|k| {
                    let t = k as f64 * 24.0;
                    let wobble = if k % 2 == 0 { 2048.0 } else { 0.0 };
                    (
                        t,
                        100.0 * 1048576.0 + per_hour * 1048576.0 * t / 3600.0 + wobble,
                    )
                })
                .collect()
        };
        let slow = memory_trend("rss", &series(3.0), &gp, 256 * 1024, None).expect("trend");
        assert!(slow.rate.low > 1048576.0, "{slow:?}");
        assert_eq!(slow.assessment, Assessment::Growing, "{slow:?}");
        let fast = memory_trend("rss", &series(60.0), &gp, 256 * 1024, None).expect("trend");
        assert_eq!(fast.assessment, Assessment::Leaking, "{fast:?}");
    }

    #[test]
    fn few_snapshots_decide_nothing() {
        let r = TrendReport::assess(&input(4, None), &TrendPolicy::default());
        assert!(r
            .classes
            .iter()
            .all(|c| c.assessment == Assessment::Insufficient));
    }

    #[test]
    fn a_rise_under_the_floor_is_stable_memory_and_a_suspect_class() {
        // The heap and StreamEntry rise 20 MiB/h, significantly, under a 100 MiB/h floor.
        let policy = TrendPolicy {
            floor_per_hour: 100.0 * 1048576.0,
            ..TrendPolicy::default()
        };
        let r = TrendReport::assess(&input(24, Some(2 << 30)), &policy);
        let heap = &r.memory[0];
        assert!(heap.p_value < 0.05 && heap.rate.high < policy.floor_per_hour);
        assert_eq!(heap.assessment, Assessment::Stable, "{heap:?}");
        assert!(heap.time_to_oom.is_none());
        assert_eq!(r.classes[0].class, "StreamEntry");
        assert_eq!(r.classes[0].assessment, Assessment::Growing);
        // A suspect class is shown, but only a leaking one raises the overall assessment.
        assert_eq!(r.overall, Assessment::Stable, "{}", r.sentence);
    }

    #[test]
    fn time_to_oom_is_against_the_nearer_limit() {
        let mut input = input(24, Some(2 << 30));
        // RSS climbs 4 MiB/h towards a cgroup limit of 320 MiB: hours away, where the
        // heap is days from V8's limit.
        input.incarnations[0].memory_limit = Some(320 << 20);
        for (k, s) in input.samples.iter_mut().enumerate() {
            s.rss = (200 << 20) + (k as i64 * (4 << 20)) / 6;
        }
        let r = TrendReport::assess(&input, &TrendPolicy::default());
        let heap = r.memory[0].time_to_oom.as_ref().expect("heap time to oom");
        assert_eq!(heap.limit_kind, "v8 heap limit");
        let t = r.time_to_oom.as_ref().expect("time to oom");
        assert_eq!(t.limit_kind, "cgroup memory.max", "{t:?}");
        // (320 - ~296) MiB at 4 MiB/h: about 6 h.
        assert!((5.0..7.0).contains(&(t.seconds / 3600.0)), "{t:?}");
        assert!(t.seconds < heap.seconds);
        assert!(r.sentence.contains("cgroup memory.max"), "{}", r.sentence);
    }

    /// Censuses of a class `Session` with `counts` instances, a minute apart; the newest
    /// keeps a cluster of 900 sessions allocated between the two before it.
    fn culprit_censuses(counts: &[u64]) -> Vec<(SnapshotRecord, SnapshotCensus)> {
        let n = counts.len();
        counts
            .iter()
            .enumerate()
            .map(|(i, &count)| {
                let file = format!("api-{}.heapsnapshot", i + 1);
                let rec = SnapshotRecord {
                    id: i as i64 + 1,
                    incarnation_id: 1,
                    t: i as i64 * 60_000,
                    file: file.clone(),
                    file_size: 0,
                    file_deleted_at: None,
                    node_count: 0,
                    edge_count: 0,
                    total_self_size: 0,
                    reason: "schedule".into(),
                };
                let mut c = census(i as u64, 0);
                c.classes[1].count = count;
                c.classes[1].self_size = count * 100;
                if i + 1 == n && n >= 3 {
                    c.leaks = Some(leaktrail_analysis::CensusLeaks {
                        window: leaktrail_analysis::LeakWindow {
                            base: format!("api-{}.heapsnapshot", n - 2),
                            base_max_id: 1000,
                            target: format!("api-{}.heapsnapshot", n - 1),
                            target_max_id: 2000,
                        },
                        leak_roots: 900,
                        leak_roots_retained: 900 << 10,
                        min_cluster_bytes: 64 << 10,
                        clusters: vec![leaktrail_analysis::CensusCluster {
                            class: "Session".into(),
                            count: 900,
                            retained_size: 900 << 10,
                            class_count: count,
                            holder: "`sessions` (Map) of Store".into(),
                            path: "(GC roots) → store → sessions → table → 17 (Session)".into(),
                            example_id: 1501,
                        }],
                    });
                }
                (rec, c)
            })
            .collect()
    }

    #[test]
    fn three_censuses_name_a_culprit_whose_class_grew_in_both_intervals() {
        let policy = TrendPolicy::default();
        let t = SnapshotTrends::assess(&culprit_censuses(&[500, 1400, 2300]), &policy);
        let c = t.culprits.first().expect("a culprit");
        assert_eq!(c.class_counts, [Some(500), Some(1400), Some(2300)]);
        assert!(
            c.sentence.starts_with("900 Session objects (900.0 KiB retained) allocated between snapshots api-1.heapsnapshot and api-2.heapsnapshot are still alive in `sessions` (Map) of Store; Session instances went 500 → 1,400 → 2,300"),
            "{}",
            c.sentence
        );
        // A cache that filled before the second census and stopped: no culprit.
        let t = SnapshotTrends::assess(&culprit_censuses(&[500, 1400, 1400]), &policy);
        assert!(t.culprits.is_empty(), "{:?}", t.culprits);
        // Fewer than three censuses: nothing to name.
        let t = SnapshotTrends::assess(&culprit_censuses(&[500, 1400]), &policy);
        assert!(t.culprits.is_empty());
        // A window whose censuses are not in the series (another incarnation's): none.
        let mut series = culprit_censuses(&[500, 1400, 2300]);
        series.remove(0);
        let t = SnapshotTrends::assess(&series, &policy);
        assert!(t.culprits.is_empty());
    }

    #[test]
    fn a_class_stable_over_eight_censuses_overrules_the_newest_three() {
        let policy = TrendPolicy::default();
        // Eight flat censuses, then the newest three rise a little: a cache's churn.
        let counts = [2300, 2300, 2300, 2300, 2300, 2300, 2301, 2302, 2303];
        let t = SnapshotTrends::assess(&culprit_censuses(&counts), &policy);
        assert!(t.culprits.is_empty(), "{:?}", t.culprits);
        // Growing all along: the culprit stands.
        let counts: Vec<u64> = (0..9).map(|i| 500 + i * 900).collect();
        let t = SnapshotTrends::assess(&culprit_censuses(&counts), &policy);
        assert_eq!(t.culprits.len(), 1, "{:?}", t.classes);
    }

    #[test]
    fn a_code_class_alone_raises_no_alarm() {
        // A day of censuses where only a class of the code family grows (JIT, or a program
        // compiling more and more), the heap and RSS flat.
        let mut i = input(24, None);
        for (_, c) in &mut i.snapshots {
            c.info.total_self_size = 50_000_000;
            c.classes[0].family = Family::Code;
        }
        for s in &mut i.samples {
            s.heap_used = Some(100 << 20);
        }
        let r = TrendReport::assess(&i, &TrendPolicy::default());
        let class = r.classes.first().expect("the class");
        assert_eq!(
            (class.family.as_str(), class.assessment),
            ("code", Assessment::Leaking)
        );
        assert_eq!(r.overall, Assessment::Stable, "{}", r.sentence);
        // The same class as data is the alarm.
        for (_, c) in &mut i.snapshots {
            c.classes[0].family = Family::Objects;
        }
        let r = TrendReport::assess(&i, &TrendPolicy::default());
        assert_eq!(r.overall, Assessment::Leaking, "{}", r.sentence);
    }
}
