//! Test problems with known constrained optima.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::error::Result;
use crate::problem::{BatchSizes, Estimate, MinibatchControl, Problem, Request, RowSelection};

/// `min E[(x - a)^2 + xi x]  s.t.  E[x - b + zeta] <= 0` in one dimension,
/// with Gaussian noise `xi`, `zeta` of standard deviation `noise`. For
/// `b < a` the optimum is `x = b` with multiplier `2 (a - b)`.
pub(crate) struct QuadraticProblem {
    x: Vec<f32>,
    a: f32,
    b: f32,
    normal: Normal<f32>,
    rng: ChaCha8Rng,
    xi: f32,
    estimate: Estimate,
    names: Vec<String>,
}

impl QuadraticProblem {
    pub(crate) fn new(a: f32, b: f32, noise: f32, seed: u64) -> Self {
        QuadraticProblem {
            x: vec![0.0],
            a,
            b,
            normal: Normal::new(0.0, noise).unwrap(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            xi: 0.0,
            estimate: Estimate { objective: 0.0, constraints: vec![0.0], exact_constraints: vec![0.0] },
            names: vec!["x <= b".into()],
        }
    }
}

impl Problem for QuadraticProblem {
    fn num_params(&self) -> usize {
        1
    }
    fn num_constraints(&self) -> usize {
        1
    }
    fn constraint_names(&self) -> &[String] {
        &self.names
    }
    fn params(&self) -> &[f32] {
        &self.x
    }
    fn params_mut(&mut self) -> &mut [f32] {
        &mut self.x
    }
    fn estimate(&mut self, request: Request) -> Result<()> {
        let x = self.x[0];
        if request.objective() {
            self.xi = self.normal.sample(&mut self.rng);
            self.estimate.objective = (x - self.a).powi(2) + self.xi * x;
        }
        if request.constraints() {
            let zeta = self.normal.sample(&mut self.rng);
            self.estimate.constraints[0] = x - self.b + zeta;
            self.estimate.exact_constraints[0] = self.estimate.constraints[0];
        }
        Ok(())
    }
    fn last_estimate(&self) -> &Estimate {
        &self.estimate
    }
    fn add_gradient(&mut self, w0: f32, w: &[f32], grad: &mut [f32]) -> Result<()> {
        grad[0] += w0 * (2.0 * (self.x[0] - self.a) + self.xi) + w[0];
        Ok(())
    }
    fn minibatch_control(&mut self) -> Option<&mut dyn MinibatchControl> {
        Some(self)
    }
}

impl MinibatchControl for QuadraticProblem {
    /// One noisy sample whatever the batch size.
    fn set_batch_sizes(&mut self, _sizes: BatchSizes) -> Result<()> {
        Ok(())
    }
    /// Every half is the whole sample.
    fn select_rows(&mut self, _selection: RowSelection) -> Result<()> {
        Ok(())
    }
}

/// Runs `iterations` steps and returns the means of `x` and of the first
/// multiplier over the second half.
pub(crate) fn tail_means(
    alg: &mut dyn crate::algorithms::Algorithm,
    problem: &mut QuadraticProblem,
    iterations: usize,
) -> (f64, f64) {
    let (mut x, mut lambda) = (0.0, 0.0);
    let half = iterations / 2;
    for t in 0..iterations {
        alg.step(problem).unwrap();
        if t >= half {
            x += problem.params()[0] as f64 / half as f64;
            lambda += alg.multipliers().first().copied().unwrap_or(0.0) as f64 / half as f64;
        }
    }
    (x, lambda)
}

/// Asserts that `alg` reaches the optimum of `min (x-3)^2 s.t. x <= 1`
/// (noise 0.05 on both estimates): the means over the second half of
/// `iterations` steps are within `x_tol` of x* = 1 and `lambda_tol` of the
/// multiplier 4.
pub(crate) fn assert_reaches_optimum(
    alg: &mut dyn crate::algorithms::Algorithm,
    seed: u64,
    iterations: usize,
    x_tol: f64,
    lambda_tol: f64,
) {
    let mut problem = QuadraticProblem::new(3.0, 1.0, 0.05, seed);
    let (x, lambda) = tail_means(alg, &mut problem, iterations);
    assert!((x - 1.0).abs() < x_tol, "{}: x = {x}", alg.name());
    assert!((lambda - 4.0).abs() < lambda_tol, "{}: lambda = {lambda}", alg.name());
}
