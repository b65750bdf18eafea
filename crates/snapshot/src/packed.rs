//! [`Packed`]: a column of integers in as many bits as its largest value needs.
//!
//! The edge columns are most of a parsed snapshot (8 bytes an edge), and their values are
//! far below 2^32: a target is a node index (23 bits for 6 M nodes, 27 with the edge type
//! beside it), a name a string or element index (about 20 bits on the bench files). Stored
//! in the bits they need, they take about 3/4 of the memory, for every command and every
//! phase of one, at the cost of a shift and a mask per read.

/// `len` values of `bits` bits each (1 to 32), end to end in `u32` words: value `i` is bits
/// `bits * i ..` of the little-endian word stream. Reads are exact and random access.
#[derive(Clone, Debug, Default)]
pub(crate) struct Packed {
    words: Vec<u32>,
    len: usize,
    bits: u32,
    mask: u32,
}

impl Packed {
    /// Packs `values`, none of which is above `max`, in their own allocation, which is then
    /// shrunk: no second copy of the column ever exists. One sequential pass.
    pub(crate) fn new(mut values: Vec<u32>, max: u32) -> Packed {
        let bits = (u32::BITS - max.leading_zeros()).max(1);
        let len = values.len();
        // Word j is written once 32 * (j + 1) bits are gathered, that is after value
        // 32 * (j + 1) / bits - 1 >= j was read: packing forward in place never overwrites a
        // value not yet read.
        let (mut acc, mut filled, mut out) = (0u64, 0u32, 0usize);
        for i in 0..len {
            debug_assert!(values[i] <= max, "value above the declared maximum");
            acc |= u64::from(values[i]) << filled;
            filled += bits;
            if filled >= 32 {
                values[out] = acc as u32;
                out += 1;
                acc >>= 32;
                filled -= 32;
            }
        }
        if filled > 0 {
            values[out] = acc as u32;
            out += 1;
        }
        // A read takes two words: one word of padding after the last, so that it needs
        // neither a branch nor a second bounds check. (Only at 32 bits is there no room
        // left for it, and the vector grows.)
        values.truncate(out);
        values.push(0);
        values.shrink_to_fit();
        Packed {
            words: values,
            len,
            bits,
            mask: u32::MAX >> (32 - bits),
        }
    }

    /// Value `i`.
    // Always inlined: every graph walk reads each edge's target and type through this
    // (with plain `#[inline]`, `HeapGraph::successor` stopped being inlined and took 4 % of
    // a summary's samples).
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> u32 {
        debug_assert!(i < self.len);
        let bit = i as u64 * u64::from(self.bits);
        let k = (bit >> 5) as usize;
        // A value may straddle two words.
        let pair = &self.words[k..k + 2];
        let both = u64::from(pair[0]) | u64::from(pair[1]) << 32;
        (both >> (bit & 31)) as u32 & self.mask
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of memory held.
    pub(crate) fn heap_bytes(&self) -> usize {
        4 * self.words.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_every_width() {
        for bits in 1..=32u32 {
            let max = u32::MAX >> (32 - bits);
            // Values that use every bit position, including the maximum and 0.
            let values: Vec<u32> = (0..1000u32)
                .map(|i| match i % 4 {
                    0 => max,
                    1 => 0,
                    _ => i.wrapping_mul(2_654_435_761) & max,
                })
                .collect();
            let p = Packed::new(values.clone(), max);
            assert_eq!(p.len(), values.len());
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(p.get(i), v, "bits {bits}, value {i}");
            }
            assert!(p.heap_bytes() <= 4 * (1000 * bits as usize).div_ceil(32) + 4);
        }
    }

    #[test]
    fn empty_and_zero() {
        let p = Packed::new(Vec::new(), 0);
        assert_eq!(p.len(), 0);
        let p = Packed::new(vec![0; 5], 0);
        assert_eq!((0..5).map(|i| p.get(i)).collect::<Vec<_>>(), vec![0; 5]);
    }
}
