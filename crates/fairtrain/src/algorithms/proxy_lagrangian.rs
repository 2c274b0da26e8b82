//! The proxy-Lagrangian of Cotter, Jiang & Sridharan (ALT 2019), as
//! TensorFlow Constrained Optimization runs it by default (swap regret,
//! multiplicative updates), for constraints on rates, which are not
//! differentiable.
//!
//! Two players share weights `lambda` on the simplex over the objective and
//! the `m` constraints (index 0 is the objective, so no multiplier is ever
//! unbounded). The model player descends
//! `lambda_0 f + sum_j lambda_j c~_j` on the *smooth* constraint estimates
//! `c~`; the constraint player ascends `sum_j lambda_j c_j` on the *exact*
//! ones `c` (rates of hard predictions). For swap regret the constraint
//! player keeps a left-stochastic `(m+1) x (m+1)` matrix `M` in log form and
//! plays its stationary distribution:
//! * `lambda` = the stationary distribution of `M` (power iteration);
//! * `log M <- log M + eta (0, c) lambda^T`, then each column is normalized
//!   (log-sum-exp) and floored at `log(rho_min / (m+1))`.
//!
//! External regret keeps one distribution instead (Hedge).
//!
//! The guarantee is for the time-averaged play (a distribution over
//! iterates); fairtrain's iterate averaging returns the average of the
//! tail's parameters instead.

use serde::{Deserialize, Serialize};

use super::lagrangian::{DualRule, positive};
use crate::error::{Error, Result};
use crate::problem::Estimate;

/// Which regret the constraint player minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regret {
    /// Swap regret: a stochastic matrix and its stationary distribution.
    Swap,
    /// External regret: one distribution (Hedge).
    External,
}

/// Settings of the proxy-Lagrangian.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProxyConfig {
    /// Step size `eta` of the multiplicative updates.
    pub dual_lr: f32,
    /// Swap or external regret.
    pub regret: Regret,
    /// Every weight stays at least `rho_min / (m+1)`.
    pub min_radius: f32,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig { dual_lr: 1.0, regret: Regret::Swap, min_radius: 1e-3 }
    }
}

/// The proxy-Lagrangian's constraint player.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProxyLagrangian {
    config: ProxyConfig,
    /// log M, column-major: column k is `log_m[k * n..(k + 1) * n]`
    /// (external regret: one column).
    log_m: Vec<f32>,
    /// The current distribution over objective and constraints.
    lambda: Vec<f32>,
    scratch: Vec<f32>,
    n: usize,
}

impl ProxyLagrangian {
    /// A new player; nearly all weight starts on the objective.
    pub fn new(config: ProxyConfig) -> Result<Self> {
        positive("dual-lr", config.dual_lr)?;
        if !(config.min_radius > 0.0 && config.min_radius < 1.0) {
            return Err(Error::config("min-radius", format!("{} (must be in (0, 1))", config.min_radius)));
        }
        Ok(ProxyLagrangian { config, log_m: Vec::new(), lambda: Vec::new(), scratch: Vec::new(), n: 0 })
    }

    fn columns(&self) -> usize {
        match self.config.regret {
            Regret::Swap => self.n,
            Regret::External => 1,
        }
    }

    /// Normalizes each column in log space and floors it.
    fn project(&mut self) {
        let n = self.n;
        let floor = (self.config.min_radius / n as f32).ln();
        for column in self.log_m.chunks_mut(n) {
            let max = column.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = column.iter().map(|v| (v - max).exp()).sum();
            let log_sum = max + sum.ln();
            for v in column.iter_mut() {
                *v = (*v - log_sum).max(floor);
            }
        }
    }

    /// The distribution the player plays: the stationary distribution of
    /// `M` (swap regret) or its one column (external regret).
    fn play(&mut self) {
        let n = self.n;
        if self.config.regret == Regret::External {
            let total: f32 = self.log_m.iter().map(|v| v.exp()).sum();
            for (l, v) in self.lambda.iter_mut().zip(&self.log_m) {
                *l = v.exp() / total;
            }
            return;
        }
        // Power iteration on M (columns sum to 1): v <- M v / ||M v||.
        let start = 1.0 / (n as f32).sqrt();
        self.lambda.iter_mut().for_each(|v| *v = start);
        for _ in 0..100 {
            self.scratch.iter_mut().for_each(|v| *v = 0.0);
            for (k, column) in self.log_m.chunks(n).enumerate() {
                let vk = self.lambda[k];
                for (s, &log) in self.scratch.iter_mut().zip(column) {
                    *s += log.exp() * vk;
                }
            }
            let norm = self.scratch.iter().map(|v| v * v).sum::<f32>().sqrt();
            let mut change = 0.0;
            for (l, s) in self.lambda.iter_mut().zip(&self.scratch) {
                let next = s / norm;
                change += (next - *l) * (next - *l);
                *l = next;
            }
            if change.sqrt() <= 1e-6 {
                break;
            }
        }
        let total: f32 = self.lambda.iter().map(|v| v.abs()).sum();
        self.lambda.iter_mut().for_each(|v| *v = v.abs() / total);
    }

    /// The objective's weight in the current play.
    pub fn objective_weight(&self) -> f32 {
        self.lambda.first().copied().unwrap_or(1.0)
    }
}

impl DualRule for ProxyLagrangian {
    fn reset(&mut self, m: usize) {
        self.n = m + 1;
        let n = self.n;
        // Every column: (1 - rho m/(m+1), rho/(m+1), ...).
        let rho = self.config.min_radius;
        let (first, rest) = ((1.0 - rho * m as f32 / n as f32).ln(), (rho / n as f32).ln());
        self.log_m = (0..self.columns() * n).map(|i| if i % n == 0 { first } else { rest }).collect();
        self.lambda = vec![0.0; n];
        self.scratch = vec![0.0; n];
        self.play();
    }

    fn update(&mut self, estimate: &Estimate, weights: &mut [f32]) -> f32 {
        let n = self.n;
        // Play the current distribution: the model player's weights.
        self.play();
        weights.copy_from_slice(&self.lambda[1..]);
        let objective_weight = self.lambda[0];
        // Ascent on the exact constraints: log M[i][k] += eta c_i lambda_k.
        let eta = self.config.dual_lr;
        let regret = self.config.regret;
        for (k, column) in self.log_m.chunks_mut(n).enumerate() {
            let scale = match regret {
                Regret::Swap => eta * self.lambda[k],
                Regret::External => eta,
            };
            for (v, &c) in column[1..].iter_mut().zip(&estimate.exact_constraints) {
                *v += scale * c;
            }
        }
        self.project();
        objective_weight
    }

    fn multipliers(&self) -> &[f32] {
        &self.lambda[1.min(self.lambda.len())..]
    }

    fn log_columns(&self, _names: &[String]) -> Vec<String> {
        vec!["objective_weight".into()]
    }

    fn log_values(&mut self, out: &mut Vec<f64>) {
        out.push(self.objective_weight() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::lagrangian::Lagrangian;
    use crate::algorithms::optim::PrimalConfig;
    use crate::algorithms::testing::QuadraticProblem;
    use crate::problem::Problem;

    #[test]
    fn stationary_distribution_of_a_known_matrix() {
        let mut p = ProxyLagrangian::new(ProxyConfig::default()).unwrap();
        p.reset(1);
        // Columns (0.9, 0.1) and (0.3, 0.7): stationary (0.75, 0.25).
        p.log_m = [0.9f32, 0.1, 0.3, 0.7].iter().map(|v| v.ln()).collect();
        p.play();
        assert!((p.lambda[0] - 0.75).abs() < 1e-4 && (p.lambda[1] - 0.25).abs() < 1e-4, "{:?}", p.lambda);
    }

    #[test]
    fn starts_on_the_objective_and_shifts_weight_to_violated_constraints() {
        for regret in [Regret::Swap, Regret::External] {
            let mut p = ProxyLagrangian::new(ProxyConfig { regret, ..ProxyConfig::default() }).unwrap();
            p.reset(2);
            assert!(p.objective_weight() > 0.99);
            let violated =
                Estimate { objective: 0.0, constraints: vec![0.2, -0.3], exact_constraints: vec![0.2, -0.3] };
            let mut w = [0.0; 2];
            for _ in 0..200 {
                p.update(&violated, &mut w);
            }
            assert!(w[0] > 0.2, "{regret:?}: {w:?}");
            assert!(w[1] < 1e-3, "{regret:?}: {w:?}");
            let total: f32 = p.lambda.iter().sum();
            assert!((total - 1.0).abs() < 1e-5);
        }
    }

    /// min (x-3)^2 s.t. x <= 1: the played weights settle where
    /// lambda_1 / lambda_0 is the Lagrange multiplier 4 and x at 1.
    #[test]
    fn converges_to_the_constrained_optimum() {
        let config = ProxyConfig { dual_lr: 0.5, ..ProxyConfig::default() };
        let mut alg =
            Lagrangian::new("proxy-lagrangian", ProxyLagrangian::new(config).unwrap(), PrimalConfig::sgd(0.05))
                .unwrap();
        let mut problem = QuadraticProblem::new(3.0, 1.0, 0.02, 7);
        let (mut x, mut ratio) = (0.0, 0.0);
        let n = 40_000;
        for t in 0..n {
            crate::algorithms::Algorithm::step(&mut alg, &mut problem).unwrap();
            if t >= n / 2 {
                x += problem.params()[0] as f64 / (n / 2) as f64;
                let d = alg.dual();
                ratio += (d.lambda[1] / d.lambda[0]) as f64 / (n / 2) as f64;
            }
        }
        assert!((x - 1.0).abs() < 0.03, "x = {x}");
        assert!((ratio - 4.0).abs() < 0.4, "ratio = {ratio}");
    }
}
