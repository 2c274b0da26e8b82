//! FORML (Yan, Seto, Apostoloff; 2022): per-example training weights
//! meta-learned, step by step, from a held-out fairness set, with the
//! one-step lookahead of "learning to reweight" (Ren et al., ICML 2018).
//!
//! Each step: draw a training batch and, from the fairness set, a batch of
//! every (label, group) cell. With `F` the meta-objective on that batch, a virtual step `theta - a * sum_i e_i
//! grad l_i` changes `F` at `e = 0` by `dF/de_i = -a <grad F, grad l_i>`.
//! Rows whose gradient agrees with `grad F` get weight `max(<grad F, grad
//! l_i>, 0)`, normalized to sum to one (a batch of zeros is skipped), and
//! the real step descends the weighted loss with any optimizer.
//!
//! The dot products need no per-example gradients: `<grad F, grad l_i> =
//! l_i'(z_i) * <grad z_i, grad F>`, and the second factor of every row is
//! one forward-mode pass along `grad F` ([`crate::model::Mlp::jvp`]): the
//! whole meta-step costs about three forward and two backward passes of
//! the batch, with no second-order differentiation.
//!
//! The fairness set is carved from the training rows the method sees
//! (stratified by label and group, `meta_fraction` of each cell) and never
//! trained on. The meta-objective weighs each label by its prevalence and,
//! for the labels the target compares (positives for equal opportunity,
//! both for equalized odds), every group equally whatever its size
//! ("balanced", our reading of the paper) or only the worst-off group
//! ("worst-group"); the other label's rows keep their natural weights.
//! Restricting the fairness set to the positives alone, as a literal reading
//! of "equal opportunity" suggests, rewards predicting everyone positive:
//! the lookahead then up-weights whatever raises all scores.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{MethodConfig, RowBatch, Target, cell_rows, native};
use crate::algorithms::algorithm::Algorithm;
use crate::algorithms::optim::{Primal, PrimalConfig};
use crate::buffer::AlignedVec;
use crate::data::{Dataset, EpochSampler};
use crate::error::{Error, Result};
use crate::model::loss::bce_with_logits;
use crate::model::{JvpScratch, Mlp};
use crate::problem::Problem;

/// Rows per fairness-set cell in each meta batch (fewer if the cell is smaller).
pub const META_ROWS_PER_CELL: usize = 32;

/// FORML's meta-objective on the fairness set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetaObjective {
    /// Per compared label, the mean over groups of each group's mean loss.
    Balanced,
    /// Per compared label, the largest group mean loss.
    WorstGroup,
}

impl std::str::FromStr for MetaObjective {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "balanced" => Ok(MetaObjective::Balanced),
            "worst-group" => Ok(MetaObjective::WorstGroup),
            _ => Err(Error::config("meta-objective", format!("'{s}' (known: balanced, worst-group)"))),
        }
    }
}

impl MetaObjective {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            MetaObjective::Balanced => "balanced",
            MetaObjective::WorstGroup => "worst-group",
        }
    }
}

/// FORML's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FormlConfig {
    /// The targeted notion (equal opportunity or equalized odds).
    pub target: Target,
    /// The optimizer underneath.
    pub primal: PrimalConfig,
    /// Training rows per batch.
    pub batch: usize,
    /// Seed of the fairness-set split and the samplers.
    pub seed: u64,
    /// Fraction of each (label, group) cell held out as the fairness set.
    pub meta_fraction: f64,
    /// The meta-objective.
    pub meta_objective: MetaObjective,
}

impl FormlConfig {
    pub(super) fn from_method(m: &MethodConfig) -> Self {
        FormlConfig {
            target: m.target,
            primal: m.primal,
            batch: m.batch,
            seed: m.seed,
            meta_fraction: m.meta_fraction,
            meta_objective: m.meta_objective,
        }
    }
}

/// One (label, group) cell of the fairness set.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MetaCell {
    sampler: EpochSampler,
    label: usize,
    /// Compared by the target: balanced across groups (or worst-group).
    compared: bool,
    /// Weight of the cell's mean loss in the meta-objective.
    weight: f32,
}

/// FORML (see the module documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forml {
    config: FormlConfig,
    primal: Primal,
    train_sampler: Option<EpochSampler>,
    meta_cells: Vec<MetaCell>,
    grad: AlignedVec,
    meta_grad: AlignedVec,
    skipped: u64,
    #[serde(skip)]
    batch: RowBatch,
    #[serde(skip)]
    meta: RowBatch,
    #[serde(skip)]
    scratch: JvpScratch,
    #[serde(skip)]
    tangents: Vec<f32>,
    #[serde(skip)]
    jvp_logits: Vec<f32>,
    /// Where each fairness-set cell's rows sit in the meta batch.
    #[serde(skip)]
    meta_bounds: Vec<(usize, usize)>,
}

impl Forml {
    /// FORML with `config`.
    pub fn new(config: FormlConfig) -> Result<Self> {
        if config.target == Target::DemographicParity {
            return Err(Error::config("constraint", "FORML targets equal-opportunity or equalized-odds"));
        }
        Ok(Forml {
            primal: Primal::new(config.primal)?,
            config,
            train_sampler: None,
            meta_cells: Vec::new(),
            grad: AlignedVec::default(),
            meta_grad: AlignedVec::default(),
            skipped: 0,
            batch: RowBatch::default(),
            meta: RowBatch::default(),
            scratch: JvpScratch::default(),
            tangents: Vec::new(),
            jvp_logits: Vec::new(),
            meta_bounds: Vec::new(),
        })
    }

    /// Steps skipped because no training row agreed with the fairness set.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn init(&mut self, data: &Dataset, n_params: usize) -> Result<()> {
        let groups = data.n_groups();
        let n = data.n_rows() as f32;
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
        rng.set_stream(4_000);
        let cells = cell_rows(data);
        let label_rows: Vec<usize> =
            (0..2).map(|y| cells[y * groups..(y + 1) * groups].iter().map(Vec::len).sum()).collect();
        let mut train_rows = Vec::with_capacity(data.n_rows());
        for (c, mut rows) in cells.into_iter().enumerate() {
            let (y, g) = (c / groups, c % groups);
            rows.shuffle(&mut rng);
            let compared = self.config.target.conditioned_labels().contains(&y);
            let held = ((rows.len() as f64 * self.config.meta_fraction).ceil() as usize).min(rows.len());
            if compared && (held == 0 || held == rows.len()) {
                return Err(Error::Data(format!(
                    "group '{}' has {} {} training rows: FORML needs at least two to hold one out for its fairness set",
                    data.group_names()[g],
                    rows.len(),
                    if y == 1 { "positive" } else { "negative" }
                )));
            }
            if held > 0 && held < rows.len() {
                let p_label = label_rows[y] as f32 / n;
                let weight = if compared { p_label / groups as f32 } else { rows.len() as f32 / n };
                let batch = held.min(META_ROWS_PER_CELL);
                let sampler = EpochSampler::new(rows[..held].to_vec(), batch, self.config.seed, 4_001 + c as u64)?;
                self.meta_cells.push(MetaCell { sampler, label: y, compared, weight });
                train_rows.extend_from_slice(&rows[held..]);
            } else {
                train_rows.extend_from_slice(&rows);
            }
        }
        train_rows.sort_unstable();
        if self.config.batch > train_rows.len() {
            return Err(Error::config(
                "batch-size",
                format!("{} is larger than the {} rows FORML trains on", self.config.batch, train_rows.len()),
            ));
        }
        self.train_sampler = Some(EpochSampler::new(train_rows, self.config.batch, self.config.seed, 4_000)?);
        self.grad = AlignedVec::zeros(n_params);
        self.meta_grad = AlignedVec::zeros(n_params);
        Ok(())
    }

    /// The gradient of the meta-objective on a fresh fairness-set batch,
    /// into `meta_grad`.
    fn meta_gradient(&mut self, model: &Mlp, params: &[f32], data: &Dataset) {
        self.meta.rows.clear();
        let bounds = &mut self.meta_bounds;
        bounds.clear();
        for cell in &mut self.meta_cells {
            let start = self.meta.rows.len();
            self.meta.rows.extend_from_slice(cell.sampler.next_batch());
            bounds.push((start, self.meta.rows.len()));
        }
        self.meta.forward(model, params, data);
        let labels = data.labels();
        // Worst-group: each compared label's worst cell takes the label's
        // whole weight.
        let mut worst = [(f32::NEG_INFINITY, usize::MAX); 2];
        for (c, (cell, &(a, b))) in self.meta_cells.iter().zip(bounds.iter()).enumerate() {
            let mut loss = 0.0;
            for k in a..b {
                let (l, d) = bce_with_logits(self.meta.logits[k], labels[self.meta.rows[k] as usize]);
                loss += l / (b - a) as f32;
                self.meta.dz[k] = cell.weight * d / (b - a) as f32;
            }
            if cell.compared && loss > worst[cell.label].0 {
                worst[cell.label] = (loss, c);
            }
        }
        if self.config.meta_objective == MetaObjective::WorstGroup {
            let groups = self.meta_cells.iter().filter(|c| c.compared && c.label == 1).count().max(1) as f32;
            for (c, (cell, &(a, b))) in self.meta_cells.iter().zip(bounds.iter()).enumerate() {
                if cell.compared {
                    let scale = if worst[cell.label].1 == c { groups } else { 0.0 };
                    self.meta.dz[a..b].iter_mut().for_each(|d| *d *= scale);
                }
            }
        }
        self.meta_grad.fill(0.0);
        self.meta.backward(model, params, data, &mut self.meta_grad);
    }
}

/// `<grad l_i, v>` for each of `rows` (BCE on its label), by one
/// forward-mode pass along `v`: the alignment of every row's per-example
/// gradient with a reference gradient.
pub fn gradient_alignment(model: &Mlp, params: &[f32], data: &Dataset, rows: &[u32], v: &[f32]) -> Vec<f32> {
    let (mut z, mut t) = (vec![0.0; rows.len()], vec![0.0; rows.len()]);
    model.jvp(params, v, data, rows, &mut JvpScratch::default(), &mut z, &mut t);
    rows.iter()
        .zip(z.iter().zip(&t))
        .map(|(&r, (&z, &t))| bce_with_logits(z, data.labels()[r as usize]).1 * t)
        .collect()
}

impl Algorithm for Forml {
    fn name(&self) -> &'static str {
        "forml"
    }

    fn step(&mut self, problem: &mut dyn Problem) -> Result<()> {
        let view = native(problem, "forml")?;
        let (model, data) = (view.model, view.data);
        if self.train_sampler.is_none() {
            self.init(data, view.params.len())?;
        }
        self.meta_gradient(model, view.params, data);
        let sampler = self.train_sampler.as_mut().expect("initialized");
        self.batch.rows.clear();
        self.batch.rows.extend_from_slice(sampler.next_batch());
        self.batch.forward(model, view.params, data);
        *view.objective = self.batch.mean_bce(data);
        let n = self.batch.rows.len();
        self.tangents.resize(n, 0.0);
        self.jvp_logits.resize(n, 0.0);
        model.jvp(
            view.params,
            &self.meta_grad,
            data,
            &self.batch.rows,
            &mut self.scratch,
            &mut self.jvp_logits,
            &mut self.tangents,
        );
        // Row i's alignment is l_i'(z_i) t_i; its weight max(alignment, 0)
        // (times its sample weight), normalized. dz keeps l_i' meanwhile.
        let labels = data.labels();
        let mut total = 0.0f32;
        for k in 0..n {
            let r = self.batch.rows[k] as usize;
            let d = bce_with_logits(self.batch.logits[k], labels[r]).1;
            self.batch.dz[k] = d;
            let weight = (d * self.tangents[k]).max(0.0) * data.weight(r);
            self.tangents[k] = weight;
            total += weight;
        }
        if !(total > 0.0 && total.is_finite()) {
            self.skipped += 1;
            return Ok(());
        }
        for (dz, &w) in self.batch.dz.iter_mut().zip(&self.tangents) {
            *dz *= w / total;
        }
        self.batch.backward(model, view.params, data, &mut self.grad);
        self.primal.step(view.params, &mut self.grad);
        Ok(())
    }

    crate::state::checkpoint_self!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataSource, LoadOptions, load};

    /// The meta-weight gradient `dF(theta - a sum_i e_i grad l_i)/de_i` at
    /// `e = 0` equals `-a <grad F, grad l_i>` (finite differences in `e`).
    #[test]
    fn weight_gradient_matches_finite_differences() {
        let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
        let model = Mlp::new(data.n_inputs(), &[8]).unwrap().with_isa(crate::model::Isa::generic());
        let params = model.init_params(1);
        let meta_rows: Vec<u32> = (100..140).collect();
        let train_rows: Vec<u32> = (0..6).collect();
        let meta_loss = |p: &[f32]| -> f64 {
            let z =
                model.logits(p, &data.subset(&meta_rows.iter().map(|&r| r as usize).collect::<Vec<_>>()).unwrap(), 1);
            z.iter().zip(&meta_rows).map(|(&z, &r)| bce_with_logits(z, data.labels()[r as usize]).0 as f64).sum::<f64>()
                / meta_rows.len() as f64
        };
        // grad F and each row's gradient from the backward pass.
        let grad_of = |rows: &[u32], scale: f32| -> Vec<f32> {
            let mut ws = model.workspace(rows.len());
            let mut z = vec![0.0; rows.len()];
            model.forward(&params, &data, rows, &mut ws, 0, &mut z);
            let dz: Vec<f32> =
                rows.iter().zip(&z).map(|(&r, &z)| scale * bce_with_logits(z, data.labels()[r as usize]).1).collect();
            let mut g = vec![0.0; model.n_params()];
            model.backward(&params, &data, rows, &mut ws, 0, &dz, &mut g);
            g
        };
        let grad_f = grad_of(&meta_rows, 1.0 / meta_rows.len() as f32);
        let alignment = gradient_alignment(&model, &params, &data, &train_rows, &grad_f);
        let a = 0.5f32;
        for (k, &row) in train_rows.iter().enumerate() {
            let g = grad_of(&[row], 1.0);
            let e = 1e-2f32;
            let shifted =
                |sign: f32| -> Vec<f32> { params.iter().zip(&g).map(|(&p, &g)| p - sign * a * e * g).collect() };
            let fd = (meta_loss(&shifted(1.0)) - meta_loss(&shifted(-1.0))) / (2.0 * e as f64);
            let exact = -(a * alignment[k]) as f64;
            assert!((fd - exact).abs() < 1e-2 * exact.abs() + 1e-4, "row {row}: finite difference {fd} vs {exact}");
        }
    }
}
