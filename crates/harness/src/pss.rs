//! PSS beside RSS: does the resident memory of a process tree really grow?
//!
//! RSS counts every page a process maps, including pages it shares: the copy-on-write
//! pages forked workers share with their parent count once in *each* process's RSS, so a
//! tree's RSS over-counts, and it grows when a fork happens or a sibling touches shared
//! pages. PSS splits each shared page among the processes that map it, so the tree's PSS
//! is its real footprint. It costs far more to read (see `leaktrail_sampler`), so it is
//! read on a few samples only ([`crate::run`]'s budget); when enough were read, the PSS
//! series is decided like RSS and the two verdicts are compared. The verdict itself stays
//! on RSS: PSS samples are fewer, and a shared page that grows is still memory the
//! machine loses.

use serde::Serialize;

use leaktrail_analysis::units::human_bytes;
use leaktrail_stats::{decide, GrowthPolicy, GrowthVerdict, Outcome, MIN_SAMPLES};

use crate::run::Sample;

/// PSS over a run, and what it says next to RSS.
#[derive(Clone, Debug, Serialize)]
pub struct PssComparison {
    /// Samples where PSS was read.
    pub samples: usize,
    /// PSS at the first of them, bytes.
    pub first: u64,
    /// PSS at the last of them, bytes.
    pub last: u64,
    /// The verdict on the PSS series, when enough samples were read to decide.
    pub verdict: Option<GrowthVerdict>,
    /// Whether PSS and RSS reach the same outcome (when both were decided).
    pub agrees: Option<bool>,
    /// One sentence for the reader.
    pub sentence: String,
}

/// Compares PSS with the RSS verdict `rss`; `x` is the samples' position (iterations or
/// seconds) and `warmup_x` where the RSS series' warm-up ended. `judge` when the verdict
/// is on RSS (not Node): only then is agreement worth a sentence.
pub fn compare(
    samples: &[Sample],
    x: &[f64],
    warmup_x: Option<f64>,
    policy: &GrowthPolicy,
    rss: &GrowthVerdict,
    judge: bool,
) -> Option<PssComparison> {
    let (px, py): (Vec<f64>, Vec<f64>) = samples
        .iter()
        .zip(x)
        .filter_map(|(s, &x)| s.memory.pss.map(|p| (x, p as f64)))
        .unzip();
    let read: Vec<u64> = samples.iter().filter_map(|s| s.memory.pss).collect();
    let (&first, &last) = (read.first()?, read.last()?);
    let warmup = warmup_x.map(|w| px.iter().take_while(|&&v| v < w).count());
    let steady = px.len() - warmup.unwrap_or(0);
    let mut c = PssComparison {
        samples: read.len(),
        first,
        last,
        verdict: None,
        agrees: None,
        sentence: format!(
            "PSS (read on {} samples): {} at the first, {} at the last.",
            read.len(),
            human_bytes(first),
            human_bytes(last)
        ),
    };
    if !judge {
        return Some(c);
    }
    if steady < MIN_SAMPLES {
        c.sentence.push_str(&format!(
            " Too few after the warm-up ({steady}, {MIN_SAMPLES} needed) to compare with RSS."
        ));
        return Some(c);
    }
    let v = decide(
        &px,
        &py,
        &GrowthPolicy {
            warmup: warmup.or(Some(0)),
            ..*policy
        },
    );
    let agrees = v.outcome == rss.outcome;
    c.sentence.push_str(&match (rss.outcome, v.outcome) {
        (a, b) if a == b => format!(
            " PSS agrees with RSS ({}), so shared pages do not explain the RSS figures.",
            outcome_word(b)
        ),
        (Outcome::Leak, Outcome::NoLeak) => " RSS grows but PSS does not: the growth is in pages shared between the processes of the tree (forked workers' copy-on-write pages count once in each one's RSS). The verdict stays on RSS; look at what the processes share.".to_owned(),
        (_, Outcome::Leak) => " PSS grows while RSS does not: pages once shared became private to one process (a sibling exited, or copy-on-write pages were written).".to_owned(),
        (a, b) => format!(" PSS: {}; RSS: {}.", outcome_word(b), outcome_word(a)),
    });
    c.verdict = Some(v);
    c.agrees = Some(agrees);
    Some(c)
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Leak => "it grows",
        Outcome::NoLeak => "no growth beyond the floor",
        Outcome::Inconclusive => "not decided yet",
    }
}
