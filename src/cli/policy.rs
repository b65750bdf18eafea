//! The trend policy's flags, shared by `trend`, `serve` and `watch --serve`: `--floor`
//! (a growth per unit of time) and `--alpha`.

use leaktrail_harness::{GrowthFloor, Per};
use leaktrail_trend::TrendPolicy;

/// What `--floor` of `trend`, `serve` and `watch --serve` takes, said by its errors.
const FLOOR_TAKES: &str =
    "expected a growth per hour, minute or second, like 1MB/h, 64KB/min or 10KB/s";

/// Parses `--floor` of `trend`, `serve` and `watch --serve`: a growth per unit of time.
/// The floor type also takes a growth per iteration (`run --max-growth 1KB/iter`), which a
/// watched service does not have: it is refused here, and the suggestion names only what
/// these commands take.
pub fn parse_floor(s: &str) -> Result<GrowthFloor, String> {
    match s.parse::<GrowthFloor>() {
        Ok(floor) if floor.per == Per::Second => Ok(floor),
        Ok(_) => Err(format!(
            "{s:?}: a growth per iteration, which only `run` counts; {FLOOR_TAKES}"
        )),
        Err(_) => Err(format!("{s:?}: {FLOOR_TAKES}")),
    }
}

/// The trend policy from the flags.
pub fn policy(floor: Option<GrowthFloor>, alpha: f64) -> anyhow::Result<TrendPolicy> {
    if !(alpha > 0.0 && alpha < 1.0) {
        anyhow::bail!("--alpha {alpha}: expected a significance level between 0 and 1");
    }
    let mut policy = TrendPolicy {
        alpha,
        ..TrendPolicy::default()
    };
    if let Some(f) = floor {
        // `parse_floor` lets no other through; a caller building the floor itself might.
        if f.per != Per::Second {
            anyhow::bail!("--floor {f}: {FLOOR_TAKES}");
        }
        policy.floor_per_hour = f.bytes * 3600.0;
    }
    Ok(policy)
}
