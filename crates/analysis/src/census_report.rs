//! The `leaks` report made of censuses ([`LeakReport::of_censuses`]): the culprit of a run
//! whose snapshots were never written to disk (`run --no-raw-snapshots`).
//!
//! Nothing is found anew: the leak roots and their clusters are those the newest census
//! kept ([`CensusLeaks`], found against its [`crate::LeakWindow`]), their growth test is
//! [`CensusLeaks::culprits`], and growing objects are [`growing_places`] — what `watch`
//! and `trend` name culprits with. What a census does not keep is said as such: paths
//! carry edge names but not the objects along them, timers and listeners are not compared,
//! collections are not followed, and clusters under the noise floor are not kept unless
//! they are many objects, for the in-step test (so a run with unexplained leak roots is
//! never called "nothing grew").

use crate::census::SnapshotCensus;
use crate::census_leaks::CensusLeaks;
use crate::cluster_growth::ClusterGrowth;
use crate::growing::{growing_places, GrowingObject};
use crate::heap::{ObjectView, StepView};
use crate::leaks::{FamilySizes, LeakCluster, LeakReport};
use crate::units::{group_digits as group, human_bytes};
use crate::Family;

impl LeakReport {
    /// The leaks report of the censuses of one process's snapshots, oldest first; the
    /// newest must have been taken with a window naming two of the others (else `None`).
    /// At most `top` clusters and growing objects are kept.
    pub fn of_censuses(censuses: &[&SnapshotCensus], top: usize) -> Option<LeakReport> {
        let (last, _) = censuses.split_last()?;
        let leaks: &CensusLeaks = last.leaks.as_ref()?;
        let named = |name: &str| censuses.iter().find(|c| c.info.path == name);
        let (base, target) = (named(&leaks.window.base)?, named(&leaks.window.target)?);
        let count_in = |c: &SnapshotCensus, class: &str| {
            c.classes.iter().find(|s| s.class == class).map(|s| s.count)
        };
        let counts = |class: &str| [count_in(base, class), count_in(target, class)];
        let culprits = leaks.culprits(counts);
        // The clusters kept that are not culprits: their class did not rise, or it rose
        // but they are under the byte floor without growing in step ("small"), as `leaks`
        // counts them.
        let (mut not_growing, mut small) = (0u64, 0u64);
        for c in &leaks.clusters {
            match leaks.growth_of(c, counts(&c.class)) {
                ClusterGrowth::Culprit => {}
                ClusterGrowth::Small => small += 1,
                ClusterGrowth::NotGrowing => not_growing += 1,
            }
        }
        let clusters: Vec<LeakCluster> = culprits
            .into_iter()
            .take(top)
            .map(|c| {
                let path = steps_of(&c.cluster.path, true, c.cluster.example_id);
                LeakCluster {
                    class: c.cluster.class.clone(),
                    count: c.cluster.count,
                    retained_size: c.cluster.retained_size,
                    holder: c.cluster.holder.clone(),
                    class_counts: c.class_counts.iter().map(|n| n.unwrap_or(0)).collect(),
                    sentence: c.sentence,
                    example: path.last().map_or_else(
                        || object(&c.cluster.class, c.cluster.example_id),
                        |s| s.object.clone(),
                    ),
                    path,
                    holding: None,
                }
            })
            .collect();
        let window = [*base, *target, *last];
        let growing: Vec<GrowingObject> =
            growing_places(window.map(|c| c.places.as_slice()), leaks.min_cluster_bytes)
                .into_iter()
                .take(top)
                .map(|g| {
                    let mut path = steps_of(&g.place.path, false, 0);
                    if let Some(step) = path.last_mut() {
                        step.object.class = g.place.class.clone();
                    }
                    GrowingObject {
                        class: g.place.class.clone(),
                        object: path
                            .last()
                            .map_or_else(|| object(&g.place.class, 0), |s| s.object.clone()),
                        sizes: g.sizes.to_vec(),
                        holder: g.place.label.clone(),
                        path,
                        sentence: g.sentence,
                    }
                })
                .collect();
        // Roots outside the clusters kept were in clusters under the noise floor, or past
        // the ones kept: whether their classes grew is unknown, so they count as "small".
        let kept_roots: u64 = leaks.clusters.iter().map(|c| c.count).sum();
        small += u64::from(leaks.leak_roots > kept_roots);
        let summary = match (clusters.first(), growing.first()) {
            (Some(c), _) => format!("Leak: {}", c.sentence),
            (None, Some(g)) => format!("Leak: {}", g.sentence),
            (None, None) if leaks.leak_roots == 0 => "No leak: nothing allocated between the first snapshots is still alive in the last, and no object grew in every interval.".to_owned(),
            (None, None) => format!(
                "No leak: {} objects allocated after the first snapshot are still alive ({} retained), but none is of a class that grew in every interval in a cluster of {} or more — one-time allocations, or a cache that filled and stopped.",
                group(leaks.leak_roots),
                human_bytes(leaks.leak_roots_retained),
                human_bytes(leaks.min_cluster_bytes)
            ),
        };
        Some(LeakReport {
            snapshots: censuses.iter().map(|c| c.info.clone()).collect(),
            families: family_sizes(censuses),
            leak_roots: leaks.leak_roots,
            leak_roots_retained: leaks.leak_roots_retained,
            dismissed_clusters: not_growing + small,
            dismissed_retained: leaks
                .leak_roots_retained
                .saturating_sub(clusters.iter().map(|c| c.retained_size).sum()),
            clusters,
            dismissed_not_growing: not_growing,
            dismissed_small: small,
            min_cluster_bytes: leaks.min_cluster_bytes,
            growing_objects: growing,
            // Censuses record the largest places only: a step between them is not told
            // from a place that fell below the cut-off.
            objects_grown_in_steps: Vec::new(),
            growing_collections: Vec::new(),
            handles: Default::default(),
            summary,
        })
    }
}

/// Self size per growth family in each census.
fn family_sizes(censuses: &[&SnapshotCensus]) -> Vec<FamilySizes> {
    Family::ALL
        .iter()
        .map(|&family| FamilySizes {
            family,
            sizes: censuses
                .iter()
                .map(|c| {
                    c.families
                        .iter()
                        .find(|t| Family::from_key(&t.name) == Some(family))
                        .map_or(0, |t| t.self_size)
                })
                .collect(),
        })
        .collect()
}

/// An object known only by its class and id.
fn object(class: &str, id: u32) -> ObjectView {
    ObjectView {
        id,
        class: class.to_owned(),
        name: String::new(),
        self_size: 0,
        retained_size: 0,
    }
}

/// The steps of a path a census wrote as one line (`(GC roots) → registry → [] ×40`, with
/// ` (StreamEntry)` after it when `class_suffix`): edge names and link runs; only the last
/// object is known, by its class and `last_id`.
fn steps_of(line: &str, class_suffix: bool, last_id: u32) -> Vec<StepView> {
    let (line, class) = match line.rsplit_once(" (") {
        Some((rest, class)) if class_suffix => (rest, class.strip_suffix(')').unwrap_or(class)),
        _ => (line, ""),
    };
    let parts: Vec<&str> = line.split(" → ").skip(1).collect();
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let (edge, repeated) = match part.rsplit_once(" ×") {
                Some((edge, run)) => match run.parse::<u64>() {
                    Ok(run) => (edge, Some(run)),
                    Err(_) => (part, None),
                },
                None => (part, None),
            };
            StepView {
                edge: edge.to_owned(),
                edge_type: String::new(),
                object: match i + 1 == n {
                    true => object(class, last_id),
                    false => object("", 0),
                },
                repeated,
                // A census's path line keeps a run's count, not its block's length.
                block: None,
                keyed: false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_line_becomes_its_steps() {
        let steps = steps_of(
            "(GC roots) → registry → streams → [] ×40 (StreamEntry)",
            true,
            7,
        );
        let edges: Vec<&str> = steps.iter().map(|s| s.edge.as_str()).collect();
        assert_eq!(edges, ["registry", "streams", "[]"]);
        assert_eq!(steps[2].repeated, Some(40));
        assert_eq!(steps[2].object.class, "StreamEntry");
        assert_eq!(steps[2].object.id, 7);
        let string = steps_of("(GC roots) → log ((concatenated string))", true, 1);
        assert_eq!(string[0].object.class, "(concatenated string)");
        assert_eq!(steps[0].object.class, "");
        assert!(steps_of("(GC roots)", false, 0).is_empty());
    }
}
