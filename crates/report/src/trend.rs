//! The trend report (`leaktrail trend`, `GET /api/memory/trend`): per target, the overall
//! sentence, the memory series, the classes and collections, restarts.

use comfy_table::{Cell, Color};
use serde::Serialize;

use leaktrail_analysis::units::human_duration;
use leaktrail_analysis::units::{human_bytes, plural_s, signed_bytes};
use leaktrail_trend::{Assessment, RatePerHour, SeriesBasis, TrendReport};

use crate::document::{json, Doc};
use crate::numbers::{group_digits, signed_count};
use crate::{Format, RenderOptions};

/// Where a trend report comes from and how it was judged: the head of the report and of
/// its JSON envelope.
#[derive(Clone, Debug, Serialize)]
pub struct TrendContext {
    /// `store` (a watcher's store) or `snapshots` (a directory of snapshot files).
    pub source: String,
    /// The store or the directory.
    pub path: String,
    /// How the snapshots of a directory were put in time order (`null` for a store).
    pub order: Option<String>,
    /// When the report was made, ms since the Unix epoch.
    pub generated_at: i64,
    /// Growth per hour at or below which a series is not leaking, bytes.
    pub floor_per_hour: f64,
    /// Significance level of the trend test.
    pub alpha: f64,
}

#[derive(Serialize)]
struct TrendJson<'a> {
    #[serde(flatten)]
    context: &'a TrendContext,
    overall: Assessment,
    targets: &'a [TrendReport],
}

/// The worst assessment over `reports` (`insufficient` when there is none).
pub fn overall(reports: &[TrendReport]) -> Assessment {
    reports
        .iter()
        .map(|r| r.overall)
        .max()
        .unwrap_or(Assessment::Insufficient)
}

/// Renders the trend reports of one store or directory, one section per target.
pub fn render_trend(
    context: &TrendContext,
    reports: &[TrendReport],
    opts: RenderOptions,
) -> String {
    if opts.format == Format::Json {
        return json(
            "leaktrail.trend/1",
            &TrendJson {
                context,
                overall: overall(reports),
                targets: reports,
            },
        );
    }
    let mut d = Doc::new(opts);
    let md = opts.format == Format::Markdown;
    if md {
        d.line("## Memory trend\n");
    }
    let order = context
        .order
        .as_ref()
        .map(|o| format!(", in order of {o}"))
        .unwrap_or_default();
    d.line(&format!(
        "{} {}{order}; {} at {}; floor {}/h, alpha {}.",
        if context.source == "store" {
            "Store"
        } else {
            "Snapshots in"
        },
        context.path,
        match reports.len() {
            1 => "1 target".to_owned(),
            n => format!("{n} targets"),
        },
        utc_time(context.generated_at),
        human_bytes(context.floor_per_hour.max(0.0) as u64),
        context.alpha
    ));
    if reports.is_empty() {
        d.line("Nothing watched yet: the store has no target.");
    }
    for r in reports {
        target_section(&mut d, r);
    }
    d.out
}

fn assessment_cell(d: &Doc, a: Assessment) -> Cell {
    let c = Cell::new(a.label());
    if !d.opts.color {
        return c;
    }
    match a {
        Assessment::Leaking => c.fg(Color::Red),
        Assessment::Growing => c.fg(Color::Yellow),
        Assessment::Stable => c.fg(Color::Green),
        Assessment::Insufficient => c,
    }
}

/// `+1.2 MiB … +3.4 MiB`.
fn interval(r: &RatePerHour) -> String {
    format!(
        "{} … {}",
        signed_bytes(r.low as i64),
        signed_bytes(r.high as i64)
    )
}

/// A p-value to two figures; one below 1e-16 (0 when the tail underflows) as `< 1e-16`,
/// as the dashboard shows it.
fn p_value(p: f64) -> String {
    if p.is_finite() && p < 1e-16 {
        "< 1e-16".to_owned()
    } else if p.is_finite() {
        format!("{p:.1e}")
    } else {
        "-".to_owned()
    }
}

fn target_section(d: &mut Doc, r: &TrendReport) {
    let md = d.opts.format == Format::Markdown;
    if md {
        d.line(&format!("\n## {}\n", r.target));
    } else {
        d.line("");
    }
    d.emphasis(&r.sentence, r.overall == Assessment::Leaking);
    let mut facts = Vec::new();
    if let Some(i) = &r.incarnation {
        let mut s = format!("pid {} started {}", i.pid, utc_time(i.started_at));
        if let Some(end) = &i.end_reason {
            s.push_str(&format!(", ended ({end})"));
        }
        facts.push(s);
    }
    if let Some((a, b)) = r.window {
        facts.push(format!(
            "window {} ({} → {})",
            human_duration((b - a) as f64 / 1000.0),
            utc_time(a),
            utc_time(b)
        ));
    }
    facts.push(format!("{} snapshot{}", r.snapshots, plural_s(r.snapshots)));
    if r.restarts > 0 {
        facts.push(format!("{} restarts", r.restarts));
    }
    if md {
        d.line("");
    }
    d.line(&format!("{}.", facts.join("; ")));
    // Where it leaks, from the newest three censuses: the first thing to read at 3 a.m.
    let named = r
        .culprits
        .iter()
        .map(|c| (&c.sentence, &c.cluster.path))
        .chain(
            r.growing_places
                .iter()
                .map(|g| (&g.sentence, &g.place.path)),
        );
    for (sentence, path) in named.take(3) {
        if md {
            d.line(&format!("\n**Culprit:** {sentence}  \nPath: `{path}`"));
        } else {
            d.line(&format!("Culprit: {sentence}"));
            d.line(&format!("  path: {path}"));
        }
    }

    d.heading("Memory series (slope by Theil–Sen per hour, trend by Mann–Kendall)");
    if r.memory.is_empty() {
        d.line("No samples and no snapshots yet.");
    } else {
        let rows = r
            .memory
            .iter()
            .map(|m| {
                let oom = m.time_to_oom.as_ref().map_or("-".to_owned(), |t| {
                    // The heap's projection may run on another slope than the row's:
                    // the live heap's, from the snapshots' census totals.
                    let basis = if t.slope_from == leaktrail_trend::SlopeSource::LiveHeap {
                        format!(
                            ", live heap {}/h over {} snapshots",
                            human_bytes(t.slope_per_hour.max(0.0) as u64),
                            t.points
                        )
                    } else {
                        String::new()
                    };
                    format!(
                        "{} ({} – {}) to the {} of {}{basis}",
                        human_duration(t.seconds),
                        human_duration(t.seconds_early),
                        t.seconds_late.map_or("never".to_owned(), human_duration),
                        t.limit_kind.name(),
                        human_bytes(t.limit)
                    )
                });
                let mut assessment = m.assessment.label().to_owned();
                if m.saturating {
                    assessment.push_str(" (saturating)");
                }
                let mut cell = assessment_cell(d, m.assessment);
                if m.saturating {
                    cell = Cell::new(assessment);
                }
                vec![
                    Cell::new(m.series.name()),
                    Cell::new(human_bytes(m.current)),
                    Cell::new(signed_bytes(m.rate.slope as i64)),
                    Cell::new(interval(&m.rate)),
                    Cell::new(p_value(m.p_value)),
                    // The start-up part of the series is left out, and said so.
                    Cell::new({
                        let mut points = m.samples.to_string();
                        if m.warmup_samples > 0 {
                            points.push_str(&format!(" (+{} warm-up)", m.warmup_samples));
                        }
                        match m.basis {
                            SeriesBasis::Samples => {}
                            SeriesBasis::AfterGc => points.push_str(" after GC"),
                            SeriesBasis::SamplesNotCounted => points.push_str(" (not counted)"),
                        }
                        points
                    }),
                    cell,
                    Cell::new(oom),
                ]
            })
            .collect();
        d.table(
            &[
                "series",
                "current",
                "slope/h",
                "interval/h",
                "p",
                "points",
                "assessment",
                "time to OOM (range)",
            ],
            rows,
            1,
        );
    }

    // Classes arrive leaking first, then growing, then by growth.
    let shown: Vec<_> = r.classes.iter().take(d.opts.top).collect();
    d.heading(&format!(
        "Classes (top {} of {}, leaking and growing first)",
        shown.len(),
        r.classes.len()
    ));
    if shown.is_empty() {
        d.line("No snapshot census yet.");
    } else {
        let rows = shown
            .iter()
            .map(|c| {
                vec![
                    Cell::new(&c.class),
                    Cell::new(&c.family),
                    Cell::new(format!(
                        "{} → {}",
                        group_digits(c.count_first),
                        group_digits(c.count_last)
                    )),
                    Cell::new(format!(
                        "{} → {}",
                        human_bytes(c.size_first),
                        human_bytes(c.size_last)
                    )),
                    Cell::new(c.retained_last.map_or("-".to_owned(), human_bytes)),
                    Cell::new(signed_bytes(c.rate.slope as i64)),
                    Cell::new(interval(&c.rate)),
                    Cell::new(p_value(c.p_value)),
                    assessment_cell(d, c.assessment),
                ]
            })
            .collect();
        d.table(
            &[
                "class",
                "family",
                "instances",
                "self size",
                "retained (last)",
                "slope/h",
                "interval/h",
                "p",
                "assessment",
            ],
            rows,
            2,
        );
    }

    if !r.collection_groups.is_empty() {
        // One row per path shape: forty `events` arrays, one per session, are one finding.
        let shown: Vec<_> = r.collection_groups.iter().take(d.opts.top).collect();
        d.heading(&format!(
            "Collections whose entries changed, grouped by retainer path (top {} of {} groups, {} collections)",
            shown.len(),
            r.collection_groups.len(),
            r.collections.len()
        ));
        let rows = shown
            .iter()
            .map(|g| {
                let members = match (g.count, g.ids.first()) {
                    (1, Some(id)) => format!("{} @{id}", g.kind),
                    (n, _) => format!("{n} × {}", g.kind),
                };
                vec![
                    Cell::new(members),
                    Cell::new(&g.label),
                    Cell::new(&g.path),
                    Cell::new(format!(
                        "{} → {}",
                        group_digits(g.entries_first),
                        group_digits(g.entries_last)
                    )),
                    Cell::new(signed_count(g.entries_growth)),
                    Cell::new(human_bytes(g.retained_last)),
                    Cell::new(signed_count(g.entries_per_hour.round() as i64)),
                    Cell::new(match (g.count, g.growing) {
                        (1, _) => "-".to_owned(),
                        (n, k) if n == k => format!("all {n}"),
                        (n, k) => format!("{k} of {n}"),
                    }),
                    assessment_cell(d, g.assessment),
                ]
            })
            .collect();
        d.table(
            &[
                "collections",
                "held as",
                "retainer path (largest)",
                "entries",
                "growth",
                "retained (last)",
                "entries/h",
                "growing",
                "assessment",
            ],
            rows,
            3,
        );
    }

    if r.restarts > 0 || !r.endings.is_empty() {
        d.heading(&format!(
            "Restarts: {} (how each process ended, oldest first)",
            r.restarts
        ));
        for e in &r.endings {
            d.line(&format!("- {e}"));
        }
    }
}

/// Milliseconds since the Unix epoch as `2026-11-25 11:54:45 UTC`.
pub fn utc_time(ms: i64) -> String {
    let (date, (h, m, s)) = civil(ms);
    format!("{date} {h:02}:{m:02}:{s:02} UTC")
}

/// Milliseconds since the Unix epoch as `20261125T115445Z`, for file names.
pub fn utc_stamp(ms: i64) -> String {
    let (date, (h, m, s)) = civil(ms);
    format!("{}T{h:02}{m:02}{s:02}Z", date.replace('-', ""))
}

/// `(yyyy-mm-dd, (h, m, s))` of a Unix time in ms (Howard Hinnant's civil-from-days).
fn civil(ms: i64) -> (String, (i64, i64, i64)) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        (rem / 3600, rem / 60 % 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        // 2026-11-25 11:54:45 UTC.
        assert_eq!(utc_time(1_795_607_685_000), "2026-11-25 11:54:45 UTC");
        assert_eq!(utc_stamp(1_795_607_685_999), "20261125T115445Z");
        // A leap day.
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
