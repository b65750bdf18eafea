//! [`GrowthVerdict`]: one sentence on what kind of growth a diff shows.
//!
//! Rules, applied to the positive growth of each family between two snapshots:
//! 1. Net growth under 512 KiB, or under 2 % of the earlier heap, is **no significant
//!    growth** (V8's number-string cache alone steps by 256 KiB).
//! 2. Otherwise, if the code/module-graph family holds at least half of the growth, it is
//!    **module-graph growth**: a worker that retained more code (isolate the test file) or
//!    code generated at run time.
//! 3. Otherwise, if external memory (backing stores, Buffers) holds at least half, it is an
//!    **external-memory leak**: data outside the V8 heap, held by JS objects.
//! 4. Otherwise it is a **runtime data leak**: application objects, closures, strings or
//!    arrays, to be followed to their retainer.

use serde::Serialize;

use crate::family::Family;
use crate::units::signed_bytes;

/// The kind of growth a diff shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrowthKind {
    /// Nothing grew beyond noise.
    NoSignificantGrowth,
    /// Mostly code and the module graph.
    ModuleGraph,
    /// Mostly memory outside the V8 heap.
    ExternalMemory,
    /// Mostly application data on the V8 heap.
    RuntimeData,
}

/// The verdict of a diff: its kind, the share of growth behind it, and a sentence.
#[derive(Clone, Debug, Serialize)]
pub struct GrowthVerdict {
    /// The kind of growth.
    pub kind: GrowthKind,
    /// Sum of the positive family deltas, bytes.
    pub grown_bytes: u64,
    /// Share of the grown bytes in the family that decided the verdict (0 to 1).
    pub share: f64,
    /// One plain sentence for the reader.
    pub sentence: String,
}

/// Net growth below this is noise.
const MIN_GROWTH: i64 = 512 << 10;

impl GrowthVerdict {
    /// Decides from each family's change in self size, bytes — all the rules read, so a
    /// diff that cannot know new and freed objects (two censuses) decides the same way.
    pub fn from_size_deltas(families: &[(Family, i64)], heap_before: u64) -> GrowthVerdict {
        let net: i64 = families.iter().map(|&(_, d)| d).sum();
        let grown: u64 = families.iter().map(|&(_, d)| d.max(0) as u64).sum();
        let of = |fam: Family| {
            families
                .iter()
                .find(|&&(f, _)| f == fam)
                .map_or(0, |&(_, d)| d.max(0) as u64)
        };
        let share = |bytes: u64| {
            if grown == 0 {
                0.0
            } else {
                bytes as f64 / grown as f64
            }
        };
        let pct = |s: f64| format!("{:.0} %", s * 100.0);
        if net < MIN_GROWTH || (net as f64) < 0.02 * heap_before as f64 {
            return GrowthVerdict {
                kind: GrowthKind::NoSignificantGrowth,
                grown_bytes: grown,
                share: 0.0,
                sentence: format!(
                    "No significant growth: the heap changed by {} net, within the noise of a V8 heap.",
                    signed_bytes(net)
                ),
            };
        }
        let code = share(of(Family::Code));
        let external = share(of(Family::External));
        let (kind, s, sentence) = if code >= 0.5 {
            (
                GrowthKind::ModuleGraph,
                code,
                format!(
                    "Module-graph growth: {} of the growth is compiled code, scripts and their sources — \
                     a worker that retained more modules (isolate the test file that loads them) or code \
                     generated at run time, not a data leak.",
                    pct(code)
                ),
            )
        } else if external >= 0.5 {
            (
                GrowthKind::ExternalMemory,
                external,
                format!(
                    "External-memory leak: {} of the growth is ArrayBuffer/Buffer backing stores outside \
                     the V8 heap — find what keeps the Buffer objects (leaktrail retainers).",
                    pct(external)
                ),
            )
        } else {
            let data = 1.0 - code - external;
            (
                GrowthKind::RuntimeData,
                data,
                format!(
                    "Runtime data leak: {} of the growth is application objects, closures, strings and \
                     arrays — follow the top classes to their retainer (leaktrail retainers).",
                    pct(data)
                ),
            )
        };
        GrowthVerdict {
            kind,
            grown_bytes: grown,
            share: s,
            sentence,
        }
    }
}
