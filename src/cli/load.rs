//! Loading snapshots with a progress bar.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use leaktrail_snapshot::{EdgeFilter, HeapSnapshot, ParseOptions};

/// Files above this size get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 100 << 20;

/// Parses the snapshot at `path`, keeping the edges `edge_filter` accepts (all when
/// `None`), showing progress on stderr for large files.
pub fn snapshot(
    path: &Path,
    progress: bool,
    edge_filter: Option<EdgeFilter>,
) -> anyhow::Result<HeapSnapshot> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bar = if progress && size >= PROGRESS_MIN_BYTES {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(format!("parsing {}", path.display()));
        bar
    } else {
        ProgressBar::hidden()
    };
    let tick = |bytes: u64| bar.set_position(bytes);
    let options = ParseOptions {
        progress: Some(&tick),
        edge_filter,
        ..Default::default()
    };
    let snap = HeapSnapshot::open(path, &options);
    bar.finish_and_clear();
    Ok(snap?)
}
