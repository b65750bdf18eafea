//! Reports saved by `POST /api/memory/trend/save`: named `trend-<UTC stamp>[-n].md` so that
//! names sort by time, written 0600 in a 0700 directory, the oldest beyond
//! [`KEPT_REPORTS`] removed.

use leaktrail_report::utc_stamp;
use leaktrail_store::{create_private_dir, now_ms};

use super::ApiError;

/// Reports `POST /api/memory/trend/save` keeps: each save removes the oldest it wrote
/// beyond these, so that a script saving on a schedule (or in a loop) cannot fill the
/// disk, as `watch --keep` does for snapshots. Files it did not write stay.
pub(super) const KEPT_REPORTS: usize = 100;

/// What a save wrote and removed.
pub(super) struct Saved {
    /// The file name written.
    pub(super) name: String,
    /// Its size.
    pub(super) bytes: usize,
    /// Older reports removed.
    pub(super) removed: Vec<String>,
}

/// A report name this server writes, `trend-<UTC stamp>[-n].md`, as its sort key: the
/// stamp (fixed width, so text order is time order), then `n` (1 when absent) for those
/// saved within the same second.
fn report_key(name: &str) -> Option<(&str, u32)> {
    let rest = name.strip_prefix("trend-")?.strip_suffix(".md")?;
    // `20261206T133719Z`
    let stamp = rest.get(..16)?;
    let b = stamp.as_bytes();
    let is_stamp =
        b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) && b[8] == b'T' && b[15] == b'Z';
    if !is_stamp {
        return None;
    }
    match &rest[16..] {
        "" => Some((stamp, 1)),
        more => {
            let n: u32 = more.strip_prefix('-')?.parse().ok()?;
            (n >= 2 && !more.starts_with("-0")).then_some((stamp, n))
        }
    }
}

/// The file name of the `n`th report saved at `stamp`.
fn report_name(stamp: &str, n: u32) -> String {
    if n == 1 {
        format!("trend-{stamp}.md")
    } else {
        format!("trend-{stamp}-{n}.md")
    }
}

/// The reports this server wrote in `dir`, oldest first.
fn saved_reports(dir: &std::path::Path) -> Result<Vec<String>, ApiError> {
    let listing = std::fs::read_dir(dir)
        .map_err(|e| ApiError::internal(format!("{}: {e}", dir.display())))?;
    let mut names: Vec<String> = listing
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| report_key(n).is_some())
        .collect();
    names.sort_by(|a, b| report_key(a).cmp(&report_key(b)));
    Ok(names)
}

/// Writes `text` to a new file `trend-<UTC time>[-n].md` in `dir` (created 0700), mode
/// 0600, then removes the oldest reports written here beyond [`KEPT_REPORTS`].
pub(super) fn save_report(dir: &std::path::Path, text: &str) -> Result<Saved, ApiError> {
    use std::io::Write;
    create_private_dir(dir)?;
    let stamp = utc_stamp(now_ms());
    // Numbered after those saved within this second, so that names keep time order (a
    // number freed by a removal is not used again).
    let mut n = saved_reports(dir)?
        .iter()
        .filter_map(|name| report_key(name))
        .filter(|(s, _)| *s == stamp)
        .map(|(_, n)| n + 1)
        .max()
        .unwrap_or(1);
    let mut written = None;
    // Another save at the same moment may take a name first: the next number then.
    for _ in 0..1000 {
        let name = report_name(&stamp, n);
        let path = dir.join(&name);
        match leaktrail_private_files::create_new_file(&path) {
            Ok(mut f) => {
                f.write_all(text.as_bytes())
                    .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
                written = Some(name);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(ApiError::internal(format!("{}: {e}", path.display()))),
        }
    }
    let name = written.ok_or_else(|| ApiError::internal("too many reports saved at once"))?;
    let mut removed = Vec::new();
    let reports = saved_reports(dir)?;
    let excess = reports.len().saturating_sub(KEPT_REPORTS);
    // Never the one just written, though a clock set back can make it sort first.
    for old in reports.into_iter().filter(|r| *r != name).take(excess) {
        match std::fs::remove_file(dir.join(&old)) {
            Ok(()) => removed.push(old),
            // Removed by a save at the same moment.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ApiError::internal(format!(
                    "{}: {e}",
                    dir.join(&old).display()
                )))
            }
        }
    }
    Ok(Saved {
        name,
        bytes: text.len(),
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_sort_by_time_then_number() {
        assert_eq!(
            report_key("trend-20261206T133719Z.md"),
            Some(("20261206T133719Z", 1))
        );
        assert_eq!(
            report_key("trend-20261206T133719Z-12.md"),
            Some(("20261206T133719Z", 12))
        );
        for not_ours in [
            "trend-notes.md",
            "trend-20261206T133719Z.txt",
            "trend-20261206T133719Z-1.md",
            "trend-20261206T133719Z-02.md",
            "trend-20261206T133719Z-x.md",
            "trend-2026120XT133719Z.md",
            "notes.md",
            "trend-.md",
        ] {
            assert_eq!(report_key(not_ours), None, "{not_ours}");
        }
        let mut names = vec![
            "trend-20261206T133720Z.md",
            "trend-20261206T133719Z-10.md",
            "trend-20261206T133719Z-2.md",
            "trend-20261206T133719Z.md",
        ];
        names.sort_by(|a, b| report_key(a).cmp(&report_key(b)));
        assert_eq!(
            names,
            [
                "trend-20261206T133719Z.md",
                "trend-20261206T133719Z-2.md",
                "trend-20261206T133719Z-10.md",
                "trend-20261206T133720Z.md",
            ]
        );
    }
}
