//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! Every value is a gauge (or, for restarts, a counter) computed at scrape time from the
//! store, so a registry of live metric objects would only be rebuilt per request: a small
//! writer that keeps each family's samples together under its `# HELP` and `# TYPE` lines,
//! and escapes label values, is all the format needs ([`Exposition`]). [`exposition`] writes
//! the page itself, family by family, from each target's latest sample and trend report;
//! `api.rs` only reads those from the store.

use std::fmt::Write;

use leaktrail_store::SampleRecord;
use leaktrail_trend::TrendReport;

use crate::BuildInfo;

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

/// The metrics page, family by family. Rates are per second, Prometheus's base unit
/// (`rate()` and `deriv()` answer in it), though reports say them per hour.
pub(crate) fn exposition(
    build: &BuildInfo,
    rows: &[(String, Option<SampleRecord>, bool, TrendReport)],
) -> String {
    let mut e = Exposition::new();
    e.family(
        "leaktrail_build_info",
        "gauge",
        "Always 1; the labels say which leaktrail build serves these metrics.",
    );
    let mut labels = vec![("version", build.version)];
    if let Some(commit) = build.commit {
        labels.push(("commit", commit));
    }
    e.sample("leaktrail_build_info", &labels, 1.0);
    type Latest = fn(&SampleRecord) -> Option<u64>;
    let latest: [(&str, &str, Latest); 5] = [
        (
            "leaktrail_heap_used_bytes",
            "V8 heap in use at the latest sample (Node targets).",
            |s| s.memory.heap_used,
        ),
        (
            "leaktrail_heap_total_bytes",
            "V8 heap reserved at the latest sample (Node targets).",
            |s| s.memory.heap_total,
        ),
        (
            "leaktrail_external_bytes",
            "Memory outside the V8 heap held by JS objects at the latest sample (Node targets).",
            |s| s.memory.external,
        ),
        (
            "leaktrail_rss_bytes",
            "Resident set size of the process tree at the latest sample.",
            |s| Some(s.memory.rss),
        ),
        (
            "leaktrail_threads",
            "Threads of the process tree at the latest sample.",
            |s| Some(s.memory.threads),
        ),
    ];
    for (name, help, get) in latest {
        e.family(name, "gauge", help);
        for (target, sample, _, _) in rows {
            if let Some(v) = sample.as_ref().and_then(get) {
                e.sample(name, &[("target", target)], v as f64);
            }
        }
    }
    e.family(
        "leaktrail_last_sample_timestamp_seconds",
        "gauge",
        "When the latest sample was taken, seconds since the Unix epoch.",
    );
    for (target, sample, _, _) in rows {
        if let Some(s) = sample {
            e.sample(
                "leaktrail_last_sample_timestamp_seconds",
                &[("target", target)],
                s.t as f64 / 1000.0,
            );
        }
    }
    e.family(
        "leaktrail_target_running",
        "gauge",
        "1 while the target's latest process runs, 0 after it ended.",
    );
    for (target, _, running, _) in rows {
        e.sample(
            "leaktrail_target_running",
            &[("target", target)],
            f64::from(u8::from(*running)),
        );
    }
    e.family(
        "leaktrail_memory_growth_bytes_per_second",
        "gauge",
        "Theil-Sen slope of a memory series of the latest incarnation, bytes per second.",
    );
    for (target, _, _, r) in rows {
        for m in &r.memory {
            e.sample(
                "leaktrail_memory_growth_bytes_per_second",
                &[("target", target), ("series", m.series.name())],
                m.rate.slope / 3600.0,
            );
        }
    }
    e.family(
        "leaktrail_memory_assessment_level",
        "gauge",
        "Assessment of a memory series: 0 stable or too little data, 1 growing, 2 leaking.",
    );
    for (target, _, _, r) in rows {
        for m in &r.memory {
            e.sample(
                "leaktrail_memory_assessment_level",
                &[("target", target), ("series", m.series.name())],
                f64::from(m.assessment.level()),
            );
        }
    }
    e.family(
        "leaktrail_assessment_level",
        "gauge",
        "Overall assessment of the target (worst of memory series and classes): 0 stable or too little data, 1 growing, 2 leaking.",
    );
    for (target, _, _, r) in rows {
        e.sample(
            "leaktrail_assessment_level",
            &[("target", target)],
            f64::from(r.overall.level()),
        );
    }
    e.family(
        "leaktrail_leaking_classes",
        "gauge",
        "Classes assessed as leaking across the latest incarnation's snapshots.",
    );
    for (target, _, _, r) in rows {
        let n = r
            .classes
            .iter()
            .filter(|c| c.assessment == leaktrail_trend::Assessment::Leaking)
            .count();
        e.sample("leaktrail_leaking_classes", &[("target", target)], n as f64);
    }
    e.family(
        "leaktrail_time_to_oom_seconds",
        "gauge",
        "Projected seconds until memory reaches its limit at the fitted slope (absent when not growing or no limit is known).",
    );
    for (target, _, _, r) in rows {
        if let Some(t) = &r.time_to_oom {
            e.sample(
                "leaktrail_time_to_oom_seconds",
                &[("target", target), ("limit", t.limit_kind.name())],
                t.seconds,
            );
        }
    }
    e.family(
        "leaktrail_snapshots",
        "gauge",
        "Snapshot censuses of the latest incarnation.",
    );
    for (target, _, _, r) in rows {
        e.sample(
            "leaktrail_snapshots",
            &[("target", target)],
            r.snapshots as f64,
        );
    }
    e.family(
        "leaktrail_restarts_total",
        "counter",
        "Restarts of the target: deaths (exit, signal, OOM kill) another process followed.",
    );
    for (target, _, _, r) in rows {
        e.sample(
            "leaktrail_restarts_total",
            &[("target", target)],
            r.restarts as f64,
        );
    }
    e.finish()
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
    use leaktrail_store::MemoryReading;

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

    /// The `GET /metrics` page of two targets, one leaking towards its V8 heap limit and
    /// one that ended without a sample, against its golden
    /// (`src/snapshots/metrics_page.snap`, named without the module so that it outlives
    /// moves; CONTRIBUTING.md).
    #[test]
    fn metrics_page() {
        use leaktrail_trend::{Assessment, ClassTrend, MemoryTrend, RatePerHour, TimeToOom};
        let rate = |slope: f64| RatePerHour {
            slope,
            low: slope * 0.8,
            high: slope * 1.2,
        };
        let oom = TimeToOom {
            limit_kind: leaktrail_trend::MemoryLimit::V8Heap,
            limit: 4 << 30,
            current: 96 << 20,
            seconds: 7200.5,
            seconds_early: 6000.0,
            seconds_late: Some(9000.0),
            slope_from: leaktrail_trend::SlopeSource::LiveHeap,
            points: 12,
            slope_per_hour: 36.0 * 1024.0 * 1024.0,
        };
        let memory = |series: leaktrail_trend::MemorySeries, slope: f64, assessment: Assessment| {
            MemoryTrend {
                series,
                samples: 240,
                warmup_samples: 0,
                basis: leaktrail_trend::SeriesBasis::Samples,
                current: 96 << 20,
                rate: rate(slope),
                p_value: 0.001,
                saturating: false,
                assessment,
                time_to_oom: None,
            }
        };
        let leaking = TrendReport {
            target: "api \"eu\"\\1".to_owned(),
            incarnation: None,
            restarts: 2,
            endings: vec!["exited 1".to_owned(), "oom-kill".to_owned()],
            snapshots: 12,
            window: Some((1_796_000_000_000, 1_796_003_600_000)),
            overall: Assessment::Leaking,
            sentence: "Leaking.".to_owned(),
            time_to_oom: Some(oom),
            memory: vec![
                memory(
                    leaktrail_trend::MemorySeries::HeapUsed,
                    36.0 * 1024.0 * 1024.0,
                    Assessment::Leaking,
                ),
                memory(
                    leaktrail_trend::MemorySeries::Rss,
                    1800.0,
                    Assessment::Growing,
                ),
            ],
            classes: vec![ClassTrend {
                class: "StreamEntry".to_owned(),
                family: "objects".to_owned(),
                count_first: 100,
                count_last: 5000,
                size_first: 4800,
                size_last: 240_000,
                retained_last: Some(40 << 20),
                rate: rate(235_200.0),
                p_value: 0.0001,
                assessment: Assessment::Leaking,
            }],
            collections: Vec::new(),
            collection_groups: Vec::new(),
            culprits: Vec::new(),
            growing_places: Vec::new(),
        };
        let ended = TrendReport {
            target: "worker".to_owned(),
            incarnation: None,
            restarts: 0,
            endings: Vec::new(),
            snapshots: 0,
            window: None,
            overall: Assessment::Insufficient,
            sentence: "Not enough data yet.".to_owned(),
            time_to_oom: None,
            memory: Vec::new(),
            classes: Vec::new(),
            collections: Vec::new(),
            collection_groups: Vec::new(),
            culprits: Vec::new(),
            growing_places: Vec::new(),
        };
        let sample = SampleRecord {
            incarnation_id: 3,
            t: 1_796_003_600_250,
            memory: MemoryReading {
                rss: 150 << 20,
                anon: 120 << 20,
                pss: None,
                threads: 11,
                heap_used: Some(96 << 20),
                heap_total: Some(128 << 20),
                external: Some(3 << 20),
            },
            in_snapshot: false,
        };
        let rows = vec![
            (leaking.target.clone(), Some(sample), true, leaking),
            (ended.target.clone(), None, false, ended),
        ];
        let build = BuildInfo {
            version: "1.2.3",
            commit: Some("0123abc"),
        };
        insta::with_settings!({ prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("metrics_page", exposition(&build, &rows));
        });
    }
}
