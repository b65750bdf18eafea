//! The JUnit XML report of `leaktrail run`, for CI systems.

use leaktrail_analysis::LeakReport;

use crate::markup::{escape, path_lines};
use crate::run::stop_sentence;
use crate::run_checks;

/// A JUnit XML report of a `run`, for CI systems: a leak is a failure, a fault an error,
/// an inconclusive run is skipped; each check is a test case of its own.
pub fn render_run_junit(
    command: &str,
    result: &leaktrail_harness::RunResult,
    assessment: &leaktrail_harness::RunAssessment,
    culprit: Option<&LeakReport>,
    fault: Option<&str>,
) -> String {
    use leaktrail_stats::Outcome;
    // A run stopped by a signal is an error of the run, like a fault: it did not finish.
    let stop = stop_sentence(result);
    let fault = fault.or(stop.as_deref());
    let (failures, errors, skipped) = match (fault, assessment.outcome) {
        (Some(_), _) => (0, 1, 0),
        (None, Outcome::Leak) => (1, 0, 0),
        (None, Outcome::Inconclusive) => (0, 0, 1),
        (None, Outcome::NoLeak) => (0, 0, 0),
    };
    let inner = match (fault, assessment.outcome) {
        (Some(f), _) => format!("<error message=\"{}\"/>", escape(f)),
        // The culprit is the most useful line of a CI log: in the message, with its path.
        (None, Outcome::Leak) => match culprit.and_then(|c| c.culprit()) {
            Some((sentence, path)) => format!(
                "<failure message=\"{}\">{}</failure>",
                escape(&format!(
                    "{} {}: {sentence}",
                    assessment.sentence,
                    crate::run::culprit_label(assessment)
                )),
                escape(&path_lines(path))
            ),
            None => format!("<failure message=\"{}\"/>", escape(&assessment.sentence)),
        },
        (None, Outcome::Inconclusive) => {
            format!("<skipped message=\"{}\"/>", escape(&assessment.sentence))
        }
        (None, Outcome::NoLeak) => {
            format!("<system-out>{}</system-out>", escape(&assessment.sentence))
        }
    };
    let (checks, f, e, s) = run_checks::checks_junit(assessment, result.wall_seconds);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"leaktrail\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\"><testcase classname=\"leaktrail.run\" name=\"memory does not grow: {}\" time=\"{:.3}\">{inner}</testcase>{checks}</testsuite></testsuites>\n",
        1 + assessment.checks.len(),
        failures + f,
        errors + e,
        skipped + s,
        result.wall_seconds,
        escape(command),
        result.wall_seconds
    )
}
