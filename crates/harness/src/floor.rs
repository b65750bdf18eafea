//! `--max-growth`: the practical floor, like `1KB/iter` or `10KB/s`; and plain sizes
//! (`200MB`), in powers of 1024.

use std::fmt;
use std::str::FromStr;

/// What a rate is per: an iteration of the workload or a second; also the axis a run is
/// sampled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Per {
    /// Per iteration of the workload.
    Iteration,
    /// Per second of wall time.
    Second,
}

impl Per {
    /// `iteration` or `s`, as rates are written: `256 B/iteration`.
    pub fn name(self) -> &'static str {
        match self {
            Per::Iteration => "iteration",
            Per::Second => "s",
        }
    }
}

impl fmt::Display for Per {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Per {
    /// As its name: the one spelling of it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Growth at or below this is not a leak, however steady.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrowthFloor {
    /// Bytes.
    pub bytes: f64,
    /// Per what.
    pub per: Per,
}

impl GrowthFloor {
    /// The default floor: 256 B an iteration (a leak of a small record per request shows
    /// in the objects, not the bytes), 10 KiB a second when sampling by time.
    pub fn default_per(per: Per) -> GrowthFloor {
        let bytes = match per {
            Per::Iteration => 256.0,
            Per::Second => 10.0 * 1024.0,
        };
        GrowthFloor { bytes, per }
    }
}

/// `512`, `512B`, `1.5KB`, `2KiB`, `200MB`, `1G` in bytes (K, M, G are powers of 1024);
/// `None` when it is not a size.
fn size_bytes(size: &str) -> Option<f64> {
    let size = size.trim();
    let digits = size
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(size.len());
    let value: f64 = size[..digits].parse().ok()?;
    let scale = match size[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "kib" | "k" => 1024.0,
        "mb" | "mib" | "m" => 1024.0 * 1024.0,
        "gb" | "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(value * scale)
}

/// A size in bytes, written like `200MB` or `1.5GiB` (powers of 1024).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<ByteSize, String> {
        size_bytes(s)
            .map(|b| ByteSize(b as u64))
            .ok_or_else(|| format!("{s:?}: expected a size, like 512KB, 200MB or 1.5GB"))
    }
}

impl FromStr for GrowthFloor {
    type Err = String;

    /// `512B/iter`, `1KB/iter`, `2KiB/iteration`, `10KB/s`, `1MB/min`.
    fn from_str(s: &str) -> Result<GrowthFloor, String> {
        let bad = || format!("{s:?}: expected a size per unit, like 1KB/iter or 10KB/s");
        let (size, unit) = s.split_once('/').ok_or_else(bad)?;
        let bytes = size_bytes(size).ok_or_else(bad)?;
        let (per, divisor) = match unit.trim().to_ascii_lowercase().as_str() {
            "iter" | "iteration" | "it" => (Per::Iteration, 1.0),
            "s" | "sec" | "second" => (Per::Second, 1.0),
            "min" | "minute" => (Per::Second, 60.0),
            "h" | "hour" => (Per::Second, 3600.0),
            _ => return Err(bad()),
        };
        Ok(GrowthFloor {
            bytes: bytes / divisor,
            per,
        })
    }
}

impl fmt::Display for GrowthFloor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} B/{}", self.bytes, self.per)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            "1KB/iter".parse(),
            Ok(GrowthFloor {
                bytes: 1024.0,
                per: Per::Iteration
            })
        );
        assert_eq!(
            "512B/iteration".parse(),
            Ok(GrowthFloor {
                bytes: 512.0,
                per: Per::Iteration
            })
        );
        assert_eq!(
            "10KB/s".parse(),
            Ok(GrowthFloor {
                bytes: 10240.0,
                per: Per::Second
            })
        );
        assert_eq!(
            "6MB/min".parse(),
            Ok(GrowthFloor {
                bytes: 6.0 * 1024.0 * 1024.0 / 60.0,
                per: Per::Second
            })
        );
        assert!("1KB".parse::<GrowthFloor>().is_err());
        assert!("1XB/s".parse::<GrowthFloor>().is_err());
        assert!("x/s".parse::<GrowthFloor>().is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!("200MB".parse(), Ok(ByteSize(200 << 20)));
        assert_eq!("1.5 GiB".parse(), Ok(ByteSize(3 << 29)));
        assert_eq!("512".parse(), Ok(ByteSize(512)));
        assert!("200XB".parse::<ByteSize>().is_err());
        assert!("MB".parse::<ByteSize>().is_err());
        assert!("-5MB".parse::<ByteSize>().is_err());
    }
}
