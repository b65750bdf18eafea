//! Numbers as the text reports write them: digits grouped, signed counts, shares.

pub use leaktrail_analysis::units::group_digits;

/// A count with its sign (`+1,024`, `-3`, `0`).
pub(crate) fn signed_count(n: i64) -> String {
    if n > 0 {
        format!("+{}", group_digits(n as u64))
    } else if n < 0 {
        format!("-{}", group_digits(n.unsigned_abs()))
    } else {
        "0".to_owned()
    }
}

/// `part` as a share of `whole` (`12.5 %`; `-` when `whole` is 0).
pub(crate) fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}
