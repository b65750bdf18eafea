//! The leaks report of three or more snapshots (`leaktrail leaks`): the clusters of new,
//! surviving objects with their paths, growing objects and collections.

use comfy_table::Cell;

use leaktrail_analysis::units::{human_bytes, plural_s};
use leaktrail_analysis::LeakReport;

use crate::document::{info_line, json, Doc};
use crate::numbers::group_digits;
use crate::{Format, RenderOptions};

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
        plural_s(r.dismissed_clusters),
        human_bytes(r.dismissed_retained),
        group_digits(r.dismissed_not_growing),
        group_digits(r.dismissed_small),
        human_bytes(r.min_cluster_bytes)
    ));
    d.out
}
