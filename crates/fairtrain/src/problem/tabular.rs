//! The native backend's problem: an [`Mlp`] on a tabular [`Dataset`] with
//! BCE as the objective and fairness constraints over groups.
//!
//! Each estimate draws an objective minibatch from all training rows and
//! one minibatch per group (each from its own seeded epoch-wise sampler),
//! forwards them, and keeps the per-row results. The gradient of any
//! weighted combination of objective and constraints is then one backward
//! pass over the union of those rows with per-row weights: every group
//! statistic is a ratio of per-row sums, so its derivative with respect to a
//! row's logit is that row's term divided by the group's denominator.

use std::sync::Arc;

use super::{Estimate, Problem, Request};
use crate::constraints::ConstraintSet;
use crate::data::{Dataset, EpochSampler};
use crate::error::{Error, Result};
use crate::model::loss::bce_with_logits;
use crate::model::{Mlp, Workspace};

/// Minibatch sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSizes {
    /// Rows of the objective minibatch (drawn from all training rows).
    pub objective: usize,
    /// Rows of each group's constraint minibatch.
    pub per_group: usize,
}

/// Sampler streams: the model's initialization uses stream 0 of the seed.
const OBJECTIVE_STREAM: u64 = 1;
const GROUP_STREAM: u64 = 1_000;

/// An MLP with fairness constraints on tabular data.
///
/// ```
/// use std::sync::Arc;
/// use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
/// use fairtrain::data::{load, DataSource, LoadOptions};
/// use fairtrain::model::Mlp;
/// use fairtrain::problem::{BatchSizes, Problem, Request, TabularProblem};
///
/// let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
/// let constraints = ConstraintSet::new(
///     vec![FairnessConstraint::new(Notion::LossParity, 0.01).unwrap()],
///     data.group_names(),
/// ).unwrap();
/// let mlp = Mlp::new(data.n_inputs(), &[16]).unwrap();
/// let params = mlp.init_params(0);
/// let batches = BatchSizes { objective: 16, per_group: 16 };
/// let mut problem = TabularProblem::new(mlp, params, Arc::new(data), constraints, batches, 0).unwrap();
/// problem.estimate(Request::Both).unwrap();
/// assert_eq!(problem.last_estimate().constraints.len(), 2);
/// let mut grad = vec![0.0; problem.num_params()];
/// problem.add_gradient(1.0, &[0.5, 0.0], &mut grad).unwrap();
/// assert!(grad.iter().any(|&g| g != 0.0));
/// ```
#[derive(Debug, Clone)]
pub struct TabularProblem {
    model: Mlp,
    params: Vec<f32>,
    data: Arc<Dataset>,
    constraints: ConstraintSet,
    batch: BatchSizes,
    objective_sampler: EpochSampler,
    group_samplers: Vec<EpochSampler>,
    /// Row index of each slot: objective rows, then each group's rows.
    rows: Vec<u32>,
    logits: Vec<f32>,
    losses: Vec<f32>,
    dlosses: Vec<f32>,
    dz: Vec<f32>,
    ws: Workspace,
    stat_values: Vec<f32>,
    stat_denominators: Vec<f32>,
    stat_weights: Vec<f32>,
    /// Scratch weights for single-constraint gradients.
    unit_weights: Vec<f32>,
    estimate: Estimate,
    has_objective: bool,
    has_constraints: bool,
    /// Parameters changed since the last forward pass.
    stale: bool,
}

impl TabularProblem {
    /// A problem over `data` (the training rows). Samplers are seeded by
    /// `seed`; pass the same seed to [`Mlp::init_params`] for a fully
    /// seeded run.
    pub fn new(
        model: Mlp,
        params: Vec<f32>,
        data: Arc<Dataset>,
        constraints: ConstraintSet,
        batch: BatchSizes,
        seed: u64,
    ) -> Result<Self> {
        if params.len() != model.n_params() {
            return Err(Error::Data(format!(
                "{} parameters given for a model with {}",
                params.len(),
                model.n_params()
            )));
        }
        if model.n_inputs() != data.n_inputs() {
            return Err(Error::Data(format!(
                "the model has {} inputs but the data has {}",
                model.n_inputs(),
                data.n_inputs()
            )));
        }
        if batch.objective == 0 {
            return Err(Error::config("batch-size", "0 (must be at least 1)"));
        }
        if batch.per_group == 0 {
            return Err(Error::config("group-batch-size", "0 (must be at least 1)"));
        }
        if batch.objective > data.n_rows() {
            return Err(Error::config(
                "batch-size",
                format!("{} is larger than the {} training rows", batch.objective, data.n_rows()),
            ));
        }
        let objective_sampler =
            EpochSampler::new((0..data.n_rows() as u32).collect(), batch.objective, seed, OBJECTIVE_STREAM)?;
        let mut group_samplers = Vec::new();
        if !constraints.is_empty() {
            for (g, name) in data.group_names().iter().enumerate() {
                let rows = data.group_rows(g);
                if rows.len() < batch.per_group {
                    return Err(Error::Data(format!(
                        "group '{name}' has {} training rows, fewer than the group batch size {} \
                         (lower --group-batch-size)",
                        rows.len(),
                        batch.per_group
                    )));
                }
                group_samplers.push(EpochSampler::new(rows, batch.per_group, seed, GROUP_STREAM + g as u64)?);
            }
        }
        let slots = batch.objective + group_samplers.len() * batch.per_group;
        let n_needed = constraints.needed().len();
        let n_constraints = constraints.len();
        let ws = model.workspace(slots);
        Ok(TabularProblem {
            estimate: Estimate { objective: f32::NAN, constraints: vec![f32::NAN; constraints.len()] },
            model,
            params,
            data,
            constraints,
            batch,
            objective_sampler,
            group_samplers,
            rows: vec![0; slots],
            logits: vec![0.0; slots],
            losses: vec![0.0; slots],
            dlosses: vec![0.0; slots],
            dz: vec![0.0; slots],
            ws,
            stat_values: vec![0.0; n_needed],
            stat_denominators: vec![0.0; n_needed],
            stat_weights: vec![0.0; n_needed],
            unit_weights: vec![0.0; n_constraints],
            has_objective: false,
            has_constraints: false,
            stale: false,
        })
    }

    /// The model.
    pub fn model(&self) -> &Mlp {
        &self.model
    }

    /// The training data.
    pub fn data(&self) -> &Arc<Dataset> {
        &self.data
    }

    /// The constraints.
    pub fn constraints(&self) -> &ConstraintSet {
        &self.constraints
    }

    /// The minibatch sizes.
    pub fn batch_sizes(&self) -> BatchSizes {
        self.batch
    }

    /// Number of passes the objective sampler has made over the data.
    pub fn epochs(&self) -> u64 {
        self.objective_sampler.epoch()
    }

    fn group_slots(&self) -> std::ops::Range<usize> {
        self.batch.objective..self.rows.len()
    }

    /// Forward pass and per-row losses of the slots in `range`.
    fn forward_slots(&mut self, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        let labels = self.data.labels();
        self.model.forward(
            &self.params,
            &self.data,
            &self.rows[range.clone()],
            &mut self.ws,
            range.start,
            &mut self.logits[range.clone()],
        );
        for slot in range {
            let y = labels[self.rows[slot] as usize];
            let (l, d) = bce_with_logits(self.logits[slot], y);
            self.losses[slot] = l;
            self.dlosses[slot] = d;
        }
    }

    /// Group statistics of the constraint slots and the constraint values.
    fn evaluate_constraints(&mut self) {
        let labels = self.data.labels();
        let per = self.batch.per_group;
        for (k, &(g, statistic)) in self.constraints.needed().iter().enumerate() {
            let first = self.batch.objective + g * per;
            let (mut num, mut den) = (0.0f32, 0.0f32);
            for slot in first..first + per {
                let y = labels[self.rows[slot] as usize];
                let (n, _, d) = statistic.smooth_terms(self.logits[slot], y, self.losses[slot], self.dlosses[slot]);
                num += n;
                den += d;
            }
            self.stat_denominators[k] = den;
            self.stat_values[k] = if den > 0.0 { num / den } else { 0.0 };
        }
        self.constraints.values(&self.stat_values, &mut self.estimate.constraints);
    }
}

impl Problem for TabularProblem {
    fn num_params(&self) -> usize {
        self.params.len()
    }

    fn num_constraints(&self) -> usize {
        self.constraints.len()
    }

    fn constraint_names(&self) -> &[String] {
        self.constraints.names()
    }

    fn params(&self) -> &[f32] {
        &self.params
    }

    fn params_mut(&mut self) -> &mut [f32] {
        self.stale = true;
        &mut self.params
    }

    fn estimate(&mut self, request: Request) -> Result<()> {
        let bs = self.batch.objective;
        if request.objective() {
            self.rows[..bs].copy_from_slice(self.objective_sampler.next_batch());
            self.has_objective = true;
        }
        let constraints = request.constraints() && !self.group_samplers.is_empty();
        if constraints {
            let per = self.batch.per_group;
            for (g, sampler) in self.group_samplers.iter_mut().enumerate() {
                let first = bs + g * per;
                self.rows[first..first + per].copy_from_slice(sampler.next_batch());
            }
            self.has_constraints = true;
        }
        // One forward over the slots whose rows changed (all slots when the
        // parameters changed since the last pass).
        let range = match (request.objective(), constraints) {
            (true, true) => 0..self.rows.len(),
            (true, false) => 0..bs,
            (false, true) => self.group_slots(),
            (false, false) => 0..0,
        };
        self.forward_slots(range);
        if request.objective() {
            self.estimate.objective = self.losses[..bs].iter().sum::<f32>() / bs as f32;
        }
        if constraints {
            self.evaluate_constraints();
        }
        self.stale = false;
        Ok(())
    }

    fn last_estimate(&self) -> &Estimate {
        &self.estimate
    }

    fn add_gradient(&mut self, objective_weight: f32, constraint_weights: &[f32], grad: &mut [f32]) -> Result<()> {
        debug_assert_eq!(constraint_weights.len(), self.constraints.len());
        if self.stale {
            // Parameters moved since the forward pass: redo it on the same rows.
            let end = if self.has_constraints { self.rows.len() } else { self.batch.objective };
            self.forward_slots(0..end);
            self.stale = false;
        }
        let bs = self.batch.objective;
        let mut end = 0;
        self.dz.fill(0.0);
        if objective_weight != 0.0 && self.has_objective {
            let scale = objective_weight / bs as f32;
            for (d, &dl) in self.dz[..bs].iter_mut().zip(&self.dlosses[..bs]) {
                *d = scale * dl;
            }
            end = bs;
        }
        if self.has_constraints && constraint_weights.iter().any(|&w| w != 0.0) {
            self.constraints.statistic_weights(constraint_weights, &mut self.stat_weights);
            let labels = self.data.labels();
            let per = self.batch.per_group;
            for (k, &(g, statistic)) in self.constraints.needed().iter().enumerate() {
                let a = self.stat_weights[k];
                let den = self.stat_denominators[k];
                if a == 0.0 || den <= 0.0 {
                    continue;
                }
                let scale = a / den;
                let first = bs + g * per;
                for slot in first..first + per {
                    let y = labels[self.rows[slot] as usize];
                    let (_, dnum, _) =
                        statistic.smooth_terms(self.logits[slot], y, self.losses[slot], self.dlosses[slot]);
                    self.dz[slot] += scale * dnum;
                }
            }
            end = self.rows.len();
        }
        if end > 0 {
            self.model.backward(&self.params, &self.data, &self.rows[..end], &mut self.ws, 0, &self.dz[..end], grad);
        }
        Ok(())
    }

    fn add_constraint_gradient(&mut self, i: usize, grad: &mut [f32]) -> Result<()> {
        if i >= self.unit_weights.len() {
            return Err(Error::Data(format!(
                "constraint {i} does not exist (the problem has {})",
                self.unit_weights.len()
            )));
        }
        let mut unit = std::mem::take(&mut self.unit_weights);
        unit.fill(0.0);
        unit[i] = 1.0;
        let result = self.add_gradient(0.0, &unit, grad);
        self.unit_weights = unit;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::{FairnessConstraint, Notion};
    use crate::data::{DataSource, LoadOptions, load};

    fn problem(hidden: &[usize]) -> TabularProblem {
        let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
        let constraints =
            ConstraintSet::new(vec![FairnessConstraint::new(Notion::LossParity, 0.01).unwrap()], data.group_names())
                .unwrap();
        let mlp = Mlp::new(data.n_inputs(), hidden).unwrap();
        let params = mlp.init_params(5);
        TabularProblem::new(mlp, params, Arc::new(data), constraints, BatchSizes { objective: 6, per_group: 5 }, 5)
            .unwrap()
    }

    /// Estimate recomputed naively from the slots' rows.
    #[test]
    fn estimates_match_direct_computation() {
        let mut p = problem(&[8, 4]);
        p.estimate(Request::Both).unwrap();
        let data = p.data().clone();
        let logits = p.model().logits(p.params(), &data, 1);
        let loss = |r: u32| bce_with_logits(logits[r as usize], data.labels()[r as usize]).0;
        let f: f32 = p.rows[..6].iter().map(|&r| loss(r)).sum::<f32>() / 6.0;
        assert!((p.last_estimate().objective - f).abs() < 1e-6);
        let la: f32 = p.rows[6..11].iter().map(|&r| loss(r)).sum::<f32>() / 5.0;
        let lb: f32 = p.rows[11..16].iter().map(|&r| loss(r)).sum::<f32>() / 5.0;
        assert!(p.rows[6..11].iter().all(|&r| data.groups()[r as usize] == 0));
        assert!(p.rows[11..16].iter().all(|&r| data.groups()[r as usize] == 1));
        let c = &p.last_estimate().constraints;
        assert!((c[0] - (la - lb - 0.01)).abs() < 1e-6);
        assert!((c[1] - (lb - la - 0.01)).abs() < 1e-6);
    }

    /// The weighted gradient against finite differences of the weighted
    /// estimate on the same minibatches. A linear model has no ReLU kinks
    /// for the differences to cross (the MLP's own gradient is checked in
    /// the model's tests).
    #[test]
    fn weighted_gradient_matches_finite_differences() {
        let mut p = problem(&[]);
        p.estimate(Request::Both).unwrap();
        let (w0, w) = (0.8f32, [1.7f32, 0.4]);
        let mut g = vec![0.0; p.num_params()];
        p.add_gradient(w0, &w, &mut g).unwrap();
        let data = p.data().clone();
        let rows = p.rows.clone();
        let model = p.model().clone();
        let value = |params: &[f32]| -> f64 {
            let mut ws = model.workspace(rows.len());
            let mut z = vec![0.0; rows.len()];
            model.forward(params, &data, &rows, &mut ws, 0, &mut z);
            let l: Vec<f64> =
                rows.iter().zip(&z).map(|(&r, &z)| bce_with_logits(z, data.labels()[r as usize]).0 as f64).collect();
            let f = l[..6].iter().sum::<f64>() / 6.0;
            let d = l[6..11].iter().sum::<f64>() / 5.0 - l[11..16].iter().sum::<f64>() / 5.0;
            w0 as f64 * f + w[0] as f64 * (d - 0.01) + w[1] as f64 * (-d - 0.01)
        };
        let params = p.params().to_vec();
        let mut q = params.clone();
        let mut checked = 0;
        for k in 0..params.len() {
            let h = 1e-2f32;
            q[k] = params[k] + h;
            let up = value(&q);
            q[k] = params[k] - h;
            let down = value(&q);
            q[k] = params[k];
            let fd = (up - down) / (2.0 * h as f64);
            assert!((g[k] as f64 - fd).abs() < 2e-3, "param {k}: {} vs {fd}", g[k]);
            checked += 1;
        }
        assert_eq!(checked, 8);
    }

    #[test]
    fn constraint_gradients_sum_to_the_weighted_gradient() {
        let mut p = problem(&[6]);
        p.estimate(Request::Both).unwrap();
        let mut rows = [vec![0.0; p.num_params()], vec![0.0; p.num_params()]];
        for (i, g) in rows.iter_mut().enumerate() {
            p.add_constraint_gradient(i, g).unwrap();
        }
        let mut combined = vec![0.0; p.num_params()];
        p.add_gradient(0.0, &[2.0, 0.5], &mut combined).unwrap();
        for k in 0..combined.len() {
            assert!((combined[k] - (2.0 * rows[0][k] + 0.5 * rows[1][k])).abs() < 1e-6);
        }
        // Loss parity's two rows are negatives of each other.
        assert!(rows[0].iter().zip(&rows[1]).all(|(a, b)| (a + b).abs() < 1e-6));
        assert!(p.add_constraint_gradient(2, &mut combined).is_err());
    }

    #[test]
    fn objective_only_gradient_ignores_constraint_rows() {
        let mut p = problem(&[6]);
        p.estimate(Request::Both).unwrap();
        let mut both = vec![0.0; p.num_params()];
        p.add_gradient(1.0, &[0.0, 0.0], &mut both).unwrap();
        let mut q = problem(&[6]);
        q.estimate(Request::Objective).unwrap();
        let mut obj = vec![0.0; q.num_params()];
        q.add_gradient(1.0, &[0.0, 0.0], &mut obj).unwrap();
        assert_eq!(both, obj);
    }

    #[test]
    fn group_batch_larger_than_group_is_an_error() {
        let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
        let constraints =
            ConstraintSet::new(vec![FairnessConstraint::new(Notion::LossParity, 0.01).unwrap()], data.group_names())
                .unwrap();
        let mlp = Mlp::new(data.n_inputs(), &[4]).unwrap();
        let params = mlp.init_params(0);
        let n_b = data.group_counts()[1];
        let batches = BatchSizes { objective: 8, per_group: n_b + 1 };
        let err = TabularProblem::new(mlp, params, Arc::new(data), constraints, batches, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "group 'B' has {n_b} training rows, fewer than the group batch size {} (lower --group-batch-size)",
                n_b + 1
            )
        );
    }
}
