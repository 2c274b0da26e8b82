//! The native backend's problem: an [`Mlp`] on a tabular [`Dataset`] with
//! BCE as the objective and fairness constraints over groups.
//!
//! Each estimate draws an objective minibatch from all training rows and
//! one minibatch per *cell* the constraints need (`cells`). The rows are
//! forwarded once and kept. The gradient of any weighted combination of
//! objective and constraints is then one backward pass over the union of
//! those rows with per-row weights (`host`), or, for a model that evaluates
//! steps on its device, coefficients of per-minibatch basis sums (`device`).
//! `estimate` turns the sums into estimates, `state` is what a checkpoint
//! keeps, and `interface` implements [`Problem`] on top.
//!
//! Data-parallel ([`TabularProblem::with_collective`], `parallel`): every
//! process draws the same rows and forwards its contiguous share of each
//! minibatch; the per-row sums (numerators, denominators, gradient
//! contributions) are summed across processes before any ratio is formed,
//! which makes the estimates and gradients those of the union batch.

mod cells;
mod device;
mod estimate;
mod host;
mod interface;
mod parallel;
mod state;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use self::cells::{Cell, OBJECTIVE_STREAM, build_cells};
use self::device::DeviceParts;
use self::estimate::StatisticSums;
use self::host::HostBuffers;
use self::parallel::{Parallel, Share};
use super::{BoundControl, Estimate, Problem, ProblemState, RowSelection};
use crate::buffer::AlignedVec;
use crate::constraints::{ConstraintSet, default_temperature};
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
    host: HostBuffers,
    ws: M::Workspace,
    /// Rows the workspace holds.
    ws_rows: usize,
    stats: StatisticSums,
    estimate: Estimate,
    has_objective: bool,
    has_constraints: bool,
    /// Parameters changed since the last forward pass.
    stale: bool,
    selection: RowSelection,
    /// Temperature of the rate surrogates.
    temperature: f32,
    parallel: Parallel,
    device: DeviceParts,
    /// Rows forwarded so far (see [`TabularRun::rows_forwarded`]).
    rows_forwarded: u64,
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
        let (cells, needed_cell) = build_cells(&data, &constraints, batch, seed)?;
        let slots = batch.objective + cells.len() * batch.per_group;
        let temperature = default_temperature(constraints.constraints().iter().flat_map(|c| c.statistics()));
        let n_constraints = constraints.len();
        let ws = model.workspace(slots);
        let device = DeviceParts::new(&model, cells.len());
        Ok(TabularProblem {
            estimate: Estimate {
                objective: f32::NAN,
                constraints: vec![f32::NAN; n_constraints],
                exact_constraints: vec![f32::NAN; n_constraints],
            },
            stats: StatisticSums::new(constraints.needed().len(), n_constraints),
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
            host: HostBuffers::new(slots),
            ws,
            ws_rows: slots,
            has_objective: false,
            has_constraints: false,
            stale: false,
            selection: RowSelection::All,
            temperature,
            parallel: Parallel::alone(),
            device,
            rows_forwarded: 0,
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
        self.parallel = Parallel::member(group, self.params.len());
        // The gradient is summed across the group on the host.
        self.device.keeps_params = false;
        self
    }

    /// Makes this problem one member of a data-parallel run over `group` in
    /// which each member holds only a share of the training rows' features:
    /// the problem was built (alike on every member) on the labels, groups
    /// and weights of every row ([`Dataset::outcomes_of`]), and this member
    /// holds rows `first..first + features.n_rows()` of them in `features`
    /// (the shares, in rank order, must cover the rows). Every member draws
    /// the same minibatches and forwards the rows it holds; estimates and
    /// gradients are those of the whole minibatch, as with
    /// [`TabularProblem::with_collective`], and a checkpoint is the same.
    pub fn with_share(mut self, group: Arc<dyn Collective>, features: Arc<Dataset>, first: usize) -> Result<Self> {
        if features.layout() != self.data.layout() || features.group_names() != self.data.group_names() {
            return Err(Error::Data("a share's features are not encoded as the problem's rows are".into()));
        }
        let end = first + features.n_rows();
        let shares = group.gather(&[first as u64, end as u64].map(u64::to_le_bytes).concat());
        let bounds: Vec<(usize, usize)> = shares
            .iter()
            .map(|b| {
                let word = |k: usize| u64::from_le_bytes(b[8 * k..8 * k + 8].try_into().expect("8 bytes")) as usize;
                (word(0), word(1))
            })
            .collect();
        let covered = bounds.first().is_some_and(|b| b.0 == 0)
            && bounds.windows(2).all(|w| w[0].1 == w[1].0)
            && bounds.last().is_some_and(|b| b.1 == self.data.n_rows());
        if !covered || bounds.iter().any(|b| b.0 >= b.1) {
            return Err(Error::Data(format!(
                "the processes' shares {bounds:?} do not cover the {} training rows in rank order, each with at least \
                 one row",
                self.data.n_rows()
            )));
        }
        self = self.with_collective(group);
        let ends = bounds.iter().map(|b| b.1 as u32).collect();
        self.parallel.share = Some(Share::new(features, ends, self.rows.len()));
        self.arrange(self.has_objective, self.has_constraints);
        Ok(self)
    }

    /// Keeps the parameters and the optimizer's state on the host even when
    /// the model would keep them on its device
    /// ([`DeviceStatistics::keeps_params`](crate::model::DeviceStatistics::keeps_params)):
    /// each step then downloads the gradient and uploads the parameters.
    /// Checkpoints need this ([`ProblemState::save_state`] saves the optimizer
    /// state the algorithm holds, on the host).
    pub fn keep_params_on_host(mut self) -> Self {
        self.device.keeps_params = false;
        self
    }

    /// True when primal steps run on the model's device
    /// ([`Problem::primal_step`]).
    pub fn params_on_device(&self) -> bool {
        self.device.keeps_params
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
}

/// A [`TabularProblem`] whatever its model, for code that picks the
/// backend at run time (`Box<dyn TabularRun>`).
pub trait TabularRun: Problem + BoundControl + ProblemState {
    /// The constraints.
    fn constraints(&self) -> &ConstraintSet;
    /// Passes over the training rows started by the objective sampler.
    fn epochs(&self) -> u64;
    /// Rows forwarded through the model by the estimates so far, in this
    /// process's problem: every minibatch of every step (the objective's
    /// and the groups'), over all processes of a data-parallel run.
    fn rows_forwarded(&self) -> u64;
}

impl<M: TabularModel> TabularRun for TabularProblem<M> {
    fn constraints(&self) -> &ConstraintSet {
        TabularProblem::constraints(self)
    }

    fn epochs(&self) -> u64 {
        TabularProblem::epochs(self)
    }

    fn rows_forwarded(&self) -> u64 {
        self.rows_forwarded
    }
}
