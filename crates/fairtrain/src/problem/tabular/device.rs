//! The device side of a [`TabularProblem`](super::TabularProblem): a model
//! that evaluates steps on its device ([`TabularModel::device_statistics`],
//! the burn backend) gets the rows' indices instead of being asked for
//! per-row logits. It returns, per minibatch ("part": the objective's, then
//! each cell's), the sums of a basis from which every statistic's numerator
//! and denominator follow
//! ([`Statistic::from_basis_sums`](crate::constraints::Statistic::from_basis_sums)),
//! and takes per part the coefficients that make each row's `dz`.

use super::parallel::Parallel;
use super::{SUMS_PER_STATISTIC, TabularProblem};
use crate::model::{BASIS_DERIVATIVES, BASIS_LEN, DLOSS};
use crate::model::{PrimalRule, TabularModel};

/// What a device-evaluating problem keeps between calls.
#[derive(Debug, Clone)]
pub(super) struct DeviceParts {
    /// The model evaluates steps on its device.
    pub(super) enabled: bool,
    /// Rows of the last device forward and the sizes of its parts.
    pub(super) rows: Vec<u32>,
    pub(super) part_lens: Vec<usize>,
    /// Parts of the last device forward: the objective's, the cells'.
    pub(super) parts: (bool, bool),
    /// Basis sums of the objective's rows, then of each cell's, from the
    /// last device forward that covered them.
    pub(super) basis_sums: Vec<f32>,
    /// Per-part buffers: sums coming back, gradient coefficients going out.
    pub(super) part_sums: Vec<f32>,
    pub(super) coefficients: Vec<f32>,
    /// Primal steps run on the model's device, which keeps the parameters
    /// and the optimizer's state ([`Problem::primal_step`](crate::problem::Problem::primal_step)).
    pub(super) keeps_params: bool,
    /// The device's parameters are newer than the host's.
    pub(super) ahead: bool,
}

impl DeviceParts {
    /// The device state for `model` with `n_cells` cells.
    pub(super) fn new(model: &impl TabularModel, n_cells: usize) -> Self {
        let device = model.device_statistics();
        DeviceParts {
            enabled: device.is_some(),
            rows: Vec::new(),
            part_lens: Vec::new(),
            parts: (false, false),
            basis_sums: vec![0.0; (1 + n_cells) * BASIS_LEN],
            part_sums: Vec::new(),
            coefficients: Vec::new(),
            keeps_params: device.is_some_and(|d| d.keeps_params()),
            ahead: false,
        }
    }
}

impl<M: TabularModel> TabularProblem<M> {
    /// Forwards the objective's and/or the cells' minibatches on the
    /// model's device (this process's share of each, the selected rows)
    /// and keeps their basis sums.
    pub(super) fn forward_on_device(&mut self, objective: bool, cells: bool) {
        let Some(device) = self.model.device_statistics() else { return };
        self.device.rows.clear();
        self.device.part_lens.clear();
        let first_cell = usize::from(objective);
        let n_parts = first_cell + if cells { self.cells.len() } else { 0 };
        for part in 0..n_parts {
            let block = match part.checked_sub(first_cell) {
                None => 0..self.batch.objective,
                Some(c) => self.cells[c].first_slot..self.cells[c].first_slot + self.batch.per_group,
            };
            let before = self.device.rows.len();
            for slot in self.parallel.owned(block.clone()) {
                if self.selected(slot, block.start) {
                    let (_, rows) = Parallel::inputs(&self.parallel.share, &self.data, &self.rows);
                    self.device.rows.push(rows[slot]);
                }
            }
            self.device.part_lens.push(self.device.rows.len() - before);
        }
        // (Counted whole: every process forwards its share of these slots.)
        self.rows_forwarded += (0..n_parts)
            .map(|part| if part < first_cell { self.batch.objective } else { self.batch.per_group })
            .sum::<usize>() as u64;
        self.device.part_sums.resize(self.device.part_lens.len() * BASIS_LEN, 0.0);
        let params = (!self.device.ahead).then_some(&self.params[..]);
        // (Each row's features, label and weight: of this process's share.)
        let (data, _) = Parallel::inputs(&self.parallel.share, &self.data, &self.rows);
        device.forward_parts(params, data, &self.device.rows, &self.device.part_lens, self.temperature, &mut self.ws);
        device.part_sums(&mut self.ws, &mut self.device.part_sums);
        // The objective's sums first, then the cells', as in `basis_sums`.
        let skip = if objective { 0 } else { BASIS_LEN };
        self.device.basis_sums[skip..skip + self.device.part_sums.len()].copy_from_slice(&self.device.part_sums);
        self.device.parts = (objective, cells);
    }

    /// Sets `coefficients`, per part of the device's forward (which is
    /// extended to the parts needed), to the coefficients of the basis
    /// derivatives that make each row's `dz` for the gradient of the
    /// objective (weighted by `objective_weight`) and of the constraints
    /// (weighted by `stats.weights`). False when no part contributes.
    pub(super) fn device_coefficients(&mut self, objective_weight: Option<f32>, constraints: bool) -> bool {
        let (objective, cells) = (objective_weight.is_some(), constraints && !self.cells.is_empty());
        self.device.coefficients.clear();
        if !objective && !cells {
            return false;
        }
        if (objective && !self.device.parts.0) || (cells && !self.device.parts.1) {
            let (o, c) = self.device.parts;
            self.forward_on_device(o || objective, c || cells);
        }
        let n_parts = self.device.part_lens.len();
        self.device.coefficients.resize(n_parts * BASIS_DERIVATIVES, 0.0);
        let first_cell = usize::from(self.device.parts.0);
        if let Some(weight) = objective_weight {
            let total = self.stats.objective_total;
            self.device.coefficients[DLOSS] = if total > 0.0 { weight / total } else { 0.0 };
        }
        if cells {
            for (k, &(_, statistic)) in self.constraints.needed().iter().enumerate() {
                let (a, den) = (self.stats.weights[k], self.stats.denominators[k]);
                if a == 0.0 || den <= 0.0 {
                    continue;
                }
                let at = (first_cell + self.needed_cell[k]) * BASIS_DERIVATIVES;
                let coefficients = statistic.derivative_coefficients(self.stats.values[k]);
                for (c, d) in self.device.coefficients[at..at + BASIS_DERIVATIVES].iter_mut().zip(coefficients) {
                    *c += a / den * d;
                }
            }
        }
        true
    }

    /// The device's share of [`Problem::add_gradient`].
    pub(super) fn add_gradient_on_device(
        &mut self,
        objective_weight: Option<f32>,
        constraints: bool,
        grad: &mut [f32],
    ) {
        if !self.device_coefficients(objective_weight, constraints) {
            return;
        }
        let Some(device) = self.model.device_statistics() else { return };
        let params = (!self.device.ahead).then_some(&self.params[..]);
        let Parallel { group, local, .. } = &mut self.parallel;
        Parallel::add_summed(group, local, grad, |g| {
            device.add_part_gradient(params, &self.device.coefficients, &mut self.ws, g)
        });
    }

    /// Brings the device's parameters to the host when they are newer.
    pub(super) fn download_params(&mut self) {
        if !self.device.ahead {
            return;
        }
        if let Some(device) = self.model.device_statistics() {
            device.download_params(&mut self.ws, &mut self.params);
        }
        self.device.ahead = false;
    }

    /// The objective's (weighted loss, weight) and each needed statistic's
    /// sums into `stats.sums`, from the last device forward's basis sums.
    pub(super) fn device_sums(&mut self, objective: bool, constraints: bool) {
        if objective {
            // Basis entries 4 and 0: the weighted loss and the weight.
            (self.stats.sums[0], self.stats.sums[1]) = (self.device.basis_sums[4], self.device.basis_sums[0]);
        }
        if constraints {
            for (k, &(_, statistic)) in self.constraints.needed().iter().enumerate() {
                let at = (1 + self.needed_cell[k]) * BASIS_LEN;
                let cell: &[f32; BASIS_LEN] =
                    self.device.basis_sums[at..at + BASIS_LEN].try_into().expect("basis sums");
                let out = 2 + SUMS_PER_STATISTIC * k;
                self.stats.sums[out..out + SUMS_PER_STATISTIC].copy_from_slice(&statistic.from_basis_sums(cell));
            }
        }
    }

    /// A primal step on the device, which keeps the parameters and the
    /// optimizer's state.
    pub(super) fn device_step(
        &mut self,
        objective_weight: f32,
        constraint_weights: &[f32],
        primal: &mut dyn PrimalRule,
    ) {
        let (objective, constraints, norm_weight) = self.gradient_terms(objective_weight, constraint_weights);
        self.device_coefficients(objective.then_some(objective_weight), constraints);
        let step = primal.device_step();
        if let Some(device) = self.model.device_statistics() {
            let params = (!self.device.ahead).then_some(&self.params[..]);
            device.step_parts(params, &self.device.coefficients, norm_weight, &step, &mut self.ws);
            self.device.ahead = true;
            self.stale = true;
        }
    }
}
