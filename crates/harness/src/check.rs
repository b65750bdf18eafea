//! What a check beside the memory verdict found: the types [`crate::checks`] fills in and
//! the verdict ([`crate::RunAssessment`]) carries. Apart from the checks' logic so that the
//! verdict can hold them without depending on how they are made.

use serde::Serialize;

use leaktrail_analysis::ClassSurvivors;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// It holds.
    Passed,
    /// It does not: the run fails (exit 1).
    Failed,
    /// Not enough data to check (too few samples).
    Skipped,
    /// It could not be checked (no heap at the end, an unreadable snapshot): a fault.
    Error,
}

/// One check and what it found.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What is checked: `threads back to baseline`, `ScanInput freed at the end`.
    pub name: String,
    /// The outcome.
    pub status: CheckStatus,
    /// What was found, for the reader.
    pub finding: String,
    /// The figures.
    pub detail: CheckDetail,
}

/// The figures of a check.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckDetail {
    /// Threads of the process tree.
    Threads(ThreadCheck),
    /// Survivors of a class in the heap at the end.
    ExpectFreed(FreedCheck),
}

/// The figures of the thread check.
#[derive(Clone, Debug, Serialize)]
pub struct ThreadCheck {
    /// Threads at the baseline (the most among the first steady samples).
    pub baseline: u64,
    /// Threads at the end (the fewest among the last three samples).
    pub end: u64,
    /// More threads than the baseline that still pass.
    pub tolerance: u64,
    /// Processes in the tree at the baseline and at the end.
    pub processes: (usize, usize),
    /// True when the thread count grows steadily over the run (significant Mann–Kendall
    /// trend, Theil–Sen interval above zero), not in one step.
    pub grows_steadily: bool,
    /// Threads per unit (iteration or second) when it grows steadily.
    pub slope: Option<f64>,
}

/// The figures of an `--expect-freed` check.
#[derive(Clone, Debug, Serialize)]
pub struct FreedCheck {
    /// The class asked for.
    pub class: String,
    /// The live objects of the class in the snapshot at the end, when there is one.
    pub survivors: Option<ClassSurvivors>,
    /// That snapshot.
    pub snapshot: Option<String>,
    /// True when the workload wrote it at its `exit` event.
    pub at_exit: bool,
}
