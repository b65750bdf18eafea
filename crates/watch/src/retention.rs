//! What the store keeps on disk: raw snapshot files within the `keep` and `max_disk`
//! budget (oldest deleted first), and no raw file without a census for long. Censuses are
//! never deleted.

use std::path::Path;
use std::time::Duration;

use leaktrail_store::{now_ms, Store};

use crate::{WatchConfig, WatchError, WatchEvent};

/// Age from which a raw snapshot file the index does not know is a leftover: a watcher
/// killed while it wrote or parsed the file. Younger ones may be another watcher's of the
/// same store, still in flight.
const STRAY_AFTER: Duration = Duration::from_secs(3600);

/// Deletes the oldest raw snapshot files until at most `keep` files and `max_disk` bytes
/// remain. Censuses stay.
pub(crate) fn enforce_budget(
    store: &mut Store,
    config: &WatchConfig,
    on_event: &mut impl FnMut(&WatchEvent),
) -> Result<(), WatchError> {
    let on_disk = store.snapshots_on_disk()?;
    let mut count = on_disk.len();
    let mut bytes: u64 = on_disk.iter().map(|s| s.file_size.max(0) as u64).sum();
    for s in on_disk {
        let over_count = config.keep.is_some_and(|k| count > k);
        let over_bytes = config.max_disk.is_some_and(|m| bytes > m);
        if !over_count && !over_bytes {
            break;
        }
        let path: &Path = &store.snapshots_dir().join(&s.file);
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                on_event(&WatchEvent::Warning(format!(
                    "cannot delete {}: {e}",
                    path.display()
                )));
                continue;
            }
        }
        store.mark_file_deleted(s.id, now_ms())?;
        count -= 1;
        bytes = bytes.saturating_sub(s.file_size.max(0) as u64);
        on_event(&WatchEvent::FileDeleted(s.file));
    }
    remove_stray_files(store, on_event)
}

/// Deletes raw snapshot files that no census indexes and that have not changed for
/// [`STRAY_AFTER`]: written by a watcher killed before their census was stored, they would
/// sit outside the disk budget for good, with the heap's strings in them.
pub(crate) fn remove_stray_files(
    store: &Store,
    on_event: &mut impl FnMut(&WatchEvent),
) -> Result<(), WatchError> {
    let Ok(entries) = std::fs::read_dir(store.snapshots_dir()) else {
        return Ok(());
    };
    let indexed: std::collections::HashSet<String> = store
        .snapshots_on_disk()?
        .into_iter()
        .map(|s| s.file)
        .collect();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".heapsnapshot") || indexed.contains(&name) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= STRAY_AFTER);
        if old && std::fs::remove_file(entry.path()).is_ok() {
            on_event(&WatchEvent::Warning(format!(
                "deleted {}: a raw snapshot without a census (its watcher was killed)",
                entry.path().display()
            )));
        }
    }
    Ok(())
}
