//! The native backend's problem: an [`Mlp`] on a tabular [`Dataset`] with
//! BCE as the objective and fairness constraints over groups.
//!
//! Each estimate draws an objective minibatch from all training rows and
//! one minibatch per *cell* the constraints need: a group, or a group's
//! positives or negatives for label-conditional statistics (TPR, FPR...),
//! each from its own seeded epoch-wise sampler. The rows are forwarded once
//! and kept. The gradient of any weighted combination of objective and
//! constraints is then one backward pass over the union of those rows with
//! per-row weights: every group statistic is a ratio of per-row sums, so its
//! derivative with respect to a row's logit is that row's terms divided by
//! the group's denominator.
//!
//! Data-parallel ([`TabularProblem::with_collective`]): every process draws
//! the same rows and forwards its contiguous share of each minibatch; the
//! per-row sums (numerators, denominators, gradient contributions) are
//! summed across processes before any ratio is formed, which makes the
//! estimates and gradients those of the union batch.
//!
//! A model that evaluates steps on its device
//! ([`TabularModel::device_statistics`], the burn backend) gets the rows'
//! indices instead of being asked for per-row logits: it returns, per
//! minibatch, the sums of a basis from which every statistic's numerator
//! and denominator follow
//! ([`Statistic::from_basis_sums`](crate::constraints::Statistic::from_basis_sums)),
//! and takes per minibatch the coefficients that make each row's `dz`.

use std::sync::Arc;

use super::{Estimate, Problem, Request, RowSelection};
use crate::algorithms::optim::Primal;
use crate::buffer::AlignedVec;
use crate::constraints::{BASIS_DERIVATIVES, BASIS_LEN, ConstraintSet, DLOSS, LabelFilter, default_temperature};
use crate::data::{Dataset, EpochSampler};
use crate::distributed::Collective;
use crate::error::{Error, Result};
use crate::model::{Mlp, TabularModel};

/// Minibatch sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchSizes {
    /// Rows of the objective minibatch (drawn from all training rows).
    pub objective: usize,
    /// Rows of each group's (or group-and-label cell's) constraint minibatch.
    pub per_group: usize,
}

/// Sums per needed statistic in [`TabularProblem`]'s `sums`.
const SUMS_PER_STATISTIC: usize = 4;

/// Sampler streams: the model's initialization uses stream 0 of the seed.
const OBJECTIVE_STREAM: u64 = 1;
const CELL_STREAM: u64 = 1_000;

/// Rows the constraints sample from: a group, or its positives/negatives.
#[derive(Debug, Clone)]
struct Cell {
    group: usize,
    filter: LabelFilter,
    sampler: EpochSampler,
    first_slot: usize,
}

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
///     &data,
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
pub struct TabularProblem<M: TabularModel = Mlp> {
    model: M,
    params: AlignedVec,
    data: Arc<Dataset>,
    constraints: ConstraintSet,
    batch: BatchSizes,
    objective_sampler: EpochSampler,
    cells: Vec<Cell>,
    /// For each needed statistic, the index of its cell.
    needed_cell: Vec<usize>,
    /// Slots in use: objective rows, then each cell's rows.
    n_slots: usize,
    /// Row index of each slot (the buffers may be longer than `n_slots`).
    rows: Vec<u32>,
    logits: Vec<f32>,
    losses: Vec<f32>,
    dlosses: Vec<f32>,
    dz: Vec<f32>,
    /// The label of each slot's row (for the model's loss).
    slot_labels: Vec<f32>,
    ws: M::Workspace,
    /// Rows the workspace holds.
    ws_rows: usize,
    stat_values: Vec<f32>,
    stat_denominators: Vec<f32>,
    stat_exact: Vec<f32>,
    stat_weights: Vec<f32>,
    /// Scratch weights for single-constraint gradients.
    unit_weights: Vec<f32>,
    estimate: Estimate,
    has_objective: bool,
    has_constraints: bool,
    /// Parameters changed since the last forward pass.
    stale: bool,
    selection: RowSelection,
    /// Temperature of the rate surrogates.
    temperature: f32,
    /// The process group of a data-parallel run, this process's rank and
    /// the group's size (0 and 1 alone).
    group: Option<Arc<dyn Collective>>,
    rank: usize,
    size: usize,
    /// The sums the processes add up at each estimate: the objective's
    /// weighted loss and weight, then per needed statistic its smooth and
    /// exact numerators and denominators.
    sums: Vec<f32>,
    /// Total weight of the selected objective rows (over all processes).
    objective_total: f32,
    /// This process's share of a gradient, before the sum (data-parallel
    /// runs only).
    local_grad: Vec<f32>,
    /// The model evaluates steps on its device ([`TabularModel::device_statistics`]).
    on_device: bool,
    /// Rows of the last device forward and the sizes of its parts.
    device_rows: Vec<u32>,
    part_lens: Vec<usize>,
    /// Parts of the last device forward: the objective's, the cells'.
    device_parts: (bool, bool),
    /// Basis sums of the objective's rows, then of each cell's, from the
    /// last device forward that covered them.
    basis_sums: Vec<f32>,
    /// Per-part buffers: sums coming back, gradient coefficients going out.
    part_sums: Vec<f32>,
    part_coefficients: Vec<f32>,
    /// Primal steps run on the model's device, which keeps the parameters
    /// and the optimizer's state ([`Problem::primal_step`]).
    params_on_device: bool,
    /// The device's parameters are newer than `params`.
    device_ahead: bool,
}

/// What a checkpoint keeps of a [`TabularProblem`]; the data, model and
/// buffers are rebuilt from the settings.
#[derive(serde::Serialize, serde::Deserialize)]
struct TabularState {
    params: Vec<f32>,
    batch: BatchSizes,
    objective_sampler: EpochSampler,
    cell_samplers: Vec<EpochSampler>,
    rows: Vec<u32>,
    estimate: Estimate,
    has_objective: bool,
    has_constraints: bool,
    selection: RowSelection,
    /// The bounds trained against (they may have been tightened).
    bounds: Vec<f64>,
}

fn label_name(filter: LabelFilter) -> &'static str {
    match filter {
        LabelFilter::Any => "",
        LabelFilter::Positive => "positive ",
        LabelFilter::Negative => "negative ",
    }
}

impl<M: TabularModel> TabularProblem<M> {
    /// A problem over `data` (the training rows). Samplers are seeded by
    /// `seed`; pass the same seed to [`Mlp::init_params`] for a fully
    /// seeded run.
    pub fn new(
        model: M,
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
        // One cell per (group, label filter) that a needed statistic uses.
        let mut cells: Vec<Cell> = Vec::new();
        let mut needed_cell = Vec::with_capacity(constraints.needed().len());
        for &(group, statistic) in constraints.needed() {
            let filter = statistic.label_filter();
            let k = match cells.iter().position(|c| c.group == group && c.filter == filter) {
                Some(k) => k,
                None => {
                    let labels = data.labels();
                    let rows: Vec<u32> =
                        data.group_rows(group).into_iter().filter(|&r| filter.accepts(labels[r as usize])).collect();
                    let name = &data.group_names()[group];
                    if rows.is_empty() {
                        return Err(Error::Data(format!(
                            "group '{name}' has no {}training rows, so its {} cannot be constrained",
                            label_name(filter),
                            statistic.name()
                        )));
                    }
                    if rows.len() < batch.per_group {
                        return Err(Error::Data(format!(
                            "group '{name}' has {} {}training rows, fewer than the group batch size {} \
                             (lower --group-batch-size)",
                            rows.len(),
                            label_name(filter),
                            batch.per_group
                        )));
                    }
                    let first_slot = batch.objective + cells.len() * batch.per_group;
                    let stream = CELL_STREAM + 3 * group as u64 + filter as u64;
                    let sampler = EpochSampler::new(rows, batch.per_group, seed, stream)?;
                    cells.push(Cell { group, filter, sampler, first_slot });
                    cells.len() - 1
                }
            };
            needed_cell.push(k);
        }
        let slots = batch.objective + cells.len() * batch.per_group;
        let n_needed = constraints.needed().len();
        let temperature = default_temperature(constraints.constraints().iter().flat_map(|c| c.statistics()));
        let n_constraints = constraints.len();
        let ws = model.workspace(slots);
        let on_device = model.device_statistics().is_some();
        let params_on_device = model.device_statistics().is_some_and(|d| d.keeps_params());
        let n_cells = cells.len();
        Ok(TabularProblem {
            estimate: Estimate {
                objective: f32::NAN,
                constraints: vec![f32::NAN; n_constraints],
                exact_constraints: vec![f32::NAN; n_constraints],
            },
            model,
            params: AlignedVec::from_slice(&params),
            data,
            constraints,
            batch,
            objective_sampler,
            cells,
            needed_cell,
            n_slots: slots,
            rows: vec![0; slots],
            logits: vec![0.0; slots],
            losses: vec![0.0; slots],
            dlosses: vec![0.0; slots],
            dz: vec![0.0; slots],
            slot_labels: vec![0.0; slots],
            ws,
            ws_rows: slots,
            stat_values: vec![0.0; n_needed],
            stat_denominators: vec![0.0; n_needed],
            stat_exact: vec![0.0; n_needed],
            stat_weights: vec![0.0; n_needed],
            unit_weights: vec![0.0; n_constraints],
            has_objective: false,
            has_constraints: false,
            stale: false,
            selection: RowSelection::All,
            temperature,
            group: None,
            rank: 0,
            size: 1,
            sums: vec![0.0; 2 + SUMS_PER_STATISTIC * n_needed],
            objective_total: 0.0,
            local_grad: Vec::new(),
            on_device,
            device_rows: Vec::new(),
            part_lens: Vec::new(),
            device_parts: (false, false),
            basis_sums: vec![0.0; (1 + n_cells) * BASIS_LEN],
            part_sums: Vec::new(),
            part_coefficients: Vec::new(),
            params_on_device,
            device_ahead: false,
        })
    }

    /// Makes this problem one member of a data-parallel run over `group`:
    /// every member must be built alike (data, model, constraints, batch
    /// sizes, seed, initial parameters) and run the same algorithm. Each
    /// forwards its share of every minibatch; estimates and gradients are
    /// those of the whole minibatch on every member.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
    /// use fairtrain::data::{load, DataSource, LoadOptions};
    /// use fairtrain::distributed::ThreadGroup;
    /// use fairtrain::model::Mlp;
    /// use fairtrain::problem::{BatchSizes, Problem, Request, TabularProblem};
    ///
    /// let data = Arc::new(load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train);
    /// let bound = vec![FairnessConstraint::new(Notion::DemographicParity, 0.05).unwrap()];
    /// let mlp = Mlp::new(data.n_inputs(), &[8]).unwrap();
    /// let batches = BatchSizes { objective: 64, per_group: 32 };
    /// let build = || {
    ///     let set = ConstraintSet::new(bound.clone(), &data).unwrap();
    ///     TabularProblem::new(mlp.clone(), mlp.init_params(0), data.clone(), set, batches, 0).unwrap()
    /// };
    /// let mut alone = build();
    /// alone.estimate(Request::Both).unwrap();
    /// let values: Vec<Vec<f32>> = std::thread::scope(|s| {
    ///     let members: Vec<_> = ThreadGroup::new(2)
    ///         .into_iter()
    ///         .map(|m| {
    ///             let mut p = build().with_collective(Arc::new(m));
    ///             s.spawn(move || {
    ///                 p.estimate(Request::Both).unwrap();
    ///                 p.last_estimate().constraints.clone()
    ///             })
    ///         })
    ///         .collect();
    ///     members.into_iter().map(|h| h.join().unwrap()).collect()
    /// });
    /// for (a, b) in values[0].iter().zip(&alone.last_estimate().constraints) {
    ///     assert!((a - b).abs() < 1e-5);
    /// }
    /// ```
    pub fn with_collective(mut self, group: Arc<dyn Collective>) -> Self {
        (self.rank, self.size) = (group.rank(), group.size().max(1));
        self.local_grad = vec![0.0; self.params.len()];
        self.group = Some(group);
        // The gradient is summed across the group on the host.
        self.params_on_device = false;
        self
    }

    /// Keeps the parameters and the optimizer's state on the host even when
    /// the model would keep them on its device
    /// ([`DeviceStatistics::keeps_params`](crate::model::DeviceStatistics::keeps_params)):
    /// each step then downloads the gradient and uploads the parameters.
    /// Checkpoints need this ([`Problem::save_state`] saves the optimizer
    /// state the algorithm holds, on the host).
    pub fn keep_params_on_host(mut self) -> Self {
        self.params_on_device = false;
        self
    }

    /// True when primal steps run on the model's device
    /// ([`Problem::primal_step`]).
    pub fn params_on_device(&self) -> bool {
        self.params_on_device
    }

    /// Sets the temperature `T` of the rate surrogates `sigmoid(z / T)`
    /// (see [`crate::constraints::Statistic::smooth`]; default:
    /// [`default_temperature`] of the constraints).
    pub fn with_temperature(mut self, temperature: f32) -> Result<Self> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(Error::config("temperature", format!("{temperature} (must be a positive number)")));
        }
        self.temperature = temperature;
        Ok(self)
    }

    /// The model's workspace: its buffers and, for a device backend, what
    /// it keeps on the device (e.g. the burn backend's count of parameter
    /// transfers).
    pub fn workspace(&self) -> &M::Workspace {
        &self.ws
    }

    /// The model.
    pub fn model(&self) -> &M {
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

    /// Rows forwarded per iteration that estimates both objective and
    /// constraints.
    pub fn rows_per_estimate(&self) -> usize {
        self.n_slots
    }

    fn cell_slots(&self) -> std::ops::Range<usize> {
        self.batch.objective..self.n_slots
    }

    /// True when `slot` of the block starting at `start` is selected.
    #[inline]
    fn selected(&self, slot: usize, start: usize) -> bool {
        match self.selection {
            RowSelection::All => true,
            RowSelection::Even => (slot - start) % 2 == 0,
            RowSelection::Odd => (slot - start) % 2 == 1,
        }
    }

    /// This process's share of the block of slots `block`: all of it alone,
    /// the `rank`-th of `size` contiguous parts in a data-parallel run.
    #[inline]
    fn owned(&self, block: std::ops::Range<usize>) -> std::ops::Range<usize> {
        if self.size == 1 {
            return block;
        }
        let len = block.len();
        block.start + len * self.rank / self.size..block.start + len * (self.rank + 1) / self.size
    }

    /// Forward pass and per-row losses of this process's share of the slots
    /// in `range` (a run of whole minibatches: the objective's, the cells').
    fn forward_slots(&mut self, range: std::ops::Range<usize>) {
        if self.size == 1 {
            self.forward_range(range);
            return;
        }
        let mut start = range.start;
        while start < range.end {
            let len = if start < self.batch.objective { self.batch.objective } else { self.batch.per_group };
            let part = self.owned(start..start + len);
            self.forward_range(part);
            start += len;
        }
    }

    /// Forward pass and per-row losses of the slots in `range`.
    fn forward_range(&mut self, range: std::ops::Range<usize>) {
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
        for slot in range.clone() {
            self.slot_labels[slot] = labels[self.rows[slot] as usize];
        }
        self.model.losses(
            &self.logits[range.clone()],
            &self.slot_labels[range.clone()],
            &mut self.losses[range.clone()],
            &mut self.dlosses[range],
        );
    }

    /// Forwards the objective's and/or the cells' minibatches on the
    /// model's device (this process's share of each, the selected rows)
    /// and keeps their basis sums.
    fn forward_on_device(&mut self, objective: bool, cells: bool) {
        let Some(device) = self.model.device_statistics() else { return };
        self.device_rows.clear();
        self.part_lens.clear();
        let first_cell = usize::from(objective);
        let n_parts = first_cell + if cells { self.cells.len() } else { 0 };
        for part in 0..n_parts {
            let block = match part.checked_sub(first_cell) {
                None => 0..self.batch.objective,
                Some(c) => self.cells[c].first_slot..self.cells[c].first_slot + self.batch.per_group,
            };
            let before = self.device_rows.len();
            for slot in self.owned(block.clone()) {
                if self.selected(slot, block.start) {
                    self.device_rows.push(self.rows[slot]);
                }
            }
            self.part_lens.push(self.device_rows.len() - before);
        }
        self.part_sums.resize(self.part_lens.len() * BASIS_LEN, 0.0);
        let params = (!self.device_ahead).then_some(&self.params[..]);
        device.forward_parts(params, &self.data, &self.device_rows, &self.part_lens, self.temperature, &mut self.ws);
        device.part_sums(&mut self.ws, &mut self.part_sums);
        // The objective's sums first, then the cells', as in `basis_sums`.
        let skip = if objective { 0 } else { BASIS_LEN };
        self.basis_sums[skip..skip + self.part_sums.len()].copy_from_slice(&self.part_sums);
        self.device_parts = (objective, cells);
    }

    /// Forwards the minibatches in use again (the parameters or the row
    /// selection changed); the caller evaluates what it needs.
    fn refresh(&mut self) {
        if self.on_device {
            self.forward_on_device(self.has_objective, self.has_constraints);
        } else {
            let end = if self.has_constraints { self.n_slots } else { self.batch.objective };
            self.forward_slots(0..end);
        }
        self.stale = false;
    }

    /// Sets `part_coefficients`, per part of the device's forward (which is
    /// extended to the parts needed), to the coefficients of the basis
    /// derivatives that make each row's `dz` for the gradient of the
    /// objective (weighted by `objective_weight`) and of the constraints
    /// (weighted by `stat_weights`). False when no part contributes.
    fn device_coefficients(&mut self, objective_weight: Option<f32>, constraints: bool) -> bool {
        let (objective, cells) = (objective_weight.is_some(), constraints && !self.cells.is_empty());
        self.part_coefficients.clear();
        if !objective && !cells {
            return false;
        }
        if (objective && !self.device_parts.0) || (cells && !self.device_parts.1) {
            let (o, c) = self.device_parts;
            self.forward_on_device(o || objective, c || cells);
        }
        let n_parts = self.part_lens.len();
        self.part_coefficients.resize(n_parts * BASIS_DERIVATIVES, 0.0);
        let first_cell = usize::from(self.device_parts.0);
        if let Some(weight) = objective_weight {
            let total = self.objective_total;
            self.part_coefficients[DLOSS] = if total > 0.0 { weight / total } else { 0.0 };
        }
        if cells {
            for (k, &(_, statistic)) in self.constraints.needed().iter().enumerate() {
                let (a, den) = (self.stat_weights[k], self.stat_denominators[k]);
                if a == 0.0 || den <= 0.0 {
                    continue;
                }
                let at = (first_cell + self.needed_cell[k]) * BASIS_DERIVATIVES;
                let coefficients = statistic.derivative_coefficients(self.stat_values[k]);
                for (c, d) in self.part_coefficients[at..at + BASIS_DERIVATIVES].iter_mut().zip(coefficients) {
                    *c += a / den * d;
                }
            }
        }
        true
    }

    /// The device's share of [`Problem::add_gradient`].
    fn add_gradient_on_device(&mut self, objective_weight: Option<f32>, constraints: bool, grad: &mut [f32]) {
        if !self.device_coefficients(objective_weight, constraints) {
            return;
        }
        let Some(device) = self.model.device_statistics() else { return };
        let params = (!self.device_ahead).then_some(&self.params[..]);
        add_summed(self.group.as_ref(), &mut self.local_grad, grad, |g| {
            device.add_part_gradient(params, &self.part_coefficients, &mut self.ws, g)
        });
    }

    /// Brings the device's parameters to the host when they are newer.
    fn download_params(&mut self) {
        if !self.device_ahead {
            return;
        }
        if let Some(device) = self.model.device_statistics() {
            device.download_params(&mut self.ws, &mut self.params);
        }
        self.device_ahead = false;
    }

    /// What a gradient of `objective_weight * f + sum_i
    /// constraint_weights[i] * c_i` involves: whether the objective and the constraints
    /// contribute, and the weight of the squared parameter norm (the
    /// statistics' weights go to `stat_weights`). Forwards the minibatches
    /// again first if the parameters moved since.
    fn gradient_terms(&mut self, objective_weight: f32, constraint_weights: &[f32]) -> (bool, bool, f32) {
        debug_assert_eq!(constraint_weights.len(), self.constraints.len());
        if self.stale {
            // Parameters moved since the forward pass: redo it on the same rows.
            self.refresh();
            self.evaluate(false, self.has_constraints);
        }
        let objective = objective_weight != 0.0 && self.has_objective;
        let constraints = self.has_constraints && constraint_weights.iter().any(|&w| w != 0.0);
        let norm_weight = if constraints {
            self.constraints.statistic_weights(constraint_weights, &mut self.stat_weights)
        } else {
            0.0
        };
        (objective, constraints, norm_weight)
    }

    fn norm2(&mut self) -> f32 {
        if !self.constraints.uses_norm() {
            return 0.0;
        }
        match self.model.device_statistics() {
            Some(device) if self.device_ahead => device.params_norm2(&mut self.ws),
            _ => self.params.iter().map(|p| p * p).sum(),
        }
    }

    /// The estimates of the objective (over the selected objective slots)
    /// and of the constraints (statistics of the cells' slots, smooth and
    /// exact), from this process's rows and, in a data-parallel run, the
    /// other processes' sums.
    fn evaluate(&mut self, objective: bool, constraints: bool) {
        if !objective && !constraints {
            return;
        }
        self.sums.fill(0.0);
        if objective && self.on_device {
            // Basis entries 4 and 0: the weighted loss and the weight.
            (self.sums[0], self.sums[1]) = (self.basis_sums[4], self.basis_sums[0]);
        } else if objective {
            // Sample weights (1 without them) make this the weighted mean.
            let (mut sum, mut total) = (0.0f32, 0.0f32);
            for slot in self.owned(0..self.batch.objective) {
                if self.selected(slot, 0) {
                    let w = self.data.weight(self.rows[slot] as usize);
                    sum += w * self.losses[slot];
                    total += w;
                }
            }
            self.sums[0] = sum;
            self.sums[1] = total;
        }
        if constraints && self.on_device {
            for (k, &(_, statistic)) in self.constraints.needed().iter().enumerate() {
                let at = (1 + self.needed_cell[k]) * BASIS_LEN;
                let cell: &[f32; BASIS_LEN] = self.basis_sums[at..at + BASIS_LEN].try_into().expect("basis sums");
                let out = 2 + SUMS_PER_STATISTIC * k;
                self.sums[out..out + SUMS_PER_STATISTIC].copy_from_slice(&statistic.from_basis_sums(cell));
            }
        } else if constraints {
            let labels = self.data.labels();
            let per = self.batch.per_group;
            for (k, &(_, statistic)) in self.constraints.needed().iter().enumerate() {
                let first = self.cells[self.needed_cell[k]].first_slot;
                let (mut num, mut den, mut exact_num, mut exact_den) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
                for slot in self.owned(first..first + per) {
                    if !self.selected(slot, first) {
                        continue;
                    }
                    let row = self.rows[slot] as usize;
                    let (z, y, loss, w) = (self.logits[slot], labels[row], self.losses[slot], self.data.weight(row));
                    let t = statistic.smooth(z, y, loss, self.dlosses[slot], self.temperature);
                    num += w * t.num;
                    den += w * t.den;
                    let (n, d) = statistic.exact(z, y, loss);
                    exact_num += w * n;
                    exact_den += w * d;
                }
                let at = 2 + SUMS_PER_STATISTIC * k;
                self.sums[at..at + SUMS_PER_STATISTIC].copy_from_slice(&[num, den, exact_num, exact_den]);
            }
        }
        // Ratios only after the sums: the union batch's, not a mean of the
        // processes' ratios.
        if let Some(group) = &self.group {
            group.sum(&mut self.sums);
        }
        if objective {
            let (sum, total) = (self.sums[0], self.sums[1]);
            self.objective_total = total;
            self.estimate.objective = if total > 0.0 { sum / total } else { 0.0 };
        }
        if constraints {
            for k in 0..self.constraints.needed().len() {
                let at = 2 + SUMS_PER_STATISTIC * k;
                let sums = &self.sums[at..at + SUMS_PER_STATISTIC];
                let (num, den, exact_num, exact_den) = (sums[0], sums[1], sums[2], sums[3]);
                self.stat_denominators[k] = den;
                self.stat_values[k] = if den > 0.0 { num / den } else { 0.0 };
                self.stat_exact[k] = if exact_den > 0.0 { exact_num / exact_den } else { 0.0 };
            }
            let norm2 = self.norm2();
            self.constraints.values(&self.stat_values, norm2, &mut self.estimate.constraints);
            self.constraints.values(&self.stat_exact, norm2, &mut self.estimate.exact_constraints);
        }
    }
}

/// Adds a gradient contribution, computed by `add` into the buffer it is
/// given, to `grad`: directly alone; in a data-parallel run into `local`
/// first, which is then summed across the group.
fn add_summed(group: Option<&Arc<dyn Collective>>, local: &mut [f32], grad: &mut [f32], add: impl FnOnce(&mut [f32])) {
    match group {
        None => add(grad),
        Some(group) => {
            local.fill(0.0);
            add(local);
            group.sum(local);
            for (g, l) in grad.iter_mut().zip(local.iter()) {
                *g += l;
            }
        }
    }
}

/// A [`TabularProblem`] whatever its model, for code that picks the
/// backend at run time (`Box<dyn TabularRun>`).
pub trait TabularRun: Problem {
    /// The constraints.
    fn constraints(&self) -> &ConstraintSet;
    /// Passes over the training rows started by the objective sampler.
    fn epochs(&self) -> u64;
}

impl<M: TabularModel> TabularRun for TabularProblem<M> {
    fn constraints(&self) -> &ConstraintSet {
        TabularProblem::constraints(self)
    }

    fn epochs(&self) -> u64 {
        TabularProblem::epochs(self)
    }
}

impl<M: TabularModel> Problem for TabularProblem<M> {
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
        debug_assert!(!self.device_ahead, "the device holds newer parameters: call sync_params first");
        &self.params
    }

    fn params_mut(&mut self) -> &mut [f32] {
        self.download_params();
        self.stale = true;
        &mut self.params
    }

    fn sync_params(&mut self) -> Result<()> {
        self.download_params();
        Ok(())
    }

    fn primal_step(
        &mut self,
        objective_weight: f32,
        constraint_weights: &[f32],
        primal: &mut Primal,
        grad: &mut [f32],
    ) -> Result<()> {
        if !(self.on_device && self.params_on_device) {
            return super::host_primal_step(self, objective_weight, constraint_weights, primal, grad);
        }
        let (objective, constraints, norm_weight) = self.gradient_terms(objective_weight, constraint_weights);
        self.device_coefficients(objective.then_some(objective_weight), constraints);
        let step = primal.device_step();
        if let Some(device) = self.model.device_statistics() {
            let params = (!self.device_ahead).then_some(&self.params[..]);
            device.step_parts(params, &self.part_coefficients, norm_weight, &step, &mut self.ws);
            self.device_ahead = true;
            self.stale = true;
        }
        Ok(())
    }

    fn collective(&self) -> Option<Arc<dyn Collective>> {
        self.group.clone()
    }

    fn native(&mut self) -> Option<super::NativeView<'_>> {
        // The methods that read rows directly do not split them over processes.
        if self.group.is_some() {
            return None;
        }
        let model = self.model.as_mlp()?;
        self.stale = true;
        Some(super::NativeView {
            model,
            data: &self.data,
            params: &mut self.params,
            objective: &mut self.estimate.objective,
        })
    }

    fn estimate(&mut self, request: Request) -> Result<()> {
        let bs = self.batch.objective;
        if request.objective() {
            self.rows[..bs].copy_from_slice(self.objective_sampler.next_batch_of(bs));
            self.has_objective = true;
        }
        let constraints = request.constraints() && !self.constraints.is_empty();
        if constraints {
            let per = self.batch.per_group;
            for cell in &mut self.cells {
                self.rows[cell.first_slot..cell.first_slot + per].copy_from_slice(cell.sampler.next_batch_of(per));
            }
            self.has_constraints = true;
        }
        // One forward over the slots whose rows changed.
        let range = match (request.objective(), constraints) {
            (true, true) => 0..self.n_slots,
            (true, false) => 0..bs,
            (false, true) => self.cell_slots(),
            (false, false) => 0..0,
        };
        if self.on_device {
            if request.objective() || constraints {
                self.forward_on_device(request.objective(), constraints);
            }
        } else {
            self.forward_slots(range);
        }
        self.evaluate(request.objective(), constraints);
        self.stale = false;
        Ok(())
    }

    fn last_estimate(&self) -> &Estimate {
        &self.estimate
    }

    fn add_gradient(&mut self, objective_weight: f32, constraint_weights: &[f32], grad: &mut [f32]) -> Result<()> {
        let (objective, constraints, norm_weight) = self.gradient_terms(objective_weight, constraint_weights);
        if norm_weight != 0.0 {
            self.download_params();
            for (g, &p) in grad.iter_mut().zip(&self.params) {
                *g += 2.0 * norm_weight * p;
            }
        }
        if self.on_device {
            self.add_gradient_on_device(objective.then_some(objective_weight), constraints, grad);
            return Ok(());
        }
        let bs = self.batch.objective;
        let mut end = 0;
        self.dz[..self.n_slots].fill(0.0);
        if objective {
            let total = self.objective_total;
            let scale = if total > 0.0 { objective_weight / total } else { 0.0 };
            for slot in self.owned(0..bs) {
                if self.selected(slot, 0) {
                    self.dz[slot] = scale * self.data.weight(self.rows[slot] as usize) * self.dlosses[slot];
                }
            }
            end = bs;
        }
        if constraints {
            let labels = self.data.labels();
            let per = self.batch.per_group;
            for (k, &(_, statistic)) in self.constraints.needed().iter().enumerate() {
                let (a, den) = (self.stat_weights[k], self.stat_denominators[k]);
                if a == 0.0 || den <= 0.0 {
                    continue;
                }
                let (scale, value) = (a / den, self.stat_values[k]);
                let first = self.cells[self.needed_cell[k]].first_slot;
                for slot in self.owned(first..first + per) {
                    if !self.selected(slot, first) {
                        continue;
                    }
                    let row = self.rows[slot] as usize;
                    let t = statistic.smooth(
                        self.logits[slot],
                        labels[row],
                        self.losses[slot],
                        self.dlosses[slot],
                        self.temperature,
                    );
                    self.dz[slot] += scale * self.data.weight(row) * (t.dnum - value * t.dden);
                }
            }
            if !self.cells.is_empty() {
                end = self.n_slots;
            }
        }
        if end > 0 {
            // Rows another process owns have dz = 0: the backward pass skips them.
            let (rows, dz) = (&self.rows[..end], &self.dz[..end]);
            add_summed(self.group.as_ref(), &mut self.local_grad, grad, |g| {
                self.model.backward(&self.params, &self.data, rows, &mut self.ws, 0, dz, g)
            });
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

    fn set_bounds(&mut self, bounds: &[f64]) -> Result<()> {
        let current = self.constraints.constraints();
        if bounds.len() != current.len() {
            return Err(Error::Data(format!("{} bounds for {} constraints", bounds.len(), current.len())));
        }
        let mut changed = current.to_vec();
        for (c, &b) in changed.iter_mut().zip(bounds) {
            c.bound = b;
        }
        let set = ConstraintSet::new(changed, &self.data)?;
        if set.names() != self.constraints.names() || set.needed() != self.constraints.needed() {
            return Err(Error::Data("changing the bounds changed the constraints' rows".into()));
        }
        self.constraints = set;
        // The estimates are recomputed with the new offsets.
        self.evaluate(false, self.has_constraints);
        Ok(())
    }

    fn save_state(&self) -> Result<Vec<u8>> {
        if self.params_on_device {
            return Err(Error::Data(
                "a checkpoint needs the parameters and the optimizer state on the host: build the problem with \
                 keep_params_on_host()"
                    .into(),
            ));
        }
        crate::train::checkpoint::encode(&TabularState {
            params: self.params.to_vec(),
            batch: self.batch,
            objective_sampler: self.objective_sampler.clone(),
            cell_samplers: self.cells.iter().map(|c| c.sampler.clone()).collect(),
            rows: self.rows[..self.n_slots].to_vec(),
            estimate: self.estimate.clone(),
            has_objective: self.has_objective,
            has_constraints: self.has_constraints,
            selection: self.selection,
            bounds: self.constraints.constraints().iter().map(|c| c.bound).collect(),
        })
    }

    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        let state: TabularState = crate::train::checkpoint::decode(state)?;
        let mismatch = |what: &str| {
            Error::Data(format!("the checkpoint does not fit this problem ({what} differ); was the data changed?"))
        };
        if state.params.len() != self.params.len() {
            return Err(mismatch("parameter counts"));
        }
        if state.cell_samplers.len() != self.cells.len()
            || state.cell_samplers.iter().zip(&self.cells).any(|(a, c)| !a.is_state_of(&c.sampler))
            || !state.objective_sampler.is_state_of(&self.objective_sampler)
        {
            return Err(mismatch("the samplers' rows"));
        }
        self.set_batch_sizes(state.batch)?;
        if state.bounds.iter().zip(self.constraints.constraints()).any(|(a, c)| *a != c.bound) {
            self.set_bounds(&state.bounds)?;
        }
        if state.rows.len() != self.n_slots || state.rows.iter().any(|&r| r as usize >= self.data.n_rows()) {
            return Err(mismatch("minibatch rows"));
        }
        self.params.copy_from_slice(&state.params);
        self.device_ahead = false;
        self.objective_sampler = state.objective_sampler;
        for (cell, sampler) in self.cells.iter_mut().zip(state.cell_samplers) {
            cell.sampler = sampler;
        }
        self.rows[..self.n_slots].copy_from_slice(&state.rows);
        self.estimate = state.estimate;
        self.has_objective = state.has_objective;
        self.has_constraints = state.has_constraints;
        self.selection = state.selection;
        // Logits and losses are recomputed from the restored rows when needed.
        self.stale = true;
        Ok(())
    }

    fn set_batch_sizes(&mut self, sizes: BatchSizes) -> Result<()> {
        if sizes == self.batch {
            return Ok(());
        }
        if sizes.objective == 0 || sizes.objective > self.data.n_rows() {
            return Err(Error::config(
                "batch-size",
                format!("{} (must be between 1 and the {} training rows)", sizes.objective, self.data.n_rows()),
            ));
        }
        if let Some(cell) = self.cells.iter().find(|c| sizes.per_group == 0 || sizes.per_group > c.sampler.len()) {
            return Err(Error::config(
                "group-batch-size",
                format!(
                    "{} (group '{}' has {} {}training rows)",
                    sizes.per_group,
                    self.data.group_names()[cell.group],
                    cell.sampler.len(),
                    label_name(cell.filter)
                ),
            ));
        }
        self.batch = sizes;
        for (k, cell) in self.cells.iter_mut().enumerate() {
            cell.first_slot = sizes.objective + k * sizes.per_group;
        }
        self.n_slots = sizes.objective + self.cells.len() * sizes.per_group;
        // Buffers only grow: varying sizes allocate until the largest is seen.
        if self.rows.len() < self.n_slots {
            for buffer in [&mut self.logits, &mut self.losses, &mut self.dlosses, &mut self.dz, &mut self.slot_labels] {
                buffer.resize(self.n_slots, 0.0);
            }
            self.rows.resize(self.n_slots, 0);
        }
        if self.ws_rows < self.n_slots {
            self.model.grow_workspace(&mut self.ws, self.n_slots);
            self.ws_rows = self.n_slots;
        }
        self.has_objective = false;
        self.has_constraints = false;
        Ok(())
    }

    fn select_rows(&mut self, selection: RowSelection) -> Result<()> {
        if selection != RowSelection::All
            && (self.batch.objective < 2 || (!self.cells.is_empty() && self.batch.per_group < 2))
        {
            return Err(Error::Data("selecting half of the rows needs minibatches of at least 2 rows".into()));
        }
        self.selection = selection;
        // On a device the selected rows are the ones forwarded.
        if self.stale || self.on_device {
            self.refresh();
        }
        self.evaluate(self.has_objective, self.has_constraints);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::{FairnessConstraint, Notion, Statistic};
    use crate::data::{DataSource, LoadOptions, load};
    use crate::model::loss::bce_with_logits;

    fn problem_with(hidden: &[usize], constraints: Vec<FairnessConstraint>) -> TabularProblem {
        let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
        let constraints = ConstraintSet::new(constraints, &data).unwrap();
        let mlp = Mlp::new(data.n_inputs(), hidden).unwrap();
        let params = mlp.init_params(5);
        TabularProblem::new(mlp, params, Arc::new(data), constraints, BatchSizes { objective: 6, per_group: 5 }, 5)
            .unwrap()
    }

    fn problem(hidden: &[usize]) -> TabularProblem {
        problem_with(hidden, vec![FairnessConstraint::new(Notion::LossParity, 0.01).unwrap()])
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
        // Loss-based constraints: exact and smooth agree.
        assert_eq!(&p.last_estimate().exact_constraints, c);
    }

    /// With sample weights, the objective and the group statistics are
    /// weighted means over the minibatch, and the gradient is theirs.
    #[test]
    fn sample_weights_weight_estimates_and_gradients() {
        let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
        let weights: Vec<f32> = (0..data.n_rows()).map(|i| (i % 3) as f32 + 0.5).collect();
        let data = Arc::new(data.with_weights(weights.clone()).unwrap());
        let constraints =
            ConstraintSet::new(vec![FairnessConstraint::new(Notion::LossParity, 0.01).unwrap()], &data).unwrap();
        let mlp = Mlp::new(data.n_inputs(), &[8]).unwrap();
        let params = mlp.init_params(5);
        let batch = BatchSizes { objective: 6, per_group: 5 };
        let mut p = TabularProblem::new(mlp, params, data.clone(), constraints, batch, 5).unwrap();
        p.estimate(Request::Both).unwrap();
        let logits = p.model().logits(p.params(), &data, 1);
        let loss = |r: u32| bce_with_logits(logits[r as usize], data.labels()[r as usize]).0;
        let mean = |rows: &[u32]| {
            let w: f32 = rows.iter().map(|&r| weights[r as usize]).sum();
            rows.iter().map(|&r| weights[r as usize] * loss(r)).sum::<f32>() / w
        };
        assert!((p.last_estimate().objective - mean(&p.rows[..6])).abs() < 1e-6);
        let gap = mean(&p.rows[6..11]) - mean(&p.rows[11..16]);
        assert!((p.last_estimate().constraints[0] - (gap - 0.01)).abs() < 1e-6);

        // The gradient of the weighted objective against finite differences.
        let mut grad = vec![0.0; p.num_params()];
        p.add_gradient(1.0, &[0.0, 0.0], &mut grad).unwrap();
        let rows: Vec<u32> = p.rows[..6].to_vec();
        let base = p.params().to_vec();
        let objective_at = |params: &[f32]| {
            let logits = p.model().logits(params, &data, 1);
            let w: f32 = rows.iter().map(|&r| weights[r as usize]).sum();
            rows.iter()
                .map(|&r| weights[r as usize] * bce_with_logits(logits[r as usize], data.labels()[r as usize]).0)
                .sum::<f32>()
                / w
        };
        for k in [0, 7, base.len() - 1] {
            let (mut plus, mut minus) = (base.clone(), base.clone());
            plus[k] += 1e-2;
            minus[k] -= 1e-2;
            let fd = (objective_at(&plus) - objective_at(&minus)) / 2e-2;
            assert!((fd - grad[k]).abs() < 2e-3, "parameter {k}: {fd} vs {}", grad[k]);
        }
    }

    /// Label-conditional statistics draw from each group's positives or
    /// negatives; exact rates come from hard predictions.
    #[test]
    fn equalized_odds_uses_label_cells() {
        let mut p = problem_with(&[8], vec![FairnessConstraint::new(Notion::EqualizedOdds, 0.05).unwrap()]);
        p.estimate(Request::Both).unwrap();
        let data = p.data().clone();
        // Cells: (A, positive), (B, positive), (A, negative), (B, negative).
        assert_eq!(p.cells.len(), 4);
        for cell in &p.cells {
            for &r in &p.rows[cell.first_slot..cell.first_slot + 5] {
                assert_eq!(data.groups()[r as usize] as usize, cell.group);
                assert!(cell.filter.accepts(data.labels()[r as usize]));
            }
        }
        let logits = p.model().logits(p.params(), &data, 1);
        let tpr_exact = |cell: &Cell| {
            p.rows[cell.first_slot..cell.first_slot + 5].iter().filter(|&&r| logits[r as usize] > 0.0).count() as f32
                / 5.0
        };
        let (a_pos, b_pos) = (&p.cells[0], &p.cells[1]);
        assert_eq!((a_pos.group, a_pos.filter), (0, LabelFilter::Positive));
        let names = p.constraint_names().to_vec();
        assert_eq!(names[0], "equalized-odds:tpr(A - B)");
        let exact = &p.last_estimate().exact_constraints;
        assert!((exact[0] - (tpr_exact(a_pos) - tpr_exact(b_pos) - 0.05)).abs() < 1e-6);
    }

    /// The weighted gradient against finite differences of the weighted
    /// smooth estimate on the same minibatches, for every statistic. A
    /// linear model has no ReLU kinks for the differences to cross (the
    /// MLP's own gradient is checked in the model's tests).
    #[test]
    fn weighted_gradient_matches_finite_differences_for_every_statistic() {
        let notions = [
            Notion::LossParity,
            Notion::DemographicParity,
            Notion::EqualizedOdds,
            Notion::AccuracyParity,
            Notion::PredictiveParity,
            Notion::Calibration,
        ];
        for notion in notions {
            let mut p = problem_with(&[], vec![FairnessConstraint::new(notion, 0.01).unwrap()]);
            p.estimate(Request::Both).unwrap();
            let m = p.num_constraints();
            let w: Vec<f32> = (0..m).map(|i| 0.3 + 0.4 * i as f32).collect();
            let w0 = 0.8f32;
            let mut g = vec![0.0; p.num_params()];
            p.add_gradient(w0, &w, &mut g).unwrap();
            let value = |p: &mut TabularProblem| -> f64 {
                p.forward_slots(0..p.n_slots);
                p.evaluate(false, true);
                let f: f64 = p.losses[..6].iter().map(|&l| l as f64).sum::<f64>() / 6.0;
                w0 as f64 * f + p.estimate.constraints.iter().zip(&w).map(|(&c, &wi)| (c * wi) as f64).sum::<f64>()
            };
            let params = p.params().to_vec();
            for k in 0..params.len() {
                let h = 1e-2f32;
                p.params[k] = params[k] + h;
                let up = value(&mut p);
                p.params[k] = params[k] - h;
                let down = value(&mut p);
                p.params[k] = params[k];
                let fd = (up - down) / (2.0 * h as f64);
                assert!((g[k] as f64 - fd).abs() < 2e-3 * (1.0 + fd.abs()), "{notion:?} param {k}: {} vs {fd}", g[k]);
            }
        }
    }

    #[test]
    fn weight_norm_gradient() {
        let mut p = problem_with(&[4], vec![FairnessConstraint::new(Notion::WeightNorm, 1.0).unwrap()]);
        p.estimate(Request::Both).unwrap();
        let norm2: f32 = p.params().iter().map(|x| x * x).sum();
        assert!((p.last_estimate().constraints[0] - (norm2 - 1.0)).abs() < 1e-4);
        let mut g = vec![0.0; p.num_params()];
        p.add_gradient(0.0, &[2.0], &mut g).unwrap();
        for (gi, &x) in g.iter().zip(p.params()) {
            assert!((gi - 4.0 * x).abs() < 1e-6);
        }
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

    /// Halves of a minibatch: estimates over the even and odd rows, whose
    /// gradients add up to the whole batch's (with equal halves).
    #[test]
    fn row_selections_split_the_minibatches() {
        let mut p = problem(&[6]);
        p.set_batch_sizes(BatchSizes { objective: 8, per_group: 6 }).unwrap();
        assert_eq!(p.rows_per_estimate(), 8 + 2 * 6);
        p.estimate(Request::Both).unwrap();
        let all = p.last_estimate().clone();
        let mut halves = Vec::new();
        let mut grads = Vec::new();
        for selection in [RowSelection::Even, RowSelection::Odd] {
            p.select_rows(selection).unwrap();
            halves.push(p.last_estimate().clone());
            let mut g = vec![0.0; p.num_params()];
            p.add_gradient(1.0, &[0.7, 0.2], &mut g).unwrap();
            grads.push(g);
        }
        p.select_rows(RowSelection::All).unwrap();
        let mut g = vec![0.0; p.num_params()];
        p.add_gradient(1.0, &[0.7, 0.2], &mut g).unwrap();
        // Equal halves: every statistic is the mean of its halves' values.
        assert!((all.objective - (halves[0].objective + halves[1].objective) / 2.0).abs() < 1e-6);
        for i in 0..2 {
            let mean = (halves[0].constraints[i] + halves[1].constraints[i]) / 2.0;
            assert!((all.constraints[i] - mean).abs() < 1e-6);
        }
        for k in 0..g.len() {
            assert!((g[k] - (grads[0][k] + grads[1][k]) / 2.0).abs() < 1e-5);
        }
        // Batch sizes can change again; a size-1 batch has no halves.
        p.set_batch_sizes(BatchSizes { objective: 1, per_group: 1 }).unwrap();
        p.estimate(Request::Both).unwrap();
        assert!(p.select_rows(RowSelection::Even).is_err());
        assert!(p.set_batch_sizes(BatchSizes { objective: 1, per_group: 1_000_000 }).is_err());
    }

    #[test]
    fn cells_too_small_are_named() {
        let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
        let constraints =
            ConstraintSet::new(vec![FairnessConstraint::new(Notion::EqualOpportunity, 0.05).unwrap()], &data).unwrap();
        let mlp = Mlp::new(data.n_inputs(), &[4]).unwrap();
        let params = mlp.init_params(0);
        let positives_a = (0..data.n_rows()).filter(|&i| data.groups()[i] == 0 && data.labels()[i] > 0.5).count();
        let batches = BatchSizes { objective: 8, per_group: positives_a + 1 };
        let err = TabularProblem::new(mlp, params, Arc::new(data), constraints, batches, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "group 'A' has {positives_a} positive training rows, fewer than the group batch size {} (lower \
                 --group-batch-size)",
                positives_a + 1
            )
        );
        assert_eq!(Statistic::Tpr.label_filter(), LabelFilter::Positive);
    }
}
