//! Plain Lagrangian gradient descent-ascent: projected dual ascent on the
//! multipliers, `lambda <- clamp(lambda + eta c, 0, lambda_max)`, and a
//! primal step on `f + lambda^T c` with the updated multipliers. The
//! baseline every other dual rule improves on (Cooper's and TFCO's
//! `Lagrangian` formulation, humancompatible-train's `ALM` with penalty 0).

use super::lagrangian::{DualRule, positive};
use crate::error::Result;
use crate::problem::Estimate;

/// Settings of gradient descent-ascent.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GdaConfig {
    /// Dual step size `eta`.
    pub dual_lr: f32,
    /// Multipliers are clamped to `[0, dual_bound]`.
    pub dual_bound: f32,
}

impl Default for GdaConfig {
    fn default() -> Self {
        GdaConfig { dual_lr: 0.05, dual_bound: 10.0 }
    }
}

/// The gradient descent-ascent dual state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Gda {
    config: GdaConfig,
    multipliers: Vec<f32>,
}

impl Gda {
    /// Multipliers starting at 0.
    pub fn new(config: GdaConfig) -> Result<Self> {
        positive("dual-lr", config.dual_lr)?;
        positive("dual-bound", config.dual_bound)?;
        Ok(Gda { config, multipliers: Vec::new() })
    }
}

impl DualRule for Gda {
    fn reset(&mut self, m: usize) {
        self.multipliers = vec![0.0; m];
    }

    fn update(&mut self, estimate: &Estimate, weights: &mut [f32]) -> f32 {
        for ((lambda, w), &c) in self.multipliers.iter_mut().zip(weights.iter_mut()).zip(&estimate.exact_constraints) {
            *lambda = (*lambda + self.config.dual_lr * c).clamp(0.0, self.config.dual_bound);
            *w = *lambda;
        }
        1.0
    }

    fn multipliers(&self) -> &[f32] {
        &self.multipliers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::lagrangian::Lagrangian;
    use crate::algorithms::optim::PrimalConfig;
    use crate::algorithms::testing::assert_reaches_optimum;

    #[test]
    fn converges_to_the_constrained_optimum() {
        let mut alg = Lagrangian::new("gda", Gda::new(GdaConfig::default()).unwrap(), PrimalConfig::sgd(0.02)).unwrap();
        assert_reaches_optimum(&mut alg, 2, 40_000, 0.03, 0.2);
    }
}
