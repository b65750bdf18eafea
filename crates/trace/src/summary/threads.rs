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

/// What a worker thread's own heap says.
#[derive(Clone, Debug, Serialize)]
pub struct ThreadVerdict {
    /// `runtime data leak`, `module graph`, `external memory` (from its heap diff),
    /// `heap growth` (from its heap after GC, without a diff), `no significant growth`, or
    /// `unknown` (too few measurements).
    pub kind: String,
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
    let from_census = census_heap.as_ref().map(|c| {
        let kind = c.diff.verdict.kind;
        ThreadVerdict {
            kind: growth_label(kind).to_owned(),
            grew: kind != GrowthKind::NoSignificantGrowth,
            sentence: format!(
                "{who}: its own heap {} between the censuses of {} at {:.1} s and {:.1} s: {}",
                signed_bytes(c.diff.total_delta),
                pair_words(c.reference.as_deref(), "streamed snapshot"),
                c.before_t,
                c.after_t,
                c.diff.verdict.sentence
            ),
        }
    });
    let verdict = match (&heap, heap_growth, from_census) {
        (_, _, Some(v)) => v,
        (Some(h), _, None) => {
            let kind = h.diff.verdict.kind;
            ThreadVerdict {
                kind: growth_label(kind).to_owned(),
                grew: kind != GrowthKind::NoSignificantGrowth,
                sentence: format!(
                    "{who}: its own heap {} between {} at {:.1} s and {:.1} s: {}",
                    signed_bytes(h.diff.total_delta),
                    pair_words(h.reference.as_deref(), "snapshot"),
                    h.before.taken.t,
                    h.after.taken.t,
                    h.diff.verdict.sentence
                ),
            }
        }
        (None, Some(g), None) if g > THREAD_HEAP_GROWTH => ThreadVerdict {
            kind: "heap growth".to_owned(),
            grew: true,
            sentence: format!(
                "{who}: its own heap kept {} after a full GC from its first file's start to its last file's end (no heap diff: fewer than two snapshots of it)",
                signed_bytes(g)
            ),
        },
        (None, Some(g), None) => ThreadVerdict {
            kind: "no significant growth".to_owned(),
            grew: false,
            sentence: format!(
                "{who}: its own heap kept {} after a full GC over its files",
                signed_bytes(g)
            ),
        },
        (None, None, None) => ThreadVerdict {
            kind: "unknown".to_owned(),
            grew: false,
            sentence: format!("{who}: its own heap was not measured at a file's start and end"),
        },
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
