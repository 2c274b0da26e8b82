//! A quadratic penalty method: minimize `f + (rho/2) sum_j [c_j]_+^2`, so the
//! weight of a violated constraint's gradient is `rho c_j`. No multipliers:
//! the violation left at the solution shrinks like `1/rho`, which is the
//! weakness the Lagrangian methods remove. With `penalty_growth > 1` the
//! penalty grows each step (up to `max_penalty`) while the constraints are
//! violated on average, the classical penalty-method schedule: "on
//! average" is an exponential average (over about 100 steps) of the largest
//! exact constraint value, so minibatch noise at the boundary does not
//! inflate the penalty.
//!
//! With `constraint_averaging < 1` the weights use a running average of each
//! constraint instead of the current minibatch estimate. `E[[c]_+]` exceeds
//! `[E c]_+` by about the noise of `c`, so with noisy estimates (rates on
//! small batches) the per-batch weights keep pushing a feasible model
//! further, toward the trivial predictor.

use super::lagrangian::{ConstraintAverage, DualRule, averaging_weight, positive};
use crate::error::{Error, Result};
use crate::problem::Estimate;

/// Settings of the penalty method.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PenaltyConfig {
    /// Penalty `rho`.
    pub penalty: f32,
    /// Factor applied to `rho` after a step whose largest constraint
    /// estimate is positive (1: a fixed penalty).
    pub penalty_growth: f32,
    /// Cap on `rho`.
    pub max_penalty: f32,
    /// Weight of the newest estimate in the running average of each
    /// constraint that the penalty weights use (1: the current batch only).
    pub constraint_averaging: f32,
}

impl Default for PenaltyConfig {
    fn default() -> Self {
        PenaltyConfig { penalty: 10.0, penalty_growth: 1.0, max_penalty: 1e4, constraint_averaging: 1.0 }
    }
}

/// The penalty method's state: the penalty, and the weights shown as
/// "multipliers" (`rho [c]_+`, the multipliers it implies).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Penalty {
    config: PenaltyConfig,
    penalty: f32,
    implied: Vec<f32>,
    /// Running averages of the constraints (weight `config.constraint_averaging`).
    averages: ConstraintAverage,
    /// Exponential average of the largest constraint value.
    worst_average: f32,
}

/// Weight of the newest value in the average of the largest constraint.
const WORST_AVERAGING: f32 = 0.01;

impl Penalty {
    /// A penalty starting at `config.penalty`.
    pub fn new(config: PenaltyConfig) -> Result<Self> {
        positive("penalty", config.penalty)?;
        if !(config.penalty_growth.is_finite() && config.penalty_growth >= 1.0) {
            return Err(Error::config("penalty-growth", format!("{} (must be at least 1)", config.penalty_growth)));
        }
        averaging_weight("constraint-averaging", config.constraint_averaging)?;
        Ok(Penalty {
            config,
            penalty: config.penalty,
            implied: Vec::new(),
            averages: ConstraintAverage::new(config.constraint_averaging),
            worst_average: 0.0,
        })
    }
}

impl DualRule for Penalty {
    fn reset(&mut self, m: usize) {
        self.implied = vec![0.0; m];
        self.averages.reset();
        self.penalty = self.config.penalty;
        self.worst_average = 0.0;
    }

    fn update(&mut self, estimate: &Estimate, weights: &mut [f32]) -> f32 {
        let mut worst = f32::NEG_INFINITY;
        let averages = self.averages.update(&estimate.exact_constraints);
        for ((implied, w), &average) in self.implied.iter_mut().zip(weights.iter_mut()).zip(averages) {
            *w = self.penalty * average.max(0.0);
            *implied = *w;
            worst = worst.max(average);
        }
        if worst.is_finite() {
            self.worst_average += WORST_AVERAGING * (worst - self.worst_average);
        }
        if self.worst_average > 0.0 {
            self.penalty = (self.penalty * self.config.penalty_growth).min(self.config.max_penalty);
        }
        1.0
    }

    fn multipliers(&self) -> &[f32] {
        &self.implied
    }

    fn log_columns(&self, _names: &[String]) -> Vec<String> {
        vec!["penalty".into()]
    }

    fn log_values(&mut self, out: &mut Vec<f64>) {
        out.push(self.penalty as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::lagrangian::Lagrangian;
    use crate::algorithms::optim::PrimalConfig;
    use crate::algorithms::testing::{QuadraticProblem, tail_means};

    /// A growing penalty drives the violation toward zero.
    #[test]
    fn growing_penalty_approaches_feasibility() {
        let config = PenaltyConfig { penalty: 1.0, penalty_growth: 1.01, max_penalty: 1e3, constraint_averaging: 1.0 };
        let mut alg = Lagrangian::new("penalty", Penalty::new(config).unwrap(), PrimalConfig::sgd(1e-4)).unwrap();
        let mut problem = QuadraticProblem::new(3.0, 1.0, 0.0, 5);
        let (x, _) = tail_means(&mut alg, &mut problem, 20_000);
        assert!(x - 1.0 < 0.01, "x = {x}");
    }

    /// min (x-3)^2 + (rho/2) [x-1]_+^2 has its minimum at x = 1 + 4/(2+rho):
    /// the penalty method's known bias, here 1 + 4/12 with rho = 10.
    #[test]
    fn converges_to_the_penalized_optimum() {
        let mut alg =
            Lagrangian::new("penalty", Penalty::new(PenaltyConfig::default()).unwrap(), PrimalConfig::sgd(0.01))
                .unwrap();
        let mut problem = QuadraticProblem::new(3.0, 1.0, 0.0, 5);
        let (x, implied) = tail_means(&mut alg, &mut problem, 4_000);
        assert!((x - (1.0 + 4.0 / 12.0)).abs() < 1e-3, "x = {x}");
        // The implied multiplier rho (x - 1) = 10/3.
        assert!((implied - 10.0 / 3.0).abs() < 1e-2, "{implied}");
    }

    /// With constraint noise of deviation 1, per-batch weights
    /// `rho E[[c]_+]` push x to about 1 instead of the penalized optimum
    /// 1 + 4/12; averaged constraint estimates remove most of that bias.
    #[test]
    fn averaging_removes_the_noise_bias_of_the_weights() {
        let mean_x = |constraint_averaging: f32| {
            let config = PenaltyConfig { constraint_averaging, ..PenaltyConfig::default() };
            let mut alg = Lagrangian::new("penalty", Penalty::new(config).unwrap(), PrimalConfig::sgd(0.002)).unwrap();
            let mut problem = QuadraticProblem::new(3.0, 1.0, 1.0, 7);
            tail_means(&mut alg, &mut problem, 40_000).0
        };
        let single = mean_x(1.0);
        assert!((single - 1.0).abs() < 0.05, "x = {single}");
        let averaged = mean_x(0.02);
        assert!((averaged - (1.0 + 4.0 / 12.0)).abs() < 0.05, "x = {averaged}");
    }
}
