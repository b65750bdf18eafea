//! The parts of a `run` report beside the memory verdict: the checks (threads back to
//! baseline, `--expect-freed`), PSS next to RSS, and what sampling cost.

use leaktrail_analysis::units::{human_bytes, plural_s};
use leaktrail_harness::{Check, CheckDetail, CheckStatus, RunAssessment, RunResult};

use crate::document::Doc;
use crate::markup::{escape, prose_html};
use crate::Format;

/// The mark and word for a status.
fn status_word(s: CheckStatus) -> (&'static str, &'static str) {
    match s {
        CheckStatus::Passed => ("✔", "passed"),
        CheckStatus::Failed => ("✘", "FAILED"),
        CheckStatus::Skipped => ("–", "skipped"),
        CheckStatus::Error => ("!", "not checked"),
    }
}

/// Checks in reading order: failed and errors first.
fn ordered(a: &RunAssessment) -> Vec<&Check> {
    let mut checks: Vec<&Check> = a.checks.iter().collect();
    checks.sort_by_key(|c| match c.status {
        CheckStatus::Failed => 0,
        CheckStatus::Error => 1,
        CheckStatus::Passed => 2,
        CheckStatus::Skipped => 3,
    });
    checks
}

/// How the overhead was measured, with the figure.
pub(crate) fn overhead_sentence(result: &RunResult) -> String {
    let share = if result.wall_seconds > 0.0 {
        100.0 * (result.sampling_seconds + result.aftermath_seconds) / result.wall_seconds
    } else {
        0.0
    };
    let aftermath = if result.aftermath_seconds >= 0.005 {
        format!(
            ", and an estimated {:.2} s more it ran slower right after samples (V8 recompiling code the forced GCs deoptimized; from the pace of its iteration lines)",
            result.aftermath_seconds
        )
    } else {
        String::new()
    };
    let density = match (result.density_points, result.density_stood_in) {
        (0, 0) => String::new(),
        (taken, 0) => format!(
            ", {taken} taken past it for the minimum density of points"
        ),
        (taken, stood) => format!(
            ", {taken} taken past it for the minimum density of points and {stood} more not taken, points after V8's own major GCs standing in"
        ),
    };
    let budget = match result.overhead_budget {
        Some(b) => format!(
            "; budget {:.0} %, {} sample point{} skipped to keep it{density}",
            100.0 * b,
            result.skipped_samples,
            plural_s(result.skipped_samples)
        ),
        None => "; no budget".to_owned(),
    };
    let node = result.samples.iter().any(|s| s.memory.heap_used.is_some());
    let what = match (node, result.pss_seconds > 0.0) {
        (true, true) => "forced GCs and heap reads (timed inside the workload when it runs with --expose-gc) and PSS reads (smaps_rollup holds its memory-map lock)",
        (true, false) => "forced GCs and heap reads (timed inside the workload when it runs with --expose-gc)",
        (false, true) => "PSS reads (smaps_rollup holds its memory-map lock)",
        (false, false) => "nothing: /proc status reads do not stop it",
    };
    let pss = if result.pss_seconds > 0.0 && node {
        format!(", {:.2} s of it reading PSS", result.pss_seconds)
    } else {
        String::new()
    };
    let snapshots = result.snapshots.len()
        + result
            .end_snapshot
            .as_ref()
            .map_or(0, |e| 1 + usize::from(e.earlier.is_some()));
    let snapshots = match snapshots {
        0 => String::new(),
        n => format!(
            "; {n} heap snapshot{} took {:.2} s more",
            plural_s(n),
            result.snapshot_seconds
        ),
    };
    let cheap = match result.cheap_points.len() {
        0 => String::new(),
        n => format!(
            ", and {n} point{} read after V8's own major GCs, with no GC of leaktrail's ({:.1} ms of reading, counted above)",
            plural_s(n),
            1000.0 * result.cheap_seconds
        ),
    };
    format!(
        "Sampling overhead: {share:.1} % of the run — {:.2} s with the workload paused or blocked by leaktrail's {what}{pss}{aftermath}, over {:.1} s of wall time{budget}. {} sample{} after forced GCs{cheap}{snapshots}.",
        result.sampling_seconds,
        result.wall_seconds,
        result.samples.len(),
        plural_s(result.samples.len()),
    )
}

impl Doc {
    /// The checks, failed first, each with its finding (and a survivor's path).
    pub(crate) fn run_checks(&mut self, a: &RunAssessment) {
        if a.checks.is_empty() {
            return;
        }
        self.heading("Checks");
        for c in ordered(a) {
            let (mark, word) = status_word(c.status);
            let line = format!("{mark} {} — {word}: {}", c.name, c.finding);
            let alarm = matches!(c.status, CheckStatus::Failed | CheckStatus::Error);
            if alarm {
                self.emphasis(&line, true);
            } else if self.opts.format == Format::Markdown {
                self.line(&format!("{line}  "));
            } else {
                self.line(&line);
            }
            if let CheckDetail::ExpectFreed(f) = &c.detail {
                if let Some(path) = f
                    .survivors
                    .as_ref()
                    .and_then(|s| s.example.as_ref())
                    .and_then(|e| e.paths.first())
                {
                    self.path(path);
                }
            }
        }
    }
}

/// The checks as an HTML list.
pub(crate) fn checks_html(a: &RunAssessment) -> String {
    if a.checks.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2>Checks</h2><ul class=\"checks\">");
    for c in ordered(a) {
        let (mark, word) = status_word(c.status);
        let class = match c.status {
            CheckStatus::Failed | CheckStatus::Error => "bad",
            CheckStatus::Passed => "good",
            CheckStatus::Skipped => "",
        };
        out.push_str(&format!(
            "<li class=\"{class}\"><b>{mark} {}</b> — {word}: {}",
            escape(&c.name),
            prose_html(&c.finding)
        ));
        if let CheckDetail::ExpectFreed(f) = &c.detail {
            if let Some(path) = f
                .survivors
                .as_ref()
                .and_then(|s| s.example.as_ref())
                .and_then(|e| e.paths.first())
            {
                let steps: Vec<String> = path
                    .iter()
                    .map(|s| {
                        format!(
                            "--{}--&gt; {} @{} ({} retained)",
                            escape(&s.edge),
                            escape(&s.object.class),
                            s.object.id,
                            escape(&human_bytes(s.object.retained_size))
                        )
                    })
                    .collect();
                out.push_str(&format!("<pre>{}</pre>", steps.join("\n")));
            }
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>");
    out
}

/// One JUnit test case per check, and the (failures, errors, skipped) they add.
pub(crate) fn checks_junit(a: &RunAssessment, wall: f64) -> (String, usize, usize, usize) {
    let (mut failures, mut errors, mut skipped) = (0, 0, 0);
    let mut out = String::new();
    for c in &a.checks {
        let inner = match c.status {
            CheckStatus::Passed => format!("<system-out>{}</system-out>", escape(&c.finding)),
            CheckStatus::Failed => {
                failures += 1;
                format!("<failure message=\"{}\"/>", escape(&c.finding))
            }
            CheckStatus::Error => {
                errors += 1;
                format!("<error message=\"{}\"/>", escape(&c.finding))
            }
            CheckStatus::Skipped => {
                skipped += 1;
                format!("<skipped message=\"{}\"/>", escape(&c.finding))
            }
        };
        out.push_str(&format!(
            "<testcase classname=\"leaktrail.run\" name=\"{}\" time=\"{wall:.3}\">{inner}</testcase>",
            escape(&c.name)
        ));
    }
    (out, failures, errors, skipped)
}
