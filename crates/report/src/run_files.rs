//! The files `leaktrail run --out DIR` writes: the samples as CSV and JSON, and the report
//! as Markdown, HTML and JUnit XML.

use leaktrail_harness::{LeakTest, RunResult};

use crate::{render_run, render_run_html, render_run_junit, Format, RenderOptions};

/// The files of a `run`'s `--out` directory, by name, for the run of `command`.
pub fn run_files(command: &str, test: &LeakTest) -> Vec<(&'static str, String)> {
    let LeakTest {
        result,
        assessment,
        culprit,
        fault,
    } = test;
    let (culprit, fault) = (culprit.as_ref(), fault.as_deref());
    let opts = |format| RenderOptions {
        format,
        color: false,
        top: 10,
        min_bytes: 0,
    };
    vec![
        ("samples.csv", samples_csv(result)),
        (
            "samples.json",
            render_run(result, assessment, culprit, fault, opts(Format::Json)),
        ),
        (
            "report.md",
            render_run(result, assessment, culprit, fault, opts(Format::Markdown)),
        ),
        (
            "report.html",
            render_run_html(result, assessment, culprit, fault),
        ),
        (
            "junit.xml",
            render_run_junit(command, result, assessment, culprit, fault),
        ),
    ]
}

/// The samples of a run, one row each; an empty field is a value not read at that sample.
fn samples_csv(result: &RunResult) -> String {
    let mut csv = String::from(
        "t_seconds,iteration,heap_used,heap_total,external,rss,anon,pss,threads,processes\n",
    );
    let opt = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
    for s in &result.samples {
        csv.push_str(&format!(
            "{:.3},{},{},{},{},{},{},{},{},{}\n",
            s.t,
            opt(s.iteration),
            opt(s.memory.heap_used),
            opt(s.memory.heap_total),
            opt(s.memory.external),
            s.memory.rss,
            s.memory.anon,
            opt(s.memory.pss),
            s.memory.threads,
            s.processes
        ));
    }
    csv
}
