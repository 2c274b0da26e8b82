//! What a checkpoint keeps of a [`TabularProblem`](super::TabularProblem):
//! parameters, samplers, the drawn rows and the last estimate; the data,
//! model and buffers are rebuilt from the settings, and a state that does not
//! fit them is refused.

use super::TabularProblem;
use crate::data::EpochSampler;
use crate::error::{Error, Result};
use crate::model::TabularModel;
use crate::problem::{BatchSizes, BoundControl, Estimate, RowSelection};

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

impl<M: TabularModel> TabularProblem<M> {
    /// The checkpoint bytes of this problem ([`ProblemState::save_state`](crate::problem::ProblemState::save_state)).
    pub(super) fn state_bytes(&self) -> Result<Vec<u8>> {
        if self.device.keeps_params {
            return Err(Error::Data(
                "a checkpoint needs the parameters and the optimizer state on the host: build the problem with \
                 keep_params_on_host()"
                    .into(),
            ));
        }
        crate::state::encode(&TabularState {
            params: self.params.to_vec(),
            batch: self.batch,
            objective_sampler: self.objective_sampler.clone(),
            cell_samplers: self.cells.iter().map(|c| c.sampler.clone()).collect(),
            rows: self.drawn_rows(),
            estimate: self.estimate.clone(),
            has_objective: self.has_objective,
            has_constraints: self.has_constraints,
            selection: self.selection,
            bounds: self.constraints.constraints().iter().map(|c| c.bound).collect(),
        })
    }

    /// The minibatches' rows in the order they were drawn (in a run over
    /// shares, slots are arranged by process; a checkpoint keeps the draw,
    /// so that any number of processes, or one, continues it exactly).
    fn drawn_rows(&self) -> Vec<u32> {
        let mut rows = self.rows[..self.n_slots].to_vec();
        if let Some(share) = &self.parallel.share {
            share.drawn(&self.rows, 0..self.batch.objective, &mut rows);
            for cell in &self.cells {
                share.drawn(&self.rows, cell.first_slot..cell.first_slot + self.batch.per_group, &mut rows);
            }
        }
        rows
    }

    /// Restores a state saved by [`Self::state_bytes`], checked against this
    /// problem's data and samplers ([`ProblemState::load_state`](crate::problem::ProblemState::load_state)).
    pub(super) fn restore_state_bytes(&mut self, state: &[u8]) -> Result<()> {
        let state: TabularState = crate::state::decode(state)?;
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
        self.resize_batches(state.batch)?;
        if state.bounds.iter().zip(self.constraints.constraints()).any(|(a, c)| *a != c.bound) {
            self.set_bounds(&state.bounds)?;
        }
        if state.rows.len() != self.n_slots || state.rows.iter().any(|&r| r as usize >= self.data.n_rows()) {
            return Err(mismatch("minibatch rows"));
        }
        self.params.copy_from_slice(&state.params);
        self.device.ahead = false;
        self.objective_sampler = state.objective_sampler;
        for (cell, sampler) in self.cells.iter_mut().zip(state.cell_samplers) {
            cell.sampler = sampler;
        }
        self.rows[..self.n_slots].copy_from_slice(&state.rows);
        self.arrange(true, true);
        self.estimate = state.estimate;
        self.has_objective = state.has_objective;
        self.has_constraints = state.has_constraints;
        self.selection = state.selection;
        // Logits and losses are recomputed from the restored rows when needed.
        self.stale = true;
        Ok(())
    }
}
