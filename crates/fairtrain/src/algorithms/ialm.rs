//! Inexact augmented Lagrangian (iALM) of Li et al. (Comput. Optim. Appl.
//! 2023, Algorithm 1), as humancompatible-train 0.4.2's `iALM` runs it: the
//! dual step adapts to the constraints' magnitude,
//! `lambda <- clamp(lambda + min(beta, gamma / ||c||) c, 0, lambda_max)`,
//! the primal weight of `c_j` is `lambda_j + beta [c_j]_+` (with `beta`
//! before its update), and then the penalty grows, `beta <- sigma beta`.
//! `beta` is both the quadratic penalty and the cap of the dual step.

use super::lagrangian::{DualRule, positive};
use crate::error::{Error, Result};
use crate::problem::Estimate;

/// Settings of iALM. The default is the package's (`beta = sigma = gamma
/// = 1`) with multipliers clamped to `[0, 10]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IalmConfig {
    /// Initial penalty and dual step cap `beta`.
    pub penalty: f32,
    /// Penalty growth factor `sigma` per step (>= 1).
    pub penalty_growth: f32,
    /// Dual step scale `gamma`: the step is `min(beta, gamma / ||c||)`.
    pub dual_lr: f32,
    /// Multipliers are clamped to `[0, dual_bound]`.
    pub dual_bound: f32,
    /// The penalty stops growing at this value.
    pub max_penalty: f32,
}

impl Default for IalmConfig {
    fn default() -> Self {
        IalmConfig { penalty: 1.0, penalty_growth: 1.0, dual_lr: 1.0, dual_bound: 10.0, max_penalty: 1e4 }
    }
}

/// The iALM dual state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ialm {
    config: IalmConfig,
    multipliers: Vec<f32>,
    penalty: f32,
    step: f32,
}

impl Ialm {
    /// Multipliers starting at 0, the penalty at `config.penalty`.
    pub fn new(config: IalmConfig) -> Result<Self> {
        positive("penalty", config.penalty)?;
        positive("dual-lr", config.dual_lr)?;
        positive("dual-bound", config.dual_bound)?;
        if !(config.penalty_growth.is_finite() && config.penalty_growth >= 1.0) {
            return Err(Error::config("penalty-growth", format!("{} (must be at least 1)", config.penalty_growth)));
        }
        Ok(Ialm { config, multipliers: Vec::new(), penalty: config.penalty, step: 0.0 })
    }
}

impl DualRule for Ialm {
    fn reset(&mut self, m: usize) {
        self.multipliers = vec![0.0; m];
        self.penalty = self.config.penalty;
    }

    fn update(&mut self, estimate: &Estimate, weights: &mut [f32]) -> f32 {
        let c = &estimate.exact_constraints;
        let norm = c.iter().map(|v| v * v).sum::<f32>().sqrt();
        self.step = if norm > 0.0 { self.penalty.min(self.config.dual_lr / norm) } else { self.penalty };
        for ((lambda, w), &cj) in self.multipliers.iter_mut().zip(weights.iter_mut()).zip(c) {
            *lambda = (*lambda + self.step * cj).clamp(0.0, self.config.dual_bound);
            *w = *lambda + self.penalty * cj.max(0.0);
        }
        self.penalty = (self.penalty * self.config.penalty_growth).min(self.config.max_penalty);
        1.0
    }

    fn multipliers(&self) -> &[f32] {
        &self.multipliers
    }

    fn log_columns(&self, _names: &[String]) -> Vec<String> {
        vec!["penalty".into(), "dual_step".into()]
    }

    fn log_values(&mut self, out: &mut Vec<f64>) {
        out.push(self.penalty as f64);
        out.push(self.step as f64);
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
        let config = IalmConfig { penalty: 0.2, dual_lr: 0.05, ..IalmConfig::default() };
        let mut alg = Lagrangian::new("ialm", Ialm::new(config).unwrap(), PrimalConfig::sgd(0.02)).unwrap();
        assert_reaches_optimum(&mut alg, 3, 40_000, 0.03, 0.3);
    }

    #[test]
    fn penalty_grows_geometrically_up_to_its_cap() {
        let config = IalmConfig { penalty_growth: 2.0, max_penalty: 5.0, ..IalmConfig::default() };
        let mut ialm = Ialm::new(config).unwrap();
        ialm.reset(1);
        let estimate = Estimate { objective: 0.0, constraints: vec![0.1], exact_constraints: vec![0.1] };
        let mut w = [0.0];
        for expected in [2.0, 4.0, 5.0, 5.0] {
            ialm.update(&estimate, &mut w);
            assert_eq!(ialm.penalty, expected);
        }
        assert!(Ialm::new(IalmConfig { penalty_growth: 0.5, ..IalmConfig::default() }).is_err());
    }
}
