//! The self-contained HTML report of `leaktrail run` (`report.html`); its style sheet is
//! `html.css`.

use leaktrail_analysis::units::signed_bytes;
use leaktrail_analysis::LeakReport;

use crate::markup::{escape, path_lines, prose_html};
use crate::run::{decided_sentence, stop_sentence};
use crate::{chart, run_checks};

/// The report's style sheet, one rule a line; the page carries it on one line.
const CSS: &str = include_str!("html.css");

/// A self-contained HTML report of a `run`: the verdict, a chart of the decided series with
/// the warm-up cut and the fitted slope, and the series table. No scripts, no external
/// files: it opens anywhere, offline.
pub fn render_run_html(
    result: &leaktrail_harness::RunResult,
    assessment: &leaktrail_harness::RunAssessment,
    culprit: Option<&LeakReport>,
    fault: Option<&str>,
) -> String {
    let primary = &assessment.primary;
    let by_iteration = assessment.unit == leaktrail_harness::Per::Iteration;
    let points: Vec<(f64, f64)> = result
        .samples
        .iter()
        .map(|s| {
            let x = if by_iteration {
                s.iteration.unwrap_or(0) as f64
            } else {
                s.t
            };
            let y = if primary.series == leaktrail_harness::RunSeries::Rss {
                s.memory.rss as f64
            } else {
                s.memory.v8_bytes().unwrap_or(0) as f64
            };
            (x, y)
        })
        .collect();
    let v = &primary.verdict;
    let y_title = if primary.series == leaktrail_harness::RunSeries::Rss {
        "RSS of the process tree"
    } else {
        "V8 heap + external after a forced GC"
    };
    // Beside RSS, the PSS read on some samples: where the two part, shared pages explain it.
    let pss: Vec<(f64, f64)> = result
        .samples
        .iter()
        .zip(&points)
        .filter_map(|(s, p)| s.memory.pss.map(|v| (p.0, v as f64)))
        .collect();
    // Beside the heap after forced GCs, the heap V8 left after its own major GCs.
    let major_gc: Vec<(f64, f64)> = result
        .cheap_points
        .iter()
        .filter_map(|c| {
            let x = if by_iteration {
                c.iteration? as f64
            } else {
                c.t
            };
            Some((x, (c.heap_used + c.external) as f64))
        })
        .collect();
    let beside = if primary.series == leaktrail_harness::RunSeries::Rss {
        (pss.len() >= 2).then_some(("PSS", &pss[..]))
    } else {
        (!major_gc.is_empty()).then_some(("after V8's own major GCs", &major_gc[..]))
    };
    let svg = chart::SeriesChart {
        beside,
        points: &points,
        name: if primary.series == leaktrail_harness::RunSeries::Rss {
            "RSS"
        } else {
            "heap + external"
        },
        y_title,
        x_title: if by_iteration { "iteration" } else { "seconds" },
        warmup: v.warmup_samples,
        fit: (v.samples_used > 0).then_some((v.slope.intercept, v.slope.slope)),
        per: &assessment.unit.to_string(),
    }
    .svg();
    let rows: String = std::iter::once(primary)
        .chain(assessment.components.iter().filter(|c| c.series != primary.series))
        .map(|s| {
            let v = &s.verdict;
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td>{} … {}</td><td>{:.1e}</td><td>{}</td><td>{}</td></tr>",
                escape(s.series.name()),
                v.outcome.word(),
                escape(&signed_bytes(v.slope.slope as i64)),
                escape(&assessment.unit.to_string()),
                escape(&signed_bytes(v.slope.low as i64)),
                escape(&signed_bytes(v.slope.high as i64)),
                v.trend.p_value,
                v.warmup_samples,
                v.samples_used
            )
        })
        .collect();
    let mut body = String::new();
    if let Some(stop) = stop_sentence(result) {
        body.push_str(&format!(
            "<p class=\"warn\"><b>{}</b></p>",
            prose_html(&stop)
        ));
    }
    if let Some(f) = fault {
        body.push_str(&format!(
            "<p class=\"bad\"><b>Fault:</b> {}</p>",
            prose_html(f)
        ));
    }
    let checks = run_checks::checks_html(assessment);
    let pss = assessment.pss.as_ref().map_or(String::new(), |p| {
        format!("<p>{}</p>", prose_html(&p.sentence))
    });
    if let Some((sentence, path)) = culprit.and_then(|c| c.culprit()) {
        body.push_str(&format!(
            "<p class=\"bad\"><b>{}:</b> {}</p><pre>{}</pre>",
            escape(&crate::run::culprit_label(assessment)),
            prose_html(sentence),
            escape(&path_lines(path))
        ));
    }
    let code = match result.interrupted {
        Some(signal) => (128 + signal) as u8,
        None => assessment.exit_code(fault.is_some()),
    };
    let (badge, class) = match code {
        _ if result.interrupted.is_some() => ("STOPPED", "warn"),
        0 => ("PASS", "good"),
        1 => ("FAIL", "bad"),
        3 => ("INCONCLUSIVE", "warn"),
        _ => ("FAULT", "bad"),
    };
    let css: String = CSS.lines().map(str::trim).collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>leaktrail run: {badge}</title><style>{css}</style></head><body><h1>Leak test</h1><p><span class=\"badge {class}\">{badge} — exit {code}</span></p>{body}<p class=\"{}\">{}</p>{checks}<h2>Series</h2>{svg}<table><tr><th>series</th><th>verdict</th><th>slope</th><th>interval</th><th>p</th><th>warm-up</th><th>samples</th></tr>{rows}</table>{pss}<p class=\"muted\">{}{}</p></body></html>\n",
        if assessment.outcome == leaktrail_stats::Outcome::Leak { "bad" } else { "" },
        prose_html(&assessment.sentence),
        decided_sentence(result, assessment).map_or(String::new(), |s| prose_html(&s) + "<br>"),
        prose_html(&run_checks::overhead_sentence(result)),
    )
}
