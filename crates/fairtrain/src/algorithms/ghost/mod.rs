//! Stochastic Ghost (Facchinei & Kungurtsev, arXiv 2307.02943): a
//! sequential quadratic programming method for expectation constraints,
//! with a randomized multilevel Monte Carlo (MLMC) estimate of the
//! direction.
//!
//! On a minibatch with objective gradient `g`, constraint values `c` and
//! constraint gradients `A` (rows), one "solve" is:
//! 1. the ghost relaxation `kappa = (1 - lambda) max_i [c_i]_+ + lambda T*`,
//!    `T* = min_{||d||_inf <= rho} max(0, max_i (c_i + a_i d))`, which keeps
//!    the next subproblem feasible;
//! 2. the direction `d = argmin g^T d + (tau/2) ||d||^2` subject to
//!    `c + A d <= kappa` and `||d||_inf <= beta`.
//!
//! Both are solved through their m-dimensional duals (m = number of
//! constraints), never as n-dimensional programs: for multipliers `mu >= 0`
//! the direction is `clip(-(g + A^T mu) / tau, -beta, beta)`, so the QP's
//! dual is a concave piecewise-quadratic function of `mu`, maximized by
//! projected Newton steps (`direction.rs`); `T*` has a closed form for one
//! constraint and for the pairs `c_2 = -c_1 - 2b` that gap constraints
//! produce, and otherwise an upper bound from the dual, which keeps the QP
//! feasible (`relaxation.rs`). Where the problem writes its constraints over
//! fewer statistics (pairwise gaps: `k (k - 1)` rows over `k` group
//! statistics), `A` is kept as those statistics' gradients and a sparse
//! matrix (`jacobian.rs`), and both duals run in the statistics' dimensions.
//!
//! Each iteration draws a level `N` from a geometric distribution truncated
//! where the fine batch would exceed the data, solves on a batch of `m0`
//! rows (per cell), on a fine batch of `m0 2^(N+1)` rows and on its even and
//! odd halves, and steps along
//! `d = d_single + (d_fine - (d_even + d_odd) / 2) / p_N`
//! (unbiased for the truncated distribution), with a step size that shrinks
//! as `gamma <- gamma (1 - zeta gamma)`.

mod direction;
mod jacobian;
mod relaxation;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::direction::{QpScratch, solve_direction};
use self::jacobian::Jacobian;
use self::relaxation::{RelaxationScratch, ghost_relaxation};
use super::Algorithm;
use super::lagrangian::{fraction, positive};
use crate::buffer::AlignedVec;
use crate::constraints::ConstraintFactors;
use crate::error::{Error, Result};
use crate::problem::{BatchSizes, MinibatchControl, Problem, Request, RowSelection, require_minibatch_control};

/// Settings of Stochastic Ghost. The default is the paper's plotted run
/// (`alpha 0.4, beta 10, tau 1, rho 0.8, lambda 0.5, gamma0 0.05, zeta 0.05`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GhostConfig {
    /// Initial step size `gamma_0`.
    pub lr: f32,
    /// Step-size decay `zeta`: `gamma <- gamma (1 - zeta gamma)`.
    pub step_decay: f32,
    /// Parameter `alpha` of the geometric level distribution.
    pub alpha: f32,
    /// Rows per cell of the level-0 batch, `m0`.
    pub base_batch: usize,
    /// Largest level: fine batches hold at most `m0 2^(max_level+1)` rows.
    pub max_level: u32,
    /// QP regularization `tau`.
    pub tau: f32,
    /// Trust region `beta`: `||d||_inf <= beta`.
    pub trust_radius: f32,
    /// Ghost radius `rho` (< beta).
    pub ghost_radius: f32,
    /// Ghost weight `lambda` in (0, 1).
    pub ghost_weight: f32,
    /// Seed of the level draws.
    pub seed: u64,
}

impl Default for GhostConfig {
    fn default() -> Self {
        GhostConfig {
            lr: 0.05,
            step_decay: 0.05,
            alpha: 0.4,
            base_batch: 1,
            max_level: 9,
            tau: 1.0,
            trust_radius: 10.0,
            ghost_radius: 0.8,
            ghost_weight: 0.5,
            seed: 0,
        }
    }
}

impl GhostConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        positive("lr", self.lr)?;
        fraction("step-decay", self.step_decay)?;
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::config("ghost-alpha", format!("{} (must be in (0, 1))", self.alpha)));
        }
        if self.base_batch == 0 {
            return Err(Error::config("ghost-base-batch", "0 (must be at least 1)"));
        }
        if self.max_level > 20 {
            return Err(Error::config("ghost-max-level", format!("{} (at most 20)", self.max_level)));
        }
        positive("tau", self.tau)?;
        positive("trust-radius", self.trust_radius)?;
        if !(self.ghost_radius > 0.0 && self.ghost_radius < self.trust_radius) {
            return Err(Error::config(
                "ghost-radius",
                format!("{} (must be positive and below the trust radius {})", self.ghost_radius, self.trust_radius),
            ));
        }
        if !(self.ghost_weight > 0.0 && self.ghost_weight < 1.0) {
            return Err(Error::config("ghost-weight", format!("{} (must be in (0, 1))", self.ghost_weight)));
        }
        Ok(())
    }
}

/// Stochastic Ghost state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ghost {
    config: GhostConfig,
    rng: ChaCha8Rng,
    gamma: f32,
    /// Largest usable level (found on the first step).
    max_level: Option<u32>,
    /// Dual point of the last relaxation bound (a warm start).
    relaxation_dual: Vec<f64>,
    /// The last step's level.
    last_level: [f64; 1],
    /// Scratch, rebuilt on the first step after a resume.
    #[serde(skip)]
    work: Workspace,
}

/// What a step computes and discards (not checkpointed).
#[derive(Debug, Clone, Default)]
struct Workspace {
    /// The Jacobian's factors: the problem's (fewer statistics than
    /// constraints), else the identity.
    factors: ConstraintFactors,
    grad: AlignedVec,
    /// The statistics' gradients `B`, by rows.
    basis: Vec<f32>,
    zeros: Vec<f32>,
    directions: [Vec<f32>; 4],
    qp: QpScratch,
    relaxation: RelaxationScratch,
}

/// The minibatch control Stochastic Ghost needs of `problem`.
fn minibatches(problem: &mut dyn Problem) -> Result<&mut dyn MinibatchControl> {
    require_minibatch_control(problem, "stochastic ghost")
}

impl Ghost {
    /// A new run.
    pub fn new(config: GhostConfig) -> Result<Self> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(7);
        Ok(Ghost {
            config,
            rng,
            gamma: config.lr,
            max_level: None,
            relaxation_dual: Vec::new(),
            last_level: [0.0],
            work: Workspace::default(),
        })
    }

    fn sizes(&self, rows: usize) -> BatchSizes {
        BatchSizes { objective: rows, per_group: rows }
    }

    /// The largest level whose fine batch the problem can draw.
    fn find_max_level(&self, problem: &mut dyn Problem) -> Result<u32> {
        let m0 = self.config.base_batch;
        let control = require_minibatch_control(problem, "stochastic ghost")?;
        control
            .set_batch_sizes(self.sizes(m0))
            .map_err(|e| Error::Data(format!("stochastic ghost needs minibatches of {m0} rows per cell: {e}")))?;
        for level in (0..=self.config.max_level).rev() {
            if control.set_batch_sizes(self.sizes(m0 << (level + 1))).is_ok() {
                return Ok(level);
            }
        }
        Err(Error::Data(format!("stochastic ghost needs minibatches of at least {} rows per cell", 2 * m0)))
    }

    /// One solve on the current minibatches and selection: the direction
    /// goes to `self.work.directions[slot]`.
    fn solve(&mut self, problem: &mut dyn Problem, slot: usize) -> Result<()> {
        let n = problem.num_params();
        let work = &mut self.work;
        work.grad.iter_mut().for_each(|v| *v = 0.0);
        problem.add_gradient(1.0, &work.zeros, &mut work.grad)?;
        work.basis.iter_mut().for_each(|v| *v = 0.0);
        let identity = work.factors.statistics() == problem.num_constraints();
        for (k, row) in work.basis.chunks_exact_mut(n).enumerate() {
            if identity {
                problem.add_constraint_gradient(k, row)?;
            } else {
                problem.add_statistic_gradient(k, row)?;
            }
        }
        let a = Jacobian { t: &work.factors, b: &work.basis, n };
        let c = &problem.last_estimate().exact_constraints;
        let config = self.config;
        let t_star = ghost_relaxation(c, &a, config.ghost_radius, &mut self.relaxation_dual, &mut work.relaxation);
        let violation = c.iter().map(|&x| x as f64).fold(0.0, f64::max);
        let kappa = (1.0 - config.ghost_weight as f64) * violation + config.ghost_weight as f64 * t_star;
        solve_direction(
            &work.grad,
            c,
            &a,
            kappa,
            config.tau as f64,
            config.trust_radius as f64,
            &mut work.qp,
            &mut work.directions[slot],
        );
        Ok(())
    }
}

impl Algorithm for Ghost {
    crate::state::checkpoint_self!();

    fn name(&self) -> &'static str {
        "ghost"
    }

    fn step(&mut self, problem: &mut dyn Problem) -> Result<()> {
        let (n, m) = (problem.num_params(), problem.num_constraints());
        if self.work.grad.len() != n || self.work.factors.rows() != m {
            // The statistics' gradients where there are fewer statistics
            // than constraints (pairwise gaps), else each row's.
            let factors = match problem.constraint_factors() {
                Some(f) if f.rows() == m && f.statistics() < m => f.clone(),
                _ => ConstraintFactors::identity(m),
            };
            let work = &mut self.work;
            work.basis = vec![0.0; factors.statistics() * n];
            work.factors = factors;
            work.grad = AlignedVec::zeros(n);
            work.zeros = vec![0.0; m];
            work.directions = std::array::from_fn(|_| vec![0.0; n]);
        }
        let max_level = match self.max_level {
            Some(l) => l,
            None => {
                let l = self.find_max_level(problem)?;
                self.max_level = Some(l);
                l
            }
        };
        // Level N ~ Geometric(alpha) on {0, ..., max_level} (truncated and
        // renormalized, so the correction below stays unbiased).
        let alpha = self.config.alpha as f64;
        let mass = 1.0 - (1.0 - alpha).powi(max_level as i32 + 1);
        let u: f64 = self.rng.random::<f64>() * mass;
        let mut level = 0;
        let mut cumulative = alpha;
        while u > cumulative && level < max_level {
            level += 1;
            cumulative += alpha * (1.0 - alpha).powi(level as i32);
        }
        let p_level = alpha * (1.0 - alpha).powi(level as i32) / mass;
        let m0 = self.config.base_batch;

        minibatches(problem)?.select_rows(RowSelection::All)?;
        minibatches(problem)?.set_batch_sizes(self.sizes(m0))?;
        problem.estimate(Request::Both)?;
        self.solve(problem, 0)?;
        minibatches(problem)?.set_batch_sizes(self.sizes(m0 << (level + 1)))?;
        problem.estimate(Request::Both)?;
        self.solve(problem, 1)?;
        minibatches(problem)?.select_rows(RowSelection::Even)?;
        self.solve(problem, 2)?;
        minibatches(problem)?.select_rows(RowSelection::Odd)?;
        self.solve(problem, 3)?;
        // Leave the fine batch's estimates for the logs.
        minibatches(problem)?.select_rows(RowSelection::All)?;

        let weight = (1.0 / p_level) as f32;
        let gamma = self.gamma;
        let [single, fine, even, odd] = &self.work.directions;
        for ((((x, &s), &f), &e), &o) in problem.params_mut().iter_mut().zip(single).zip(fine).zip(even).zip(odd) {
            *x += gamma * (s + weight * (f - 0.5 * (e + o)));
        }
        self.gamma = gamma * (1.0 - self.config.step_decay * gamma);
        self.last_level = [level as f64];
        Ok(())
    }

    fn uses_constraints(&self) -> bool {
        true
    }

    fn log_columns(&self, _constraint_names: &[String]) -> Vec<String> {
        vec!["step_size".into()]
    }

    fn log_values(&mut self, out: &mut Vec<f64>) {
        out.push(self.gamma as f64);
    }

    fn step_value_columns(&self) -> Vec<String> {
        vec!["mean_level".into()]
    }

    fn step_values(&self) -> &[f64] {
        &self.last_level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// min (x-3)^2 s.t. x <= 1 (noisy): the SQP steps settle at x = 1.
    #[test]
    fn converges_to_the_constrained_optimum() {
        use crate::algorithms::testing::QuadraticProblem;
        let mut alg = Ghost::new(GhostConfig { lr: 0.2, step_decay: 0.001, ..GhostConfig::default() }).unwrap();
        let mut problem = QuadraticProblem::new(3.0, 1.0, 0.05, 8);
        let mut x = 0.0;
        for t in 0..4_000 {
            alg.step(&mut problem).unwrap();
            if t >= 2_000 {
                x += problem.params()[0] as f64 / 2_000.0;
            }
        }
        assert!((x - 1.0).abs() < 0.02, "x = {x}");
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let err = Ghost::new(GhostConfig { ghost_radius: 20.0, ..GhostConfig::default() }).unwrap_err();
        assert!(err.to_string().contains("below the trust radius 10"));
        assert!(Ghost::new(GhostConfig { alpha: 1.0, ..GhostConfig::default() }).is_err());
    }
}
