//! A hierarchical bitmap of non-empty price levels.
//!
//! Layer 0 has one bit per level; each bit of layer k+1 says whether a word of layer k is
//! non-zero. Finding the next non-empty level above or below any index touches at most one
//! word per layer (four layers cover 2^24 levels), with no allocation and no tree to
//! rebalance.

/// Fixed-size hierarchical bitset over `0..len`.
#[derive(Clone, Debug)]
pub(crate) struct LevelBitset {
    /// `layers[0]` is the leaf layer; the last layer is a single word.
    layers: Vec<Vec<u64>>,
}

impl LevelBitset {
    /// All bits clear.
    pub(crate) fn new(len: u32) -> Self {
        let mut layers = Vec::new();
        let mut bits = len.max(1) as usize;
        loop {
            let words = bits.div_ceil(64);
            layers.push(vec![0u64; words]);
            if words == 1 {
                break;
            }
            bits = words;
        }
        Self { layers }
    }

    /// Sets bit `i`.
    #[inline]
    pub(crate) fn set(&mut self, i: u32) {
        let mut idx = i as usize;
        for layer in &mut self.layers {
            let word = &mut layer[idx >> 6];
            let was_empty = *word == 0;
            *word |= 1u64 << (idx & 63);
            if !was_empty {
                return;
            }
            idx >>= 6;
        }
    }

    /// Clears bit `i`.
    #[inline]
    pub(crate) fn clear(&mut self, i: u32) {
        let mut idx = i as usize;
        for layer in &mut self.layers {
            let word = &mut layer[idx >> 6];
            *word &= !(1u64 << (idx & 63));
            if *word != 0 {
                return;
            }
            idx >>= 6;
        }
    }

    /// Whether bit `i` is set.
    #[cfg(test)]
    pub(crate) fn get(&self, i: u32) -> bool {
        let i = i as usize;
        self.layers[0][i >> 6] & (1u64 << (i & 63)) != 0
    }

    /// The smallest set bit `>= i`.
    #[inline]
    pub(crate) fn next_at_or_after(&self, i: u32) -> Option<u32> {
        let mut idx = i as usize;
        let mut layer = 0;
        // Climb until a word has a set bit at or after `idx`.
        loop {
            let words = self.layers.get(layer)?;
            let w = idx >> 6;
            let word = *words.get(w)?;
            let bits = word & (!0u64 << (idx & 63));
            if bits != 0 {
                idx = (w << 6) | bits.trailing_zeros() as usize;
                break;
            }
            idx = w + 1;
            layer += 1;
        }
        // Descend taking the lowest set bit.
        while layer > 0 {
            layer -= 1;
            let word = self.layers[layer][idx];
            idx = (idx << 6) | word.trailing_zeros() as usize;
        }
        // Layer 0 indices are < len <= u32::MAX.
        #[allow(clippy::cast_possible_truncation)]
        Some(idx as u32)
    }

    /// The largest set bit `<= i`.
    #[inline]
    pub(crate) fn prev_at_or_before(&self, i: u32) -> Option<u32> {
        let mut idx = i as usize;
        let mut layer = 0;
        loop {
            let words = self.layers.get(layer)?;
            let w = idx >> 6;
            let word = words.get(w).copied().unwrap_or(0);
            let bit = idx & 63;
            let mask = if bit == 63 {
                !0u64
            } else {
                (1u64 << (bit + 1)) - 1
            };
            let bits = word & mask;
            if bits != 0 {
                idx = (w << 6) | (63 - bits.leading_zeros() as usize);
                break;
            }
            if w == 0 {
                return None;
            }
            idx = w - 1;
            layer += 1;
        }
        while layer > 0 {
            layer -= 1;
            let word = self.layers[layer][idx];
            idx = (idx << 6) | (63 - word.leading_zeros() as usize);
        }
        #[allow(clippy::cast_possible_truncation)]
        Some(idx as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn next_and_prev_match_a_btreeset() {
        for len in [1u32, 63, 64, 65, 4096, 4097, 300_000] {
            let mut bits = LevelBitset::new(len);
            let mut model = BTreeSet::new();
            // A deterministic spread of indices, including both ends.
            let mut x = 12345u64;
            for step in 0..2000u32 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // len fits in u32, so the remainder does too.
                #[allow(clippy::cast_possible_truncation)]
                let i = match step % 7 {
                    0 => 0,
                    1 => len - 1,
                    _ => (x >> 33) as u32 % len,
                };
                if step % 3 == 0 {
                    bits.clear(i);
                    model.remove(&i);
                } else {
                    bits.set(i);
                    model.insert(i);
                }
                #[allow(clippy::cast_possible_truncation)]
                let probe = (x >> 13) as u32 % len;
                assert_eq!(
                    bits.next_at_or_after(probe),
                    model.range(probe..).next().copied()
                );
                assert_eq!(
                    bits.prev_at_or_before(probe),
                    model.range(..=probe).next_back().copied()
                );
                assert_eq!(bits.get(probe), model.contains(&probe));
            }
            assert_eq!(bits.next_at_or_after(len), None);
        }
    }
}
