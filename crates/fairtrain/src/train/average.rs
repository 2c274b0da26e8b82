//! Iterate averaging (Polyak-Ruppert): the model a run returns is the mean
//! of the parameters over the last part of the budget.
//!
//! Why: a stochastic method at a fixed step size does not settle on a
//! point; its iterates keep moving around the solution with the minibatch
//! noise. For SSL-ALM on Adult (paper settings) the full-data loss gap of
//! the last iterate swings by ±0.02 from one thousand iterations to the
//! next, around a mean that the multiplier dynamics hold at the bound; the
//! average of the tail iterates sits near that mean, so the returned model
//! satisfies the constraint (and scores) as the run did on average, not as
//! one random iterate happened to.

use crate::simd::{dispatched, fmadd, isa};

#[inline(always)]
fn running_mean_impl<const FMA: bool>(mean: &mut [f32], x: &[f32], weight: f32) {
    for (m, &v) in mean.iter_mut().zip(x) {
        *m = fmadd::<FMA>(weight, v - *m, *m);
    }
}

dispatched! {
    /// `mean += weight * (x - mean)`
    fn running_mean(mean: &mut [f32], x: &[f32], weight: f32) => running_mean_impl;
}

/// The running mean of sampled parameter vectors.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Averager {
    mean: Vec<f32>,
    count: u64,
}

impl Averager {
    /// Adds one parameter vector (the incremental form is stable in f32).
    pub fn add(&mut self, params: &[f32]) {
        if self.count == 0 {
            self.mean.clear();
            self.mean.extend_from_slice(params);
        } else {
            running_mean(isa(), &mut self.mean, params, 1.0 / (self.count + 1) as f32);
        }
        self.count += 1;
    }

    /// Number of vectors averaged.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean (empty before the first `add`).
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }
}

/// At most this many parameter vectors enter an average: the tail is
/// sampled with a stride, which keeps the cost of averaging negligible
/// (iterates a few steps apart are nearly identical anyway).
pub const MAX_SAMPLES: u64 = 1024;

/// The stride for a tail of `tail_iterations` iterations.
pub fn stride(tail_iterations: u64) -> u64 {
    tail_iterations.div_ceil(MAX_SAMPLES).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_mean_is_the_mean() {
        let mut a = Averager::default();
        for k in 0..100 {
            a.add(&[k as f32, 2.0 * k as f32, -1.0]);
        }
        assert_eq!(a.count(), 100);
        assert!((a.mean()[0] - 49.5).abs() < 1e-3);
        assert!((a.mean()[1] - 99.0).abs() < 1e-3);
        assert_eq!(a.mean()[2], -1.0);
    }

    #[test]
    fn stride_caps_the_samples() {
        assert_eq!(stride(0), 1);
        assert_eq!(stride(1000), 1);
        assert_eq!(stride(5000), 5);
        assert!(5000 / stride(5000) <= MAX_SAMPLES);
    }
}
