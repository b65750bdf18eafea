//! The growth test a cluster of leak roots must pass to be named, one rule for snapshot
//! files (`leaks`, `run`) and censuses (`watch`, zero-disk `run`): its class must rise in
//! every interval, and the cluster must reach the byte floor, grow in step with the run
//! ([`MIN_STEADY_OBJECTS`], [`IN_STEP_RATIO`]), or be a handful of objects that each own
//! a thread or an OS resource.

/// Objects of a growing cluster whose class holds a thread or an OS resource that make
/// it a finding under the byte floor: a `Worker` retains a few hundred bytes of heap and
/// costs a thread and megabytes outside it. Eight, more than a pool starts lazily.
const MIN_HANDLE_CLUSTER: u64 = 8;

/// Leak roots a cluster under the byte floor needs to be kept for growing in step.
pub const MIN_STEADY_OBJECTS: u64 = 100;

/// Growth rates of one finding may differ between intervals by this factor and still be
/// in step (a leak of one object per request, with requests of varying size, or more
/// work between two snapshots than between two others).
pub const IN_STEP_RATIO: f64 = 4.0;

/// True when a cluster of `objects` leak roots is a leak however few bytes it holds: many
/// objects, and their class (`counts` per snapshot) gained at least half as many
/// instances over the window they were allocated in, at a pace no interval fell
/// [`IN_STEP_RATIO`] below. A slow leak of a small record per request stays under the
/// byte floor for a long run (100 B a request is 80 KB over 800 requests), yet every
/// interval adds a like number of them. What a bounded cache keeps of the window does not
/// pass: it evicts as many as it adds, so its class does not gain. Warm-up does not
/// either: one-time objects are one or a few per place, and they stop.
fn grows_in_step(counts: &[u64], objects: u64) -> bool {
    if objects < MIN_STEADY_OBJECTS || counts.len() < 3 {
        return false;
    }
    // The leak roots were allocated between the first snapshot and the one before the last.
    let window = counts.len() - 2;
    let gained = counts[window].saturating_sub(counts[0]);
    let pace = gained as f64 / window as f64;
    gained * 2 >= objects
        && counts
            .windows(2)
            .all(|w| w[1].saturating_sub(w[0]) as f64 * IN_STEP_RATIO >= pace)
}

/// How a cluster of leak roots fares in the growth test, the one rule for snapshot files
/// (`leaks`, `run`) and for censuses (`watch`, zero-disk `run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterGrowth {
    /// Its class rose in every interval, and it reaches the byte floor, grew in step, or
    /// is a handful of thread- or socket-owning objects.
    Culprit,
    /// Its class rose, but the cluster is too small to be a finding.
    Small,
    /// Its class did not rise in every interval.
    NotGrowing,
}

impl ClusterGrowth {
    /// Judges a cluster of `objects` leak roots of `class` retaining `retained` bytes,
    /// against the byte floor `min_bytes` and its class's instance counts per snapshot,
    /// oldest first (`None`: a census did not list the class, so it had fewer than any
    /// count listed).
    pub fn of(
        class: &str,
        objects: u64,
        retained: u64,
        min_bytes: u64,
        counts: &[Option<u64>],
    ) -> ClusterGrowth {
        // `None` orders below every count: a class that entered the lists grew.
        if !counts.windows(2).all(|w| w[1] > w[0]) {
            return ClusterGrowth::NotGrowing;
        }
        let in_step = counts
            .iter()
            .copied()
            .collect::<Option<Vec<u64>>>()
            .is_some_and(|counts| grows_in_step(&counts, objects));
        let costly = owns_a_thread_or_socket(class) && objects >= MIN_HANDLE_CLUSTER;
        if retained >= min_bytes || in_step || costly {
            ClusterGrowth::Culprit
        } else {
            ClusterGrowth::Small
        }
    }

    /// True when a cluster this size could pass [`ClusterGrowth::of`] if its class grew:
    /// what a census keeps for the test.
    pub fn could_pass(class: &str, objects: u64, retained: u64, min_bytes: u64) -> bool {
        retained >= min_bytes
            || objects >= MIN_STEADY_OBJECTS
            || (owns_a_thread_or_socket(class) && objects >= MIN_HANDLE_CLUSTER)
    }
}

/// True for a class whose objects hold a thread or an OS resource the heap does not
/// weigh: worker threads and their ports, sockets, servers, child processes, watchers.
fn owns_a_thread_or_socket(class: &str) -> bool {
    matches!(
        class,
        "Worker"
            | "MessagePort"
            | "Socket"
            | "TLSSocket"
            | "Server"
            | "ChildProcess"
            | "FSWatcher"
            | "StatWatcher"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaks::MIN_CLUSTER_BYTES;

    #[test]
    fn a_small_cluster_is_kept_when_its_class_grows_as_it_does() {
        // 800 records kept from a window in which their class gained 800, then 1,400 more.
        assert!(grows_in_step(&[1_400, 2_200, 3_600], 800));
        // A cache that keeps what the window added but evicts as much: the class barely
        // gains.
        assert!(!grows_in_step(&[2_000, 2_010, 2_020], 350));
        // Growth that stopped: the last interval adds a tenth of the first's pace.
        assert!(!grows_in_step(&[1_000, 1_800, 1_850], 800));
        // Few objects are warm-up, whatever their class does.
        assert!(!grows_in_step(&[10, 60, 110], MIN_STEADY_OBJECTS - 1));
        // With four snapshots the window spans two intervals.
        assert!(grows_in_step(&[0, 400, 800, 1_200], 800));
        assert!(!grows_in_step(&[0, 400, 800], 801 * 2));
    }

    #[test]
    fn one_growth_rule_for_files_and_censuses() {
        let floor = MIN_CLUSTER_BYTES;
        let of = |class, objects, retained, counts: &[Option<u64>]| {
            ClusterGrowth::of(class, objects, retained, floor, counts)
        };
        let rising = [Some(10), Some(20), Some(30)];
        assert_eq!(of("Record", 5, floor, &rising), ClusterGrowth::Culprit);
        assert_eq!(of("Record", 5, floor - 1, &rising), ClusterGrowth::Small);
        // A handful of objects that each own a thread is a finding under the floor.
        assert_eq!(
            of("Worker", MIN_HANDLE_CLUSTER, 900, &rising),
            ClusterGrowth::Culprit
        );
        assert_eq!(
            of("Worker", MIN_HANDLE_CLUSTER - 1, 900, &rising),
            ClusterGrowth::Small
        );
        // A class a census did not list had fewer than any count listed: it grew, but the
        // in-step test needs every count.
        let entered = [None, Some(150), Some(300)];
        assert_eq!(of("Record", 5, floor, &entered), ClusterGrowth::Culprit);
        assert_eq!(of("Record", 150, 1_000, &entered), ClusterGrowth::Small);
        let listed = [Some(0), Some(150), Some(300)];
        assert_eq!(of("Record", 150, 1_000, &listed), ClusterGrowth::Culprit);
        // Flat or falling in one interval is not growth, however large.
        let flat = [Some(10), Some(10), Some(30)];
        assert_eq!(
            of("Record", 5, floor * 10, &flat),
            ClusterGrowth::NotGrowing
        );
        assert_eq!(
            of("Record", 5, floor * 10, &[None, None, Some(3)]),
            ClusterGrowth::NotGrowing
        );
        // What a census keeps for the test is what could pass it.
        assert!(ClusterGrowth::could_pass(
            "Worker",
            MIN_HANDLE_CLUSTER,
            900,
            floor
        ));
        assert!(!ClusterGrowth::could_pass(
            "Record",
            MIN_HANDLE_CLUSTER,
            900,
            floor
        ));
        assert!(ClusterGrowth::could_pass(
            "Record",
            MIN_STEADY_OBJECTS,
            900,
            floor
        ));
    }
}
