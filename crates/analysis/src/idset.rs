//! [`IdSet`]: membership of V8 node ids, for "new in B" and "freed since A".

use rayon::prelude::*;

/// A set of node ids: a bitmap over the dense low range where almost all V8 ids live, plus
/// a sorted list of the few outliers (embedder nodes can carry ids near 2^32).
pub struct IdSet {
    /// Bit `id` is set for each member below `limit`.
    bits: Vec<u64>,
    /// Ids at or above this are in `outliers`.
    limit: u64,
    /// Sorted members at or above `limit`.
    outliers: Vec<u32>,
}

impl IdSet {
    /// Builds the set of `ids`.
    pub fn new(ids: &[u32]) -> IdSet {
        let max = ids.par_iter().copied().max().unwrap_or(0) as u64;
        // The bitmap may cost up to 8 bytes per member; ids beyond that go to the list.
        let limit = (max + 1).min(64 * (ids.len() as u64 + 1));
        let mut bits = vec![0u64; limit.div_ceil(64) as usize];
        let mut outliers = Vec::new();
        for &id in ids {
            if (id as u64) < limit {
                bits[(id / 64) as usize] |= 1 << (id % 64);
            } else {
                outliers.push(id);
            }
        }
        outliers.par_sort_unstable();
        IdSet {
            bits,
            limit,
            outliers,
        }
    }

    /// True when `id` is in the set.
    #[inline]
    pub fn contains(&self, id: u32) -> bool {
        if (id as u64) < self.limit {
            self.bits[(id / 64) as usize] & (1 << (id % 64)) != 0
        } else {
            self.outliers.binary_search(&id).is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_ids_and_outliers() {
        let mut ids: Vec<u32> = (1..2000).step_by(3).chain([2000, 2048]).collect();
        ids.extend([4_000_000_000, 3_000_000_001]);
        let set = IdSet::new(&ids);
        assert!(set.outliers.len() == 2, "the two huge ids are outliers");
        for id in (0..2100).chain([3_000_000_000, 3_000_000_001, 4_000_000_000, u32::MAX]) {
            assert_eq!(set.contains(id), ids.contains(&id), "{id}");
        }
        let empty = IdSet::new(&[]);
        assert!(!empty.contains(0) && !empty.contains(u32::MAX));
    }
}
