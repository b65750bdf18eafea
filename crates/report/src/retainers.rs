//! The retainer paths of one object or of a class's instances (`leaktrail retainers`).

use leaktrail_analysis::units::{human_bytes, plural_s};
use leaktrail_analysis::{ClassRetainers, Held, ObjectRetainers};

use crate::document::{json, object_label, Doc};
use crate::numbers::group_digits;
use crate::{Format, RenderOptions};

/// Renders the retainers of one object.
pub fn render_object_retainers(r: &ObjectRetainers, opts: RenderOptions) -> String {
    if opts.format == Format::Json {
        return json("leaktrail.retainers/1", r);
    }
    let mut d = Doc::new(opts);
    let what = match r.held {
        Held::Root => "the snapshot's root".to_owned(),
        _ => format!("{} retainer path{}", r.paths.len(), plural_s(r.paths.len())),
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
            "{}: {} instance{} in {} path shape{}{}{}",
            r.class,
            group_digits(r.instances),
            plural_s(r.instances),
            group_digits(r.shapes),
            plural_s(r.shapes),
            match r.shapes > r.groups.len() as u64 {
                true => format!(" (the {} largest below)", r.groups.len()),
                false => String::new(),
            },
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
            "{}. {} instance{}, {} retained{}",
            i + 1,
            group_digits(g.count),
            plural_s(g.count),
            human_bytes(g.retained_size),
            match g.nested {
                0 => String::new(),
                1 if g.count == 1 => " (inside another instance's retained size)".to_owned(),
                n if n == g.count => " (each inside another instance's retained size)".to_owned(),
                n => format!(
                    " ({} of them inside another instance's retained size)",
                    group_digits(n)
                ),
            }
        ));
        d.path(&g.path);
    }
    d.out
}
