//! The optimizer-fairness study (Kolahdouzi, Gunes, Etemad; NeurIPS 2025):
//! does the optimizer alone change group fairness? Nothing in training
//! changes but the optimizer; the CLI's `fairtrain study optimizers` trains
//! the same model with SGD, SGD with momentum, RMSProp and Adam over seeds
//! and data sets and compares the gaps with paired tests
//! ([`crate::evaluation::stats`]).
//!
//! This module holds the paper's analytically tractable model: one scalar
//! weight `w`, two groups with losses `L0 = (w - 1)^2 / 2` and
//! `L1 = (w + 1)^2 / 2`; each step samples group 0 with probability `p0`
//! and steps on that group's loss. The fair point (equal group losses) is
//! `w* = 0`, the expected-loss minimizer `p0 - p1`. The paper's stationary
//! analysis gives Gaussians centred at `p0 - p1` with precision
//! `1 / (8 eta p0 p1)` for SGD and `1 / (4 eta Theta sqrt(p0 p1))` for
//! RMSProp: with a dominant group, RMSProp's law is wider and puts more
//! mass near the fair point (Theorem 1).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The optimizer of the toy model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToyOptimizer {
    /// Plain SGD.
    Sgd,
    /// RMSProp with PyTorch's defaults (`alpha = 0.99`, `eps = 1e-8`
    /// outside the square root).
    RmsProp,
}

/// The final `w` of `chains` independent runs of `steps` steps of the toy
/// model (see the module documentation), all from `w = 0`.
///
/// ```
/// use fairtrain::methods::optimizer_study::{toy_model, ToyOptimizer};
/// let w = toy_model(ToyOptimizer::Sgd, 0.9, 0.01, 2_000, 100, 0);
/// let mean = w.iter().sum::<f64>() / w.len() as f64;
/// assert!((mean - 0.8).abs() < 0.05); // the expected-loss minimizer p0 - p1
/// ```
pub fn toy_model(optimizer: ToyOptimizer, p0: f64, eta: f64, steps: usize, chains: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..chains)
        .map(|_| {
            let (mut w, mut v) = (0.0f64, 0.0f64);
            for _ in 0..steps {
                let g = if rng.random::<f64>() < p0 { w - 1.0 } else { w + 1.0 };
                match optimizer {
                    ToyOptimizer::Sgd => w -= eta * g,
                    ToyOptimizer::RmsProp => {
                        v = 0.99 * v + 0.01 * g * g;
                        w -= eta * g / (v.sqrt() + 1e-8);
                    }
                }
            }
            w
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near_fair(w: &[f64], radius: f64) -> f64 {
        w.iter().filter(|w| w.abs() < radius).count() as f64 / w.len() as f64
    }

    #[test]
    fn rmsprop_puts_more_mass_near_the_fair_point_under_imbalance() {
        let (steps, chains) = (3_000, 4_000);
        for (p0, eta) in [(0.9, 0.05), (0.8, 0.05)] {
            let sgd = toy_model(ToyOptimizer::Sgd, p0, eta, steps, chains, 1);
            let rms = toy_model(ToyOptimizer::RmsProp, p0, eta, steps, chains, 2);
            let target = 2.0 * p0 - 1.0;
            let mean = |w: &[f64]| w.iter().sum::<f64>() / w.len() as f64;
            let (a, b) = (near_fair(&sgd, 0.5 * target), near_fair(&rms, 0.5 * target));
            eprintln!("p0 {p0}: sgd mean {:.3} near {a:.4}; rmsprop mean {:.3} near {b:.4}", mean(&sgd), mean(&rms));
            assert!((mean(&sgd) - target).abs() < 0.05);
            assert!(b > a, "p0 {p0}: RMSProp {b} vs SGD {a} of the chains within {} of w* = 0", 0.5 * target);
        }
    }
}
