//! SSL-ALM: the smoothed stochastic linearized augmented Lagrangian method
//! (Huang, Zhang & Alacaoglu, arXiv 2504.07607), as humancompatible-train
//! 0.4.2 runs it: stochastic augmented-Lagrangian dual ascent with clamped
//! multipliers, and a Moreau-envelope smoothed SGD primal step.
//!
//! One iteration, with minibatch estimates `f`, `c` (one sample serves both
//! the multiplier update and the gradient):
//! * dual (slack-minimized, "HPR", augmentation):
//!   `lambda <- clamp(lambda + eta * ([lambda + rho c]_+ - lambda) / rho, 0, lambda_max)`;
//!   the gradient weight of `c_j` is `[lambda_j + rho c_j]_+` (post-update lambda);
//! * or (quadratic augmentation): `lambda <- clamp(lambda + eta c)`, weight
//!   `lambda_j + rho [c_j]_+`;
//! * primal: `g = grad f + sum_j w_j grad c_j + mu (x - z)`,
//!   `z <- z + beta (x - z)`, `x <- x - tau g`.
//!
//! The paper's own benchmark code differs (see the README): it carries
//! explicit slack variables, takes the penalty term's constraint value from
//! an independent second sample, resets `lambda` to 0 when its norm reaches
//! the bound instead of clamping, and adds one full-batch step at the end.
//! The package form is used here because its multipliers stay bounded and
//! it needs one constraint sample per step.

use serde::{Deserialize, Serialize};

use super::Algorithm;
use super::optim::{MoreauEnvelope, PrimalOptimizer, Sgd};
use crate::error::{Error, Result};
use crate::problem::{Problem, Request};

/// How the penalty augments the Lagrangian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Augmentation {
    /// The slack-minimized (Hestenes-Powell-Rockafellar) form.
    Hpr,
    /// `(rho/2) ||[c]_+||^2`.
    Quadratic,
}

/// Hyperparameters of SSL-ALM. The default is the paper preset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SslAlmConfig {
    /// Primal step size `tau`.
    pub lr: f32,
    /// Dual step size `eta`.
    pub dual_lr: f32,
    /// Penalty `rho` (> 0).
    pub penalty: f32,
    /// Moreau proximal weight `mu` (0: plain ALM).
    pub mu: f32,
    /// Moreau anchor rate `beta`.
    pub beta: f32,
    /// Multipliers are clamped to `[0, dual_bound]`.
    pub dual_bound: f32,
    /// Augmentation.
    pub augmentation: Augmentation,
}

impl Default for SslAlmConfig {
    fn default() -> Self {
        SslAlmConfig {
            lr: 0.01,
            dual_lr: 0.05,
            penalty: 1.0,
            mu: 2.0,
            beta: 0.5,
            dual_bound: 10.0,
            augmentation: Augmentation::Hpr,
        }
    }
}

impl SslAlmConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        positive("lr", self.lr)?;
        positive("dual-lr", self.dual_lr)?;
        positive("penalty", self.penalty)?;
        non_negative("mu", self.mu)?;
        if !(self.beta > 0.0 && self.beta <= 1.0) {
            return Err(Error::config("beta", format!("{} (must be in (0, 1])", self.beta)));
        }
        positive("dual-bound", self.dual_bound)
    }
}

pub(crate) fn positive(field: &str, v: f32) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::config(field, format!("{v} (must be a positive number)")))
    }
}

pub(crate) fn non_negative(field: &str, v: f32) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(field, format!("{v} (must be a non-negative number)")))
    }
}

/// SSL-ALM state.
#[derive(Debug, Clone)]
pub struct SslAlm {
    config: SslAlmConfig,
    multipliers: Vec<f32>,
    weights: Vec<f32>,
    grad: Vec<f32>,
    smoothing: MoreauEnvelope,
    sgd: Sgd,
}

impl SslAlm {
    /// A new run with multipliers at 0.
    pub fn new(config: SslAlmConfig) -> Result<Self> {
        config.validate()?;
        Ok(SslAlm {
            config,
            multipliers: Vec::new(),
            weights: Vec::new(),
            grad: Vec::new(),
            smoothing: MoreauEnvelope::new(config.mu, config.beta),
            sgd: Sgd::new(config.lr, 0.0),
        })
    }
}

impl Algorithm for SslAlm {
    fn name(&self) -> &'static str {
        "ssl-alm"
    }

    fn step(&mut self, problem: &mut dyn Problem) -> Result<()> {
        let m = problem.num_constraints();
        if self.multipliers.len() != m {
            self.multipliers = vec![0.0; m];
            self.weights = vec![0.0; m];
        }
        if self.grad.len() != problem.num_params() {
            self.grad = vec![0.0; problem.num_params()];
        }
        problem.estimate(Request::Both)?;
        let SslAlmConfig { dual_lr: eta, penalty: rho, dual_bound, augmentation, .. } = self.config;
        let c = &problem.last_estimate().constraints;
        for ((lambda, w), &cj) in self.multipliers.iter_mut().zip(&mut self.weights).zip(c) {
            match augmentation {
                Augmentation::Hpr => {
                    let direction = ((*lambda + rho * cj).max(0.0) - *lambda) / rho;
                    *lambda = (*lambda + eta * direction).clamp(0.0, dual_bound);
                    *w = (*lambda + rho * cj).max(0.0);
                }
                Augmentation::Quadratic => {
                    *lambda = (*lambda + eta * cj).clamp(0.0, dual_bound);
                    *w = *lambda + rho * cj.max(0.0);
                }
            }
        }
        problem.add_gradient(1.0, &self.weights, &mut self.grad)?;
        let params = problem.params_mut();
        if self.config.mu > 0.0 {
            self.smoothing.sgd_step(params, &mut self.grad, self.config.lr);
        } else {
            self.sgd.step(params, &mut self.grad);
        }
        Ok(())
    }

    fn uses_constraints(&self) -> bool {
        true
    }

    fn has_multipliers(&self) -> bool {
        true
    }

    fn multipliers(&self) -> &[f32] {
        &self.multipliers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testing::QuadraticProblem;

    /// min (x-3)^2 s.t. x - 1 <= 0 (noisy): optimum x = 1, lambda = 4.
    #[test]
    fn converges_to_the_constrained_optimum() {
        let mut problem = QuadraticProblem::new(3.0, 1.0, 0.05, 1);
        let config = SslAlmConfig {
            lr: 0.02,
            dual_lr: 0.05,
            penalty: 1.0,
            mu: 0.5,
            beta: 0.5,
            dual_bound: 10.0,
            augmentation: Augmentation::Hpr,
        };
        let mut alg = SslAlm::new(config).unwrap();
        let mut mean_x = 0.0;
        let mut mean_lambda = 0.0;
        for t in 0..20_000 {
            alg.step(&mut problem).unwrap();
            if t >= 10_000 {
                mean_x += problem.params()[0] as f64 / 10_000.0;
                mean_lambda += alg.multipliers()[0] as f64 / 10_000.0;
            }
        }
        assert!((mean_x - 1.0).abs() < 0.02, "x = {mean_x}");
        assert!((mean_lambda - 4.0).abs() < 0.2, "lambda = {mean_lambda}");
    }

    #[test]
    fn quadratic_augmentation_converges_too() {
        let mut problem = QuadraticProblem::new(3.0, 1.0, 0.05, 2);
        let config = SslAlmConfig { lr: 0.02, augmentation: Augmentation::Quadratic, ..SslAlmConfig::default() };
        let mut alg = SslAlm::new(config).unwrap();
        let mut mean_x = 0.0;
        for t in 0..20_000 {
            alg.step(&mut problem).unwrap();
            if t >= 10_000 {
                mean_x += problem.params()[0] as f64 / 10_000.0;
            }
        }
        assert!((mean_x - 1.0).abs() < 0.02, "x = {mean_x}");
    }

    #[test]
    fn multipliers_stay_in_their_bounds() {
        // A constraint that cannot be met (x + 10 <= 0 from x = 3 with tiny
        // steps) drives lambda to its bound and no further.
        let mut problem = QuadraticProblem::new(3.0, -10.0, 0.0, 3);
        let mut alg = SslAlm::new(SslAlmConfig { lr: 1e-6, dual_bound: 2.0, ..SslAlmConfig::default() }).unwrap();
        for _ in 0..1_000 {
            alg.step(&mut problem).unwrap();
        }
        assert_eq!(alg.multipliers()[0], 2.0);
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let err = SslAlm::new(SslAlmConfig { penalty: 0.0, ..SslAlmConfig::default() }).unwrap_err();
        assert_eq!(err.to_string(), "invalid value for penalty: 0 (must be a positive number)");
        assert!(SslAlm::new(SslAlmConfig { beta: 1.5, ..SslAlmConfig::default() }).is_err());
    }
}
