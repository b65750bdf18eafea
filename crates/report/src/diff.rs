//! The diff of two snapshots (`leaktrail diff`), one per lane of a directory
//! (`diff --lane-dir`), and the timers-and-listeners section that `leaks` shares.

use comfy_table::Cell;
use serde::Serialize;

use leaktrail_analysis::units::{human_bytes, signed_bytes};
use leaktrail_analysis::{GrowthKind, HandlesDelta, SnapshotDiff};

use crate::document::{info_line, json, Doc};
use crate::numbers::{group_digits, signed_count};
use crate::{Format, RenderOptions};

impl Doc {
    /// Timers, workers and listeners before and after.
    pub(crate) fn handles_delta(&mut self, h: &HandlesDelta) {
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
        .filter(|c| c.change.size_delta.unsigned_abs() >= opts.min_bytes)
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
                Cell::new(&c.change.class),
                Cell::new(c.change.family.label()),
                Cell::new(signed_count(c.change.count_delta)),
                d.delta_cell(c.change.size_delta),
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
                    group_digits(c.change.count_after),
                    human_bytes(c.change.size_after)
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

/// One process's diff in a lane directory, for [`render_lane_dir`].
pub struct ProcessDiff<'a> {
    /// The PID, if the file names carry one.
    pub pid: Option<u32>,
    /// Number of snapshots of this PID.
    pub snapshots: usize,
    /// The diff of earliest vs latest, or `None` when there is only one snapshot.
    pub diff: Option<&'a SnapshotDiff>,
}

/// One process in `leaktrail.lanes/1`, whose schema calls it a lane (the key stays).
#[derive(Serialize)]
struct ProcessJson<'a> {
    pid: Option<u32>,
    snapshots: usize,
    diff: Option<&'a SnapshotDiff>,
}

/// Renders the diffs of a lane directory (a `trace` lane's, or any folder of snapshots),
/// one section per process.
pub fn render_lane_dir(dir: &str, processes: &[ProcessDiff<'_>], opts: RenderOptions) -> String {
    if opts.format == Format::Json {
        let list: Vec<ProcessJson> = processes
            .iter()
            .map(|l| ProcessJson {
                pid: l.pid,
                snapshots: l.snapshots,
                diff: l.diff,
            })
            .collect();
        #[derive(Serialize)]
        struct Lanes<'a> {
            directory: &'a str,
            lanes: Vec<ProcessJson<'a>>,
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
    for l in processes {
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
