//! Durations on the command line: `200ms`, `1s`, `1.5s`, `2m`, `1h`, or plain seconds.

use std::time::Duration;

/// Parses `200ms`, `1s`, `1.5s`, `2m` (`min`), `1h`, or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let bad = || format!("{s:?}: expected a duration, like 200ms, 1s, 1.5s, 2m or 1h");
    let value: f64 = t[..digits].parse().map_err(|_| bad())?;
    let seconds = match t[digits..].trim() {
        "" | "s" | "sec" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(bad()),
    };
    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err(format!("{s:?}: must be more than zero"));
    }
    // `from_secs_f64` panics beyond what a Duration holds (about 584 billion years).
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{s:?}: too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("").is_err());
        // Finite, yet more seconds than a Duration holds: an error, not a panic.
        let huge = parse_duration("99999999999999999999999h");
        assert!(huge.is_err_and(|e| e.contains("99999999999999999999999h")));
    }
}
