//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! Every value is a gauge (or, for restarts, a counter) computed at scrape time from the
//! store, so a registry of live metric objects would only be rebuilt per request: a small
//! writer that keeps each family's samples together under its `# HELP` and `# TYPE` lines,
//! and escapes label values, is all the format needs.

use std::fmt::Write;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metrics page being written.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// An empty page.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a metric family: `kind` is `gauge` or `counter`.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', r"\\").replace('\n', r"\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let v = v
                    .replace('\\', r"\\")
                    .replace('"', "\\\"")
                    .replace('\n', r"\n");
                let _ = write!(self.out, "{k}=\"{v}\"");
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&number(value));
        self.out.push('\n');
    }

    /// The page.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A value as the format writes it (`NaN`, `+Inf`, `-Inf`, or a plain number).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_and_escapes() {
        let mut e = Exposition::new();
        e.family("leaktrail_rss_bytes", "gauge", "RSS.\nSecond line \\");
        e.sample("leaktrail_rss_bytes", &[("target", "a\"b\\c\nd")], 1024.0);
        e.sample("leaktrail_rss_bytes", &[], f64::INFINITY);
        e.sample("leaktrail_rss_bytes", &[("x", "1"), ("y", "2")], 0.25);
        assert_eq!(
            e.finish(),
            "# HELP leaktrail_rss_bytes RSS.\\nSecond line \\\\\n# TYPE leaktrail_rss_bytes gauge\n\
             leaktrail_rss_bytes{target=\"a\\\"b\\\\c\\nd\"} 1024\nleaktrail_rss_bytes +Inf\n\
             leaktrail_rss_bytes{x=\"1\",y=\"2\"} 0.25\n"
        );
    }
}
