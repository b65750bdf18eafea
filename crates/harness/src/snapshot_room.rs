//! [`SnapshotShortfall`]: whether a heap snapshot of a process fits in the memory it has
//! left. V8 builds a snapshot in the process's own memory, many times its heap: `watch`
//! and `run` take one only when it fits, and say why not otherwise, rather than get the
//! process they measure OOM-killed.

/// A snapshot that would not fit: what V8 would need to build it and what the process has
/// left ([`leaktrail_sampler::memory_headroom`]: the machine's available memory, capped by
/// its cgroup's limit less its usage).
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotShortfall {
    /// The heap it would be built from (V8's used heap, or the resident memory when the
    /// heap is unknown, as without an inspector).
    pub heap: u64,
    /// The fresh memory building it takes: [`SNAPSHOT_NEED_FACTOR`] × the heap, less what
    /// earlier snapshots left in the process.
    pub need: u64,
    /// What the process has left.
    pub left: u64,
}

/// The memory V8 (Node 20) takes to build a snapshot, as a multiple of the heap it is
/// built from. Measured with `v8.writeHeapSnapshot` (peak resident memory during it less
/// before, `tools/bench/runs/2026-12-07-snapshot-memory.md`): 8–16 × the heap, 4–10 × the
/// snapshot's file, the most for heaps of many small objects (400,000 small objects, a
/// 43 MiB heap: +702 MiB; a 240 MiB heap: +2.8 GiB). Node's documentation says "about
/// twice": a guard at twice let the snapshot OOM-kill a service it judged safe.
pub const SNAPSHOT_NEED_FACTOR: u64 = 12;

impl SnapshotShortfall {
    /// The shortfall of a snapshot of a process whose last reading is `memory`, in which
    /// earlier snapshots left `residue` bytes, and that has `left` bytes of room, if it
    /// would not fit (unknown room: it is taken).
    pub fn of(
        memory: &leaktrail_sampler::MemoryReading,
        residue: u64,
        left: Option<u64>,
    ) -> Option<Self> {
        let heap = memory.heap_used.unwrap_or(memory.rss);
        let need = SNAPSHOT_NEED_FACTOR
            .saturating_mul(heap)
            .saturating_sub(residue);
        let left = left?;
        (need > left).then_some(SnapshotShortfall { heap, need, left })
    }
}

/// What leaktrail's snapshots left in a process: V8 frees the memory it built a snapshot
/// in, but the process keeps it, and the next snapshot is built in it before it needs
/// more. Followed from the resident memory (RSS, or its anonymous part) before each
/// snapshot and at the first reading after it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SnapshotResidue {
    /// The resident memory when the last snapshot began, until the first reading after it.
    before: Option<u64>,
    /// The most any snapshot left (resident memory after, less before).
    most: u64,
}

impl SnapshotResidue {
    /// A snapshot begins, the process at `resident` bytes.
    pub fn began(&mut self, resident: u64) {
        self.before = Some(resident);
    }

    /// A reading at `resident` bytes, taken while no snapshot is being built.
    pub fn read(&mut self, resident: u64) {
        if let Some(before) = self.before.take() {
            self.most = self.most.max(resident.saturating_sub(before));
        }
    }

    /// The most any snapshot left, bytes.
    pub fn most(&self) -> u64 {
        self.most
    }
}

impl std::fmt::Display for SnapshotShortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use leaktrail_analysis::units::human_bytes;
        write!(
            f,
            "V8 needs about {} to build one from a {} heap and the process has {} left before its memory limit; taking it could get it OOM-killed",
            human_bytes(self.need),
            human_bytes(self.heap),
            human_bytes(self.left)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn reading(heap: Option<u64>, rss: u64) -> leaktrail_sampler::MemoryReading {
        leaktrail_sampler::MemoryReading {
            heap_used: heap,
            rss,
            ..Default::default()
        }
    }

    #[test]
    fn a_snapshot_is_taken_only_with_room_for_what_v8_builds_it_in() {
        let near_limit = reading(Some(150 * MIB), 300 * MIB);
        let short = SnapshotShortfall::of(&near_limit, 0, Some(1000 * MIB)).expect("short");
        assert_eq!(short.need, 1800 * MIB);
        assert_eq!(
            short.to_string(),
            "V8 needs about 1.8 GiB to build one from a 150.0 MiB heap and the process has 1000.0 MiB left before its memory limit; taking it could get it OOM-killed"
        );
        assert_eq!(
            SnapshotShortfall::of(&near_limit, 0, Some(2000 * MIB)),
            None
        );
        // What an earlier snapshot left is built in first.
        assert_eq!(
            SnapshotShortfall::of(&near_limit, 900 * MIB, Some(1000 * MIB)),
            None
        );
        // Unknown room: taken, as before.
        assert_eq!(SnapshotShortfall::of(&near_limit, 0, None), None);
        // No inspector: the resident memory stands in for the heap.
        let no_heap = reading(None, 80 * MIB);
        assert_eq!(
            SnapshotShortfall::of(&no_heap, 0, Some(500 * MIB)).map(|s| s.need),
            Some(960 * MIB)
        );
    }

    #[test]
    fn the_residue_is_the_most_a_snapshot_left() {
        let mut r = SnapshotResidue::default();
        r.read(100 * MIB);
        assert_eq!(r.most(), 0, "no snapshot yet");
        r.began(100 * MIB);
        r.read(130 * MIB);
        r.began(140 * MIB);
        r.read(150 * MIB);
        r.read(400 * MIB);
        assert_eq!(
            r.most(),
            30 * MIB,
            "only the first reading after each counts"
        );
    }
}
