//! Renders leaktrail reports for people and for programs.
//!
//! Three [`Format`]s share one code path per report: `table` (a terminal table, coloured
//! only when the caller says so: on a TTY and without `NO_COLOR`), `markdown` (the same
//! tables in GitHub Markdown, for pasting into an issue) and `json` (the analysis types
//! serialised in an envelope `{"schema": "leaktrail.<report>/1", ...}`, documented in
//! `docs/json-schema.md`). Tables show human-readable sizes; JSON has exact bytes.
//!
//! Modules, one job each:
//! - `document`: the builder every text report writes through (headings, tables, paths) and
//!   the JSON envelope; `numbers`: counts, signs and shares as the reports write them;
//! - one module per report: `summary`, `diff` (with `--lane-dir`), `retainers`, `leaks`,
//!   `run` (with `run_checks`, its checks section), `trend`, `trace`;
//! - the `run` report's other forms: `html` (style sheet in `html.css`, chart from `chart`)
//!   and `junit`, with `markup` for what they share (escaping, plain retainer paths);
//!   `run_files`, every file of `run --out` (with the samples as CSV).

#![deny(missing_docs)]

mod chart;
mod diff;
mod document;
mod html;
mod junit;
mod leaks;
mod markup;
mod numbers;
mod retainers;
mod run;
mod run_checks;
mod run_files;
mod summary;
mod trace;
mod trend;

pub use diff::{render_diff, render_lane_dir, ProcessDiff};
pub use html::render_run_html;
pub use junit::render_run_junit;
pub use leaks::render_leaks;
pub use numbers::group_digits;
pub use retainers::{render_class_retainers, render_object_retainers};
pub use run::render_run;
pub use run_files::run_files;
pub use summary::render_summary;
pub use trace::render_trace;
pub use trend::{overall as overall_trend, render_trend, utc_stamp, utc_time, TrendContext};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table for a terminal.
    Table,
    /// Markdown for an issue or a PR.
    Markdown,
    /// JSON for programs.
    Json,
}

/// How to render.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    /// The format.
    pub format: Format,
    /// Colour table output (ANSI).
    pub color: bool,
    /// Rows per class table.
    pub top: usize,
    /// Leave out classes whose size changed by less than this many bytes (diff).
    pub min_bytes: u64,
}
