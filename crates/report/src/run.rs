//! The report of `leaktrail run` for a terminal, Markdown and JSON, and the sentences the
//! HTML and JUnit reports share with it (where the verdict held, why the run stopped).

use comfy_table::Cell;
use serde::Serialize;

use leaktrail_analysis::units::signed_bytes;
use leaktrail_analysis::LeakReport;

use crate::document::{json, Doc};
use crate::{run_checks, Format, RenderOptions};

/// Renders the result of `leaktrail run`: the culprit first when there is one, the
/// verdict, the series, and what sampling cost.
pub fn render_run(
    result: &leaktrail_harness::RunResult,
    assessment: &leaktrail_harness::RunAssessment,
    culprit: Option<&LeakReport>,
    fault: Option<&str>,
    opts: RenderOptions,
) -> String {
    if opts.format == Format::Json {
        #[derive(Serialize)]
        struct RunJson<'a> {
            fault: Option<&'a str>,
            assessment: &'a leaktrail_harness::RunAssessment,
            culprit: Option<&'a LeakReport>,
            run: &'a leaktrail_harness::RunResult,
        }
        return json(
            "leaktrail.run/1",
            &RunJson {
                fault,
                assessment,
                culprit,
                run: result,
            },
        );
    }
    let mut d = Doc::new(opts);
    if opts.format == Format::Markdown {
        d.line("## Leak test\n");
    }
    if let Some(stop) = stop_sentence(result) {
        d.emphasis(&stop, true);
    }
    if let Some(f) = fault {
        d.emphasis(&format!("Fault: {f}. What was collected is below."), true);
        let indent = if opts.format == Format::Markdown {
            ""
        } else {
            "  "
        };
        for (title, tail) in [
            ("Last lines on stdout:", &result.stdout_tail),
            ("Last lines on stderr:", &result.stderr_tail),
        ] {
            if !tail.is_empty() {
                d.line(title);
                let lines: Vec<String> = tail.iter().map(|l| format!("{indent}{l}")).collect();
                d.block(&lines);
            }
        }
    }
    if fault.is_some() && result.samples.is_empty() {
        // Nothing to judge: a verdict on no samples would only distract from the fault.
        d.line("No sample was taken.");
        return d.out;
    }
    let top = culprit.and_then(|c| c.culprit());
    if let Some((sentence, _)) = top {
        d.emphasis(&format!("{}: {sentence}", culprit_label(assessment)), true);
    }
    let leak = assessment.outcome == leaktrail_stats::Outcome::Leak;
    d.emphasis(&assessment.sentence, leak);
    d.run_checks(assessment);
    let unit = &assessment.unit;
    let rows = std::iter::once(&assessment.primary)
        .chain(
            assessment
                .components
                .iter()
                .filter(|c| c.series != assessment.primary.series),
        )
        .map(|s| {
            let v = &s.verdict;
            vec![
                Cell::new(s.series.name()),
                Cell::new(format!("{:?}", v.outcome).to_lowercase()),
                Cell::new(format!("{}/{unit}", signed_bytes(v.slope.slope as i64))),
                Cell::new(format!(
                    "{} … {}",
                    signed_bytes(v.slope.low as i64),
                    signed_bytes(v.slope.high as i64)
                )),
                Cell::new(format!("{:.1e}", v.trend.p_value)),
                Cell::new(v.warmup_samples),
                Cell::new(v.samples_used),
            ]
        })
        .collect();
    d.heading("Series (slope by Theil–Sen, trend by Mann–Kendall corrected for autocorrelation)");
    d.table(
        &[
            "series", "verdict", "slope", "interval", "p", "warm-up", "samples",
        ],
        rows,
        2,
    );
    // A blank line first: in Markdown a line right after a table would be a row of it.
    d.line("");
    if let Some(p) = &assessment.pss {
        d.line(&p.sentence);
        d.line("");
    }
    if let Some(sentence) = decided_sentence(result, assessment) {
        d.line(&sentence);
    }
    d.line(&run_checks::overhead_sentence(result));
    if let Some((_, path)) = top {
        d.heading("Where the culprit accumulates");
        d.path(path);
    } else if let Some(c) = culprit {
        d.line(&snapshots_summary(&c.summary, assessment.outcome));
    }
    d.out
}

/// The leaks report's summary under a run's verdict: its "No leak:" is what the
/// snapshots alone show, and under a verdict of leak or inconclusive it would read as a
/// second verdict that contradicts the first (snapshots close together in a short run
/// hold little growth).
fn snapshots_summary(summary: &str, outcome: leaktrail_stats::Outcome) -> String {
    match (outcome, summary.strip_prefix("No leak: ")) {
        (leaktrail_stats::Outcome::NoLeak, _) | (_, None) => summary.to_owned(),
        (_, Some(rest)) => format!("The snapshots name no culprit: {rest}"),
    }
}

/// What the culprit's line starts with: "Suspect" under a verdict that is no leak (a
/// sawtooth's counts can rise across three snapshots by chance: a clean log compacted
/// in bursts was called the culprit of an inconclusive run), and where it was found when
/// not in the main thread.
pub(crate) fn culprit_label(assessment: &leaktrail_harness::RunAssessment) -> String {
    let what = match assessment.outcome {
        leaktrail_stats::Outcome::Leak => "Culprit",
        _ => "Suspect",
    };
    match assessment
        .worker_heaps
        .as_ref()
        .and_then(|w| w.culprit_worker)
    {
        Some(k) => format!("{what} in worker thread {k}"),
        None => what.to_owned(),
    }
}

/// Where the run's verdict was first reached and then held, against the run's length.
pub(crate) fn decided_sentence(
    result: &leaktrail_harness::RunResult,
    assessment: &leaktrail_harness::RunAssessment,
) -> Option<String> {
    let at = assessment.decided_after?;
    let last = result.samples.last()?;
    let (at, end) = if assessment.unit == leaktrail_harness::Per::Iteration {
        (
            format!("iteration {at:.0}"),
            format!("{}", last.iteration.unwrap_or(0)),
        )
    } else {
        (format!("{at:.1} s"), format!("{:.1} s", last.t))
    };
    Some(format!(
        "The verdict held from {at} on (the run went to {end}): every longer part of the run decides the same."
    ))
}

/// The sentence of a run a stop signal ended, if one did.
pub(crate) fn stop_sentence(result: &leaktrail_harness::RunResult) -> Option<String> {
    result.interrupted.map(|signal| {
        format!(
            "Stopped: leaktrail received {} after {} and {} samples, and stopped the workload's processes; what follows is on what was measured until then.",
            leaktrail_process::signal_name(signal),
            leaktrail_analysis::units::human_duration(result.wall_seconds),
            result.samples.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use leaktrail_stats::Outcome;

    #[test]
    fn the_snapshots_summary_does_not_contradict_the_verdict() {
        let summary = "No leak: 50 objects allocated after the first snapshot are still alive (51.8 KiB retained), but …";
        assert_eq!(snapshots_summary(summary, Outcome::NoLeak), summary);
        assert_eq!(
            snapshots_summary(summary, Outcome::Inconclusive),
            "The snapshots name no culprit: 50 objects allocated after the first snapshot are still alive (51.8 KiB retained), but …"
        );
        let other = "Leak: 1791 ChangeRecord objects …";
        assert_eq!(snapshots_summary(other, Outcome::Leak), other);
    }
}
