//! The direction subproblem of Stochastic Ghost, solved through its dual.

use super::jacobian::{Jacobian, dot_f32, dot_f64};
use crate::constraints::ConstraintFactors;
use crate::simd::isa;

/// Scratch space of the direction subproblem (no allocation per solve
/// once sized).
#[derive(Debug, Clone, Default)]
pub(super) struct QpScratch {
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
            a.basis_combination(s.y, s.atmu);
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
/// solve never costs `m^2 n` or `m^3`.
#[allow(clippy::too_many_arguments)]
pub(super) fn solve_direction(
    g: &[f32],
    c: &[f32],
    a: &Jacobian,
    kappa: f64,
    tau: f64,
    beta: f64,
    scratch: &mut QpScratch,
    out: &mut [f32],
) {
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
    let scale = 1.0 + residual.iter().fold(0.0f64, |acc, r| acc.max(r.abs()));
    for _ in 0..60 {
        // Free dual variables: positive, or at 0 with an ascent direction.
        free.clear();
        free.extend((0..m).filter(|&i| mu[i] > 0.0 || residual[i] > 0.0));
        let projected = free.iter().map(|&i| residual[i].abs()).fold(0.0, f64::max);
        if projected <= 1e-9 * scale {
            break;
        }
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
        a.basis_combination(view.y, view.atmu);
        for ((dj, &gj), &tj) in view.d.iter_mut().zip(g).zip(view.atmu.iter()) {
            *dj = (-(gj as f64 + tj) / tau).clamp(-beta, beta);
        }
    }
    for (o, &dj) in out.iter_mut().zip(view.d.iter()) {
        *o = dj as f32;
    }
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
        add_ridge(hessian, k, 1e-10);
        cholesky(hessian, k);
        cholesky_solve(hessian, k, rhs);
        return;
    }
    // K + delta I = L L^T (K is positive semidefinite; delta keeps the
    // factorization defined and is far below the ridge).
    factor.clear();
    factor.extend_from_slice(curvature);
    add_ridge(factor, r, 1e-13);
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
    let eps = add_ridge(gram, r, 1e-10);
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

/// Adds `relative` times the trace to the diagonal of the `k x k` matrix
/// `h` (a ridge that keeps a positive semidefinite matrix factorizable);
/// returns the ridge.
fn add_ridge(h: &mut [f64], k: usize, relative: f64) -> f64 {
    let trace: f64 = (0..k).map(|p| h[p * k + p]).sum();
    let ridge = relative * trace.max(1e-30);
    for p in 0..k {
        h[p * k + p] += ridge;
    }
    ridge
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

#[cfg(test)]
mod tests {
    use super::super::relaxation::{RelaxationScratch, ghost_relaxation};
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

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
}
