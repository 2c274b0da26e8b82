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
//! player keeps a left-stochastic `(m+1) x (m+1)` matrix `M` and plays its
//! stationary distribution:
//! * `lambda` = the stationary distribution of `M` (power iteration, started
//!   from the previous play, which `M`'s small steps leave nearly stationary);
//! * `M[i][k] <- M[i][k] exp(eta c_i lambda_k)` (`c_0 = 0`), then each column
//!   is normalized and floored at `rho_min / (m+1)`.
//!
//! External regret keeps one distribution instead (Hedge).
//!
//! `M` is held as is rather than in log form: the floor keeps every entry in
//! `[rho_min / (m+1), 1]`, far from underflow, and an update then costs one
//! exponential per entry (a vectorized one: with hundreds of constraints the
//! matrix has ~10^5 entries, and this update is the step's main cost).
//!
//! The guarantee is for the time-averaged play (a distribution over
//! iterates); fairtrain's iterate averaging returns the average of the
//! tail's parameters instead.

use serde::{Deserialize, Serialize};

use super::lagrangian::{DualRule, positive};
use crate::error::{Error, Result};
use crate::problem::Estimate;
use crate::simd::{Isa, dispatched, exp_approx, fmadd, isa};

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

/// Power iterations stop when the play moves less than this (L1).
const STATIONARY_TOLERANCE: f32 = 1e-6;
/// ... or after this many.
const MAX_POWER_ITERATIONS: usize = 100;

/// The proxy-Lagrangian's constraint player.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProxyLagrangian {
    config: ProxyConfig,
    /// `M`, column-major: column k is `m[k * n..(k + 1) * n]` (external
    /// regret: one column).
    m: Vec<f32>,
    /// The current distribution over objective and constraints.
    lambda: Vec<f32>,
    scratch: Vec<f32>,
    /// The last move of the power iteration (scratch, like `scratch`).
    moves: Vec<f32>,
    n: usize,
    #[serde(skip, default = "isa")]
    isa: Isa,
}

impl ProxyLagrangian {
    /// A new player; nearly all weight starts on the objective.
    pub fn new(config: ProxyConfig) -> Result<Self> {
        positive("dual-lr", config.dual_lr)?;
        if !(config.min_radius > 0.0 && config.min_radius < 1.0) {
            return Err(Error::config("min-radius", format!("{} (must be in (0, 1))", config.min_radius)));
        }
        Ok(ProxyLagrangian {
            config,
            m: Vec::new(),
            lambda: Vec::new(),
            scratch: Vec::new(),
            moves: Vec::new(),
            n: 0,
            isa: isa(),
        })
    }

    /// The distribution the player plays: the stationary distribution of
    /// `M` (swap regret) or its one column (external regret).
    fn play(&mut self) {
        if self.config.regret == Regret::External {
            let total: f32 = self.m.iter().sum();
            for (l, v) in self.lambda.iter_mut().zip(&self.m) {
                *l = v / total;
            }
            return;
        }
        // Power iteration on M (columns sum to about 1): v <- M v / |M v|_1,
        // from the last play (every entry of M is positive, so v stays so).
        // When two successive moves point opposite ways, an oscillating
        // mode dominates (with many constraints it can take the 100
        // iterations); the lazy chain (M + I) / 2 has the same stationary
        // distribution and damps it, so the rest of this play uses that.
        let mut lazy = false;
        for iteration in 0..MAX_POWER_ITERATIONS {
            multiply(self.isa, &self.m, &self.lambda, &mut self.scratch);
            if lazy {
                self.scratch.iter_mut().zip(&self.lambda).for_each(|(s, l)| *s = 0.5 * (*s + l));
            }
            let total: f32 = self.scratch.iter().sum();
            let (mut change, mut turn) = (0.0, 0.0);
            for ((l, s), previous) in self.lambda.iter_mut().zip(&self.scratch).zip(self.moves.iter_mut()) {
                let step = s / total - *l;
                change += step.abs();
                turn += step * *previous;
                *previous = step;
                *l += step;
            }
            if change <= STATIONARY_TOLERANCE {
                break;
            }
            lazy |= iteration > 0 && turn < 0.0;
        }
    }

    /// The objective's weight in the current play.
    pub fn objective_weight(&self) -> f32 {
        self.lambda.first().copied().unwrap_or(1.0)
    }
}

dispatched! {
    /// `out = M v` for the column-major square matrix `m`.
    fn multiply(m: &[f32], v: &[f32], out: &mut [f32]) => multiply_impl;
}

#[inline(always)]
fn multiply_impl<const FMA: bool>(m: &[f32], v: &[f32], out: &mut [f32]) {
    let n = out.len();
    out.fill(0.0);
    // Four columns per pass over `out`: one load and store of `out` per
    // four multiply-adds instead of per one.
    let blocks = m.chunks_exact(4 * n);
    let (rest, rest_v) = (blocks.remainder(), &v[v.len() - blocks.remainder().len() / n..]);
    for (block, vs) in blocks.zip(v.chunks_exact(4)) {
        let (c0, c123) = block.split_at(n);
        let (c1, c23) = c123.split_at(n);
        let (c2, c3) = c23.split_at(n);
        for i in 0..n {
            let mut o = fmadd::<FMA>(c0[i], vs[0], out[i]);
            o = fmadd::<FMA>(c1[i], vs[1], o);
            o = fmadd::<FMA>(c2[i], vs[2], o);
            out[i] = fmadd::<FMA>(c3[i], vs[3], o);
        }
    }
    for (column, &vk) in rest.chunks_exact(n).zip(rest_v) {
        for (o, &entry) in out.iter_mut().zip(column) {
            *o = fmadd::<FMA>(entry, vk, *o);
        }
    }
}

dispatched! {
    /// One multiplicative step of every column:
    /// `M[i][k] *= exp(scale_k c_i)` with `c_0 = 0`, then each column
    /// normalized and floored at `floor`.
    fn ascend(m: &mut [f32], scales: &[f32], c: &[f32], floor: f32) => ascend_impl;
}

#[inline(always)]
fn ascend_impl<const FMA: bool>(m: &mut [f32], scales: &[f32], c: &[f32], floor: f32) {
    let n = c.len() + 1;
    let largest = c.iter().fold(0.0f32, |a, &v| a.max(v.abs()));
    for (column, &scale) in m.chunks_exact_mut(n).zip(scales) {
        let (objective, rest) = column.split_first_mut().expect("columns are not empty");
        if (scale * largest).abs() <= LINEAR_EXPONENT {
            // e^x = 1 + x to within f32 rounding here: most columns carry
            // a weight near the floor, so this saves most exponentials.
            for (entry, &ci) in rest.iter_mut().zip(c) {
                *entry = fmadd::<FMA>(*entry * scale, ci, *entry);
            }
        } else {
            for (entry, &ci) in rest.iter_mut().zip(c) {
                *entry *= exp_approx::<FMA>(scale * ci);
            }
        }
        let inverse = 1.0 / (lane_sum(rest) + *objective);
        for entry in column.iter_mut() {
            *entry = (*entry * inverse).max(floor);
        }
    }
}

/// Below this `|x|`, `1 + x` is `e^x` rounded to f32 (the next term,
/// `x^2 / 2 <= 2^-25`, is under half an f32 ulp of 1).
const LINEAR_EXPONENT: f32 = 1.0 / 4096.0;

/// The sum of `values` in eight lanes (a sequential float sum does not
/// vectorize: its order is fixed).
#[inline(always)]
fn lane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The most entries the swap-regret matrix may have (64 MB of f32): 4,095
/// constraints, e.g. pairwise gaps over 64 groups.
const MAX_MATRIX_ENTRIES: usize = 1 << 24;

impl DualRule for ProxyLagrangian {
    fn supports(&self, m: usize) -> Result<()> {
        let entries = (m + 1) * (m + 1);
        if self.config.regret == Regret::Swap && entries > MAX_MATRIX_ENTRIES {
            return Err(Error::config(
                "regret",
                format!(
                    "swap for {m} constraints: the proxy-Lagrangian's swap-regret player keeps a {n} x {n} matrix \
                     ({} MB, and as many operations per step); use `regret` external (one weight per constraint), \
                     fewer groups, or gaps against the overall value (`comparison` overall: 2 constraints per \
                     group instead of 2 per pair)",
                    (entries * 4) >> 20,
                    n = m + 1
                ),
            ));
        }
        Ok(())
    }

    fn reset(&mut self, m: usize) {
        self.n = m + 1;
        let n = self.n;
        let columns = match self.config.regret {
            Regret::Swap => n,
            Regret::External => 1,
        };
        // Every column: (1 - rho m/(m+1), rho/(m+1), ...).
        let rho = self.config.min_radius;
        let (first, rest) = (1.0 - rho * m as f32 / n as f32, rho / n as f32);
        self.m = (0..columns * n).map(|i| if i % n == 0 { first } else { rest }).collect();
        self.lambda = vec![1.0 / n as f32; n];
        self.scratch = vec![0.0; n];
        self.moves = vec![0.0; n];
        self.play();
    }

    fn update(&mut self, estimate: &Estimate, weights: &mut [f32]) -> f32 {
        // Play the current distribution: the model player's weights.
        self.play();
        weights.copy_from_slice(&self.lambda[1..]);
        let objective_weight = self.lambda[0];
        // Ascent on the exact constraints: M[i][k] *= exp(eta c_i lambda_k).
        let eta = self.config.dual_lr;
        match self.config.regret {
            Regret::Swap => self.scratch.iter_mut().zip(&self.lambda).for_each(|(s, l)| *s = eta * l),
            Regret::External => self.scratch[0] = eta,
        }
        let floor = self.config.min_radius / self.n as f32;
        ascend(self.isa, &mut self.m, &self.scratch, &estimate.exact_constraints, floor);
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

    /// The update as the method defines it, in f64 and log form:
    /// `log M[i][k] += eta c_i lambda_k`, each column normalized by
    /// log-sum-exp and floored; lambda by power iteration to convergence.
    fn reference_step(log_m: &mut [f64], lambda: &mut Vec<f64>, c: &[f32], eta: f64, floor: f64) {
        let n = lambda.len();
        for _ in 0..10_000 {
            let mut next = vec![0.0; n];
            for (k, column) in log_m.chunks(n).enumerate() {
                for (x, &v) in next.iter_mut().zip(column) {
                    *x += v.exp() * lambda[k];
                }
            }
            let total: f64 = next.iter().sum();
            next.iter_mut().for_each(|x| *x /= total);
            let change: f64 = next.iter().zip(lambda.iter()).map(|(a, b)| (a - b).abs()).sum();
            *lambda = next;
            if change < 1e-13 {
                break;
            }
        }
        for (k, column) in log_m.chunks_mut(n).enumerate() {
            for (v, &ci) in column[1..].iter_mut().zip(c) {
                *v += eta * ci as f64 * lambda[k];
            }
            let max = column.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = max + column.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            column.iter_mut().for_each(|v| *v = (*v - log_sum).max(floor.ln()));
        }
    }

    /// The fast update (M held as is, vectorized exponentials, a linear
    /// factor for tiny exponents, warm-started power iteration) follows the
    /// definition over many steps with 30 constraints, some binding.
    #[test]
    fn the_fast_update_follows_the_definition() {
        use rand::{RngExt, SeedableRng};
        let (m, eta) = (30, 2.0);
        let config = ProxyConfig { dual_lr: eta, ..ProxyConfig::default() };
        let mut fast = ProxyLagrangian::new(config).unwrap();
        fast.reset(m);
        let n = m + 1;
        let floor = (config.min_radius / n as f32) as f64;
        let mut log_m: Vec<f64> = fast.m.iter().map(|&v| (v as f64).ln()).collect();
        let mut lambda = vec![1.0 / n as f64; n];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut weights = vec![0.0; m];
        for step in 0..300 {
            // The first five constraints are violated on average, the rest slack.
            let c: Vec<f32> =
                (0..m).map(|j| if j < 5 { 0.05 } else { -0.2 } + rng.random_range(-0.3f32..0.3)).collect();
            let estimate = Estimate { objective: 0.0, constraints: c.clone(), exact_constraints: c.clone() };
            fast.update(&estimate, &mut weights);
            reference_step(&mut log_m, &mut lambda, &c, eta as f64, floor);
            for (j, (&w, &l)) in weights.iter().zip(&lambda[1..]).enumerate() {
                // f32 state against f64: within 0.1% (plus the power
                // iteration's tolerance).
                assert!((w as f64 - l).abs() <= 1e-3 * l + 1e-6, "step {step}, constraint {j}: {w} vs {l}");
            }
        }
        assert!(weights[..5].iter().sum::<f32>() > 0.5, "{weights:?}");
        assert!(weights[5..].iter().all(|&w| w < 1e-4), "{weights:?}");
    }

    /// Pairwise gaps over 100 groups (9,900 constraints) would need a
    /// 373 MB matrix: refused with what to do instead; external regret is
    /// fine.
    #[test]
    fn a_matrix_too_large_is_refused() {
        let swap = ProxyLagrangian::new(ProxyConfig::default()).unwrap();
        assert!(swap.supports(4_095).is_ok());
        let err = swap.supports(9_900).unwrap_err().to_string();
        assert!(err.starts_with("invalid value for regret: swap for 9900 constraints"), "{err}");
        assert!(err.contains("9901 x 9901 matrix (373 MB") && err.contains("`regret` external"), "{err}");
        let external =
            ProxyLagrangian::new(ProxyConfig { regret: Regret::External, ..ProxyConfig::default() }).unwrap();
        assert!(external.supports(9_900).is_ok());
    }

    #[test]
    fn stationary_distribution_of_a_known_matrix() {
        let mut p = ProxyLagrangian::new(ProxyConfig::default()).unwrap();
        p.reset(1);
        // Columns (0.9, 0.1) and (0.3, 0.7): stationary (0.75, 0.25).
        p.m = vec![0.9, 0.1, 0.3, 0.7];
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
