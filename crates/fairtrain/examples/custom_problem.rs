//! Bringing your own model: implement `Problem` for it, then run any of
//! fairtrain's algorithms, read the history as it streams and the final
//! multipliers.
//!
//! The model here is a hand-written linear regression `y ~ w . x` (any
//! model works: the algorithms only see its parameters as one `f32` slice).
//! The constraint asks the mean predictions of two groups to stay within
//! `±0.1` of each other: two inequalities `m1 - m0 - 0.1 <= 0` and
//! `m0 - m1 - 0.1 <= 0`, estimated on minibatches.
//!
//! Run with `cargo run --release -p fairtrain --example custom_problem`.

use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName, Preset};
use fairtrain::problem::{Estimate, Problem, Request};
use fairtrain::train::{Budget, LogColumns, LogRecord, Observer, TrainerConfig, train};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Data, parameters and the current minibatches of a linear regression
/// with a group-mean constraint.
struct FairRegression {
    x: Vec<[f32; 3]>,
    y: Vec<f32>,
    rows_of: [Vec<usize>; 2],
    w: Vec<f32>,
    rng: ChaCha8Rng,
    batch: Vec<usize>,
    group_batches: [Vec<usize>; 2],
    estimate: Estimate,
    names: Vec<String>,
}

const BOUND: f32 = 0.1;

impl FairRegression {
    fn new(n: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut x, mut y, mut group) = (Vec::new(), Vec::new(), Vec::<usize>::new());
        for _ in 0..n {
            let g = (rng.random::<f32>() < 0.4) as usize;
            // The second feature is shifted for group 1: unconstrained
            // predictions differ by group.
            let row = [1.0, rng.random::<f32>() + g as f32, rng.random::<f32>()];
            y.push(2.0 * row[1] - row[2] + 0.3 * (rng.random::<f32>() - 0.5));
            x.push(row);
            group.push(g);
        }
        let rows_of = [0, 1].map(|g| (0..n).filter(|&i| group[i] == g).collect());
        FairRegression {
            x,
            y,
            rows_of,
            w: vec![0.0; 3],
            rng,
            batch: Vec::new(),
            group_batches: [Vec::new(), Vec::new()],
            estimate: Estimate { objective: 0.0, constraints: vec![0.0; 2], exact_constraints: vec![0.0; 2] },
            names: vec!["mean(1) - mean(0)".into(), "mean(0) - mean(1)".into()],
        }
    }

    fn predict(&self, i: usize) -> f32 {
        self.x[i].iter().zip(&self.w).map(|(a, b)| a * b).sum()
    }

    fn draw(&mut self, rows: &[usize], k: usize) -> Vec<usize> {
        (0..k).map(|_| rows[self.rng.random_range(0..rows.len())]).collect()
    }
}

impl Problem for FairRegression {
    fn num_params(&self) -> usize {
        self.w.len()
    }
    fn num_constraints(&self) -> usize {
        2
    }
    fn constraint_names(&self) -> &[String] {
        &self.names
    }
    fn params(&self) -> &[f32] {
        &self.w
    }
    fn params_mut(&mut self) -> &mut [f32] {
        &mut self.w
    }
    fn estimate(&mut self, request: Request) -> fairtrain::Result<()> {
        if request.objective() {
            let all: Vec<usize> = (0..self.y.len()).collect();
            self.batch = self.draw(&all, 32);
            let mse: f32 = self.batch.iter().map(|&i| (self.predict(i) - self.y[i]).powi(2)).sum::<f32>() / 32.0;
            self.estimate.objective = mse;
        }
        if request.constraints() {
            for g in 0..2 {
                let rows = self.rows_of[g].clone();
                self.group_batches[g] = self.draw(&rows, 32);
            }
            let mean = |g: usize, s: &Self| s.group_batches[g].iter().map(|&i| s.predict(i)).sum::<f32>() / 32.0;
            let gap = mean(1, self) - mean(0, self);
            self.estimate.constraints = vec![gap - BOUND, -gap - BOUND];
            // A differentiable constraint: its exact value is the same.
            self.estimate.exact_constraints = self.estimate.constraints.clone();
        }
        Ok(())
    }
    fn last_estimate(&self) -> &Estimate {
        &self.estimate
    }
    fn add_gradient(&mut self, w0: f32, weights: &[f32], grad: &mut [f32]) -> fairtrain::Result<()> {
        // d MSE / dw = 2 mean((pred - y) x); d mean_g / dw = mean_g(x).
        for &i in &self.batch {
            let r = 2.0 * w0 * (self.predict(i) - self.y[i]) / 32.0;
            for (g, &xi) in grad.iter_mut().zip(&self.x[i]) {
                *g += r * xi;
            }
        }
        // The gap m1 - m0 enters with weight w[0] - w[1].
        let sign = [-(weights[0] - weights[1]), weights[0] - weights[1]];
        for (batch, s) in self.group_batches.iter().zip(sign) {
            for &i in batch {
                for (d, &xi) in grad.iter_mut().zip(&self.x[i]) {
                    *d += s * xi / 32.0;
                }
            }
        }
        Ok(())
    }
}

/// Collects the history records in memory.
#[derive(Default)]
struct Recorder {
    columns: Vec<String>,
    rows: Vec<(u64, f64, Vec<f64>, Vec<f32>)>,
}

impl Observer for Recorder {
    fn start(&mut self, columns: &LogColumns) -> fairtrain::Result<()> {
        self.columns = columns.constraints.clone();
        Ok(())
    }
    fn record(&mut self, r: &LogRecord) -> fairtrain::Result<()> {
        self.rows.push((r.iteration, r.objective, r.constraints.to_vec(), r.multipliers.to_vec()));
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for name in [AlgorithmName::SslAlm, AlgorithmName::Nupi, AlgorithmName::Ssw] {
        let mut problem = FairRegression::new(5_000);
        let mut algorithm = AlgorithmConfig::preset(name, Preset::Default).build()?;
        let mut recorder = Recorder::default();
        let config = TrainerConfig { log_every: 5_000, ..TrainerConfig::new(Budget::Iterations(20_000)) };
        train(&mut problem, algorithm.as_mut(), &config, &mut recorder)?;

        println!("{name}: history ({})", recorder.columns.join(", "));
        for (iteration, objective, constraints, multipliers) in &recorder.rows {
            println!(
                "  {iteration:>6}: objective {objective:.4}, constraints {constraints:.4?}, multipliers {multipliers:.3?}"
            );
        }
        // Full-data check of the returned (averaged) parameters.
        let mean = |g: usize| {
            problem.rows_of[g].iter().map(|&i| problem.predict(i)).sum::<f32>() / problem.rows_of[g].len() as f32
        };
        let n = problem.y.len();
        let mse = (0..n).map(|i| (problem.predict(i) - problem.y[i]).powi(2)).sum::<f32>() / n as f32;
        println!(
            "  final: w = {:.3?}, mse {mse:.4}, group mean gap {:.4} (bound {BOUND}), multipliers {:.3?}\n",
            problem.w,
            mean(1) - mean(0),
            algorithm.multipliers()
        );
    }
    Ok(())
}
