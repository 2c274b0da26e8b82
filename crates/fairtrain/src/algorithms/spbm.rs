//! The stochastic penalty-barrier multiplier method (SPBM), as
//! humancompatible-train 0.4.2's `PBM` runs it with its default
//! "dimin_adapt" penalty rule.
//!
//! Each constraint has a multiplier `lambda_j > 0` and a penalty
//! `p_j in [0.1, 1]`, and enters the primal objective through the
//! penalty-barrier term `lambda_j p_j phi(c_j / p_j)`, whose gradient weight
//! is `lambda_j phi'(c_j / p_j)` (with the state before this step's update).
//! `phi` is quadratic for `t >= -1/2` (`t + t^2/2`) and a logarithmic barrier
//! below (or reciprocal, below `-1/3`): satisfied constraints fade out
//! smoothly instead of being switched off. Then:
//! * multipliers, by exponential dual averaging:
//!   `lambda <- gamma lambda + (1 - gamma) lambda phi'(c / p)`;
//! * penalties, "dimin_adapt": with `d = phi'(c / p)` (times `delta` when
//!   the constraint is violated), `p <- K p + (1 - K) p / d`;
//! * `gamma` and `K` anneal toward 1 with the epoch `e`:
//!   `gamma(e) = 1 - 1 / (sqrt(e) + 1 / (1 - gamma_0))`, likewise `K`.
//!
//! Two deliberate differences from the package: the penalty rule evaluates
//! `phi'` at the scaled `c / p` (the package passes the raw `c`, which looks
//! like a slip, see the design notes), and the multipliers start at 1 rather
//! than 1e-9 (from 1e-9 a multiplicative update leaves the constraints
//! without influence for thousands of steps).

use serde::{Deserialize, Serialize};

use super::lagrangian::{DualRule, fraction, positive};
use crate::error::{Error, Result};
use crate::problem::Estimate;

/// The penalty-barrier function `phi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Barrier {
    /// Quadratic above -1/2, logarithmic below.
    QuadraticLogarithmic,
    /// Quadratic above -1/3, reciprocal below.
    QuadraticReciprocal,
}

impl Barrier {
    /// `phi'(t)`: positive everywhere, 1 at 0.
    pub fn derivative(self, t: f32) -> f32 {
        match self {
            Barrier::QuadraticLogarithmic if t >= -0.5 => 1.0 + t,
            Barrier::QuadraticLogarithmic => -1.0 / (4.0 * t),
            Barrier::QuadraticReciprocal if t >= -1.0 / 3.0 => 1.0 + t,
            Barrier::QuadraticReciprocal => (32.0 / 27.0) / ((1.0 - t) * (1.0 - t)),
        }
    }

    /// `phi(t)`.
    pub fn value(self, t: f32) -> f32 {
        match self {
            Barrier::QuadraticLogarithmic if t >= -0.5 => t + t * t / 2.0,
            Barrier::QuadraticLogarithmic => -0.25 * (-2.0 * t).ln() - 0.375,
            Barrier::QuadraticReciprocal if t >= -1.0 / 3.0 => t + t * t / 2.0,
            Barrier::QuadraticReciprocal => (32.0 / 27.0) / (1.0 - t) - 7.0 / 6.0,
        }
    }
}

/// Settings of SPBM. The default follows humancompatible-train's benchmark
/// configuration (`penalty_mult 0.5`, `gamma 0.9`, `delta 1`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpbmConfig {
    /// Initial dual averaging weight `gamma_0` in `[0, 1)`.
    pub dual_averaging: f32,
    /// Initial penalty averaging `K_0` in `[0, 1)`.
    pub penalty_decay: f32,
    /// Extra factor `delta` on violated constraints in the penalty rule.
    pub delta: f32,
    /// The penalty-barrier function.
    pub barrier: Barrier,
    /// Starting multiplier.
    pub initial_multiplier: f32,
    /// Multipliers are clamped to `[1e-9, dual_bound]`.
    pub dual_bound: f32,
    /// Steps per epoch, for the annealing of `gamma` and `K`.
    pub epoch_steps: u64,
}

impl Default for SpbmConfig {
    fn default() -> Self {
        SpbmConfig {
            dual_averaging: 0.9,
            penalty_decay: 0.5,
            delta: 1.0,
            barrier: Barrier::QuadraticLogarithmic,
            initial_multiplier: 1.0,
            dual_bound: 100.0,
            epoch_steps: 1_000,
        }
    }
}

const MIN_MULTIPLIER: f32 = 1e-9;
const PENALTY_RANGE: (f32, f32) = (0.1, 1.0);

/// The SPBM dual state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Spbm {
    config: SpbmConfig,
    multipliers: Vec<f32>,
    penalties: Vec<f32>,
    steps: u64,
}

impl Spbm {
    /// A new state.
    pub fn new(config: SpbmConfig) -> Result<Self> {
        fraction("dual-averaging", config.dual_averaging)?;
        fraction("penalty-decay", config.penalty_decay)?;
        positive("delta", config.delta)?;
        positive("dual-bound", config.dual_bound)?;
        if !(config.initial_multiplier >= MIN_MULTIPLIER && config.initial_multiplier <= config.dual_bound) {
            return Err(Error::config(
                "initial-multiplier",
                format!("{} (must be in [1e-9, dual-bound])", config.initial_multiplier),
            ));
        }
        if config.epoch_steps == 0 {
            return Err(Error::config("epoch-steps", "0 (must be at least 1)"));
        }
        Ok(Spbm { config, multipliers: Vec::new(), penalties: Vec::new(), steps: 0 })
    }

    /// `1 - 1 / (sqrt(e) + 1 / (1 - x0))`: `x0` at epoch 0, toward 1 after.
    fn annealed(x0: f32, epoch: f32) -> f32 {
        1.0 - 1.0 / (epoch.sqrt() + 1.0 / (1.0 - x0))
    }
}

impl DualRule for Spbm {
    fn reset(&mut self, m: usize) {
        self.multipliers = vec![self.config.initial_multiplier; m];
        self.penalties = vec![PENALTY_RANGE.1; m];
        self.steps = 0;
    }

    fn update(&mut self, estimate: &Estimate, weights: &mut [f32]) -> f32 {
        let config = self.config;
        let epoch = (self.steps / config.epoch_steps) as f32;
        let gamma = Self::annealed(config.dual_averaging, epoch);
        let k = Self::annealed(config.penalty_decay, epoch);
        let state = self.multipliers.iter_mut().zip(self.penalties.iter_mut());
        for ((lambda, p), (w, &c)) in state.zip(weights.iter_mut().zip(&estimate.exact_constraints)) {
            let slope = config.barrier.derivative(c / *p);
            // The gradient weight uses the state before this update.
            *w = *lambda * slope;
            *lambda = (gamma * *lambda + (1.0 - gamma) * *lambda * slope).clamp(MIN_MULTIPLIER, config.dual_bound);
            let d = if slope < 1.0 { slope } else { config.delta * slope };
            *p = (k * *p + (1.0 - k) * *p / (d + 1e-8)).clamp(PENALTY_RANGE.0, PENALTY_RANGE.1);
        }
        self.steps += 1;
        1.0
    }

    fn multipliers(&self) -> &[f32] {
        &self.multipliers
    }

    fn log_columns(&self, names: &[String]) -> Vec<String> {
        names.iter().map(|n| format!("penalty:{n}")).collect()
    }

    fn log_values(&mut self, out: &mut Vec<f64>) {
        out.extend(self.penalties.iter().map(|&p| p as f64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::lagrangian::Lagrangian;
    use crate::algorithms::optim::PrimalConfig;
    use crate::algorithms::testing::{QuadraticProblem, tail_means};

    #[test]
    fn barriers_are_smooth_at_their_breakpoints() {
        for (barrier, t0) in [(Barrier::QuadraticLogarithmic, -0.5f32), (Barrier::QuadraticReciprocal, -1.0 / 3.0)] {
            let h = 1e-4;
            assert!((barrier.value(t0 - h) - barrier.value(t0 + h)).abs() < 1e-3, "{barrier:?} value");
            assert!((barrier.derivative(t0 - h) - barrier.derivative(t0 + h)).abs() < 1e-3, "{barrier:?} slope");
            assert_eq!(barrier.value(0.0), 0.0);
            assert_eq!(barrier.derivative(0.0), 1.0);
            for t in [-3.0f32, -0.7, -0.2, 0.5] {
                let fd = (barrier.value(t + 1e-3) - barrier.value(t - 1e-3)) / 2e-3;
                assert!((fd - barrier.derivative(t)).abs() < 1e-2, "{barrier:?} at {t}");
                assert!(barrier.derivative(t) > 0.0);
            }
        }
    }

    /// At the optimum of min (x-3)^2 s.t. x <= 1 the constraint is active,
    /// phi'(0) = 1, so the multiplier is the Lagrange multiplier 4.
    #[test]
    fn converges_to_the_constrained_optimum() {
        let mut alg =
            Lagrangian::new("spbm", Spbm::new(SpbmConfig::default()).unwrap(), PrimalConfig::sgd(0.01)).unwrap();
        let mut problem = QuadraticProblem::new(3.0, 1.0, 0.02, 6);
        let (x, lambda) = tail_means(&mut alg, &mut problem, 40_000);
        assert!((x - 1.0).abs() < 0.03, "x = {x}");
        assert!((lambda - 4.0).abs() < 0.3, "lambda = {lambda}");
    }

    #[test]
    fn annealing_moves_toward_one() {
        assert!((Spbm::annealed(0.9, 0.0) - 0.9).abs() < 1e-6);
        assert!(Spbm::annealed(0.9, 4.0) > 0.9 && Spbm::annealed(0.9, 100.0) > Spbm::annealed(0.9, 4.0));
    }
}
