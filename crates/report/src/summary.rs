//! The summary of one snapshot (`leaktrail summary`): self size by type, family and class,
//! the largest objects with their paths, timers and listeners.

use comfy_table::Cell;

use leaktrail_analysis::units::human_bytes;
use leaktrail_analysis::Summary;

use crate::document::{info_line, json, object_label, Doc};
use crate::numbers::{group_digits, percent};
use crate::{Format, RenderOptions};

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
    // Each node counts in its own family here; the class table gives a class one family,
    // and every string class is strings there.
    d.line("Per object: a string that is code (a script's source, a function's name) counts as code here, and under strings in the class table.");
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
