//! The ghost relaxation bound `T*`, which keeps each direction subproblem
//! feasible.

use super::jacobian::{Jacobian, signed_sum, weighted_add};
use crate::simd::isa;

/// Scratch space of the relaxation bound (no allocation per solve once
/// sized).
#[derive(Debug, Clone, Default)]
pub(super) struct RelaxationScratch {
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
pub(super) fn ghost_relaxation(
    c: &[f32],
    a: &Jacobian,
    rho: f32,
    warm: &mut Vec<f64>,
    s: &mut RelaxationScratch,
) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::ConstraintFactors;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

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
}
