//! The document builder every text report writes through: headings, lines, emphasis,
//! retainer paths and tables, as a terminal table (coloured or not) or GitHub Markdown; the
//! JSON envelope; the one-line descriptions of a snapshot and of an object.

use comfy_table::presets::{ASCII_MARKDOWN, UTF8_FULL_CONDENSED};
use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table};
use serde::Serialize;

use leaktrail_analysis::units::{human_bytes, signed_bytes};
use leaktrail_analysis::{ObjectView, SnapshotInfo, StepView};

use crate::numbers::group_digits;
use crate::{Format, RenderOptions};

/// The JSON envelope: a schema tag and the report.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    schema: &'a str,
    #[serde(flatten)]
    report: &'a T,
}

/// `report` as pretty JSON in its envelope, with a final newline.
pub(crate) fn json<T: Serialize>(schema: &str, report: &T) -> String {
    let mut s = serde_json::to_string_pretty(&Envelope { schema, report }).unwrap_or_else(|e| {
        // Serialising plain data structs cannot fail; say so rather than panic.
        format!("{{\"error\":\"cannot serialise report: {e}\"}}")
    });
    s.push('\n');
    s
}

/// Builds tables in the chosen format.
pub(crate) struct Doc {
    /// How to render.
    pub(crate) opts: RenderOptions,
    /// The text so far.
    pub(crate) out: String,
}

impl Doc {
    /// An empty document.
    pub(crate) fn new(opts: RenderOptions) -> Doc {
        Doc {
            opts,
            out: String::new(),
        }
    }

    /// A section heading (`###` in Markdown, bold on a colour terminal).
    pub(crate) fn heading(&mut self, text: &str) {
        match self.opts.format {
            Format::Markdown => self.out.push_str(&format!("\n### {text}\n\n")),
            _ if self.opts.color => self.out.push_str(&format!("\n\x1b[1m{text}\x1b[0m\n")),
            _ => self.out.push_str(&format!("\n{text}\n")),
        }
    }

    /// A retainer path, top-down, one step per line.
    pub(crate) fn path(&mut self, steps: &[StepView]) {
        let mut lines = Vec::with_capacity(steps.len().max(1));
        if steps.is_empty() {
            lines.push("  (no path: held only by weak references)".to_owned());
        }
        for (i, st) in steps.iter().enumerate() {
            let indent = "  ".repeat(i.min(12) + 1);
            let links = match (st.repeated, st.block) {
                (Some(n), Some(b)) => {
                    format!(" × {} links of the last {b} steps", group_digits(n))
                }
                (Some(n), None) => format!(" × {} links", group_digits(n)),
                _ => String::new(),
            };
            // A path from a census names its edges, not the objects along them.
            let object = match (st.object.class.is_empty(), st.object.retained_size) {
                (true, _) => String::new(),
                (false, 0) => format!(" {}", object_label(&st.object)),
                (false, r) => format!(
                    " {} ({} retained)",
                    object_label(&st.object),
                    human_bytes(r)
                ),
            };
            lines.push(format!("{indent}--{}{links}-->{object}", st.edge));
        }
        self.block(&lines);
    }

    /// Lines as they are, fenced as a code block in Markdown.
    pub(crate) fn block(&mut self, lines: &[String]) {
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

    /// One line as it is.
    pub(crate) fn line(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// A line that stands out: bold in Markdown, red (`alarm`) or green in colour.
    pub(crate) fn emphasis(&mut self, text: &str, alarm: bool) {
        match self.opts.format {
            Format::Markdown => self.line(&format!("**{text}**")),
            _ if self.opts.color => {
                let code = if alarm { "1;31" } else { "1;32" };
                self.line(&format!("\x1b[{code}m{text}\x1b[0m"))
            }
            _ => self.line(text),
        }
    }

    /// A table; columns from `right_from` on are right-aligned.
    pub(crate) fn table(&mut self, header: &[&str], rows: Vec<Vec<Cell>>, right_from: usize) {
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
    pub(crate) fn delta_cell(&self, d: i64) -> Cell {
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

/// One line about a snapshot file: its size, nodes, edges and self size.
pub(crate) fn info_line(label: &str, s: &SnapshotInfo) -> String {
    format!(
        "{label}{} — {} file, {} nodes, {} edges, {} self size",
        s.path,
        human_bytes(s.file_size),
        group_digits(s.node_count),
        group_digits(s.edge_count),
        human_bytes(s.total_self_size)
    )
}

/// `StreamEntry @123` or `(string) "abc" @5`.
pub(crate) fn object_label(o: &ObjectView) -> String {
    if o.name.is_empty() {
        format!("{} @{}", o.class, o.id)
    } else {
        format!("{} {:?} @{}", o.class, o.name, o.id)
    }
}
