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
//! dual is a concave piecewise-quadratic function of `mu`, maximized here
//! by projected Newton steps; `T*` has a closed form for one constraint and
//! for the pairs `c_2 = -c_1 - 2b` that gap constraints produce, and
//! otherwise an upper bound from the dual (which keeps the QP feasible).
//!
//! Each iteration draws a level `N` from a geometric distribution truncated
//! where the fine batch would exceed the data, solves on a batch of `m0`
//! rows (per cell), on a fine batch of `m0 2^(N+1)` rows and on its even and
//! odd halves, and steps along
//! `d = d_single + (d_fine - (d_even + d_odd) / 2) / p_N`
//! (unbiased for the truncated distribution), with a step size that shrinks
//! as `gamma <- gamma (1 - zeta gamma)`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Algorithm;
use super::lagrangian::{fraction, positive};
use crate::buffer::AlignedVec;
use crate::error::{Error, Result};
use crate::problem::{BatchSizes, MinibatchControl, Problem, Request, RowSelection, require_minibatch_control};
use crate::simd::{dispatched, fmadd, isa};

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

/// `T* = min_{||d||_inf <= rho} max(0, max_i (c_i + a_i . d))` (rows of `a`
/// are the constraint gradients), exactly for one constraint and for pairs
/// with `a_2 = -a_1`; otherwise an upper bound (which is what keeps the
/// direction subproblem feasible), from a short projected supergradient
/// ascent on the dual `max {w^T c - rho ||A^T w||_1 : w >= 0, sum w <= 1}`
/// started from `warm` (the previous solve's dual point, updated here) and
/// stopped when the duality gap is small.
pub fn ghost_relaxation(c: &[f32], a: &[f32], n: usize, rho: f32, warm: &mut Vec<f64>) -> f64 {
    let m = c.len();
    let rho = rho as f64;
    let row = |i: usize| &a[i * n..(i + 1) * n];
    let l1 = |v: &[f32]| v.iter().map(|x| x.abs() as f64).sum::<f64>();
    let d_zero = c.iter().map(|&x| x as f64).fold(0.0, f64::max);
    match m {
        0 => return 0.0,
        1 => return (c[0] as f64 - rho * l1(row(0))).max(0.0),
        2 => {
            let (a1, a2) = (row(0), row(1));
            let scale = a1.iter().fold(0.0f32, |s, x| s.max(x.abs()));
            if a1.iter().zip(a2).all(|(x, y)| (x + y).abs() <= 1e-6 * scale.max(1e-30)) {
                let r = rho * l1(a1);
                let (c1, c2) = (c[0] as f64, c[1] as f64);
                let s = ((c2 - c1) / 2.0).clamp(-r, r);
                return 0.0f64.max(c1 + s).max(c2 - s);
            }
        }
        _ => {}
    }
    // General case: projected supergradient ascent on the dual, with primal
    // recovery. The best response to w is d(w) = -rho sign(A^T w), a box
    // vertex; the step-weighted average of the best responses is in the box
    // and converges to a primal optimum (ergodic averaging), and only its
    // projections s = A d enter the bound max(0, max_i c_i + s_i).
    if warm.len() != m {
        *warm = vec![1.0 / (m + 1) as f64; m];
    }
    let w = warm;
    let mut atw = vec![0.0f32; n];
    let mut projections = vec![0.0f64; m];
    let mut averaged = vec![0.0f64; m];
    let mut weight_sum = 0.0;
    let mut best = d_zero;
    let mut lower = 0.0f64;
    for t in 0..RELAXATION_ITERATIONS {
        atw.iter_mut().for_each(|v| *v = 0.0);
        for (i, &wi) in w.iter().enumerate() {
            if wi != 0.0 {
                weighted_add(isa(), &mut atw, wi as f32, row(i));
            }
        }
        for (i, p) in projections.iter_mut().enumerate() {
            *p = -rho * signed_sum(isa(), row(i), &atw) as f64;
        }
        let step = 0.5 / (1.0 + t as f64).sqrt();
        weight_sum += step;
        for (avg, &p) in averaged.iter_mut().zip(&projections) {
            *avg += step / weight_sum * (p - *avg);
        }
        let at_vertex = (0..m).map(|i| c[i] as f64 + projections[i]).fold(0.0, f64::max);
        let at_average = (0..m).map(|i| c[i] as f64 + averaged[i]).fold(0.0, f64::max);
        best = best.min(at_vertex).min(at_average);
        // The dual value at w is a lower bound: w^T (c + s) with s the best
        // response, since w^T A d(w) = -rho ||A^T w||_1.
        lower = lower.max((0..m).map(|i| w[i] * (c[i] as f64 + projections[i])).sum::<f64>());
        if best - lower <= 1e-4 + 1e-3 * best.abs() {
            break;
        }
        // A supergradient of the dual objective is c + s; ascend and project
        // onto {w >= 0, sum w <= 1}.
        for (i, wi) in w.iter_mut().enumerate() {
            *wi = (*wi + step * (c[i] as f64 + projections[i])).max(0.0);
        }
        let total: f64 = w.iter().sum();
        if total > 1.0 {
            project_capped_simplex(w);
        }
    }
    best
}

#[inline(always)]
fn weighted_add_impl<const FMA: bool>(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = fmadd::<FMA>(a, x, *y);
    }
}

/// `sum_j a_j sign(t_j)` (with sign(+0) = 1), branch-free.
#[inline(always)]
fn signed_sum_impl<const FMA: bool>(a: &[f32], t: &[f32], out: &mut f32) {
    let mut acc = [0f32; 8];
    let (ac, tc) = (a.chunks_exact(8), t.chunks_exact(8));
    let tail: f32 = ac.remainder().iter().zip(tc.remainder()).map(|(&x, &s)| x * 1f32.copysign(s)).sum();
    for (x, s) in ac.zip(tc) {
        for k in 0..8 {
            acc[k] = fmadd::<FMA>(x[k], 1f32.copysign(s[k]), acc[k]);
        }
    }
    *out = acc.iter().sum::<f32>() + tail;
}

dispatched! {
    /// `y += a x`
    fn weighted_add(y: &mut [f32], a: f32, x: &[f32]) => weighted_add_impl;
}

dispatched! {
    /// `sum_j a_j sign(t_j)`
    fn signed_sum_into(a: &[f32], t: &[f32], out: &mut f32) => signed_sum_impl;
}

fn signed_sum(isa: crate::simd::Isa, a: &[f32], t: &[f32]) -> f32 {
    let mut out = 0.0;
    signed_sum_into(isa, a, t, &mut out);
    out
}

/// Iterations of the general-case relaxation bound (each costs two passes
/// over the constraint gradients).
const RELAXATION_ITERATIONS: usize = 20;

/// Euclidean projection onto `{w >= 0, sum w = 1}` of a vector with
/// non-negative entries summing to more than 1.
fn project_capped_simplex(w: &mut [f64]) {
    let mut sorted = w.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut cumulative = 0.0;
    let mut theta = 0.0;
    for (k, &v) in sorted.iter().enumerate() {
        cumulative += v;
        let t = (cumulative - 1.0) / (k + 1) as f64;
        if v - t > 0.0 {
            theta = t;
        }
    }
    w.iter_mut().for_each(|v| *v = (*v - theta).max(0.0));
}

/// Scratch space of the direction subproblem (no allocation per solve
/// once sized).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct QpScratch {
    mu: Vec<f64>,
    trial: Vec<f64>,
    step: Vec<f64>,
    gradient: Vec<f64>,
    atmu: Vec<f64>,
    d: Vec<f64>,
    hessian: Vec<f64>,
}

/// `argmin_d g^T d + (tau/2) ||d||^2 s.t. c + A d <= kappa, |d_j| <= beta`,
/// written to `out`, through the dual in `mu >= 0` (projected Newton with
/// backtracking on the concave piecewise-quadratic dual). Returns the
/// number of Newton iterations.
#[allow(clippy::too_many_arguments)]
fn solve_direction(
    g: &[f32],
    c: &[f32],
    a: &[f32],
    kappa: f64,
    tau: f64,
    beta: f64,
    scratch: &mut QpScratch,
    out: &mut [f32],
) -> usize {
    let (m, n) = (c.len(), g.len());
    let s = scratch;
    s.mu.clear();
    s.mu.resize(m, 0.0);
    s.atmu.resize(n, 0.0);
    s.d.resize(n, 0.0);
    let h: Vec<f64> = c.iter().map(|&ci| kappa - ci as f64).collect();
    // Dual value, the direction d(mu) and the residuals A d - h.
    let evaluate = |mu: &[f64], atmu: &mut Vec<f64>, d: &mut Vec<f64>, residual: &mut Vec<f64>| -> f64 {
        atmu.iter_mut().for_each(|v| *v = 0.0);
        for (i, &mi) in mu.iter().enumerate() {
            if mi != 0.0 {
                for (t, &x) in atmu.iter_mut().zip(&a[i * n..(i + 1) * n]) {
                    *t += mi * x as f64;
                }
            }
        }
        let mut value = 0.0;
        for ((dj, &gj), &tj) in d.iter_mut().zip(g).zip(atmu.iter()) {
            *dj = (-(gj as f64 + tj) / tau).clamp(-beta, beta);
            value += gj as f64 * *dj + 0.5 * tau * *dj * *dj;
        }
        residual.clear();
        for i in 0..m {
            let ad: f64 = a[i * n..(i + 1) * n].iter().zip(d.iter()).map(|(&x, &dj)| x as f64 * dj).sum();
            residual.push(ad - h[i]);
            value += mu[i] * (ad - h[i]);
        }
        value
    };
    let mut residual = std::mem::take(&mut s.gradient);
    let mut value = evaluate(&s.mu, &mut s.atmu, &mut s.d, &mut residual);
    let mut iterations = 0;
    let scale = 1.0 + residual.iter().fold(0.0f64, |acc, r| acc.max(r.abs()));
    for _ in 0..60 {
        // Free dual variables: positive, or at 0 with an ascent direction.
        let free: Vec<usize> = (0..m).filter(|&i| s.mu[i] > 0.0 || residual[i] > 0.0).collect();
        let projected = free.iter().map(|&i| residual[i].abs()).fold(0.0, f64::max);
        if projected <= 1e-9 * scale {
            break;
        }
        iterations += 1;
        // Newton system on the free variables: (A_F A_F^T / tau) step = residual,
        // A_F = the free rows restricted to unclipped coordinates of d.
        let k = free.len();
        s.hessian.clear();
        s.hessian.resize(k * k, 0.0);
        for (p, &i) in free.iter().enumerate() {
            for (q, &j) in free.iter().enumerate().skip(p) {
                let mut dot = 0.0;
                for ((&x, &y), (&gj, &tj)) in
                    a[i * n..(i + 1) * n].iter().zip(&a[j * n..(j + 1) * n]).zip(g.iter().zip(s.atmu.iter()))
                {
                    if ((gj as f64 + tj) / tau).abs() < beta {
                        dot += x as f64 * y as f64;
                    }
                }
                s.hessian[p * k + q] = dot / tau;
                s.hessian[q * k + p] = dot / tau;
            }
        }
        let trace: f64 = (0..k).map(|p| s.hessian[p * k + p]).sum();
        let ridge = 1e-10 * trace.max(1e-30);
        for p in 0..k {
            s.hessian[p * k + p] += ridge;
        }
        s.step.clear();
        s.step.resize(m, 0.0);
        let rhs: Vec<f64> = free.iter().map(|&i| residual[i]).collect();
        let direction = solve_spd(&mut s.hessian, k, rhs);
        for (&i, v) in free.iter().zip(direction) {
            s.step[i] = v;
        }
        // Backtracking along the projected path.
        let mut t = 1.0;
        let mut accepted = false;
        let mut trial_residual = Vec::with_capacity(m);
        for _ in 0..40 {
            s.trial.clear();
            s.trial.extend(s.mu.iter().zip(&s.step).map(|(&mi, &si)| (mi + t * si).max(0.0)));
            let trial_value = evaluate(&s.trial, &mut s.atmu, &mut s.d, &mut trial_residual);
            if trial_value >= value - 1e-12 * value.abs().max(1.0) {
                std::mem::swap(&mut s.mu, &mut s.trial);
                residual = std::mem::take(&mut trial_residual);
                value = trial_value;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            // Restore d(mu) for the current mu and stop.
            value = evaluate(&s.mu, &mut s.atmu, &mut s.d, &mut residual);
            break;
        }
    }
    let _ = value;
    for (o, &dj) in out.iter_mut().zip(&s.d) {
        *o = dj as f32;
    }
    s.gradient = residual;
    iterations
}

/// Solves the symmetric positive definite system `h x = b` (`h` is `k x k`,
/// overwritten) by Cholesky factorization.
fn solve_spd(h: &mut [f64], k: usize, mut b: Vec<f64>) -> Vec<f64> {
    for j in 0..k {
        let mut diag = h[j * k + j];
        for p in 0..j {
            diag -= h[j * k + p] * h[j * k + p];
        }
        let diag = diag.max(1e-300).sqrt();
        h[j * k + j] = diag;
        for i in j + 1..k {
            let mut v = h[i * k + j];
            for p in 0..j {
                v -= h[i * k + p] * h[j * k + p];
            }
            h[i * k + j] = v / diag;
        }
    }
    for i in 0..k {
        for p in 0..i {
            b[i] -= h[i * k + p] * b[p];
        }
        b[i] /= h[i * k + i];
    }
    for i in (0..k).rev() {
        for p in i + 1..k {
            b[i] -= h[p * k + i] * b[p];
        }
        b[i] /= h[i * k + i];
    }
    b
}

/// Stochastic Ghost state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ghost {
    config: GhostConfig,
    rng: ChaCha8Rng,
    gamma: f32,
    /// Largest usable level (found on the first step).
    max_level: Option<u32>,
    grad: AlignedVec,
    jacobian: Vec<f32>,
    zeros: Vec<f32>,
    directions: [Vec<f32>; 4],
    scratch: QpScratch,
    /// Dual point of the last relaxation bound (a warm start).
    relaxation_dual: Vec<f64>,
    /// The last step's level.
    last_level: [f64; 1],
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
            grad: AlignedVec::default(),
            jacobian: Vec::new(),
            zeros: Vec::new(),
            directions: Default::default(),
            scratch: QpScratch::default(),
            relaxation_dual: Vec::new(),
            last_level: [0.0],
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
    /// goes to `self.directions[slot]`.
    fn solve(&mut self, problem: &mut dyn Problem, slot: usize) -> Result<()> {
        let (n, m) = (problem.num_params(), problem.num_constraints());
        self.grad.iter_mut().for_each(|v| *v = 0.0);
        problem.add_gradient(1.0, &self.zeros, &mut self.grad)?;
        self.jacobian.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..m {
            problem.add_constraint_gradient(i, &mut self.jacobian[i * n..(i + 1) * n])?;
        }
        let c = &problem.last_estimate().exact_constraints;
        let config = self.config;
        let t_star = ghost_relaxation(c, &self.jacobian, n, config.ghost_radius, &mut self.relaxation_dual);
        let violation = c.iter().map(|&x| x as f64).fold(0.0, f64::max);
        let kappa = (1.0 - config.ghost_weight as f64) * violation + config.ghost_weight as f64 * t_star;
        solve_direction(
            &self.grad,
            c,
            &self.jacobian,
            kappa,
            config.tau as f64,
            config.trust_radius as f64,
            &mut self.scratch,
            &mut self.directions[slot],
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
        if self.grad.len() != n {
            self.grad = AlignedVec::zeros(n);
            self.jacobian = vec![0.0; m * n];
            self.zeros = vec![0.0; m];
            self.directions = std::array::from_fn(|_| vec![0.0; n]);
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
        let [single, fine, even, odd] = &self.directions;
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

    /// Brute force over the box corners and a grid for tiny n.
    fn brute_t_star(c: &[f32], a: &[f32], n: usize, rho: f32) -> f64 {
        let steps = 40;
        let mut best = f64::INFINITY;
        let mut idx = vec![0usize; n];
        loop {
            let d: Vec<f64> = idx.iter().map(|&k| -rho as f64 + 2.0 * rho as f64 * k as f64 / steps as f64).collect();
            let worst = (0..c.len())
                .map(|i| c[i] as f64 + (0..n).map(|j| a[i * n + j] as f64 * d[j]).sum::<f64>())
                .fold(0.0, f64::max);
            best = best.min(worst);
            let mut p = 0;
            while p < n {
                idx[p] += 1;
                if idx[p] <= steps {
                    break;
                }
                idx[p] = 0;
                p += 1;
            }
            if p == n {
                return best;
            }
        }
    }

    #[test]
    fn ghost_relaxation_closed_forms_and_bound() {
        // One constraint: [c - rho ||a||_1]_+.
        let warm = &mut Vec::new();
        assert!((ghost_relaxation(&[1.0], &[0.3, -0.2], 2, 0.8, warm) - 0.6).abs() < 1e-6);
        assert_eq!(ghost_relaxation(&[0.1], &[0.3, -0.2], 2, 0.8, warm), 0.0);
        // A pair c_2 = -c_1 - 2b with opposite gradients.
        let (a, c) = ([0.5f32, -0.25, -0.5, 0.25], [0.9f32, -1.0]);
        let exact = ghost_relaxation(&c, &a, 2, 0.2, warm);
        assert!((exact - brute_t_star(&c, &a, 2, 0.2)).abs() < 1e-2, "{exact}");
        // General constraints: an upper bound close to the optimum.
        let a3 = [1.0f32, 0.0, 0.0, 1.0, -1.0, -1.0];
        let c3 = [0.5f32, 0.4, 0.3];
        let truth = brute_t_star(&c3, &a3, 2, 0.3);
        // A few warm-started calls (as consecutive solves make) tighten it.
        let mut bound = f64::INFINITY;
        for _ in 0..5 {
            bound = ghost_relaxation(&c3, &a3, 2, 0.3, warm);
        }
        assert!(bound >= truth - 1e-2 && bound <= truth + 0.05, "{bound} vs {truth}");
    }

    /// The dual solution against a direct solution of small QPs (a grid
    /// over the box for n = 2).
    #[test]
    fn direction_solves_the_qp() {
        type Case<'a> = (&'a [f32], &'a [f32], &'a [f32], f64);
        let cases: [Case; 4] = [
            (&[1.0, -2.0], &[0.5], &[1.0, 1.0], 0.0),
            (&[1.0, -2.0], &[0.5, -0.9], &[1.0, 1.0, -1.0, -1.0], 0.2),
            (&[-3.0, 0.5], &[0.2, 0.1], &[0.0, 1.0, 1.0, 0.5], 0.1),
            (&[0.3, 0.3], &[-1.0], &[1.0, -1.0], 0.0),
        ];
        for (g, c, a, kappa) in cases {
            let (tau, beta) = (1.0, 1.5);
            let mut d = [0.0f32; 2];
            solve_direction(g, c, a, kappa, tau, beta, &mut QpScratch::default(), &mut d);
            let objective =
                |d: [f64; 2]| g[0] as f64 * d[0] + g[1] as f64 * d[1] + 0.5 * tau * (d[0] * d[0] + d[1] * d[1]);
            let feasible = |d: [f64; 2]| {
                (0..c.len()).all(|i| c[i] as f64 + a[2 * i] as f64 * d[0] + a[2 * i + 1] as f64 * d[1] <= kappa + 1e-9)
            };
            let ours = [d[0] as f64, d[1] as f64];
            assert!(
                feasible(ours)
                    || (0..c.len()).all(|i| {
                        c[i] as f64 + a[2 * i] as f64 * ours[0] + a[2 * i + 1] as f64 * ours[1] <= kappa + 1e-5
                    })
            );
            let mut best = f64::INFINITY;
            let steps = 600;
            for i in 0..=steps {
                for j in 0..=steps {
                    let p =
                        [-beta + 2.0 * beta * i as f64 / steps as f64, -beta + 2.0 * beta * j as f64 / steps as f64];
                    if feasible(p) {
                        best = best.min(objective(p));
                    }
                }
            }
            assert!(objective(ours) <= best + 1e-3, "g {g:?} c {c:?}: {} vs grid {best}", objective(ours));
        }
    }

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
    fn projection_onto_the_simplex() {
        let mut w = vec![0.8, 0.6, 0.0];
        project_capped_simplex(&mut w);
        assert!((w[0] - 0.6).abs() < 1e-12 && (w[1] - 0.4).abs() < 1e-12 && w[2] == 0.0);
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let err = Ghost::new(GhostConfig { ghost_radius: 20.0, ..GhostConfig::default() }).unwrap_err();
        assert!(err.to_string().contains("below the trust radius 10"));
        assert!(Ghost::new(GhostConfig { alpha: 1.0, ..GhostConfig::default() }).is_err());
    }
}
