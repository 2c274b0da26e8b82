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
use crate::constraints::ConstraintFactors;
use crate::error::{Error, Result};
use crate::problem::{BatchSizes, MinibatchControl, Problem, Request, RowSelection, require_minibatch_control};
use crate::simd::{dispatched, fmadd, fmadd64, isa};

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

/// The constraints' Jacobian `A = T B`: a sparse `m x r` matrix `T` over
/// the gradients `B` (`r x n`, by rows) of `r` statistics. Pairwise gaps
/// over `k` groups have `k (k - 1)` rows but only `k` statistics, so every
/// product below costs `r n`, not `m n`; a problem without that structure
/// gives `T = I`, `B = A`.
struct Jacobian<'a> {
    t: &'a ConstraintFactors,
    b: &'a [f32],
    n: usize,
}

impl Jacobian<'_> {
    fn r(&self) -> usize {
        self.t.statistics()
    }

    /// Row `k` of `B`.
    fn basis(&self, k: usize) -> &[f32] {
        &self.b[k * self.n..(k + 1) * self.n]
    }

    /// Row `i` of `A`, written to `out`.
    fn row_into(&self, i: usize, out: &mut [f32]) {
        out.fill(0.0);
        for &(k, coef) in self.t.row(i) {
            weighted_add(isa(), out, coef, self.basis(k));
        }
    }
}

/// Scratch space of the relaxation bound (no allocation per solve once
/// sized).
#[derive(Debug, Clone, Default)]
struct RelaxationScratch {
    rows: [Vec<f32>; 2],
    y: Vec<f64>,
    atw: Vec<f32>,
    signs: Vec<f64>,
    projections: Vec<f64>,
    averaged: Vec<f64>,
}

/// `T* = min_{||d||_inf <= rho} max(0, max_i (c_i + a_i . d))` (`a_i` the
/// rows of `a`), exactly for one constraint and for pairs with `a_2 =
/// -a_1`; otherwise an upper bound (which is what keeps the direction
/// subproblem feasible), from a short projected supergradient ascent on the
/// dual `max {w^T c - rho ||A^T w||_1 : w >= 0, sum w <= 1}` started from
/// `warm` (the previous solve's dual point, updated here) and stopped when
/// the duality gap is small.
fn ghost_relaxation(c: &[f32], a: &Jacobian, rho: f32, warm: &mut Vec<f64>, s: &mut RelaxationScratch) -> f64 {
    let (m, n, r) = (c.len(), a.n, a.r());
    let rho = rho as f64;
    let l1 = |v: &[f32]| v.iter().map(|x| x.abs() as f64).sum::<f64>();
    let d_zero = c.iter().map(|&x| x as f64).fold(0.0, f64::max);
    if m <= 2 {
        for (i, row) in s.rows.iter_mut().enumerate().take(m) {
            row.resize(n, 0.0);
            a.row_into(i, row);
        }
    }
    match m {
        0 => return 0.0,
        1 => return (c[0] as f64 - rho * l1(&s.rows[0])).max(0.0),
        2 => {
            let (a1, a2) = (&s.rows[0], &s.rows[1]);
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
    s.y.resize(r, 0.0);
    s.atw.resize(n, 0.0);
    s.signs.resize(r, 0.0);
    s.projections.resize(m, 0.0);
    s.averaged.clear();
    s.averaged.resize(m, 0.0);
    let mut weight_sum = 0.0;
    let mut best = d_zero;
    let mut lower = 0.0f64;
    for t in 0..RELAXATION_ITERATIONS {
        // A^T w = B^T (T^T w); A sign(A^T w) = T (B sign(A^T w)).
        a.t.transpose_times(w, &mut s.y);
        s.atw.fill(0.0);
        for (k, &yk) in s.y.iter().enumerate() {
            if yk != 0.0 {
                weighted_add(isa(), &mut s.atw, yk as f32, a.basis(k));
            }
        }
        for (k, v) in s.signs.iter_mut().enumerate() {
            *v = -rho * signed_sum(isa(), a.basis(k), &s.atw) as f64;
        }
        a.t.times(&s.signs, &mut s.projections);
        let step = 0.5 / (1.0 + t as f64).sqrt();
        weight_sum += step;
        // One pass: the averaged projections, the bound at the vertex and at
        // the average, and the dual value at w, a lower bound: w^T (c + s)
        // with s the best response, since w^T A d(w) = -rho ||A^T w||_1.
        let (mut at_vertex, mut at_average, mut dual) = (0.0f64, 0.0f64, 0.0f64);
        for (((avg, &p), &ci), &wi) in s.averaged.iter_mut().zip(&s.projections).zip(c).zip(w.iter()) {
            *avg += step / weight_sum * (p - *avg);
            let vertex = ci as f64 + p;
            at_vertex = at_vertex.max(vertex);
            at_average = at_average.max(ci as f64 + *avg);
            dual += wi * vertex;
        }
        best = best.min(at_vertex).min(at_average);
        lower = lower.max(dual);
        if best - lower <= 1e-4 + 1e-3 * best.abs() {
            break;
        }
        // A supergradient of the dual objective is c + s; ascend and project
        // onto {w >= 0, sum w <= 1}.
        let mut total = 0.0;
        for ((wi, &ci), &p) in w.iter_mut().zip(c).zip(&s.projections) {
            *wi = (*wi + step * (ci as f64 + p)).max(0.0);
            total += *wi;
        }
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

#[inline(always)]
fn axpy_f64_impl<const FMA: bool>(y: &mut [f64], a: f64, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = fmadd64::<FMA>(a, x as f64, *y);
    }
}

dispatched! {
    /// `y += a x` in f64.
    fn axpy_f64(y: &mut [f64], a: f64, x: &[f32]) => axpy_f64_impl;
}

/// `sum_j x_j z_j` accumulated in f64 (the f32 products are exact there),
/// in eight lanes.
#[inline(always)]
fn dot_f64_impl<const FMA: bool, Z: Copy + Into<f64>>(x: &[f32], z: &[Z], out: &mut f64) {
    let mut acc = [0f64; 8];
    let (xc, zc) = (x.chunks_exact(8), z.chunks_exact(8));
    let tail: f64 = xc.remainder().iter().zip(zc.remainder()).map(|(&a, &b)| a as f64 * b.into()).sum();
    for (a, b) in xc.zip(zc) {
        for k in 0..8 {
            acc[k] = fmadd64::<FMA>(a[k] as f64, b[k].into(), acc[k]);
        }
    }
    *out += acc.iter().sum::<f64>() + tail;
}

#[inline(always)]
fn dot_f32_impl<const FMA: bool>(x: &[f32], z: &[f32], out: &mut f64) {
    dot_f64_impl::<FMA, f32>(x, z, out)
}

#[inline(always)]
fn dot_mixed_impl<const FMA: bool>(x: &[f32], z: &[f64], out: &mut f64) {
    dot_f64_impl::<FMA, f64>(x, z, out)
}

dispatched! {
    /// `out += x . z` accumulated in f64.
    fn dot_f32(x: &[f32], z: &[f32], out: &mut f64) => dot_f32_impl;
}

dispatched! {
    /// `out += x . z` accumulated in f64.
    fn dot_f64(x: &[f32], z: &[f64], out: &mut f64) => dot_mixed_impl;
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
/// non-negative entries summing to more than 1: `w_i <- max(w_i - theta,
/// 0)`, with `theta` found by Michelot's method (the mean excess over the
/// entries still above it, until that set stops shrinking; exact, a few
/// passes, no sort).
fn project_capped_simplex(w: &mut [f64]) {
    let mut theta = (w.iter().sum::<f64>() - 1.0) / w.len() as f64;
    let mut count = w.len();
    loop {
        let (sum, above) = w.iter().filter(|&&v| v > theta).fold((0.0, 0), |(s, c), &v| (s + v, c + 1));
        theta = (sum - 1.0) / above as f64;
        if above == count {
            break;
        }
        count = above;
    }
    w.iter_mut().for_each(|v| *v = (*v - theta).max(0.0));
}

/// Scratch space of the direction subproblem (no allocation per solve
/// once sized).
#[derive(Debug, Clone, Default)]
struct QpScratch {
    mu: Vec<f64>,
    trial: Vec<f64>,
    step: Vec<f64>,
    residual: Vec<f64>,
    trial_residual: Vec<f64>,
    h: Vec<f64>,
    free: Vec<usize>,
    rhs: Vec<f64>,
    /// `T^T mu`, `G y` and `B d` (length r).
    y: Vec<f64>,
    gy: Vec<f64>,
    bd: Vec<f64>,
    /// `B^T y` and `d` (length n), where the box may bind.
    atmu: Vec<f64>,
    d: Vec<f64>,
    /// `G = B B^T`, `B g` and each row's largest `|B_kj|`.
    gram: Vec<f64>,
    bg: Vec<f64>,
    bmax: Vec<f64>,
    /// `B_P B_P^T / tau` over the coordinates `P` inside the box (r x r).
    curvature: Vec<f64>,
    newton: NewtonScratch,
}

/// Scratch space of [`newton_step`].
#[derive(Debug, Clone, Default)]
struct NewtonScratch {
    /// The Cholesky factor `L` of the curvature.
    factor: Vec<f64>,
    /// `T_F^T T_F`, `T_F^T T_F L`, `eps I + W^T W` (r x r, `W = T_F L`),
    /// `T_F^T rhs` (then `L v`) and `W^T rhs` (then `v`).
    tt: Vec<f64>,
    ml: Vec<f64>,
    gram: Vec<f64>,
    z: Vec<f64>,
    u: Vec<f64>,
    /// The formed system, with at most r free rows.
    hessian: Vec<f64>,
}

/// The parts of the dual that do not depend on `mu`.
struct DualQp<'a> {
    g: &'a [f32],
    a: &'a Jacobian<'a>,
    tau: f64,
    beta: f64,
    gg: f64,
    gmax: f64,
}

impl DualQp<'_> {
    /// The dual value at `mu`, with the residuals `A d(mu) - h` in
    /// `residual`; true when the box does not bind at `mu` (`|g_j + (B^T
    /// y)_j| < tau beta` for every `j`: shown by a bound in `O(r)`, else
    /// checked in `O(r n)`), so that the value and residuals came from `G`
    /// in r dimensions, without `d`. Otherwise `d` and `B^T y` are in the
    /// scratch.
    fn evaluate(&self, mu: &[f64], h: &[f64], s: &mut QpScratchView, residual: &mut Vec<f64>) -> (f64, bool) {
        let (a, tau, beta) = (self.a, self.tau, self.beta);
        let r = a.r();
        a.t.transpose_times(mu, s.y);
        let reach = self.gmax + s.y.iter().zip(s.bmax.iter()).map(|(y, b)| y.abs() * b).sum::<f64>();
        let mut inside = reach < tau * beta;
        if !inside {
            // The bound is loose: check the coordinates themselves.
            s.atmu.fill(0.0);
            for (k, &yk) in s.y.iter().enumerate() {
                if yk != 0.0 {
                    axpy_f64(isa(), s.atmu, yk, a.basis(k));
                }
            }
            inside = self.g.iter().zip(s.atmu.iter()).all(|(&gj, &tj)| ((gj as f64 + tj) / tau).abs() < beta);
        }
        let mut value;
        if inside {
            // d = -(g + B^T y) / tau: g^T d + tau/2 |d|^2 = (y^T G y - |g|^2) / (2 tau),
            // B d = -(B g + G y) / tau.
            for (p, gy) in s.gy.iter_mut().enumerate() {
                *gy = (0..r).map(|q| s.gram[p * r + q] * s.y[q]).sum();
            }
            let ygy: f64 = s.y.iter().zip(s.gy.iter()).map(|(y, gy)| y * gy).sum();
            value = (ygy - self.gg) / (2.0 * tau);
            for ((bd, &bg), &gy) in s.bd.iter_mut().zip(s.bg.iter()).zip(s.gy.iter()) {
                *bd = -(bg + gy) / tau;
            }
        } else {
            value = 0.0;
            for ((dj, &gj), &tj) in s.d.iter_mut().zip(self.g).zip(s.atmu.iter()) {
                *dj = (-(gj as f64 + tj) / tau).clamp(-beta, beta);
                value += gj as f64 * *dj + 0.5 * tau * *dj * *dj;
            }
            for (k, bd) in s.bd.iter_mut().enumerate() {
                *bd = 0.0;
                dot_f64(isa(), a.basis(k), s.d, bd);
            }
        }
        residual.resize(mu.len(), 0.0);
        a.t.times(s.bd, residual);
        for ((res, &hi), &mi) in residual.iter_mut().zip(h).zip(mu) {
            *res -= hi;
            value += mi * *res;
        }
        (value, inside)
    }
}

/// The scratch vectors [`DualQp::evaluate`] reads and writes.
struct QpScratchView<'a> {
    y: &'a mut Vec<f64>,
    gy: &'a mut Vec<f64>,
    bd: &'a mut Vec<f64>,
    atmu: &'a mut Vec<f64>,
    d: &'a mut Vec<f64>,
    gram: &'a [f64],
    bg: &'a [f64],
    bmax: &'a [f64],
}

/// `argmin_d g^T d + (tau/2) ||d||^2 s.t. c + A d <= kappa, |d_j| <= beta`,
/// written to `out`, through the dual in `mu >= 0` (projected Newton with
/// backtracking on the concave piecewise-quadratic dual).
///
/// Everything runs in the `r` dimensions of the statistics where it can:
/// the dual depends on `mu` through `y = T^T mu`, and where the box cannot
/// bind the dual's value and residuals come from `G = B B^T` and `B g`
/// (computed once per solve) in `O(r^2 + m)`; only near the box is `d`
/// formed (`O(r n)`). The dual's Hessian on the free multipliers `F` is
/// `T_F K T_F^T` with `K = B_P B_P^T / tau` (`P`: the coordinates inside the
/// box), of rank at most `r`: with more free multipliers than statistics
/// the Newton system is solved in `r` dimensions ([`newton_step`]). So a
/// solve never costs `m^2 n` or `m^3`. Returns the number of Newton
/// iterations.
#[allow(clippy::too_many_arguments)]
fn solve_direction(
    g: &[f32],
    c: &[f32],
    a: &Jacobian,
    kappa: f64,
    tau: f64,
    beta: f64,
    scratch: &mut QpScratch,
    out: &mut [f32],
) -> usize {
    let (m, n, r) = (c.len(), g.len(), a.r());
    let s = scratch;
    s.mu.clear();
    s.mu.resize(m, 0.0);
    s.atmu.resize(n, 0.0);
    s.d.resize(n, 0.0);
    s.y.resize(r, 0.0);
    s.gy.resize(r, 0.0);
    s.bd.resize(r, 0.0);
    s.h.clear();
    s.h.extend(c.iter().map(|&ci| kappa - ci as f64));
    // G = B B^T, B g, |g|^2 and the largest entries, once per solve.
    s.gram.clear();
    s.gram.resize(r * r, 0.0);
    s.bg.clear();
    s.bg.resize(r, 0.0);
    s.bmax.clear();
    for p in 0..r {
        for q in p..r {
            let mut v = 0.0;
            dot_f32(isa(), a.basis(p), a.basis(q), &mut v);
            s.gram[p * r + q] = v;
            s.gram[q * r + p] = v;
        }
        dot_f32(isa(), a.basis(p), g, &mut s.bg[p]);
        s.bmax.push(a.basis(p).iter().fold(0.0f32, |acc, x| acc.max(x.abs())) as f64);
    }
    let mut gg = 0.0;
    dot_f32(isa(), g, g, &mut gg);
    let gmax = g.iter().fold(0.0f32, |acc, x| acc.max(x.abs())) as f64;
    let qp = DualQp { g, a, tau, beta, gg, gmax };
    let QpScratch {
        mu,
        trial,
        step,
        residual,
        trial_residual,
        h,
        free,
        rhs,
        y,
        gy,
        bd,
        atmu,
        d,
        gram,
        bg,
        bmax,
        curvature,
        newton,
    } = s;
    let mut view = QpScratchView { y, gy, bd, atmu, d, gram, bg, bmax };
    let (mut value, mut inside) = qp.evaluate(mu, h, &mut view, residual);
    let mut iterations = 0;
    let scale = 1.0 + residual.iter().fold(0.0f64, |acc, r| acc.max(r.abs()));
    for _ in 0..60 {
        // Free dual variables: positive, or at 0 with an ascent direction.
        free.clear();
        free.extend((0..m).filter(|&i| mu[i] > 0.0 || residual[i] > 0.0));
        let projected = free.iter().map(|&i| residual[i].abs()).fold(0.0, f64::max);
        if projected <= 1e-9 * scale {
            break;
        }
        iterations += 1;
        // K = (G - the clipped coordinates' b_j b_j^T) / tau; `atmu` is the
        // accepted point's wherever the box may bind there.
        curvature.clear();
        curvature.extend(view.gram.iter().map(|v| v / tau));
        if !inside {
            for (j, (&gj, &tj)) in g.iter().zip(view.atmu.iter()).enumerate() {
                if ((gj as f64 + tj) / tau).abs() >= beta {
                    for p in 0..r {
                        let bp = a.basis(p)[j] as f64;
                        for q in 0..r {
                            curvature[p * r + q] -= bp * a.basis(q)[j] as f64 / tau;
                        }
                    }
                }
            }
        }
        rhs.clear();
        rhs.extend(free.iter().map(|&i| residual[i]));
        newton_step(a.t, free, r, curvature, rhs, newton);
        step.clear();
        step.resize(m, 0.0);
        for (&i, &v) in free.iter().zip(rhs.iter()) {
            step[i] = v;
        }
        // Backtracking along the projected path, from a step that moves no
        // multiplier by more than 10 (1 + max mu): the ridge makes the
        // step's component along the Hessian's null space (cycles of
        // pairwise rows) about 1e10 times the residual, and halving down
        // from there cost about six dual evaluations per Newton iteration,
        // most of them far outside the box.
        let largest_move = step.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
        let largest = mu.iter().fold(0.0f64, |acc, &v| acc.max(v));
        let mut t = (10.0 * (1.0 + largest) / largest_move.max(f64::MIN_POSITIVE)).min(1.0);
        let mut accepted = false;
        for _ in 0..40 {
            trial.clear();
            trial.extend(mu.iter().zip(step.iter()).map(|(&mi, &si)| (mi + t * si).max(0.0)));
            let (trial_value, trial_inside) = qp.evaluate(trial, h, &mut view, trial_residual);
            if trial_value >= value - 1e-12 * value.abs().max(1.0) {
                std::mem::swap(mu, trial);
                std::mem::swap(residual, trial_residual);
                (value, inside) = (trial_value, trial_inside);
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            // Back to the current mu and stop.
            (_, inside) = qp.evaluate(mu, h, &mut view, residual);
            break;
        }
    }
    if inside {
        // d(mu) was never formed: d = -(g + B^T y) / tau (inside the box).
        a.t.transpose_times(mu, view.y);
        view.atmu.fill(0.0);
        for (k, &yk) in view.y.iter().enumerate() {
            if yk != 0.0 {
                axpy_f64(isa(), view.atmu, yk, a.basis(k));
            }
        }
        for ((dj, &gj), &tj) in view.d.iter_mut().zip(g).zip(view.atmu.iter()) {
            *dj = (-(gj as f64 + tj) / tau).clamp(-beta, beta);
        }
    }
    for (o, &dj) in out.iter_mut().zip(view.d.iter()) {
        *o = dj as f32;
    }
    iterations
}

/// The Newton step on the free multipliers `free`: solves `(T_F K T_F^T +
/// eps I) x = rhs` in place, `eps` = 1e-10 of the trace. With at most `r`
/// free rows the system is formed and factored; with more, it has rank at
/// most `r` plus the ridge and is solved through `K = L L^T`, `W = T_F L`:
/// `x = (rhs - W (eps I + W^T W)^-1 W^T rhs) / eps`.
fn newton_step(
    t: &ConstraintFactors,
    free: &[usize],
    r: usize,
    curvature: &[f64],
    rhs: &mut [f64],
    scratch: &mut NewtonScratch,
) {
    let NewtonScratch { factor, tt, ml, gram, z, u, hessian } = scratch;
    let k = free.len();
    if k <= r {
        hessian.clear();
        hessian.resize(k * k, 0.0);
        for (p, &i) in free.iter().enumerate() {
            for (q, &j) in free.iter().enumerate().skip(p) {
                let mut v = 0.0;
                for &(a, ca) in t.row(i) {
                    for &(b, cb) in t.row(j) {
                        v += ca as f64 * curvature[a * r + b] * cb as f64;
                    }
                }
                hessian[p * k + q] = v;
                hessian[q * k + p] = v;
            }
        }
        let trace: f64 = (0..k).map(|p| hessian[p * k + p]).sum();
        let ridge = 1e-10 * trace.max(1e-30);
        for p in 0..k {
            hessian[p * k + p] += ridge;
        }
        cholesky(hessian, k);
        cholesky_solve(hessian, k, rhs);
        return;
    }
    // K + delta I = L L^T (K is positive semidefinite; delta keeps the
    // factorization defined and is far below the ridge).
    factor.clear();
    factor.extend_from_slice(curvature);
    let trace_k: f64 = (0..r).map(|p| factor[p * r + p]).sum();
    for p in 0..r {
        factor[p * r + p] += 1e-13 * trace_k.max(1e-30);
    }
    cholesky(factor, r);
    // With W = T_F L (L the lower triangle of `factor`): W^T W = L^T (T_F^T
    // T_F) L and W^T rhs = L^T T_F^T rhs, so nothing of size (free rows x r)
    // is formed: the rows of T are sparse (two terms for a gap).
    let l = |a: usize, q: usize| if q <= a { factor[a * r + q] } else { 0.0 };
    tt.clear();
    tt.resize(r * r, 0.0);
    z.clear();
    z.resize(r, 0.0);
    for (p, &i) in free.iter().enumerate() {
        for &(a, ca) in t.row(i) {
            z[a] += ca as f64 * rhs[p];
            for &(b, cb) in t.row(i) {
                tt[a * r + b] += ca as f64 * cb as f64;
            }
        }
    }
    // gram = L^T (tt L) + eps I, eps = 1e-10 trace(W^T W).
    ml.clear();
    ml.resize(r * r, 0.0);
    for a in 0..r {
        for q in 0..r {
            ml[a * r + q] = (q..r).map(|b| tt[a * r + b] * l(b, q)).sum();
        }
    }
    gram.clear();
    gram.resize(r * r, 0.0);
    for p in 0..r {
        for q in p..r {
            let v: f64 = (p..r).map(|a| l(a, p) * ml[a * r + q]).sum();
            gram[p * r + q] = v;
            gram[q * r + p] = v;
        }
    }
    let trace: f64 = (0..r).map(|a| gram[a * r + a]).sum();
    let eps = 1e-10 * trace.max(1e-30);
    for a in 0..r {
        gram[a * r + a] += eps;
    }
    cholesky(gram, r);
    // u = L^T T_F^T rhs; solve (eps I + W^T W) v = u; x = (rhs - T_F (L v)) / eps.
    u.clear();
    u.extend((0..r).map(|q| (q..r).map(|a| l(a, q) * z[a]).sum::<f64>()));
    cholesky_solve(gram, r, u);
    for a in 0..r {
        z[a] = (0..=a).map(|q| factor[a * r + q] * u[q]).sum();
    }
    for (p, &i) in free.iter().enumerate() {
        let wv: f64 = t.row(i).iter().map(|&(a, ca)| ca as f64 * z[a]).sum();
        rhs[p] = (rhs[p] - wv) / eps;
    }
}

/// Cholesky factorization in place of a symmetric positive definite `k x
/// k` matrix: its lower triangle becomes `L` with `L L^T` the matrix.
fn cholesky(h: &mut [f64], k: usize) {
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
}

/// Solves `L L^T x = b` in place, `L` from [`cholesky`].
fn cholesky_solve(l: &[f64], k: usize, b: &mut [f64]) {
    for i in 0..k {
        for p in 0..i {
            b[i] -= l[i * k + p] * b[p];
        }
        b[i] /= l[i * k + i];
    }
    for i in (0..k).rev() {
        for p in i + 1..k {
            b[i] -= l[p * k + i] * b[p];
        }
        b[i] /= l[i * k + i];
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

    /// `ghost_relaxation` with the rows of `a` given densely.
    fn relax(c: &[f32], a: &[f32], n: usize, rho: f32, warm: &mut Vec<f64>) -> f64 {
        let t = ConstraintFactors::identity(c.len());
        ghost_relaxation(c, &Jacobian { t: &t, b: a, n }, rho, warm, &mut RelaxationScratch::default())
    }

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
        assert!((relax(&[1.0], &[0.3, -0.2], 2, 0.8, warm) - 0.6).abs() < 1e-6);
        assert_eq!(relax(&[0.1], &[0.3, -0.2], 2, 0.8, warm), 0.0);
        // A pair c_2 = -c_1 - 2b with opposite gradients.
        let (a, c) = ([0.5f32, -0.25, -0.5, 0.25], [0.9f32, -1.0]);
        let exact = relax(&c, &a, 2, 0.2, warm);
        assert!((exact - brute_t_star(&c, &a, 2, 0.2)).abs() < 1e-2, "{exact}");
        // General constraints: an upper bound close to the optimum.
        let a3 = [1.0f32, 0.0, 0.0, 1.0, -1.0, -1.0];
        let c3 = [0.5f32, 0.4, 0.3];
        let truth = brute_t_star(&c3, &a3, 2, 0.3);
        // A few warm-started calls (as consecutive solves make) tighten it.
        let mut bound = f64::INFINITY;
        for _ in 0..5 {
            bound = relax(&c3, &a3, 2, 0.3, warm);
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
            let t = ConstraintFactors::identity(c.len());
            let jacobian = Jacobian { t: &t, b: a, n: 2 };
            solve_direction(g, c, &jacobian, kappa, tau, beta, &mut QpScratch::default(), &mut d);
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

    /// 30 rows over 6 statistics (pairwise gaps over 6 groups, and random
    /// sparse rows): the factored Jacobian gives the direction of the same
    /// problem with the rows written out (through the r-dimensional Newton
    /// system, with more free rows than statistics), also where the trust
    /// region binds, and the same relaxation bound (compared on the random
    /// rows: the pairwise ones make `A^T w` exactly 0 at the uniform start,
    /// where rounding in the dense product picks other box vertices).
    #[test]
    fn factored_jacobian_solves_the_dense_problem() {
        use rand::RngExt;
        let (k, n) = (6, 40);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut pairwise = Vec::new();
        for a in 0..k {
            for b in 0..k {
                if a != b {
                    pairwise.push(vec![(a, 1.0f32), (b, -1.0)]);
                }
            }
        }
        let random: Vec<Vec<(usize, f32)>> = (0..pairwise.len())
            .map(|_| {
                let (a, b) = (rng.random_range(0..k), rng.random_range(0..k));
                let mut row = vec![(a, rng.random::<f32>() + 0.5)];
                if b != a {
                    row.push((b, -rng.random::<f32>() - 0.5));
                }
                row
            })
            .collect();
        for (case, (rows, beta)) in
            [(&pairwise, 10.0), (&pairwise, 0.05), (&random, 10.0), (&random, 0.05)].into_iter().enumerate()
        {
            let t = ConstraintFactors::from_rows(k, rows);
            let m = t.rows();
            let basis: Vec<f32> = (0..k * n).map(|_| rng.random::<f32>() - 0.5).collect();
            let g: Vec<f32> = (0..n).map(|_| rng.random::<f32>() - 0.5).collect();
            // Exact rates of one-row cells, 0 or 1 (as Ghost's base batches
            // give): many violated rows, more than the statistics.
            let stats: Vec<f64> = (0..k).map(|s| if case < 2 { (s % 2) as f64 } else { rng.random::<f64>() }).collect();
            let mut c = vec![0.0f64; m];
            t.times(&stats, &mut c);
            let c: Vec<f32> = c.iter().map(|&x| x as f32 - 0.1).collect();
            let factored = Jacobian { t: &t, b: &basis, n };
            let mut dense_rows = vec![0.0f32; m * n];
            for i in 0..m {
                factored.row_into(i, &mut dense_rows[i * n..(i + 1) * n]);
            }
            let id = ConstraintFactors::identity(m);
            let dense = Jacobian { t: &id, b: &dense_rows, n };
            let (mut w1, mut w2) = (Vec::new(), Vec::new());
            let mut scratch = RelaxationScratch::default();
            let bound = ghost_relaxation(&c, &factored, 0.8, &mut w1, &mut scratch);
            if case >= 2 {
                let bound_dense = ghost_relaxation(&c, &dense, 0.8, &mut w2, &mut scratch);
                assert!((bound - bound_dense).abs() < 1e-4, "case {case}: {bound} vs {bound_dense}");
            }
            let violation = c.iter().fold(0.0f32, |a, &x| a.max(x)) as f64;
            let kappa = 0.5 * violation + 0.5 * bound;
            let (mut d_f, mut d_d) = (vec![0.0f32; n], vec![0.0f32; n]);
            let mut qp = QpScratch::default();
            solve_direction(&g, &c, &factored, kappa, 1.0, beta, &mut qp, &mut d_f);
            solve_direction(&g, &c, &dense, kappa, 1.0, beta, &mut qp, &mut d_d);
            let scale = d_d.iter().fold(0.0f32, |a, &x| a.max(x.abs()));
            for j in 0..n {
                assert!(
                    (d_f[j] - d_d[j]).abs() <= 1e-3 * scale,
                    "case {case}, coordinate {j}: {} vs {}",
                    d_f[j],
                    d_d[j]
                );
            }
            // Feasible: c + A d <= kappa.
            for i in 0..m {
                let ad: f64 = (0..n).map(|j| dense_rows[i * n + j] as f64 * d_f[j] as f64).sum();
                assert!(c[i] as f64 + ad <= kappa + 1e-4, "case {case}, row {i}: {} > {kappa}", c[i] as f64 + ad);
            }
            if beta < 1.0 {
                assert!(d_f.iter().any(|&x| x.abs() >= beta as f32 - 1e-6), "case {case}: the trust region binds");
            }
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
        // Optimality on random vectors: the result sums to 1, the entries
        // kept moved by one theta, the ones zeroed were at most theta.
        use rand::RngExt;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for len in [1, 2, 7, 100] {
            let original: Vec<f64> =
                (0..len).map(|_| rng.random::<f64>() * 3.0 / len as f64 + 1.0 / len as f64).collect();
            let mut w = original.clone();
            project_capped_simplex(&mut w);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{len}");
            let kept: Vec<f64> = (0..len).filter(|&i| w[i] > 0.0).map(|i| original[i] - w[i]).collect();
            let theta = kept[0];
            assert!(kept.iter().all(|t| (t - theta).abs() < 1e-12), "{len}");
            assert!((0..len).all(|i| w[i] > 0.0 || original[i] <= theta + 1e-12), "{len}");
        }
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let err = Ghost::new(GhostConfig { ghost_radius: 20.0, ..GhostConfig::default() }).unwrap_err();
        assert!(err.to_string().contains("below the trust radius 10"));
        assert!(Ghost::new(GhostConfig { alpha: 1.0, ..GhostConfig::default() }).is_err());
    }
}
