//! FERMI (Lowy, Baharlouei, Pavan, Razaviyayn, Beirami; TMLR 2022): fair
//! empirical risk minimization with the exponential Renyi mutual
//! information (ERMI) between the randomized prediction `Y^ ~ p(x)` and the
//! sensitive attribute `S` as regularizer:
//! `min_theta E[loss] + lambda * D_R(Y^; S)`, where
//! `D_R = sum_{j,r} P(y^=j, s=r)^2 / (P(y^=j) P(s=r)) - 1` (a chi-square
//! divergence; zero exactly when `Y^` and `S` are independent).
//!
//! `D_R` is a ratio of expectations, so a minibatch plug-in is biased. Its
//! variational form is a max over a `groups x 2` matrix `W` of an
//! expression **linear** in the probabilities, whose per-row term
//! `psi_i = sum_{r,j} [2 F_j(x_i) [s_i = r] W_rj / sqrt(P_r) - F_j(x_i) W_rj^2] - 1`
//! (with `F = (1 - p, p)`) is unbiased on any batch, even of one row. The
//! method is stochastic gradient descent-ascent: `theta` descends
//! `loss + lambda * psi`, `W` ascends `psi`. For equal opportunity and
//! equalized odds the same holds conditionally on the label: one `W` per
//! compared label, fed by that label's rows (so each term carries the
//! weight `P(y)`, as in the paper's conditional ERMI).
//!
//! Choices, documented: `P_r` comes from the training rows once; `W` starts
//! at `W_rj = sqrt(P_r)`, its maximizer when `Y^` and `S` are independent
//! (the reference starts at 0 and warms the model up without the
//! regularizer), and is projected onto `[0, 1 / sqrt(P_r)]`, a box that
//! holds the maximizer `W*_rj = P(s=r | y^=j) / sqrt(P_r)` (the theory's
//! projection; the reference does not project); the ascent step is not
//! scaled by `lambda`, so the inner maximization runs at the same speed for
//! every `lambda`; regularizer terms are averaged over the batch (the
//! reference package sums them, making `lambda` depend on the batch size).

use serde::{Deserialize, Serialize};

use super::{MethodConfig, RowBatch, Target, native};
use crate::algorithms::algorithm::Algorithm;
use crate::algorithms::optim::{Primal, PrimalConfig};
use crate::buffer::AlignedVec;
use crate::data::{Dataset, EpochSampler};
use crate::error::{Error, Result};
use crate::model::loss::sigmoid;
use crate::problem::Problem;

/// FERMI's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FermiConfig {
    /// The targeted notion.
    pub target: Target,
    /// The optimizer of the model.
    pub primal: PrimalConfig,
    /// Weight of the regularizer.
    pub lambda: f32,
    /// Ascent step of `W`.
    pub dual_lr: f32,
    /// Rows per batch.
    pub batch: usize,
    /// Seed of the batch sampler.
    pub seed: u64,
}

impl FermiConfig {
    pub(super) fn from_method(m: &MethodConfig) -> Self {
        FermiConfig {
            target: m.target,
            primal: m.primal,
            lambda: m.lambda,
            dual_lr: m.dual_lr,
            batch: m.batch,
            seed: m.seed,
        }
    }
}

/// One conditional ERMI term: the rows with one label (or all rows).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Term {
    /// `sqrt(P(s = r))` among the term's training rows.
    sqrt_p: Vec<f32>,
    /// `W`, `groups x 2`, row-major.
    w: Vec<f32>,
    /// Batch sums for the ascent step: `sum F_j [s = r]` and `sum F_j`.
    sum_group: Vec<f32>,
    sum_all: [f32; 2],
}

/// FERMI (see the module documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fermi {
    config: FermiConfig,
    primal: Primal,
    sampler: Option<EpochSampler>,
    /// Which term each label feeds (`None`: no term).
    term_of_label: [Option<usize>; 2],
    terms: Vec<Term>,
    grad: AlignedVec,
    #[serde(skip)]
    batch: RowBatch,
}

impl Fermi {
    /// FERMI with `config`.
    pub fn new(config: FermiConfig) -> Result<Self> {
        Ok(Fermi {
            primal: Primal::new(config.primal)?,
            config,
            sampler: None,
            term_of_label: [None; 2],
            terms: Vec::new(),
            grad: AlignedVec::default(),
            batch: RowBatch::default(),
        })
    }

    /// The max player's matrices, one per term (`groups x 2`, row-major).
    pub fn w(&self) -> Vec<&[f32]> {
        self.terms.iter().map(|t| &t.w[..]).collect()
    }

    fn init(&mut self, data: &Dataset, n_params: usize) -> Result<()> {
        self.sampler =
            Some(EpochSampler::new((0..data.n_rows() as u32).collect(), self.config.batch, self.config.seed, 3_000)?);
        let labels = self.config.target.conditioned_labels();
        let groups = data.n_groups();
        let contexts: Vec<Option<usize>> =
            if labels.is_empty() { vec![None] } else { labels.iter().map(|&y| Some(y)).collect() };
        for (k, context) in contexts.iter().enumerate() {
            let mut counts = vec![0usize; groups];
            for (&y, &g) in data.labels().iter().zip(data.groups()) {
                if context.is_none_or(|c| (y > 0.5) as usize == c) {
                    counts[g as usize] += 1;
                }
            }
            let total: usize = counts.iter().sum();
            if let Some(g) = counts.iter().position(|&c| c == 0) {
                return Err(Error::Data(format!(
                    "group '{}' has no {}training rows: FERMI cannot measure its dependence for {}",
                    data.group_names()[g],
                    match context {
                        Some(1) => "positive ",
                        Some(_) => "negative ",
                        None => "",
                    },
                    self.config.target.name()
                )));
            }
            let sqrt_p: Vec<f32> = counts.iter().map(|&c| (c as f64 / total as f64).sqrt() as f32).collect();
            let w = sqrt_p.iter().flat_map(|&s| [s, s]).collect();
            self.terms.push(Term { sqrt_p, w, sum_group: vec![0.0; 2 * groups], sum_all: [0.0; 2] });
            match context {
                Some(y) => self.term_of_label[*y] = Some(k),
                None => self.term_of_label = [Some(k), Some(k)],
            }
        }
        self.grad = AlignedVec::zeros(n_params);
        Ok(())
    }
}

/// The per-row ERMI estimate `psi` of a row with positive probability `p`
/// in group `g`, and its derivative with respect to `p`.
#[inline]
fn psi(w: &[f32], sqrt_p: &[f32], g: usize, p: f32) -> (f32, f32) {
    let (mut a0, mut a1) = (0.0, 0.0);
    for r in 0..sqrt_p.len() {
        a0 += w[2 * r] * w[2 * r];
        a1 += w[2 * r + 1] * w[2 * r + 1];
    }
    let (w0, w1, s) = (w[2 * g], w[2 * g + 1], sqrt_p[g]);
    let value = 2.0 * ((1.0 - p) * w0 + p * w1) / s - (1.0 - p) * a0 - p * a1 - 1.0;
    let d_p = 2.0 * (w1 - w0) / s - (a1 - a0);
    (value, d_p)
}

/// The mean variational ERMI estimate over rows with positive
/// probabilities `p` and groups `groups`, at `w` (`groups x 2`): a lower
/// bound of [`ermi`] on the same rows, equal to it at the maximizing `w`.
pub fn ermi_estimate(p: &[f32], groups: &[u32], n_groups: usize, w: &[f32]) -> f64 {
    let sqrt_p = group_sqrt_shares(groups, n_groups);
    p.iter().zip(groups).map(|(&p, &g)| psi(w, &sqrt_p, g as usize, p).0 as f64).sum::<f64>() / p.len() as f64
}

/// The closed-form ERMI `sum_{j,r} P(y^=j, s=r)^2 / (P(y^=j) P(s=r)) - 1`
/// of the randomized predictions with positive probabilities `p`.
pub fn ermi(p: &[f32], groups: &[u32], n_groups: usize) -> f64 {
    let n = p.len() as f64;
    let mut joint = vec![[0.0f64; 2]; n_groups];
    let mut share = vec![0.0f64; n_groups];
    for (&p, &g) in p.iter().zip(groups) {
        joint[g as usize][0] += (1.0 - p as f64) / n;
        joint[g as usize][1] += p as f64 / n;
        share[g as usize] += 1.0 / n;
    }
    let marginal = [joint.iter().map(|j| j[0]).sum::<f64>(), joint.iter().map(|j| j[1]).sum::<f64>()];
    let mut d = -1.0;
    for (r, j) in joint.iter().enumerate() {
        for k in 0..2 {
            if share[r] > 0.0 && marginal[k] > 0.0 {
                d += j[k] * j[k] / (marginal[k] * share[r]);
            }
        }
    }
    d
}

/// The maximizer `W*_rj = P(y^=j, s=r) / (sqrt(P_r) P(y^=j))` of
/// [`ermi_estimate`].
pub fn ermi_maximizer(p: &[f32], groups: &[u32], n_groups: usize) -> Vec<f32> {
    let sqrt_p = group_sqrt_shares(groups, n_groups);
    let n = p.len() as f64;
    let mut joint = vec![0.0f64; 2 * n_groups];
    for (&p, &g) in p.iter().zip(groups) {
        joint[2 * g as usize] += (1.0 - p as f64) / n;
        joint[2 * g as usize + 1] += p as f64 / n;
    }
    let marginal = [joint.iter().step_by(2).sum::<f64>(), joint.iter().skip(1).step_by(2).sum::<f64>()];
    (0..2 * n_groups).map(|c| (joint[c] / (sqrt_p[c / 2] as f64 * marginal[c % 2])) as f32).collect()
}

fn group_sqrt_shares(groups: &[u32], n_groups: usize) -> Vec<f32> {
    let mut counts = vec![0usize; n_groups];
    for &g in groups {
        counts[g as usize] += 1;
    }
    counts.iter().map(|&c| (c as f64 / groups.len() as f64).sqrt() as f32).collect()
}

impl Algorithm for Fermi {
    fn name(&self) -> &'static str {
        "fermi"
    }

    fn step(&mut self, problem: &mut dyn Problem) -> Result<()> {
        let view = native(problem, "fermi")?;
        let (model, data) = (view.model, view.data);
        if self.sampler.is_none() {
            self.init(data, view.params.len())?;
        }
        let sampler = self.sampler.as_mut().expect("initialized");
        self.batch.rows.clear();
        self.batch.rows.extend_from_slice(sampler.next_batch());
        self.batch.forward(model, view.params, data);
        *view.objective = self.batch.mean_bce(data);
        for t in &mut self.terms {
            t.sum_group.fill(0.0);
            t.sum_all = [0.0; 2];
        }
        let n = self.batch.rows.len() as f32;
        let (labels, groups) = (data.labels(), data.groups());
        let lambda = self.config.lambda;
        for (k, &row) in self.batch.rows.iter().enumerate() {
            let r = row as usize;
            let Some(t) = self.term_of_label[(labels[r] > 0.5) as usize] else { continue };
            let term = &mut self.terms[t];
            let g = groups[r] as usize;
            let p = sigmoid(self.batch.logits[k]);
            let (_, d_p) = psi(&term.w, &term.sqrt_p, g, p);
            self.batch.dz[k] += lambda * d_p * p * (1.0 - p) / n;
            let f = [1.0 - p, p];
            term.sum_group[2 * g] += f[0];
            term.sum_group[2 * g + 1] += f[1];
            term.sum_all[0] += f[0];
            term.sum_all[1] += f[1];
        }
        self.batch.backward(model, view.params, data, &mut self.grad);
        self.primal.step(view.params, &mut self.grad);
        // Ascent on W (at the same point as the descent step, as the
        // reference): d psi / d W_rj = 2 F_j [s=r] / sqrt(P_r) - 2 F_j W_rj.
        let eta = self.config.dual_lr;
        for term in &mut self.terms {
            for (c, w) in term.w.iter_mut().enumerate() {
                let (r, j) = (c / 2, c % 2);
                let s = term.sqrt_p[r];
                let grad = (2.0 * term.sum_group[c] / s - 2.0 * term.sum_all[j] * *w) / n;
                *w = (*w + eta * grad).clamp(0.0, 1.0 / s);
            }
        }
        Ok(())
    }

    crate::state::checkpoint_self!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small discrete example: 3 groups, soft predictions.
    fn example() -> (Vec<f32>, Vec<u32>) {
        (vec![0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.5, 0.7, 0.4], vec![0, 0, 0, 1, 1, 1, 2, 2, 0])
    }

    #[test]
    fn the_variational_form_attains_the_closed_form_at_its_maximizer() {
        let (p, g) = example();
        let closed = ermi(&p, &g, 3);
        // By hand for independence: every group with the same p gives 0.
        assert!(ermi(&[0.3, 0.3, 0.3], &[0, 1, 2], 3).abs() < 1e-7);
        assert!(closed > 0.01);
        let w = ermi_maximizer(&p, &g, 3);
        let at_max = ermi_estimate(&p, &g, 3, &w);
        assert!((at_max - closed).abs() < 1e-5, "{at_max} vs {closed}");
        // Any other W gives less (the form is concave in W).
        for k in 0..w.len() {
            let mut v = w.clone();
            v[k] += 0.05;
            assert!(ermi_estimate(&p, &g, 3, &v) < at_max);
        }
    }

    #[test]
    fn psi_derivative_matches_finite_differences() {
        let w = [0.4, 0.9, 0.7, 0.2];
        let sqrt_p = [0.6f32, 0.8];
        for (g, p) in [(0, 0.3f32), (1, 0.75)] {
            let h = 1e-3;
            let fd = (psi(&w, &sqrt_p, g, p + h).0 - psi(&w, &sqrt_p, g, p - h).0) / (2.0 * h);
            assert!((psi(&w, &sqrt_p, g, p).1 - fd).abs() < 1e-3);
        }
    }
}
