//! The SVG chart of a `run` report: the decided series, one dot per sample, with labelled
//! axes and grid lines, the warm-up shaded, and the fitted Theil–Sen line over the part the
//! verdict rests on. Plain SVG, no script: it renders anywhere, offline.

use std::fmt::Write;

use leaktrail_analysis::units::signed_bytes;

use crate::markup::escape;

/// What the chart shows.
pub(crate) struct SeriesChart<'a> {
    /// Sample positions (iterations or seconds) and values (bytes).
    pub points: &'a [(f64, f64)],
    /// The series' name in the legend (`heap + external`, `RSS`).
    pub name: &'a str,
    /// What the values are (`heap + external after a forced GC`).
    pub y_title: &'a str,
    /// What the positions are (`iteration`, `seconds`).
    pub x_title: &'a str,
    /// Samples dropped as warm-up (the first ones).
    pub warmup: usize,
    /// The fitted line over the steady part: intercept and slope (bytes per x unit).
    pub fit: Option<(f64, f64)>,
    /// The slope's unit, for the legend (`iteration`, `s`).
    pub per: &'a str,
    /// A second series drawn as dots only (PSS beside RSS, the points after V8's own major
    /// GCs beside the forced samples), with its name.
    pub beside: Option<(&'a str, &'a [(f64, f64)])>,
}

const W: f64 = 760.0;
const H: f64 = 340.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;

/// Up to about `n` round tick values covering `lo..=hi`: steps of 1, 2 or 5 times a
/// power of ten (of `base`-unit multiples for bytes).
fn ticks(lo: f64, hi: f64, n: usize, unit: f64) -> Vec<f64> {
    let span = (hi - lo).max(unit * 1e-9).max(f64::MIN_POSITIVE);
    let raw = span / unit / n as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
        * unit;
    let first = (lo / step).ceil() * step;
    (0..=n * 3)
        .map(|i| first + i as f64 * step)
        .take_while(|v| *v <= hi + step * 1e-9)
        .collect()
}

/// The binary unit labels of byte ticks use, and its name.
fn byte_unit(max: f64) -> (f64, &'static str) {
    let mut unit = 1.0;
    for name in ["B", "KiB", "MiB", "GiB"] {
        if max < unit * 1024.0 {
            return (unit, name);
        }
        unit *= 1024.0;
    }
    (unit, "TiB")
}

/// A tick label: the value in `unit`, with as many decimals as the step needs.
fn label(v: f64, step: f64, unit: f64, name: &str) -> String {
    // Enough decimals for the step (0.1 → 1, 0.05 → 2), robust to 0.09999….
    let decimals = (-(step / unit).log10() - 1e-6).ceil().max(0.0) as usize;
    format!("{:.*} {name}", decimals, v / unit)
}

impl SeriesChart<'_> {
    /// The `<svg>` element.
    pub(crate) fn svg(&self) -> String {
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{}" font-family="system-ui,sans-serif" font-size="11">"#,
            escape(self.y_title)
        );
        if self.points.is_empty() {
            svg.push_str(r##"<text x="20" y="40" fill="#666">No samples.</text></svg>"##);
            return svg;
        }
        let beside = self.beside.map_or(&[][..], |b| b.1);
        let (mut x0, mut x1) = self
            .points
            .iter()
            .chain(beside)
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (mut y0, mut y1) = self
            .points
            .iter()
            .chain(beside)
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        // Iterations and seconds count from zero: start the axis there unless the samples
        // begin far from it.
        if x0 > 0.0 && x0 < 0.2 * x1 {
            x0 = 0.0;
        }
        // A little room above and below, never below zero.
        let margin = ((y1 - y0) * 0.08).max(1024.0);
        y0 = (y0 - margin).max(0.0);
        y1 += margin;
        let (unit, unit_name) = byte_unit(y1);
        let yt = ticks(y0, y1, 5, unit);
        if let (Some(&a), Some(&b)) = (yt.first(), yt.last()) {
            y0 = y0.min(a);
            y1 = y1.max(b);
        }
        let xt = ticks(x0, x1, 6, 1.0);
        if let Some(&a) = xt.first() {
            x0 = x0.min(a);
        }
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0).max(1.0) * ph;
        // Warm-up, shaded.
        if self.warmup > 0 {
            if let Some(&(cut, _)) = self.points.get(self.warmup) {
                let _ = write!(
                    svg,
                    r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{ph}" fill="#f1f1f1"/><text x="{:.1}" y="{:.1}" fill="#777">warm-up ({} samples)</text>"##,
                    sx(cut) - LEFT,
                    LEFT + 4.0,
                    TOP + 14.0,
                    self.warmup
                );
            }
        }
        // Grid and ticks.
        let step_y = yt.get(1).zip(yt.first()).map_or(unit, |(b, a)| b - a);
        for &v in &yt {
            let y = sy(v);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{}</text>"##,
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                label(v, step_y, unit, unit_name)
            );
        }
        for &v in &xt {
            let x = sx(v);
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#eeeeee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##,
                TOP + ph,
                TOP + ph + 16.0,
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            );
        }
        let _ = write!(
            svg,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#222">{}</text><text x="14" y="{:.1}" text-anchor="middle" fill="#222" transform="rotate(-90 14 {:.1})">{}</text>"##,
            LEFT + pw / 2.0,
            H - 8.0,
            escape(self.x_title),
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            escape(self.y_title)
        );
        // The series: a thin line through the samples, a dot on each.
        let line: Vec<String> = self
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            svg,
            r##"<polyline fill="none" stroke="#9ecae1" stroke-width="1" points="{}"/><g fill="#1f77b4" class="samples">"##,
            line.join(" ")
        );
        for (i, &(x, y)) in self.points.iter().enumerate() {
            let fill = if i < self.warmup {
                "#9b9b9b"
            } else {
                "#1f77b4"
            };
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="2.6" fill="{fill}"/>"##,
                sx(x),
                sy(y)
            );
        }
        svg.push_str("</g>");
        let mut legend = vec![("#1f77b4", self.name.to_owned(), false)];
        if let Some((name, points)) = self.beside {
            svg.push_str(r#"<g class="beside">"#);
            for &(x, y) in points {
                let _ = write!(
                    svg,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="2.6" fill="#ff7f0e"/>"##,
                    sx(x),
                    sy(y)
                );
            }
            svg.push_str("</g>");
            legend.push(("#ff7f0e", name.to_owned(), false));
        }
        // The fit over the steady part.
        if let (Some((intercept, slope)), Some(&(from, _))) =
            (self.fit, self.points.get(self.warmup))
        {
            let to = self.points.last().map_or(from, |p| p.0);
            let at = |x: f64| (intercept + slope * x).clamp(y0, y1);
            let _ = write!(
                svg,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#d62728" stroke-width="2" class="fit"/>"##,
                sx(from),
                sy(at(from)),
                sx(to),
                sy(at(to))
            );
            legend.push((
                "#d62728",
                format!(
                    "Theil–Sen slope {}/{}",
                    signed_bytes(slope as i64),
                    self.per
                ),
                true,
            ));
        }
        let mut lx = LEFT;
        for (colour, text, is_line) in legend {
            if is_line {
                let _ = write!(
                    svg,
                    r##"<line x1="{lx:.1}" x2="{:.1}" y1="16" y2="16" stroke="{colour}" stroke-width="2"/>"##,
                    lx + 18.0
                );
            } else {
                let _ = write!(
                    svg,
                    r##"<circle cx="{:.1}" cy="16" r="3" fill="{colour}"/>"##,
                    lx + 9.0
                );
            }
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="20" fill="#222">{}</text>"##,
                lx + 24.0,
                escape(&text)
            );
            lx += 36.0 + 6.5 * text.chars().count() as f64;
        }
        svg.push_str("</svg>");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_ticks() {
        assert_eq!(
            ticks(0.0, 2000.0, 6, 1.0),
            vec![0.0, 500.0, 1000.0, 1500.0, 2000.0]
        );
        assert_eq!(ticks(25.0, 2000.0, 6, 1.0)[0], 500.0);
        let mib = 1024.0 * 1024.0;
        let t = ticks(4.6 * mib, 15.5 * mib, 5, mib);
        assert_eq!(t, vec![5.0 * mib, 10.0 * mib, 15.0 * mib]);
        assert_eq!(byte_unit(15.5 * mib), (mib, "MiB"));
        assert_eq!(label(2.5 * mib, 0.5 * mib, mib, "MiB"), "2.5 MiB");
        assert_eq!(label(10.0 * mib, 5.0 * mib, mib, "MiB"), "10 MiB");
        assert_eq!(label(4.6 * mib, 0.099_999_9 * mib, mib, "MiB"), "4.6 MiB");
        assert_eq!(label(4.65 * mib, 0.05 * mib, mib, "MiB"), "4.65 MiB");
    }

    #[test]
    fn a_dot_per_sample_and_the_fit() {
        let points: Vec<(f64, f64)> = (0..20)
            .map(|i| (i as f64 * 100.0, 4e6 + i as f64 * 5e4))
            .collect();
        let svg = SeriesChart {
            points: &points,
            name: "heap",
            y_title: "heap",
            x_title: "iteration",
            warmup: 3,
            fit: Some((4e6, 500.0)),
            per: "iteration",
            beside: None,
        }
        .svg();
        assert_eq!(
            svg.matches("<circle").count(),
            20 + 1,
            "samples and the legend"
        );
        assert!(svg.contains("class=\"fit\"") && svg.contains("warm-up (3 samples)"));
        assert!(svg.contains(">iteration</text>") && svg.contains("MiB</text>"));
    }
}
