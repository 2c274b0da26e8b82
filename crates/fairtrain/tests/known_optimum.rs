//! Every constrained algorithm against a problem whose answer is computed
//! exactly: logistic regression under a norm bound,
//! `min E[BCE(theta)] s.t. ||theta||^2 <= B`, with `B` half the squared norm
//! of the unconstrained solution so that the bound binds. The KKT point is
//! found by full-batch Newton steps on `f + mu ||theta||^2` and bisection on
//! `mu` until `||theta(mu)||^2 = B`; the algorithms see only minibatches of
//! 64 rows.

use std::sync::Arc;

use fairtrain::algorithms::{
    AlgorithmConfig, AlgorithmName, AlmConfig, DualConfig, GdaConfig, GhostConfig, IalmConfig, NupiConfig,
    PenaltyConfig, PrimalConfig, ProxyConfig, SpbmConfig, SwitchingConfig,
};
use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
use fairtrain::data::Dataset;
use fairtrain::model::Mlp;
use fairtrain::problem::{BatchSizes, Problem, TabularProblem};
use fairtrain::train::{Budget, TrainerConfig, train};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const N: usize = 4_000;
const D: usize = 3;

fn data() -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let truth = [2.0, -1.5, 1.0];
    let mut x = Vec::with_capacity(N * D);
    let mut y = Vec::with_capacity(N);
    for _ in 0..N {
        let row: Vec<f64> = (0..D).map(|_| rng.sample(StandardNormal)).collect();
        let z = 0.5 + row.iter().zip(truth).map(|(a, b)| a * b).sum::<f64>();
        y.push(if rng.random::<f64>() < 1.0 / (1.0 + (-z).exp()) { 1.0 } else { 0.0 });
        x.extend(row.iter().map(|&v| v as f32));
    }
    let groups = (0..N as u32).map(|i| i % 2).collect();
    Dataset::from_dense(x, D, y, groups, vec!["a".into(), "b".into()]).unwrap()
}

/// The minimizer of the mean BCE plus `mu ||theta||^2` (theta = weights then
/// bias, the MLP's layout without hidden layers), by Newton's method.
fn regularized_solution(data: &Dataset, mu: f64) -> Vec<f64> {
    let k = D + 1;
    let mut theta = vec![0.0f64; k];
    for _ in 0..50 {
        let mut grad = vec![0.0; k];
        let mut hess = vec![0.0; k * k];
        for i in 0..N {
            let mut features: Vec<f64> = data.dense_row(i).iter().map(|&v| v as f64).collect();
            features.push(1.0);
            let z: f64 = features.iter().zip(&theta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let r = p - data.labels()[i] as f64;
            for a in 0..k {
                grad[a] += r * features[a] / N as f64;
                for b in 0..k {
                    hess[a * k + b] += p * (1.0 - p) * features[a] * features[b] / N as f64;
                }
            }
        }
        for a in 0..k {
            grad[a] += 2.0 * mu * theta[a];
            hess[a * k + a] += 2.0 * mu;
        }
        // Solve hess * step = grad by Gaussian elimination.
        let mut m = hess.clone();
        let mut rhs = grad.clone();
        for col in 0..k {
            let pivot = m[col * k + col];
            for row in col + 1..k {
                let f = m[row * k + col] / pivot;
                for c in col..k {
                    m[row * k + c] -= f * m[col * k + c];
                }
                rhs[row] -= f * rhs[col];
            }
        }
        let mut step = vec![0.0; k];
        for row in (0..k).rev() {
            let s: f64 = (row + 1..k).map(|c| m[row * k + c] * step[c]).sum();
            step[row] = (rhs[row] - s) / m[row * k + row];
        }
        for a in 0..k {
            theta[a] -= step[a];
        }
    }
    theta
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum()
}

/// The KKT point `(theta*, lambda*)` for the bound `B`.
fn kkt_point(data: &Dataset, bound: f64) -> (Vec<f64>, f64) {
    let (mut lo, mut hi) = (0.0, 10.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if norm2(&regularized_solution(data, mid)) > bound {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mu = 0.5 * (lo + hi);
    (regularized_solution(data, mu), mu)
}

#[test]
fn every_algorithm_reaches_the_kkt_point() {
    let data = Arc::new(data());
    let unconstrained = regularized_solution(&data, 0.0);
    let bound = 0.5 * norm2(&unconstrained);
    let (optimum, multiplier) = kkt_point(&data, bound);
    assert!((norm2(&optimum) - bound).abs() < 1e-6 && multiplier > 0.01);

    let lagrangian = |name, dual, primal| AlgorithmConfig::Lagrangian { name, dual, primal };
    let sgd = PrimalConfig::sgd(0.05);
    let cases: Vec<(AlgorithmConfig, u64)> = vec![
        (lagrangian(AlgorithmName::SslAlm, DualConfig::Alm(AlmConfig::default()), sgd.smoothed(2.0, 0.5)), 20_000),
        (lagrangian(AlgorithmName::Alm, DualConfig::Alm(AlmConfig::default()), sgd), 20_000),
        (
            lagrangian(
                AlgorithmName::Ialm,
                DualConfig::Ialm(IalmConfig { dual_lr: 0.1, ..IalmConfig::default() }),
                sgd,
            ),
            20_000,
        ),
        (lagrangian(AlgorithmName::Gda, DualConfig::Gda(GdaConfig::default()), sgd), 20_000),
        (
            lagrangian(
                AlgorithmName::Nupi,
                DualConfig::Nupi(NupiConfig { nu: 0.9, kp: 0.5, ..NupiConfig::default() }),
                sgd,
            ),
            20_000,
        ),
        (lagrangian(AlgorithmName::Spbm, DualConfig::Spbm(SpbmConfig::default()), sgd), 20_000),
        (
            lagrangian(
                AlgorithmName::Penalty,
                DualConfig::Penalty(PenaltyConfig {
                    penalty: 1.0,
                    penalty_growth: 1.001,
                    max_penalty: 1e4,
                    constraint_averaging: 1.0,
                }),
                sgd,
            ),
            20_000,
        ),
        (
            lagrangian(
                AlgorithmName::ProxyLagrangian,
                DualConfig::Proxy(ProxyConfig { dual_lr: 0.5, ..ProxyConfig::default() }),
                sgd,
            ),
            20_000,
        ),
        (
            AlgorithmConfig::Switching(SwitchingConfig {
                lr: 0.05,
                constraint_lr: 0.005,
                tolerance: 0.0,
                constraint_averaging: 1.0,
            }),
            20_000,
        ),
        (
            AlgorithmConfig::Ghost(GhostConfig {
                lr: 0.05,
                step_decay: 0.001,
                base_batch: 16,
                max_level: 3,
                ..GhostConfig::default()
            }),
            4_000,
        ),
    ];
    for (config, iterations) in cases {
        let name = config.name();
        let constraints =
            ConstraintSet::new(vec![FairnessConstraint::new(Notion::WeightNorm, bound).unwrap()], &data).unwrap();
        let model = Mlp::new(D, &[]).unwrap();
        let params = vec![0.0; model.n_params()];
        let batches = BatchSizes { objective: 64, per_group: 1 };
        let mut problem = TabularProblem::new(model, params, data.clone(), constraints, batches, 3).unwrap();
        let mut algorithm = config.build().unwrap();
        let trainer = TrainerConfig { average: 0.5, ..TrainerConfig::new(Budget::Iterations(iterations)) };
        train(&mut problem, algorithm.as_mut(), &trainer, &mut ()).unwrap();
        let theta: Vec<f64> = problem.params().iter().map(|&v| v as f64).collect();
        let error = theta.iter().zip(&optimum).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        let violation = (norm2(&theta) - bound) / bound;
        assert!(error < 0.04, "{name}: theta {theta:?} vs optimum {optimum:?} (error {error:.4})");
        assert!(violation < 0.02, "{name}: relative violation {violation:.4}");
    }
}
