//! Human-readable byte sizes and durations, shared by sentences and tables.

/// The units of [`human_bytes`], each 1024 times the one before; the dashboard's chart
/// labels get this table from the server rather than keeping their own.
pub const BYTE_UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// `1.5 MiB`, `512 B`.
pub fn human_bytes(b: u64) -> String {
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < BYTE_UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", BYTE_UNITS[u])
    }
}

/// `+1.5 MiB`, `-20.0 KiB`, `0 B`.
pub fn signed_bytes(b: i64) -> String {
    match b {
        0 => "0 B".to_owned(),
        b if b > 0 => format!("+{}", human_bytes(b as u64)),
        b => format!("-{}", human_bytes(b.unsigned_abs())),
    }
}

/// Seconds as `20 ms`, `0.5 s`, `12 s`, `45 min`, `3 h 20 min`, `1.5 days`; `never` when
/// infinite.
pub fn human_duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "never".into();
    }
    let secs = secs.max(0.0);
    if secs > 0.0 && secs < 0.095 {
        return format!("{:.0} ms", (secs * 1000.0).max(1.0));
    }
    if secs < 9.95 {
        // A short wait reads better with its tenths: `0.5 s`, not `0 s`.
        return match format!("{secs:.1}") {
            t if t.ends_with(".0") => format!("{} s", &t[..t.len() - 2]),
            t => format!("{t} s"),
        };
    }
    let s = secs.round() as u64;
    // Minutes to the nearest: a 239.6 s window is 4 min, not 3.
    let m = (s + 30) / 60;
    match s {
        0..=119 => format!("{s} s"),
        120..=7169 => format!("{m} min"),
        7170..=172_799 => format!("{} h {} min", m / 60, m % 60),
        _ => format!("{:.1} days", s as f64 / 86400.0),
    }
}

/// `1,234,567`.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `""` for one, `"s"` for any other count: `format!("{n} file{}", plural_s(n))`.
pub fn plural_s<N: PartialEq + From<u8>>(n: N) -> &'static str {
    agree(n, "", "s")
}

/// `one` for a count of one, `many` for any other (zero included): the words that follow
/// the count, such as `process`/`processes`, `is`/`are`, `it`/`them`.
pub fn agree<'a, N: PartialEq + From<u8>>(n: N, one: &'a str, many: &'a str) -> &'a str {
    if n == N::from(1) {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_words() {
        assert_eq!(plural_s(1usize), "");
        assert_eq!(plural_s(0u64), "s");
        assert_eq!(plural_s(3u32), "s");
        assert_eq!(agree(1usize, "is", "are"), "is");
        assert_eq!(agree(2i64, "is", "are"), "are");
    }

    #[test]
    fn durations_read_at_every_scale() {
        assert_eq!(human_duration(0.0), "0 s");
        assert_eq!(human_duration(0.02), "20 ms");
        assert_eq!(human_duration(0.5), "0.5 s");
        assert_eq!(human_duration(2.0), "2 s");
        assert_eq!(human_duration(45.0), "45 s");
        assert_eq!(human_duration(239.6), "4 min");
        assert_eq!(human_duration(179.0), "3 min");
        assert_eq!(human_duration(7190.0), "2 h 0 min");
        assert_eq!(human_duration(7300.0), "2 h 2 min");
        assert_eq!(human_duration(f64::INFINITY), "never");
    }

    #[test]
    fn formats() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 20), "5.0 MiB");
        assert_eq!(signed_bytes(-2048), "-2.0 KiB");
        assert_eq!(signed_bytes(3 << 30), "+3.0 GiB");
    }
}
