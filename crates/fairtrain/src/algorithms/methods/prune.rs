//! Fair pruning: an MLP pruned to a target sparsity under a fairness
//! constraint, as BiFP's constrained bi-level problem (Dai et al., 2023):
//! the upper level chooses a mask `m` with at most `k` weights, the lower
//! level trains the masked weights `m * theta` under the constraint.
//!
//! [`Pruning`] wraps any constrained algorithm (the lower level) over any
//! [`Problem`]: the problem holds the masked weights `z = m * theta`; after
//! each inner step the weights keep only the change of their unmasked
//! entries (a straight-through mask, so pruned weights do not drift). With
//! [`PruneMethod::Bifp`] each step also takes an upper-level step on
//! continuous scores `s` (initialized to the dense weights, so step zero is
//! magnitude pruning) with BiP's implicit-gradient form
//! `grad_s = theta * g - lr2 * (theta * g) * (m * g)`, where `g` is the
//! gradient, at `z`, of the Lagrangian `f + lambda^T c` with the inner
//! algorithm's multipliers (BiFP's fairness term at the upper level); the
//! mask is the top `k` of `|s|` in each layer, so the sparsity is exact at
//! every step. The mask is searched for the first part of the budget
//! ([`MaskSearch`]; the CLI's first quarter) and then fixed while the
//! weights go on training under the constraint: the returned model (a tail
//! average, or a choice among averaged iterates from a quarter of the
//! budget on) then carries one mask, and so exactly the requested
//! sparsity. Biases are never pruned. The baselines: magnitude pruning of
//! the dense model, and magnitude pruning followed by constrained
//! fine-tuning with the mask fixed.

use serde::{Deserialize, Serialize};

use crate::algorithms::algorithm::Algorithm;
use crate::algorithms::optim::{Adam, PrimalOptimizer};
use crate::error::{Error, Result};
use crate::model::Mlp;
use crate::problem::{Problem, Request};

/// How the dense model is pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PruneMethod {
    /// Mask and weights trained jointly under the constraint (BiFP).
    Bifp,
    /// The largest weights of each layer kept, no training.
    Magnitude,
    /// Magnitude pruning, then constrained training of the kept weights.
    MagnitudeFinetune,
}

impl PruneMethod {
    /// Every method's command-line name.
    pub const NAMES: [&'static str; 3] = ["bifp", "magnitude", "magnitude-finetune"];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            PruneMethod::Bifp => "bifp",
            PruneMethod::Magnitude => "magnitude",
            PruneMethod::MagnitudeFinetune => "magnitude-finetune",
        }
    }
}

impl std::str::FromStr for PruneMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bifp" => Ok(PruneMethod::Bifp),
            "magnitude" => Ok(PruneMethod::Magnitude),
            "magnitude-finetune" => Ok(PruneMethod::MagnitudeFinetune),
            _ => Err(Error::config("method", format!("'{s}' (known: {})", Self::NAMES.join(", ")))),
        }
    }
}

/// How long BiFP updates its mask; afterwards the mask is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MaskSearch {
    /// For this many steps.
    Steps(u64),
    /// For this many seconds of steps.
    Seconds(f64),
}

/// Step size of the score optimizer (Adam).
pub const SCORE_LR: f32 = 1e-3;
/// BiP's weight of the implicit-gradient term.
pub const IMPLICIT_LR: f32 = 1e-4;

/// The mask keeping, in each layer, the `round((1 - sparsity) * n)` weights
/// of largest `|scores|` (ties by position); biases are always kept.
///
/// ```
/// use fairtrain::methods::prune::{magnitude_mask, sparsity};
/// use fairtrain::model::Mlp;
/// let mlp = Mlp::new(4, &[5]).unwrap();
/// let p = mlp.init_params(0);
/// let mask = magnitude_mask(&mlp, &p, 0.8).unwrap();
/// let pruned: Vec<f32> = p.iter().zip(&mask).map(|(a, b)| a * b).collect();
/// assert!((sparsity(&mlp, &pruned) - 0.8).abs() < 0.05);
/// ```
pub fn magnitude_mask(model: &Mlp, scores: &[f32], sparsity: f64) -> Result<Vec<f32>> {
    let mut mask = vec![1.0f32; model.n_params()];
    fill_magnitude_mask(model, scores, sparsity, &mut mask, &mut Vec::new())?;
    Ok(mask)
}

/// [`magnitude_mask`] into `mask` (biases left as they are), with `order`
/// as scratch: no allocation once `order` has grown to the largest layer.
/// Selection, not sorting: linear in the layer size.
fn fill_magnitude_mask(
    model: &Mlp,
    scores: &[f32],
    sparsity: f64,
    mask: &mut [f32],
    order: &mut Vec<usize>,
) -> Result<()> {
    if !(0.0..1.0).contains(&sparsity) {
        return Err(Error::config("sparsity", format!("{sparsity} (must be in [0, 1))")));
    }
    for layer in model.layers() {
        let n = layer.n_in * layer.n_out;
        let keep = (((1.0 - sparsity) * n as f64).round() as usize).clamp(1, n);
        order.clear();
        order.extend(layer.w..layer.w + n);
        // Largest |score| first, ties by position: a total order, so the
        // kept set is exactly defined.
        let larger = |&a: &usize, &b: &usize| scores[b].abs().total_cmp(&scores[a].abs()).then(a.cmp(&b));
        if keep < n {
            order.select_nth_unstable_by(keep, larger);
        }
        for &i in &order[..keep] {
            mask[i] = 1.0;
        }
        for &i in &order[keep..] {
            mask[i] = 0.0;
        }
    }
    Ok(())
}

/// Fraction of the weights (not biases) that are zero.
pub fn sparsity(model: &Mlp, params: &[f32]) -> f64 {
    let (mut zeros, mut total) = (0usize, 0usize);
    for layer in model.layers() {
        let w = &params[layer.w..layer.w + layer.n_in * layer.n_out];
        zeros += w.iter().filter(|&&v| v == 0.0).count();
        total += w.len();
    }
    zeros as f64 / total.max(1) as f64
}

/// A constrained algorithm over masked weights (see the module
/// documentation).
pub struct Pruning {
    inner: Box<dyn Algorithm>,
    model: Mlp,
    method: PruneMethod,
    sparsity: f64,
    search: MaskSearch,
    state: PruneState,
}

/// What a checkpoint keeps of [`Pruning`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PruneState {
    theta: Vec<f32>,
    scores: Vec<f32>,
    mask: Vec<f32>,
    score_optimizer: Adam,
    before: Vec<f32>,
    grad: Vec<f32>,
    /// The Lagrangian's constraint weights (the inner multipliers, or 0).
    weights: Vec<f32>,
    /// Scratch of the top-k selection.
    #[serde(skip)]
    order: Vec<usize>,
    inner: Vec<u8>,
    /// Steps taken, and seconds spent in them (for the mask search).
    steps: u64,
    seconds: f64,
}

impl Pruning {
    /// Prunes the dense parameters `dense` of `model` to `sparsity` with
    /// `method`, training with `inner` (unused by magnitude pruning); BiFP
    /// updates its mask during `search`.
    pub fn new(
        inner: Box<dyn Algorithm>,
        model: Mlp,
        dense: &[f32],
        method: PruneMethod,
        sparsity: f64,
        search: MaskSearch,
    ) -> Result<Self> {
        if dense.len() != model.n_params() {
            return Err(Error::Data(format!("{} dense parameters for a model with {}", dense.len(), model.n_params())));
        }
        let mask = magnitude_mask(&model, dense, sparsity)?;
        Ok(Pruning {
            inner,
            method,
            sparsity,
            search,
            state: PruneState {
                theta: dense.to_vec(),
                scores: dense.to_vec(),
                mask,
                score_optimizer: Adam::new(SCORE_LR),
                before: vec![0.0; dense.len()],
                grad: vec![0.0; dense.len()],
                weights: Vec::new(),
                order: Vec::new(),
                inner: Vec::new(),
                steps: 0,
                seconds: 0.0,
            },
            model,
        })
    }

    /// The current mask (1 kept, 0 pruned).
    pub fn mask(&self) -> &[f32] {
        &self.state.mask
    }

    /// The masked weights `m * theta`.
    pub fn masked(&self) -> Vec<f32> {
        self.state.theta.iter().zip(&self.state.mask).map(|(t, m)| t * m).collect()
    }

    fn write_masked(&self, params: &mut [f32]) {
        for ((p, t), m) in params.iter_mut().zip(&self.state.theta).zip(&self.state.mask) {
            *p = t * m;
        }
    }
}

impl Algorithm for Pruning {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn step(&mut self, problem: &mut dyn Problem) -> Result<()> {
        if self.method == PruneMethod::Magnitude {
            // No training: the run only evaluates the magnitude-pruned model.
            self.write_masked(problem.params_mut());
            return problem.estimate(Request::Both);
        }
        let searching = match self.search {
            MaskSearch::Steps(n) => self.state.steps < n,
            MaskSearch::Seconds(t) => self.state.seconds < t,
        };
        let started = matches!(self.search, MaskSearch::Seconds(_)).then(std::time::Instant::now);
        self.state.steps += 1;
        let s = &mut self.state;
        s.before.copy_from_slice(problem.params());
        self.inner.step(problem)?;
        // Straight-through: only the kept weights take the inner step.
        for (((t, m), &a), &b) in s.theta.iter_mut().zip(&s.mask).zip(&s.before).zip(problem.params()) {
            *t += m * (b - a);
        }
        if self.method == PruneMethod::Bifp && searching {
            // Upper level: the Lagrangian's gradient at z = m * theta.
            self.write_masked(problem.params_mut());
            let s = &mut self.state;
            problem.estimate(Request::Both)?;
            s.weights.clear();
            match self.inner.multipliers() {
                m if m.len() == problem.num_constraints() => s.weights.extend_from_slice(m),
                _ => s.weights.resize(problem.num_constraints(), 0.0),
            }
            s.grad.fill(0.0);
            problem.add_gradient(1.0, &s.weights, &mut s.grad)?;
            for ((g, &t), &m) in s.grad.iter_mut().zip(&s.theta).zip(&s.mask) {
                let score_grad = t * *g;
                *g = score_grad - IMPLICIT_LR * score_grad * (m * *g);
            }
            s.score_optimizer.step(&mut s.scores, &mut s.grad);
            fill_magnitude_mask(&self.model, &s.scores, self.sparsity, &mut s.mask, &mut s.order)?;
        }
        self.write_masked(problem.params_mut());
        if let Some(t) = started {
            self.state.seconds += t.elapsed().as_secs_f64();
        }
        Ok(())
    }

    fn uses_constraints(&self) -> bool {
        self.inner.uses_constraints()
    }

    fn has_multipliers(&self) -> bool {
        self.inner.has_multipliers()
    }

    fn multipliers(&self) -> &[f32] {
        self.inner.multipliers()
    }

    fn log_columns(&self, names: &[String]) -> Vec<String> {
        self.inner.log_columns(names)
    }

    fn log_values(&mut self, out: &mut Vec<f64>) {
        self.inner.log_values(out)
    }

    fn step_value_columns(&self) -> Vec<String> {
        self.inner.step_value_columns()
    }

    fn step_values(&self) -> &[f64] {
        self.inner.step_values()
    }

    fn finalize(&self, params: &mut [f32]) {
        // An average reaching back into the mask search mixes masks:
        // project onto the final one.
        for (p, m) in params.iter_mut().zip(&self.state.mask) {
            *p *= m;
        }
    }

    fn save_state(&self) -> Result<Vec<u8>> {
        let mut state = self.state.clone();
        state.inner = self.inner.save_state()?;
        crate::state::encode(&state)
    }

    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        let state: PruneState = crate::state::decode(state)?;
        self.inner.load_state(&state.inner)?;
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_reaches_the_exact_sparsity_per_layer() {
        let mlp = Mlp::new(10, &[20, 10]).unwrap();
        let p = mlp.init_params(3);
        for s in [0.0, 0.5, 0.8, 0.95] {
            let mask = magnitude_mask(&mlp, &p, s).unwrap();
            let pruned: Vec<f32> = p.iter().zip(&mask).map(|(a, b)| a * b).collect();
            for l in mlp.layers() {
                let n = l.n_in * l.n_out;
                let kept = mask[l.w..l.w + n].iter().filter(|&&m| m == 1.0).count();
                assert_eq!(kept, (((1.0 - s) * n as f64).round() as usize).max(1), "sparsity {s}");
                // The kept weights are the largest.
                let smallest_kept =
                    (l.w..l.w + n).filter(|&i| mask[i] == 1.0).map(|i| p[i].abs()).fold(f32::INFINITY, f32::min);
                assert!((l.w..l.w + n).filter(|&i| mask[i] == 0.0).all(|i| p[i].abs() <= smallest_kept));
                assert!(mask[l.b..l.b + l.n_out].iter().all(|&m| m == 1.0));
            }
            // 200 + 200 + 10 weights: 0.8 keeps 40 + 40 + 2.
            if s == 0.8 {
                assert_eq!(sparsity(&mlp, &pruned), 328.0 / 410.0);
            }
        }
        assert!(magnitude_mask(&mlp, &p, 1.0).is_err());
    }

    /// BiFP moves its mask during the search and not after it; the
    /// parameters are the masked weights at every step.
    #[test]
    fn bifp_fixes_its_mask_after_the_search() {
        use crate::algorithms::{AlgorithmConfig, AlgorithmName};
        use crate::constraints::{ConstraintSet, FairnessConstraint, Notion};
        use crate::data::{DataSource, LoadOptions, load};
        use crate::problem::TabularProblem;
        use std::sync::Arc;

        let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
        let constraints =
            ConstraintSet::new(vec![FairnessConstraint::new(Notion::AccuracyParity, 0.05).unwrap()], &data).unwrap();
        let mlp = Mlp::new(data.n_inputs(), &[16]).unwrap();
        let dense = mlp.init_params(1);
        let batches = AlgorithmConfig::paper_batch_sizes(AlgorithmName::SslAlm);
        let mut problem =
            TabularProblem::new(mlp.clone(), dense.clone(), Arc::new(data), constraints, batches, 0).unwrap();
        let inner = AlgorithmConfig::paper(AlgorithmName::SslAlm).build().unwrap();
        let mut pruning =
            Pruning::new(inner, mlp.clone(), &dense, PruneMethod::Bifp, 0.7, MaskSearch::Steps(300)).unwrap();
        let start = pruning.mask().to_vec();
        for _ in 0..300 {
            pruning.step(&mut problem).unwrap();
        }
        let searched = pruning.mask().to_vec();
        assert_ne!(start, searched, "the search moved no weight in or out of the mask");
        for _ in 0..300 {
            pruning.step(&mut problem).unwrap();
            assert_eq!(pruning.mask(), &searched[..]);
            assert!(problem.params().iter().zip(&searched).all(|(p, m)| *m == 1.0 || *p == 0.0));
        }
        assert!((sparsity(&mlp, problem.params()) - 0.7).abs() < 0.01);
    }
}
