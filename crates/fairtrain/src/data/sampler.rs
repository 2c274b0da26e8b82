//! Minibatches from seeded epoch-wise permutations, as the reference draws
//! them: shuffle the index set, hand out consecutive slices, and reshuffle
//! when fewer than a full batch remain (the tail of a pass is skipped).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// Draws fixed-size batches of row indices without replacement within a
/// pass over the index set. Allocation-free after construction.
///
/// ```
/// use fairtrain::data::EpochSampler;
/// let mut s = EpochSampler::new((0..10).collect(), 4, 7, 0).unwrap();
/// let a = s.next_batch().to_vec();
/// let b = s.next_batch().to_vec();
/// assert!(a.iter().all(|i| !b.contains(i))); // no repeats within a pass
/// assert_eq!(s.epoch(), 0);
/// s.next_batch(); // only 2 rows left: a new pass begins
/// assert_eq!(s.epoch(), 1);
/// ```
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EpochSampler {
    indices: Vec<u32>,
    batch: usize,
    pos: usize,
    epoch: u64,
    rng: ChaCha8Rng,
}

impl EpochSampler {
    /// A sampler over `indices` giving batches of `batch` rows, seeded by
    /// `(seed, stream)`: samplers with the same seed and different streams
    /// are independent.
    pub fn new(indices: Vec<u32>, batch: usize, seed: u64, stream: u64) -> Result<Self> {
        if batch == 0 {
            return Err(Error::config("batch size", "must be at least 1"));
        }
        if batch > indices.len() {
            return Err(Error::Data(format!("a batch of {batch} rows cannot be drawn from {} rows", indices.len())));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        let mut sampler = EpochSampler { indices, batch, pos: 0, epoch: 0, rng };
        sampler.indices.shuffle(&mut sampler.rng);
        Ok(sampler)
    }

    /// The next batch of row indices.
    #[inline]
    pub fn next_batch(&mut self) -> &[u32] {
        self.next_batch_of(self.batch)
    }

    /// The next `n` row indices (`n` at most the number of indices; a pass
    /// that cannot supply them all is skipped, as for full batches).
    #[inline]
    pub fn next_batch_of(&mut self, n: usize) -> &[u32] {
        debug_assert!(n <= self.indices.len());
        if self.pos + n > self.indices.len() {
            self.indices.shuffle(&mut self.rng);
            self.pos = 0;
            self.epoch += 1;
        }
        let start = self.pos;
        self.pos += n;
        &self.indices[start..self.pos]
    }

    /// Batch size.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Number of completed passes over the index set.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Number of indices sampled from.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether `self` (restored from a checkpoint) is a state of `fresh`'s
    /// sampler: the same rows in some order, a batch and a position within
    /// them. A restored state is checked before use, so that no index or
    /// position read from a file is trusted.
    pub fn is_state_of(&self, fresh: &EpochSampler) -> bool {
        if self.indices.len() != fresh.indices.len()
            || self.batch == 0
            || self.batch > self.indices.len()
            || self.pos > self.indices.len()
        {
            return false;
        }
        let (mut a, mut b) = (self.indices.clone(), fresh.indices.clone());
        a.sort_unstable();
        b.sort_unstable();
        a == b
    }

    /// True when the sampler has no indices (never, once constructed).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_once_per_pass_when_batches_divide() {
        let mut s = EpochSampler::new((0..12).collect(), 4, 1, 0).unwrap();
        for _ in 0..3 {
            let mut seen: Vec<u32> = (0..3).flat_map(|_| s.next_batch().to_vec()).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..12).collect::<Vec<_>>());
        }
        assert_eq!(s.epoch(), 2);
    }

    #[test]
    fn seeded_and_streams_differ() {
        let draw = |seed, stream| {
            let mut s = EpochSampler::new((0..100).collect(), 10, seed, stream).unwrap();
            (0..5).flat_map(|_| s.next_batch().to_vec()).collect::<Vec<_>>()
        };
        assert_eq!(draw(3, 1), draw(3, 1));
        assert_ne!(draw(3, 1), draw(3, 2));
        assert_ne!(draw(3, 1), draw(4, 1));
    }

    #[test]
    fn batch_larger_than_population_is_an_error() {
        let err = EpochSampler::new(vec![1, 2], 3, 0, 0).unwrap_err();
        assert_eq!(err.to_string(), "a batch of 3 rows cannot be drawn from 2 rows");
    }
}
