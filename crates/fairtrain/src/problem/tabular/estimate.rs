//! Estimates of a [`TabularProblem`](super::TabularProblem): the sums of the
//! drawn minibatches (host or device), summed across processes, then the
//! objective's mean and the statistics' ratios, and what a gradient of a
//! weighted combination involves.

use super::{SUMS_PER_STATISTIC, TabularProblem};
use crate::model::TabularModel;

/// The sums and ratios of the last estimate.
#[derive(Debug, Clone)]
pub(super) struct StatisticSums {
    /// Per needed statistic: its smooth value, denominator and exact value.
    pub(super) values: Vec<f32>,
    pub(super) denominators: Vec<f32>,
    pub(super) exact: Vec<f32>,
    /// Per needed statistic: its weight in the gradient being taken.
    pub(super) weights: Vec<f32>,
    /// Scratch weights for single-constraint gradients.
    pub(super) unit_weights: Vec<f32>,
    /// The sums the processes add up at each estimate: the objective's
    /// weighted loss and weight, then per needed statistic its smooth and
    /// exact numerators and denominators.
    pub(super) sums: Vec<f32>,
    /// Total weight of the selected objective rows (over all processes).
    pub(super) objective_total: f32,
}

impl StatisticSums {
    /// Buffers for `n_needed` statistics and `n_constraints` constraints.
    pub(super) fn new(n_needed: usize, n_constraints: usize) -> Self {
        StatisticSums {
            values: vec![0.0; n_needed],
            denominators: vec![0.0; n_needed],
            exact: vec![0.0; n_needed],
            weights: vec![0.0; n_needed],
            unit_weights: vec![0.0; n_constraints],
            sums: vec![0.0; 2 + SUMS_PER_STATISTIC * n_needed],
            objective_total: 0.0,
        }
    }
}

impl<M: TabularModel> TabularProblem<M> {
    /// Forwards the minibatches in use again (the parameters or the row
    /// selection changed); the caller evaluates what it needs.
    pub(super) fn refresh(&mut self) {
        if self.device.enabled {
            self.forward_on_device(self.has_objective, self.has_constraints);
        } else {
            let end = if self.has_constraints { self.n_slots } else { self.batch.objective };
            self.forward_slots(0..end);
        }
        self.stale = false;
    }

    /// Forwards the minibatches in use again and re-evaluates the
    /// constraints if the parameters moved since the last forward pass.
    pub(super) fn refresh_if_stale(&mut self) {
        if self.stale {
            self.refresh();
            self.evaluate(false, self.has_constraints);
        }
    }

    /// What a gradient of `objective_weight * f + sum_i
    /// constraint_weights[i] * c_i` involves: whether the objective and the constraints
    /// contribute, and the weight of the squared parameter norm (the
    /// statistics' weights go to `stats.weights`). Forwards the minibatches
    /// again first if the parameters moved since.
    pub(super) fn gradient_terms(&mut self, objective_weight: f32, constraint_weights: &[f32]) -> (bool, bool, f32) {
        debug_assert_eq!(constraint_weights.len(), self.constraints.len());
        self.refresh_if_stale();
        let objective = objective_weight != 0.0 && self.has_objective;
        let constraints = self.has_constraints && constraint_weights.iter().any(|&w| w != 0.0);
        let norm_weight = if constraints {
            self.constraints.statistic_weights(constraint_weights, &mut self.stats.weights)
        } else {
            0.0
        };
        (objective, constraints, norm_weight)
    }

    /// The squared parameter norm, where a constraint uses it (0 otherwise).
    pub(super) fn norm2(&mut self) -> f32 {
        if !self.constraints.uses_norm() {
            return 0.0;
        }
        match self.model.device_statistics() {
            Some(device) if self.device.ahead => device.params_norm2(&mut self.ws),
            _ => self.params.iter().map(|p| p * p).sum(),
        }
    }

    /// The estimates of the objective (over the selected objective slots)
    /// and of the constraints (statistics of the cells' slots, smooth and
    /// exact), from this process's rows and, in a data-parallel run, the
    /// other processes' sums.
    pub(super) fn evaluate(&mut self, objective: bool, constraints: bool) {
        if !objective && !constraints {
            return;
        }
        self.stats.sums.fill(0.0);
        let summed = if self.device.enabled {
            self.device_sums(objective, constraints);
            false
        } else {
            self.host_sums(objective, constraints)
        };
        // Ratios only after the sums: the union batch's, not a mean of the
        // processes' ratios.
        if !summed {
            self.parallel.sum(&mut self.stats.sums);
        }
        if objective {
            let (sum, total) = (self.stats.sums[0], self.stats.sums[1]);
            self.stats.objective_total = total;
            self.estimate.objective = if total > 0.0 { sum / total } else { 0.0 };
        }
        if constraints {
            for k in 0..self.constraints.needed().len() {
                let at = 2 + SUMS_PER_STATISTIC * k;
                let sums = &self.stats.sums[at..at + SUMS_PER_STATISTIC];
                let (num, den, exact_num, exact_den) = (sums[0], sums[1], sums[2], sums[3]);
                self.stats.denominators[k] = den;
                self.stats.values[k] = if den > 0.0 { num / den } else { 0.0 };
                self.stats.exact[k] = if exact_den > 0.0 { exact_num / exact_den } else { 0.0 };
            }
            let norm2 = self.norm2();
            self.constraints.values(&self.stats.values, norm2, &mut self.estimate.constraints);
            self.constraints.values(&self.stats.exact, norm2, &mut self.estimate.exact_constraints);
        }
    }
}
