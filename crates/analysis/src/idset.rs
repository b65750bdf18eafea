//! [`IdSet`]: membership of V8 node ids, for "new in B" and "freed since A".

use rayon::prelude::*;

/// A set of node ids: a bitmap when the ids are dense enough, else a sorted list.
pub enum IdSet {
    /// Bit `id` is set for each member.
    Bitmap(Vec<u64>),
    /// Sorted, for binary search.
    Sorted(Vec<u32>),
}

impl IdSet {
    /// Builds the set of `ids`.
    pub fn new(ids: &[u32]) -> IdSet {
        let max = ids.par_iter().copied().max().unwrap_or(0) as u64;
        // V8 ids grow over a process's life; a bitmap costs max/8 bytes, worth it up to
        // about 8 bytes per member.
        if max / 64 <= ids.len() as u64 {
            let mut bits = vec![0u64; (max / 64 + 1) as usize];
            for &id in ids {
                bits[(id / 64) as usize] |= 1 << (id % 64);
            }
            IdSet::Bitmap(bits)
        } else {
            let mut sorted = ids.to_vec();
            sorted.par_sort_unstable();
            IdSet::Sorted(sorted)
        }
    }

    /// True when `id` is in the set.
    #[inline]
    pub fn contains(&self, id: u32) -> bool {
        match self {
            IdSet::Bitmap(bits) => bits
                .get((id / 64) as usize)
                .is_some_and(|w| w & (1 << (id % 64)) != 0),
            IdSet::Sorted(v) => v.binary_search(&id).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_sets_agree() {
        let ids: Vec<u32> = (1..2000).step_by(3).chain([2000, 2048]).collect();
        let dense = IdSet::new(&ids);
        assert!(matches!(dense, IdSet::Bitmap(_)));
        let sparse_ids = [1u32, 4_000_000_000];
        let sparse = IdSet::new(&sparse_ids);
        assert!(matches!(sparse, IdSet::Sorted(_)));
        for id in (0..2100).chain([4_000_000_000, u32::MAX]) {
            assert_eq!(dense.contains(id), ids.contains(&id), "{id}");
            assert_eq!(sparse.contains(id), sparse_ids.contains(&id), "{id}");
        }
    }
}
