//! What a worker thread's own heap says: its verdict from its heap diff, or from its heap
//! kept after a full GC over its files.

use serde::Serialize;

use leaktrail_analysis::units::signed_bytes;
use leaktrail_analysis::GrowthKind;
use leaktrail_stats::{theil_sen, SlopeEstimate};

use super::heap::{
    census_growth, heap_growth_of, pair_words, CensusGrowth, HeapGrowth, ReferenceKey, References,
};
use super::MIN_SLOPE_SAMPLES;
use crate::threads::ThreadRecord;

/// A worker thread's own heap grew by more than this after a full GC, from its first file's
/// start to its last file's end, for a verdict of growth without a heap diff (the default
/// `--snapshot-growth`: the growth a diff would have been taken for).
pub const THREAD_HEAP_GROWTH: i64 = 16 << 20;

/// What a worker thread's own heap did, by the evidence there is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadGrowth {
    /// A heap diff's verdict (between two of its snapshots or censuses).
    Diff(GrowthKind),
    /// Its heap after a full GC kept more than [`THREAD_HEAP_GROWTH`] over its files, with
    /// no diff.
    HeapGrowth,
    /// Kept less than that, with no diff.
    Kept,
    /// Not measured at a file's start and end.
    Unknown,
}

impl ThreadGrowth {
    /// Its name in reports and JSON: a diff's label ([`growth_label`]), `heap growth`,
    /// `no significant growth` or `unknown`.
    pub fn label(self) -> &'static str {
        match self {
            ThreadGrowth::Diff(kind) => growth_label(kind),
            ThreadGrowth::HeapGrowth => "heap growth",
            ThreadGrowth::Kept => growth_label(GrowthKind::NoSignificantGrowth),
            ThreadGrowth::Unknown => "unknown",
        }
    }

    /// True when it grew: any but no significant growth and unknown.
    pub fn grew(self) -> bool {
        match self {
            ThreadGrowth::Diff(kind) => kind != GrowthKind::NoSignificantGrowth,
            ThreadGrowth::HeapGrowth => true,
            ThreadGrowth::Kept | ThreadGrowth::Unknown => false,
        }
    }
}

impl Serialize for ThreadGrowth {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

/// What a worker thread's own heap says.
#[derive(Clone, Debug, Serialize)]
pub struct ThreadVerdict {
    /// `runtime data leak`, `module graph`, `external memory` (from its heap diff),
    /// `heap growth` (from its heap after GC, without a diff), `no significant growth`, or
    /// `unknown` (too few measurements).
    pub kind: ThreadGrowth,
    /// True when it grew: any kind but `no significant growth` and `unknown`.
    pub grew: bool,
    /// One sentence naming the thread's own heap.
    pub sentence: String,
}

/// One worker thread, a lane of its own: its own heap series, snapshots and verdict.
#[derive(Clone, Debug, Serialize)]
pub struct ThreadSummary {
    /// The record.
    #[serde(flatten)]
    pub thread: ThreadRecord,
    /// Its heap after a full GC at its last file's end minus at its first file's start,
    /// bytes: what its files kept; null without both.
    pub heap_growth: Option<i64>,
    /// Where the growth of its own heap after start-up is counted from, by the rule
    /// processes' RSS is ([`crate::baseline::Baseline`]); null when its start-up never
    /// levelled off.
    pub heap_baseline: Option<HeapBaseline>,
    /// The highest heap from that baseline on minus the baseline, bytes: what
    /// `--fail-on-growth` checks; null without a baseline.
    pub heap_growth_after_startup: Option<i64>,
    /// Theil–Sen slope of its own heap over time, bytes per second; null with fewer than
    /// [`MIN_SLOPE_SAMPLES`] points.
    pub heap_slope: Option<SlopeEstimate>,
    /// Earliest vs latest of its own snapshots, with two or more.
    pub heap: Option<HeapGrowth>,
    /// Why there is no heap diff despite two snapshots.
    pub heap_error: Option<String>,
    /// With `--no-raw-snapshots`: earliest vs latest census of its streamed snapshots.
    pub census_heap: Option<CensusGrowth>,
    /// What its heap says.
    pub verdict: ThreadVerdict,
}

/// A thread's [`crate::baseline::Baseline`], named for what it measures: its own heap,
/// not RSS.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HeapBaseline {
    /// When, seconds from the command's start.
    pub t: f64,
    /// Its own heap then, bytes.
    pub heap: u64,
    /// How it was chosen.
    pub rule: crate::baseline::BaselineRule,
}

/// The label of a heap diff's verdict.
pub fn growth_label(kind: GrowthKind) -> &'static str {
    match kind {
        GrowthKind::NoSignificantGrowth => "no significant growth",
        GrowthKind::ModuleGraph => "module graph",
        GrowthKind::ExternalMemory => "external memory",
        GrowthKind::RuntimeData => "runtime data leak",
    }
}

pub(crate) fn summarise_thread(
    t: ThreadRecord,
    top: usize,
    settle: f64,
    refs: &References,
) -> ThreadSummary {
    let heap_growth = t.heap_kept();
    let heap_baseline = t.heap_baseline(settle).map(|b| HeapBaseline {
        t: b.t,
        heap: b.rss,
        rule: b.rule,
    });
    let heap_growth_after_startup = t.heap_growth_after_startup(settle);
    let heap_slope = (t.heap_samples.len() >= MIN_SLOPE_SAMPLES).then(|| {
        let (x, y): (Vec<f64>, Vec<f64>) =
            t.heap_samples.iter().map(|p| (p.t, p.heap as f64)).unzip();
        theil_sen(&x, &y, 0.05)
    });
    let key = Some(ReferenceKey::thread(&t));
    let (heap, heap_error) = match heap_growth_of(&t.snapshots, refs.snapshot(key.as_ref()), top) {
        Ok(h) => (h, None),
        Err(e) => (None, Some(e)),
    };
    let census_heap = census_growth(&t.censuses, refs.census(key.as_ref()), top);
    let who = format!("thread {} of PID {}", t.thread, t.pid);
    let verdict = |kind: ThreadGrowth, sentence: String| ThreadVerdict {
        kind,
        grew: kind.grew(),
        sentence: format!("{who}: its own heap {sentence}"),
    };
    // A heap diff's verdict, `pair` naming what was compared.
    let of_diff = |kind: GrowthKind, delta: i64, pair: String, at: (f64, f64), said: &str| {
        verdict(
            ThreadGrowth::Diff(kind),
            format!(
                "{} between {pair} at {:.1} s and {:.1} s: {said}",
                signed_bytes(delta),
                at.0,
                at.1
            ),
        )
    };
    let verdict = match (&census_heap, &heap, heap_growth) {
        (Some(c), _, _) => of_diff(
            c.diff.verdict.kind,
            c.diff.total_delta,
            format!(
                "the censuses of {}",
                pair_words(c.reference.as_deref(), "streamed snapshot")
            ),
            (c.before_t, c.after_t),
            &c.diff.verdict.sentence,
        ),
        (None, Some(h), _) => of_diff(
            h.diff.verdict.kind,
            h.diff.total_delta,
            pair_words(h.reference.as_deref(), "snapshot"),
            (h.before.taken.t, h.after.taken.t),
            &h.diff.verdict.sentence,
        ),
        (None, None, Some(g)) if g > THREAD_HEAP_GROWTH => verdict(
            ThreadGrowth::HeapGrowth,
            format!(
                "kept {} after a full GC from its first file's start to its last file's end (no heap diff: fewer than two snapshots of it)",
                signed_bytes(g)
            ),
        ),
        (None, None, Some(g)) => verdict(
            ThreadGrowth::Kept,
            format!("kept {} after a full GC over its files", signed_bytes(g)),
        ),
        (None, None, None) => verdict(
            ThreadGrowth::Unknown,
            "was not measured at a file's start and end".to_owned(),
        ),
    };
    ThreadSummary {
        heap_growth,
        heap_baseline,
        heap_growth_after_startup,
        heap_slope,
        heap,
        heap_error,
        census_heap,
        verdict,
        thread: t,
    }
}
