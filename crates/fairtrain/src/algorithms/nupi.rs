//! nuPI: multipliers driven by a PI controller (Sohrabi et al. 2024, arXiv
//! 2406.04558), as in Cooper's `nuPI` with zero initialization:
//! `xi_t = nu xi_{t-1} + (1 - nu) c_t` (an average of the errors, `xi_{-1}
//! = 0`), `lambda_{t+1} = clamp(lambda_t + k_i c_t + k_p (xi_t - xi_{t-1}), 0, lambda_max)`.
//! Summed over time, `lambda` is `k_i sum(c)` plus `k_p xi`: an integral
//! term (plain dual ascent) plus a proportional one that reacts to the
//! current violation and damps the oscillation of plain ascent. The primal
//! weight is `lambda + rho [c]_+` (`rho = 0`: a plain Lagrangian).
//!
//! humancompatible-train 0.4.2 omits the proportional kick of the very
//! first step yet starts the average from zero, which matches neither of
//! Cooper's documented initializations; this follows Cooper's.

use super::lagrangian::{DualRule, fraction, non_negative, positive};
use crate::error::Result;
use crate::problem::Estimate;

/// Settings of nuPI.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NupiConfig {
    /// Integral gain `k_i` (the dual step size).
    pub dual_lr: f32,
    /// Proportional gain `k_p`.
    pub kp: f32,
    /// Error averaging `nu` in `[0, 1)`.
    pub nu: f32,
    /// Quadratic penalty `rho` on violated constraints.
    pub penalty: f32,
    /// Multipliers are clamped to `[0, dual_bound]`.
    pub dual_bound: f32,
}

impl Default for NupiConfig {
    fn default() -> Self {
        NupiConfig { dual_lr: 0.05, kp: 1.0, nu: 0.01, penalty: 0.0, dual_bound: 10.0 }
    }
}

/// The nuPI dual state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Nupi {
    config: NupiConfig,
    multipliers: Vec<f32>,
    average: Vec<f32>,
}

impl Nupi {
    /// Multipliers and error averages starting at 0.
    pub fn new(config: NupiConfig) -> Result<Self> {
        positive("dual-lr", config.dual_lr)?;
        non_negative("kp", config.kp)?;
        fraction("nu", config.nu)?;
        non_negative("penalty", config.penalty)?;
        positive("dual-bound", config.dual_bound)?;
        Ok(Nupi { config, multipliers: Vec::new(), average: Vec::new() })
    }
}

impl DualRule for Nupi {
    fn reset(&mut self, m: usize) {
        self.multipliers = vec![0.0; m];
        self.average = vec![0.0; m];
    }

    fn update(&mut self, estimate: &Estimate, weights: &mut [f32]) -> f32 {
        let NupiConfig { dual_lr: ki, kp, nu, penalty: rho, dual_bound } = self.config;
        let state = self.multipliers.iter_mut().zip(self.average.iter_mut());
        for ((lambda, xi), (w, &c)) in state.zip(weights.iter_mut().zip(&estimate.exact_constraints)) {
            let previous = *xi;
            *xi = nu * *xi + (1.0 - nu) * c;
            *lambda = (*lambda + ki * c + kp * (*xi - previous)).clamp(0.0, dual_bound);
            *w = *lambda + rho * c.max(0.0);
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
        let config = NupiConfig { kp: 0.5, nu: 0.9, ..NupiConfig::default() };
        let mut alg = Lagrangian::new("nupi", Nupi::new(config).unwrap(), PrimalConfig::sgd(0.02)).unwrap();
        assert_reaches_optimum(&mut alg, 4, 40_000, 0.03, 0.2);
    }

    /// With `k_p = 0` and `nu = 0`, nuPI is gradient descent-ascent.
    #[test]
    fn reduces_to_dual_ascent() {
        let mut nupi = Nupi::new(NupiConfig { kp: 0.0, nu: 0.0, ..NupiConfig::default() }).unwrap();
        nupi.reset(1);
        let mut w = [0.0];
        for c in [0.2f32, 0.1, -0.05] {
            nupi.update(&Estimate { objective: 0.0, constraints: vec![c], exact_constraints: vec![c] }, &mut w);
        }
        assert!((nupi.multipliers()[0] - 0.05 * 0.25).abs() < 1e-7);
    }

    /// The proportional term follows the change of the averaged error.
    #[test]
    fn proportional_kick() {
        let mut nupi = Nupi::new(NupiConfig { dual_lr: 0.1, kp: 2.0, nu: 0.0, ..NupiConfig::default() }).unwrap();
        nupi.reset(1);
        let mut w = [0.0];
        nupi.update(&Estimate { objective: 0.0, constraints: vec![0.5], exact_constraints: vec![0.5] }, &mut w);
        // 0 + 0.1 * 0.5 + 2 * (0.5 - 0)
        assert!((nupi.multipliers()[0] - 1.05).abs() < 1e-6);
        nupi.update(&Estimate { objective: 0.0, constraints: vec![0.25], exact_constraints: vec![0.25] }, &mut w);
        // 1.05 + 0.025 + 2 * (0.25 - 0.5)
        assert!((nupi.multipliers()[0] - 0.575).abs() < 1e-6);
    }
}
