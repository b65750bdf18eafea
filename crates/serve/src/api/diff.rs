//! `GET /api/memory/diff-analysis`: the census diff ([`CensusDiff`]) of two stored
//! snapshots — the two ids given, or the oldest and newest of each target's latest
//! incarnation — with what makes a pair doubtful.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use leaktrail_analysis::CensusDiff;
use leaktrail_store::Store;

use super::params::{Params, RawQuery};
use super::{index_of, with_store, ApiError, ApiResult, AppState, Listing, SnapshotEntry};

/// Classes per diff when `top` is not given.
const DEFAULT_TOP: i64 = 50;

/// One diff of `diff-analysis`.
#[derive(Serialize)]
struct DiffEntry {
    target: String,
    before: SnapshotEntry,
    after: SnapshotEntry,
    seconds: f64,
    /// What makes this pair a doubtful leak comparison (empty when none).
    caveats: Vec<String>,
    #[serde(flatten)]
    diff: CensusDiff,
    classes_changed: usize,
}

/// Why a difference between `before` and `after` may not measure a leak: the ids of
/// `?base=&target=` are free, and a wrong pair still gives plausible numbers.
fn pair_caveats(before: &SnapshotEntry, after: &SnapshotEntry) -> Vec<String> {
    let mut caveats = Vec::new();
    if before.target != after.target {
        caveats.push(format!(
            "base is a snapshot of {:?} and target of {:?}: the difference compares two services",
            before.target, after.target
        ));
    } else if before.incarnation_id != after.incarnation_id {
        caveats.push(
            "base and target are of different processes (a restart between them starts a new heap)"
                .to_owned(),
        );
    }
    if before.t > after.t {
        caveats.push("base was taken after target: the deltas read backwards".to_owned());
    }
    caveats
}

/// The diff of two index entries' censuses, its classes cut to the `top` largest changes.
fn diff_entry(
    store: &Store,
    before: &SnapshotEntry,
    after: &SnapshotEntry,
    top: usize,
) -> Result<DiffEntry, ApiError> {
    let census = |e: &SnapshotEntry| -> Result<_, ApiError> {
        let rec = store
            .snapshot(e.id)?
            .ok_or_else(|| ApiError::not_found(format!("no snapshot {}", e.id)))?;
        Ok(store.census(&rec)?)
    };
    let mut diff = CensusDiff::between(&census(before)?, &census(after)?);
    let changed = diff.classes.len();
    diff.classes.truncate(top);
    Ok(DiffEntry {
        target: after.target.clone(),
        before: before.clone(),
        after: after.clone(),
        seconds: (after.t - before.t) as f64 / 1000.0,
        caveats: pair_caveats(before, after),
        diff,
        classes_changed: changed,
    })
}

/// The route: `?base=ID&target=ID` or neither, `&top=N` classes per diff.
pub(super) async fn diff_analysis(State(state): State<AppState>, query: RawQuery) -> ApiResult {
    let params = Params::parse(query, &["base", "target", "top"])?;
    let base = params.int("base", 1, i64::MAX)?;
    let target = params.int("target", 1, i64::MAX)?;
    let top = params.int("top", 1, 100_000)?.unwrap_or(DEFAULT_TOP) as usize;
    if base.is_some() != target.is_some() {
        return Err(ApiError::bad_request(
            "give both base and target (snapshot ids from /api/memory/snapshots), or neither",
        ));
    }
    let diffs = with_store(&state, move |_, store| {
        let targets = store.targets()?;
        let mut index = Vec::new();
        for t in &targets {
            index.push(index_of(store, t)?);
        }
        let find = |id: i64| {
            index
                .iter()
                .flatten()
                .find(|e| e.id == id)
                .ok_or_else(|| ApiError::not_found(format!("no snapshot {id} in the store")))
        };
        let mut diffs = Vec::new();
        if let (Some(b), Some(t)) = (base, target) {
            diffs.push(diff_entry(store, find(b)?, find(t)?, top)?);
            return Ok(diffs);
        }
        // Oldest vs newest snapshot of each target's latest incarnation (a restart starts
        // a new heap: comparing across it says nothing about a leak).
        for list in &index {
            let Some(latest) = list.iter().map(|e| e.incarnation_id).max() else {
                continue;
            };
            let recent: Vec<&SnapshotEntry> =
                list.iter().filter(|e| e.incarnation_id == latest).collect();
            if let (Some(a), Some(b)) = (recent.first(), recent.last()) {
                if recent.len() >= 2 {
                    diffs.push(diff_entry(store, a, b, top)?);
                }
            }
        }
        Ok(diffs)
    })
    .await?;
    Ok(Json(Listing::new("leaktrail.diff-analysis/1", "diffs", &diffs)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, target: &str, incarnation_id: i64, t: i64) -> SnapshotEntry {
        SnapshotEntry {
            id,
            target: target.to_owned(),
            incarnation_id,
            pid: None,
            t,
            file: String::new(),
            file_size: 0,
            file_on_disk: false,
            file_deleted_at: None,
            node_count: 0,
            edge_count: 0,
            total_self_size: 0,
            reason: "schedule".to_owned(),
        }
    }

    #[test]
    fn doubtful_pairs_say_why() {
        let a = entry(1, "api", 1, 1_000);
        assert!(pair_caveats(&a, &entry(2, "api", 1, 2_000)).is_empty());
        let other_service = pair_caveats(&a, &entry(3, "worker", 2, 2_000));
        assert_eq!(other_service.len(), 1);
        assert!(
            other_service[0].contains("two services"),
            "{other_service:?}"
        );
        let restarted = pair_caveats(&a, &entry(4, "api", 2, 2_000));
        assert_eq!(restarted.len(), 1);
        assert!(restarted[0].contains("restart"), "{restarted:?}");
        let backwards = pair_caveats(&entry(4, "api", 2, 2_000), &a);
        assert_eq!(backwards.len(), 2, "{backwards:?}");
    }
}
