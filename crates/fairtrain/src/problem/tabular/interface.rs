//! [`Problem`] for [`TabularProblem`]: each method dispatches to the host or
//! device side and to sampling, estimates and state in the sibling files.

use std::sync::Arc;

use super::TabularProblem;
use crate::constraints::{ConstraintFactors, ConstraintSet};
use crate::distributed::Collective;
use crate::error::{Error, Result};
use crate::model::{PrimalRule, TabularModel};
use crate::problem::{
    BatchSizes, BoundControl, Estimate, MinibatchControl, NativeView, Problem, ProblemState, Request, RowSelection,
};

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
        debug_assert!(!self.device.ahead, "the device holds newer parameters: call sync_params first");
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
        primal: &mut dyn PrimalRule,
        grad: &mut [f32],
    ) -> Result<()> {
        if self.device.enabled && self.device.keeps_params {
            self.device_step(objective_weight, constraint_weights, primal);
            Ok(())
        } else {
            crate::problem::host_primal_step(self, objective_weight, constraint_weights, primal, grad)
        }
    }

    fn collective(&self) -> Option<Arc<dyn Collective>> {
        self.parallel.group.clone()
    }

    fn native(&mut self) -> Option<NativeView<'_>> {
        // The methods that read rows directly do not split them over processes.
        if self.parallel.group.is_some() {
            return None;
        }
        let model = self.model.as_mlp()?;
        self.stale = true;
        Some(NativeView { model, data: &self.data, params: &mut self.params, objective: &mut self.estimate.objective })
    }

    fn estimate(&mut self, request: Request) -> Result<()> {
        let constraints = request.constraints() && !self.constraints.is_empty();
        self.draw(request.objective(), constraints);
        // One forward over the slots whose rows changed.
        if self.device.enabled {
            if request.objective() || constraints {
                self.forward_on_device(request.objective(), constraints);
            }
        } else {
            let range = match (request.objective(), constraints) {
                (true, true) => 0..self.n_slots,
                (true, false) => 0..self.batch.objective,
                (false, true) => self.cell_slots(),
                (false, false) => 0..0,
            };
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
        if self.device.enabled {
            self.add_gradient_on_device(objective.then_some(objective_weight), constraints, grad);
        } else {
            self.add_host_gradient(objective, objective_weight, constraints, grad);
        }
        Ok(())
    }

    fn add_constraint_gradient(&mut self, i: usize, grad: &mut [f32]) -> Result<()> {
        if i >= self.stats.unit_weights.len() {
            return Err(Error::Data(format!(
                "constraint {i} does not exist (the problem has {})",
                self.stats.unit_weights.len()
            )));
        }
        let mut unit = std::mem::take(&mut self.stats.unit_weights);
        unit.fill(0.0);
        unit[i] = 1.0;
        let result = self.add_gradient(0.0, &unit, grad);
        self.stats.unit_weights = unit;
        result
    }

    fn constraint_factors(&self) -> Option<&ConstraintFactors> {
        Some(self.constraints.factors())
    }

    fn add_statistic_gradient(&mut self, k: usize, grad: &mut [f32]) -> Result<()> {
        let count = self.constraints.factors().statistics();
        if k >= count {
            return Err(Error::Data(format!("statistic {k} does not exist (the constraints use {count})")));
        }
        self.refresh_if_stale();
        if k == self.constraints.needed().len() {
            // The last statistic is the squared parameter norm.
            self.download_params();
            for (g, &p) in grad.iter_mut().zip(&self.params) {
                *g += 2.0 * p;
            }
            return Ok(());
        }
        self.stats.weights.fill(0.0);
        self.stats.weights[k] = 1.0;
        if self.device.enabled {
            self.add_gradient_on_device(None, true, grad);
        } else {
            self.add_host_gradient(false, 0.0, true, grad);
        }
        Ok(())
    }

    fn minibatch_control(&mut self) -> Option<&mut dyn MinibatchControl> {
        Some(self)
    }

    fn bound_control(&mut self) -> Option<&mut dyn BoundControl> {
        Some(self)
    }

    fn state(&self) -> Option<&dyn ProblemState> {
        Some(self)
    }

    fn state_mut(&mut self) -> Option<&mut dyn ProblemState> {
        Some(self)
    }
}

impl<M: TabularModel> MinibatchControl for TabularProblem<M> {
    fn set_batch_sizes(&mut self, sizes: BatchSizes) -> Result<()> {
        self.resize_batches(sizes)
    }

    fn select_rows(&mut self, selection: RowSelection) -> Result<()> {
        self.choose_rows(selection)
    }
}

impl<M: TabularModel> BoundControl for TabularProblem<M> {
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
}

impl<M: TabularModel> ProblemState for TabularProblem<M> {
    fn save_state(&self) -> Result<Vec<u8>> {
        self.state_bytes()
    }

    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        self.restore_state_bytes(state)
    }
}
