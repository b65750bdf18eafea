//! Renders leaktrail reports for people and for programs.
//!
//! Three [`Format`]s share one code path per report: `table` (a terminal table, coloured
//! only when the caller says so: on a TTY and without `NO_COLOR`), `markdown` (the same
//! tables in GitHub Markdown, for pasting into an issue) and `json` (the analysis types
//! serialised in an envelope `{"schema": "leaktrail.<report>/1", ...}`, documented in
//! `docs/json-schema.md`). Tables show human-readable sizes; JSON has exact bytes.

use comfy_table::presets::{ASCII_MARKDOWN, UTF8_FULL_CONDENSED};
use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table};
use serde::Serialize;

mod chart;
mod run_checks;
mod trace;

pub use trace::render_trace;

use leaktrail_analysis::units::{human_bytes, signed_bytes};
use leaktrail_analysis::{
    ClassRetainers, GrowthKind, HandlesDelta, Held, LeakReport, ObjectRetainers, ObjectView,
    SnapshotDiff, SnapshotInfo, StepView, Summary,
};

mod trend;
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

/// The JSON envelope: a schema tag and the report.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    schema: &'a str,
    #[serde(flatten)]
    report: &'a T,
}

fn json<T: Serialize>(schema: &str, report: &T) -> String {
    let mut s = serde_json::to_string_pretty(&Envelope { schema, report }).unwrap_or_else(|e| {
        // Serialising plain data structs cannot fail; say so rather than panic.
        format!("{{\"error\":\"cannot serialise report: {e}\"}}")
    });
    s.push('\n');
    s
}

/// Builds tables in the chosen format.
struct Doc {
    opts: RenderOptions,
    out: String,
}

impl Doc {
    fn new(opts: RenderOptions) -> Doc {
        Doc {
            opts,
            out: String::new(),
        }
    }

    fn heading(&mut self, text: &str) {
        match self.opts.format {
            Format::Markdown => self.out.push_str(&format!("\n### {text}\n\n")),
            _ if self.opts.color => self.out.push_str(&format!("\n\x1b[1m{text}\x1b[0m\n")),
            _ => self.out.push_str(&format!("\n{text}\n")),
        }
    }

    /// A retainer path, top-down, one step per line.
    fn path(&mut self, steps: &[StepView]) {
        let mut lines = Vec::with_capacity(steps.len().max(1));
        if steps.is_empty() {
            lines.push("  (no path: held only by weak references)".to_owned());
        }
        for (i, st) in steps.iter().enumerate() {
            let indent = "  ".repeat(i.min(12) + 1);
            let links = st
                .repeated
                .map_or(String::new(), |n| format!(" × {} links", group_digits(n)));
            lines.push(format!(
                "{indent}--{}{links}--> {} ({} retained)",
                st.edge,
                object_label(&st.object),
                human_bytes(st.object.retained_size)
            ));
        }
        self.block(&lines);
    }

    /// Lines as they are, fenced as a code block in Markdown.
    fn block(&mut self, lines: &[String]) {
        let md = self.opts.format == Format::Markdown;
        if md {
            self.out.push_str("```\n");
        }
        for l in lines {
            self.out.push_str(l);
            self.out.push('\n');
        }
        if md {
            self.out.push_str("```\n");
        }
    }

    fn line(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn emphasis(&mut self, text: &str, alarm: bool) {
        match self.opts.format {
            Format::Markdown => self.line(&format!("**{text}**")),
            _ if self.opts.color => {
                let code = if alarm { "1;31" } else { "1;32" };
                self.line(&format!("\x1b[{code}m{text}\x1b[0m"))
            }
            _ => self.line(text),
        }
    }

    fn table(&mut self, header: &[&str], rows: Vec<Vec<Cell>>, right_from: usize) {
        let mut t = Table::new();
        if self.opts.format == Format::Markdown {
            t.load_preset(ASCII_MARKDOWN);
            t.force_no_tty();
        } else {
            t.load_preset(UTF8_FULL_CONDENSED);
            t.set_content_arrangement(ContentArrangement::Disabled);
            if self.opts.color {
                t.enforce_styling();
            } else {
                t.force_no_tty();
            }
        }
        t.set_header(header.iter().map(Cell::new));
        for row in rows {
            t.add_row(row);
        }
        for i in right_from..header.len() {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        self.out.push_str(&t.to_string());
        self.out.push('\n');
    }

    /// A cell holding a signed size, red when it grew.
    fn delta_cell(&self, d: i64) -> Cell {
        let c = Cell::new(signed_bytes(d));
        if self.opts.color && d > 0 {
            c.fg(Color::Red)
        } else if self.opts.color && d < 0 {
            c.fg(Color::Green)
        } else {
            c
        }
    }
}

fn info_line(label: &str, s: &SnapshotInfo) -> String {
    format!(
        "{label}{} — {} file, {} nodes, {} edges, {} self size",
        s.path,
        human_bytes(s.file_size),
        group_digits(s.node_count),
        group_digits(s.edge_count),
        human_bytes(s.total_self_size)
    )
}

pub use leaktrail_analysis::units::group_digits;

pub(crate) fn signed_count(n: i64) -> String {
    if n > 0 {
        format!("+{}", group_digits(n as u64))
    } else if n < 0 {
        format!("-{}", group_digits(n.unsigned_abs()))
    } else {
        "0".to_owned()
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

/// Renders a [`Summary`].
pub fn render_summary(s: &Summary, opts: RenderOptions) -> String {
    if opts.format == Format::Json {
        return json("leaktrail.summary/1", s);
    }
    let mut d = Doc::new(opts);
    if opts.format == Format::Markdown {
        d.line(&format!("## Heap summary: `{}`\n", s.snapshot.path));
    }
    d.line(&info_line(
        if opts.format == Format::Markdown {
            ""
        } else {
            "Snapshot "
        },
        &s.snapshot,
    ));
    if s.clamped_sizes > 0 {
        d.line(&format!(
            "warning: {} self sizes of 4 GiB or more were clamped to 4 GiB",
            s.clamped_sizes
        ));
    }
    let total = s.snapshot.total_self_size;
    d.heading("Self size by node type");
    let rows = s
        .by_type
        .iter()
        .map(|g| {
            vec![
                Cell::new(&g.name),
                Cell::new(group_digits(g.count)),
                Cell::new(human_bytes(g.self_size)),
                Cell::new(percent(g.self_size, total)),
            ]
        })
        .collect();
    d.table(&["type", "count", "self size", "share"], rows, 1);
    d.heading("Self size by family");
    let rows = s
        .by_family
        .iter()
        .filter(|g| g.count > 0)
        .map(|g| {
            vec![
                Cell::new(&g.name),
                Cell::new(group_digits(g.count)),
                Cell::new(human_bytes(g.self_size)),
                Cell::new(percent(g.self_size, total)),
            ]
        })
        .collect();
    d.table(&["family", "count", "self size", "share"], rows, 1);
    let with_retained = s.classes.iter().any(|c| c.retained_size.is_some());
    let class_rows =
        |classes: &mut dyn Iterator<Item = &leaktrail_analysis::ClassStats>| -> Vec<Vec<Cell>> {
            classes
                .map(|c| {
                    let mut row = vec![
                        Cell::new(&c.class),
                        Cell::new(c.family.label()),
                        Cell::new(group_digits(c.count)),
                        Cell::new(human_bytes(c.self_size)),
                        Cell::new(percent(c.self_size, total)),
                    ];
                    if with_retained {
                        row.push(Cell::new(c.retained_size.map_or("-".into(), human_bytes)));
                    }
                    row
                })
                .collect()
        };
    let mut class_header = vec!["class", "family", "count", "self size", "share"];
    if with_retained {
        class_header.push("retained");
    }
    d.heading(&format!(
        "Top {} classes by self size (of {})",
        opts.top.min(s.classes.len()),
        s.classes.len()
    ));
    let rows = class_rows(&mut s.classes.iter().take(opts.top));
    d.table(&class_header, rows, 2);
    let mut by_count: Vec<_> = s.classes.iter().collect();
    by_count.sort_by(|a, b| b.count.cmp(&a.count).then(a.class.cmp(&b.class)));
    d.heading(&format!(
        "Top {} classes by count",
        opts.top.min(s.classes.len())
    ));
    let rows = class_rows(&mut by_count.into_iter().take(opts.top));
    d.table(&class_header, rows, 2);
    if with_retained {
        let mut by_retained: Vec<_> = s.classes.iter().collect();
        by_retained.sort_by(|a, b| {
            b.retained_size
                .cmp(&a.retained_size)
                .then(a.class.cmp(&b.class))
        });
        d.heading(&format!(
            "Top {} classes by retained size",
            opts.top.min(s.classes.len())
        ));
        let rows = class_rows(&mut by_retained.into_iter().take(opts.top));
        d.table(&class_header, rows, 2);
    }
    if !s.largest_objects.is_empty() {
        d.heading("Largest objects (retained size) and their shortest retainer path");
        for o in &s.largest_objects {
            d.line(&format!(
                "{} — {} retained",
                object_label(&o.object),
                human_bytes(o.object.retained_size)
            ));
            d.path(&o.path);
        }
    }
    if let Some(h) = &s.handles {
        d.heading("Timers, workers and listeners");
        d.line(&format!(
            "Timeout {}, Immediate {}, Worker {}, MessagePort {}",
            group_digits(h.timeouts),
            group_digits(h.immediates),
            group_digits(h.workers),
            group_digits(h.message_ports)
        ));
        if !h.listeners.is_empty() {
            let rows = h
                .listeners
                .iter()
                .take(opts.top.min(10))
                .map(|l| {
                    vec![
                        Cell::new(&l.emitter_class),
                        Cell::new(&l.event),
                        Cell::new(group_digits(l.listeners)),
                        Cell::new(group_digits(l.emitters)),
                    ]
                })
                .collect();
            d.table(
                &["emitter class", "event", "listeners", "emitters"],
                rows,
                2,
            );
        }
    }
    d.out
}

impl Doc {
    /// Timers, workers and listeners before and after.
    fn handles_delta(&mut self, h: &HandlesDelta) {
        self.heading("Timers, workers and listeners");
        let (b, a) = (&h.before, &h.after);
        let pair = |x: u64, y: u64| {
            if x == y {
                group_digits(y)
            } else {
                format!("{} → {}", group_digits(x), group_digits(y))
            }
        };
        let mut line = format!(
            "Timeout {}, Immediate {}, Worker {}, MessagePort {}",
            pair(b.timeouts, a.timeouts),
            pair(b.immediates, a.immediates),
            pair(b.workers, a.workers),
            pair(b.message_ports, a.message_ports)
        );
        if h.listeners_measured {
            line.push_str(&format!(", listeners {}", pair(b.listeners, a.listeners)));
        } else {
            line.push_str("; listeners not counted (diff --listeners counts them)");
        }
        self.line(&line);
        if !h.listeners.is_empty() {
            let rows = h
                .listeners
                .iter()
                .take(self.opts.top.min(10))
                .map(|l| {
                    vec![
                        Cell::new(&l.emitter_class),
                        Cell::new(&l.event),
                        Cell::new(group_digits(l.before)),
                        Cell::new(group_digits(l.after)),
                        Cell::new(signed_count(l.delta)),
                    ]
                })
                .collect();
            self.table(&["emitter class", "event", "before", "after", "Δ"], rows, 2);
        }
    }
}

/// `StreamEntry @123` or `(string) "abc" @5`.
fn object_label(o: &ObjectView) -> String {
    if o.name.is_empty() {
        format!("{} @{}", o.class, o.id)
    } else {
        format!("{} {:?} @{}", o.class, o.name, o.id)
    }
}

/// Renders one [`SnapshotDiff`]; `title` heads it (e.g. the PID of a lane).
pub fn render_diff(diff: &SnapshotDiff, title: Option<&str>, opts: RenderOptions) -> String {
    if opts.format == Format::Json {
        return json("leaktrail.diff/1", diff);
    }
    let mut d = Doc::new(opts);
    let md = opts.format == Format::Markdown;
    let heading = match title {
        Some(t) => format!("Heap diff: {t}"),
        None => "Heap diff".to_owned(),
    };
    if md {
        d.line(&format!("## {heading}\n"));
        d.line(&format!("- before: {}", info_line("", &diff.before)));
        d.line(&format!("- after: {}\n", info_line("", &diff.after)));
    } else {
        d.emphasis(&heading, false);
        d.line(&info_line("before: ", &diff.before));
        d.line(&info_line("after:  ", &diff.after));
    }
    d.line(&format!(
        "Total self size {} → {} ({})",
        human_bytes(diff.before.total_self_size),
        human_bytes(diff.after.total_self_size),
        signed_bytes(diff.total_delta)
    ));
    if !md {
        d.line("");
    }
    let alarm = diff.verdict.kind != GrowthKind::NoSignificantGrowth;
    d.emphasis(&diff.verdict.sentence, alarm);

    d.heading("Growth by family");
    let rows = diff
        .families
        .iter()
        .filter(|f| f.size_before > 0 || f.size_after > 0)
        .map(|f| {
            vec![
                Cell::new(&f.label),
                Cell::new(human_bytes(f.size_before)),
                Cell::new(human_bytes(f.size_after)),
                d.delta_cell(f.size_delta),
                Cell::new(human_bytes(f.new_size)),
                Cell::new(human_bytes(f.freed_size)),
            ]
        })
        .collect();
    d.table(
        &["family", "before", "after", "delta", "new", "freed"],
        rows,
        1,
    );

    let shown: Vec<_> = diff
        .classes
        .iter()
        .filter(|c| c.size_delta.unsigned_abs() >= opts.min_bytes)
        .take(opts.top)
        .collect();
    let filter_note = if opts.min_bytes > 0 {
        format!(", |delta| ≥ {}", human_bytes(opts.min_bytes))
    } else {
        String::new()
    };
    d.heading(&format!(
        "Top {} of {} changed classes by size delta{filter_note}",
        shown.len(),
        diff.classes.len()
    ));
    let rows = shown
        .iter()
        .map(|c| {
            vec![
                Cell::new(&c.class),
                Cell::new(c.family.label()),
                Cell::new(signed_count(c.count_delta)),
                d.delta_cell(c.size_delta),
                Cell::new(format!(
                    "{} / {}",
                    group_digits(c.new_count),
                    human_bytes(c.new_size)
                )),
                Cell::new(format!(
                    "{} / {}",
                    group_digits(c.freed_count),
                    human_bytes(c.freed_size)
                )),
                Cell::new(format!(
                    "{} / {}",
                    group_digits(c.count_after),
                    human_bytes(c.size_after)
                )),
            ]
        })
        .collect();
    d.table(
        &[
            "class",
            "family",
            "Δ count",
            "Δ size",
            "new (count / size)",
            "freed (count / size)",
            "after (count / size)",
        ],
        rows,
        2,
    );
    d.handles_delta(&diff.handles);
    d.out
}

/// One lane's diff for [`render_lanes`].
pub struct LaneDiff<'a> {
    /// The PID, if the file names carry one.
    pub pid: Option<u32>,
    /// Number of snapshots of this PID.
    pub snapshots: usize,
    /// The diff of earliest vs latest, or `None` when there is only one snapshot.
    pub diff: Option<&'a SnapshotDiff>,
}

#[derive(Serialize)]
struct LaneJson<'a> {
    pid: Option<u32>,
    snapshots: usize,
    diff: Option<&'a SnapshotDiff>,
}

/// Renders the diffs of a lane directory, one section per PID.
pub fn render_lanes(dir: &str, lanes: &[LaneDiff<'_>], opts: RenderOptions) -> String {
    if opts.format == Format::Json {
        let list: Vec<LaneJson> = lanes
            .iter()
            .map(|l| LaneJson {
                pid: l.pid,
                snapshots: l.snapshots,
                diff: l.diff,
            })
            .collect();
        #[derive(Serialize)]
        struct Lanes<'a> {
            directory: &'a str,
            lanes: Vec<LaneJson<'a>>,
        }
        return json(
            "leaktrail.lanes/1",
            &Lanes {
                directory: dir,
                lanes: list,
            },
        );
    }
    let mut out = String::new();
    for l in lanes {
        let pid = l.pid.map_or(
            "unknown PID (ordered by modification time)".to_owned(),
            |p| format!("PID {p}"),
        );
        match l.diff {
            Some(diff) => {
                out.push_str(&render_diff(
                    diff,
                    Some(&format!(
                        "{pid}, earliest vs latest of {} snapshots",
                        l.snapshots
                    )),
                    opts,
                ));
            }
            None => {
                let line = format!("{pid}: only one snapshot, nothing to compare.\n");
                out.push_str(&if opts.format == Format::Markdown {
                    format!("## {line}")
                } else {
                    line
                });
            }
        }
        out.push('\n');
    }
    out
}

/// Renders the retainers of one object.
pub fn render_object_retainers(r: &ObjectRetainers, opts: RenderOptions) -> String {
    if opts.format == Format::Json {
        return json("leaktrail.retainers/1", r);
    }
    let mut d = Doc::new(opts);
    let what = match r.held {
        Held::Root => "the snapshot's root".to_owned(),
        _ => format!(
            "{} retainer path{}",
            r.paths.len(),
            if r.paths.len() == 1 { "" } else { "s" }
        ),
    };
    d.emphasis(
        &format!(
            "{} — self {}, retained {}: {what}",
            object_label(&r.object),
            human_bytes(r.object.self_size),
            human_bytes(r.object.retained_size),
        ),
        false,
    );
    match r.held {
        Held::Root => d.line(
            "This is the snapshot's root, which every GC root hangs from: nothing retains it, so it has no retainer path.",
        ),
        Held::Weakly => d.line(
            "No path from the GC roots: only weak references hold it; it goes at the next GC.",
        ),
        // Strong edges reach it, yet the search gave up (a step limit) before a path.
        Held::Strongly if r.paths.is_empty() => d.line(
            "Strong references reach it, but no retainer path was found within the search's step limit.",
        ),
        Held::Strongly => {}
    }
    for (i, p) in r.paths.iter().enumerate() {
        d.heading(&format!("Path {} ({} steps)", i + 1, p.len()));
        d.path(p);
    }
    d.out
}

/// Renders the retainer paths of a class's instances, grouped by shape.
pub fn render_class_retainers(r: &ClassRetainers, opts: RenderOptions) -> String {
    if opts.format == Format::Json {
        return json("leaktrail.class-retainers/1", r);
    }
    let mut d = Doc::new(opts);
    d.emphasis(
        &format!(
            "{}: {} instances in {} path shape{}{}",
            r.class,
            group_digits(r.instances),
            r.groups.len(),
            if r.groups.len() == 1 { "" } else { "s" },
            if r.unreachable > 0 {
                format!(", {} held only weakly", r.unreachable)
            } else {
                String::new()
            }
        ),
        false,
    );
    for (i, g) in r.groups.iter().enumerate() {
        d.heading(&format!(
            "{}. {} instance{}, {} retained",
            i + 1,
            group_digits(g.count),
            if g.count == 1 { "" } else { "s" },
            human_bytes(g.retained_size)
        ));
        d.path(&g.path);
    }
    d.out
}

/// Renders a [`LeakReport`].
pub fn render_leaks(r: &LeakReport, opts: RenderOptions) -> String {
    if opts.format == Format::Json {
        return json("leaktrail.leaks/1", r);
    }
    let mut d = Doc::new(opts);
    if opts.format == Format::Markdown {
        d.line("## Leaks\n");
    }
    for (i, s) in r.snapshots.iter().enumerate() {
        d.line(&info_line(&format!("snapshot {}: ", i + 1), s));
    }
    d.line("");
    d.emphasis(&r.summary, r.found_leak());
    if !r.clusters.is_empty() {
        let rows = r
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    Cell::new(i + 1),
                    Cell::new(&c.class),
                    Cell::new(&c.holder),
                    Cell::new(group_digits(c.count)),
                    Cell::new(human_bytes(c.retained_size)),
                    Cell::new(
                        c.class_counts
                            .iter()
                            .map(|n| group_digits(*n))
                            .collect::<Vec<_>>()
                            .join(" → "),
                    ),
                ]
            })
            .collect();
        d.heading("Leak clusters (objects allocated after the first snapshot, still alive, of classes that kept growing)");
        d.table(
            &[
                "#",
                "class",
                "accumulates in",
                "objects",
                "retained",
                "instances per snapshot",
            ],
            rows,
            3,
        );
        for (i, c) in r.clusters.iter().enumerate() {
            d.heading(&format!("{}. {}", i + 1, c.sentence));
            d.path(&c.path);
        }
    }
    if !r.growing_objects.is_empty() {
        d.heading("Objects that grew in every interval (one object at one place)");
        for g in &r.growing_objects {
            d.line(&g.sentence);
            d.path(&g.path);
        }
    }
    d.handles_delta(&r.handles);
    if r.snapshots.len() >= 4 {
        d.heading("Collections that grew in every interval");
        if r.growing_collections.is_empty() {
            d.line(
                "None: no Map, Set, Array or dictionary object gained entries in every interval.",
            );
        }
        for c in &r.growing_collections {
            d.line(&c.sentence);
            d.path(&c.path);
        }
    }
    d.line(&format!(
        "\n{} leak roots ({} retained) in all; {} cluster{} dismissed ({} retained): {} because their class did not grow in every interval, {} because they retain less than the {} noise floor.",
        group_digits(r.leak_roots),
        human_bytes(r.leak_roots_retained),
        group_digits(r.dismissed_clusters),
        if r.dismissed_clusters == 1 { "" } else { "s" },
        human_bytes(r.dismissed_retained),
        group_digits(r.dismissed_not_growing),
        group_digits(r.dismissed_small),
        human_bytes(r.min_cluster_bytes)
    ));
    d.out
}

/// Renders the result of `leaktrail run`: the culprit first when there is one, the
/// verdict, the series, and what sampling cost.
pub fn render_run(
    result: &leaktrail_harness::RunResult,
    assessment: &leaktrail_harness::Assessment,
    culprit: Option<&LeakReport>,
    fault: Option<&str>,
    opts: RenderOptions,
) -> String {
    if opts.format == Format::Json {
        #[derive(Serialize)]
        struct RunJson<'a> {
            fault: Option<&'a str>,
            assessment: &'a leaktrail_harness::Assessment,
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
        d.emphasis(&format!("Culprit: {sentence}"), true);
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
                Cell::new(&s.series),
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
        d.line(&c.summary);
    }
    d.out
}

/// Where the run's verdict was first reached and then held, against the run's length.
fn decided_sentence(
    result: &leaktrail_harness::RunResult,
    assessment: &leaktrail_harness::Assessment,
) -> Option<String> {
    let at = assessment.decided_after?;
    let last = result.samples.last()?;
    let (at, end) = if assessment.unit == "iteration" {
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

/// A retainer path, one `--edge--> Class @id` line a step, for the HTML and JUnit reports.
fn path_lines(path: &[StepView]) -> String {
    path.iter()
        .map(|s| format!("--{}--> {} @{}", s.edge, s.object.class, s.object.id))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Escapes text for HTML and XML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML report of a `run`: the verdict, a chart of the decided series with
/// the warm-up cut and the fitted slope, and the series table. No scripts, no external
/// files: it opens anywhere, offline.
pub fn render_run_html(
    result: &leaktrail_harness::RunResult,
    assessment: &leaktrail_harness::Assessment,
    culprit: Option<&LeakReport>,
    fault: Option<&str>,
) -> String {
    let primary = &assessment.primary;
    let by_iteration = assessment.unit == "iteration";
    let points: Vec<(f64, f64)> = result
        .samples
        .iter()
        .map(|s| {
            let x = if by_iteration {
                s.iteration.unwrap_or(0) as f64
            } else {
                s.t
            };
            let y = if primary.series == "rss" {
                s.rss as f64
            } else {
                (s.heap_used.unwrap_or(0) + s.external.unwrap_or(0)) as f64
            };
            (x, y)
        })
        .collect();
    let v = &primary.verdict;
    let y_title = if primary.series == "rss" {
        "RSS of the process tree"
    } else {
        "V8 heap + external after a forced GC"
    };
    // Beside RSS, the PSS read on some samples: where the two part, shared pages explain it.
    let pss: Vec<(f64, f64)> = result
        .samples
        .iter()
        .zip(&points)
        .filter_map(|(s, p)| s.pss.map(|v| (p.0, v as f64)))
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
    let beside = if primary.series == "rss" {
        (pss.len() >= 2).then_some(("PSS", &pss[..]))
    } else {
        (!major_gc.is_empty()).then_some(("after V8's own major GCs", &major_gc[..]))
    };
    let svg = chart::SeriesChart {
        beside,
        points: &points,
        name: if primary.series == "rss" {
            "RSS"
        } else {
            "heap + external"
        },
        y_title,
        x_title: if by_iteration { "iteration" } else { "seconds" },
        warmup: v.warmup_samples,
        fit: (v.samples_used > 0).then_some((v.slope.intercept, v.slope.slope)),
        per: &assessment.unit,
    }
    .svg();
    let rows: String = std::iter::once(primary)
        .chain(assessment.components.iter().filter(|c| c.series != primary.series))
        .map(|s| {
            let v = &s.verdict;
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td>{} … {}</td><td>{:.1e}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.series),
                v.outcome.word(),
                escape(&signed_bytes(v.slope.slope as i64)),
                escape(&assessment.unit),
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
        body.push_str(&format!("<p class=\"warn\"><b>{}</b></p>", escape(&stop)));
    }
    if let Some(f) = fault {
        body.push_str(&format!("<p class=\"bad\"><b>Fault:</b> {}</p>", escape(f)));
    }
    let checks = run_checks::checks_html(assessment);
    let pss = assessment
        .pss
        .as_ref()
        .map_or(String::new(), |p| format!("<p>{}</p>", escape(&p.sentence)));
    if let Some((sentence, path)) = culprit.and_then(|c| c.culprit()) {
        body.push_str(&format!(
            "<p class=\"bad\"><b>Culprit:</b> {}</p><pre>{}</pre>",
            escape(sentence),
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
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>leaktrail run: {badge}</title><style>body{{font:14px system-ui,sans-serif;margin:2em auto;max-width:56em;padding:0 1em;color:#222}}h1{{font-size:1.6em;margin-bottom:.3em}}h2{{font-size:1.15em;margin-top:1.6em}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ddd;padding:.3em .6em;text-align:right}}td:first-child,th:first-child{{text-align:left}}th{{background:#f6f6f6}}.bad{{color:#a00}}.good{{color:#060}}.warn{{color:#8a5a00}}.badge{{display:inline-block;font-weight:bold;padding:.2em .7em;border-radius:4px;border:2px solid currentColor}}pre{{background:#f6f6f6;padding:.8em 1em;overflow:auto;color:#222}}ul.checks{{padding-left:1.2em}}ul.checks li{{margin:.5em 0}}.muted{{color:#666}}svg{{max-width:100%;height:auto}}</style></head><body><h1>Leak test</h1><p><span class=\"badge {class}\">{badge} — exit {code}</span></p>{body}<p class=\"{}\">{}</p>{checks}<h2>Series</h2>{svg}<table><tr><th>series</th><th>verdict</th><th>slope</th><th>interval</th><th>p</th><th>warm-up</th><th>samples</th></tr>{rows}</table>{pss}<p class=\"muted\">{}{}</p></body></html>\n",
        if assessment.outcome == leaktrail_stats::Outcome::Leak { "bad" } else { "" },
        escape(&assessment.sentence),
        decided_sentence(result, assessment).map_or(String::new(), |s| escape(&s) + "<br>"),
        escape(&run_checks::overhead_sentence(result)),
    )
}

/// The sentence of a run a stop signal ended, if one did.
fn stop_sentence(result: &leaktrail_harness::RunResult) -> Option<String> {
    result.interrupted.map(|signal| {
        format!(
            "Stopped: leaktrail received {} after {} and {} samples, and stopped the workload's processes; what follows is on what was measured until then.",
            leaktrail_harness::signal_name(signal),
            leaktrail_analysis::units::human_duration(result.wall_seconds),
            result.samples.len()
        )
    })
}

/// A JUnit XML report of a `run`, for CI systems: a leak is a failure, a fault an error,
/// an inconclusive run is skipped; each check is a test case of its own.
pub fn render_run_junit(
    command: &str,
    result: &leaktrail_harness::RunResult,
    assessment: &leaktrail_harness::Assessment,
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
                escape(&format!("{} Culprit: {sentence}", assessment.sentence)),
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
