//! The host side of a [`TabularProblem`](super::TabularProblem): per-row
//! logits and losses from the model's forward pass, the statistics' sums
//! over them, and each row's `dz` for one backward pass over the union of
//! the minibatches. Every group statistic is a ratio of per-row sums, so its
//! derivative with respect to a row's logit is that row's terms divided by
//! the group's denominator.

use super::parallel::Parallel;
use super::{SUMS_PER_STATISTIC, TabularProblem};
use crate::constraints::Statistic;
use crate::model::TabularModel;

/// Per-slot buffers of the host forward and backward passes.
#[derive(Debug, Clone)]
pub(super) struct HostBuffers {
    pub(super) logits: Vec<f32>,
    pub(super) losses: Vec<f32>,
    pub(super) dlosses: Vec<f32>,
    pub(super) dz: Vec<f32>,
    /// The label of each slot's row (for the model's loss).
    pub(super) slot_labels: Vec<f32>,
}

impl HostBuffers {
    /// Buffers for `slots` slots.
    pub(super) fn new(slots: usize) -> Self {
        HostBuffers {
            logits: vec![0.0; slots],
            losses: vec![0.0; slots],
            dlosses: vec![0.0; slots],
            dz: vec![0.0; slots],
            slot_labels: vec![0.0; slots],
        }
    }

    /// Grows every buffer to at least `slots` slots (they never shrink:
    /// varying batch sizes allocate until the largest is seen).
    pub(super) fn grow(&mut self, slots: usize) {
        for buffer in [&mut self.logits, &mut self.losses, &mut self.dlosses, &mut self.dz, &mut self.slot_labels] {
            if buffer.len() < slots {
                buffer.resize(slots, 0.0);
            }
        }
    }
}

impl<M: TabularModel> TabularProblem<M> {
    /// Forward pass and per-row losses of this process's share of the slots
    /// in `range` (a run of whole minibatches: the objective's, the cells').
    pub(super) fn forward_slots(&mut self, range: std::ops::Range<usize>) {
        self.rows_forwarded += range.len() as u64;
        if self.parallel.size == 1 {
            self.forward_range(range);
            return;
        }
        let mut start = range.start;
        while start < range.end {
            let len = if start < self.batch.objective { self.batch.objective } else { self.batch.per_group };
            let part = self.parallel.owned(start..start + len);
            self.forward_range(part);
            start += len;
        }
    }

    /// Forward pass and per-row losses of the slots in `range`.
    pub(super) fn forward_range(&mut self, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        let labels = self.data.labels();
        let (data, rows) = Parallel::inputs(&self.parallel.share, &self.data, &self.rows);
        self.model.forward(
            &self.params,
            data,
            &rows[range.clone()],
            &mut self.ws,
            range.start,
            &mut self.host.logits[range.clone()],
        );
        for slot in range.clone() {
            self.host.slot_labels[slot] = labels[self.rows[slot] as usize];
        }
        self.model.losses(
            &self.host.logits[range.clone()],
            &self.host.slot_labels[range.clone()],
            &mut self.host.losses[range.clone()],
            &mut self.host.dlosses[range],
        );
    }

    /// The objective's (weighted loss, weight) and each needed statistic's
    /// smooth and exact numerators and denominators into `stats.sums`, over
    /// this process's selected slots.
    pub(super) fn host_sums(&mut self, objective: bool, constraints: bool) -> bool {
        if self.parallel.share.is_some() && self.parallel.size > 1 {
            self.shared_sums(objective, constraints);
            return true;
        }
        if objective {
            // Sample weights (1 without them) make this the weighted mean.
            let mut sums = [0.0f32; 2];
            for slot in self.parallel.owned(0..self.batch.objective) {
                if self.selected(slot, 0) {
                    add(&mut sums, &self.objective_terms(slot));
                }
            }
            self.stats.sums[..2].copy_from_slice(&sums);
        }
        if constraints {
            let per = self.batch.per_group;
            for (k, &(_, statistic)) in self.constraints.needed().iter().enumerate() {
                let first = self.cells[self.needed_cell[k]].first_slot;
                let mut sums = [0.0f32; SUMS_PER_STATISTIC];
                for slot in self.parallel.owned(first..first + per) {
                    if self.selected(slot, first) {
                        add(&mut sums, &self.statistic_terms(statistic, slot));
                    }
                }
                let at = 2 + SUMS_PER_STATISTIC * k;
                self.stats.sums[at..at + SUMS_PER_STATISTIC].copy_from_slice(&sums);
            }
        }
        false
    }

    /// The objective's terms of the row in `slot`: its weighted loss and
    /// its weight (sample weights, 1 without them, make the sum's ratio the
    /// weighted mean).
    #[inline]
    fn objective_terms(&self, slot: usize) -> [f32; 2] {
        let w = self.data.weight(self.rows[slot] as usize);
        [w * self.host.losses[slot], w]
    }

    /// `statistic`'s terms of the row in `slot`: its weighted smooth and
    /// exact numerator and denominator.
    #[inline]
    fn statistic_terms(&self, statistic: Statistic, slot: usize) -> [f32; SUMS_PER_STATISTIC] {
        let row = self.rows[slot] as usize;
        let (z, y, loss, w) =
            (self.host.logits[slot], self.data.labels()[row], self.host.losses[slot], self.data.weight(row));
        let t = statistic.smooth(z, y, loss, self.host.dlosses[slot], self.temperature);
        let (n, d) = statistic.exact(z, y, loss);
        [w * t.num, w * t.den, w * n, w * d]
    }

    /// [`Self::host_sums`] over shares of the rows, summed across the
    /// processes: each row's terms are exchanged by position (each position
    /// is one process's, the others add zeros, which is exact), then summed
    /// in the order the rows were drawn, so the sums are the bits one
    /// process would take.
    fn shared_sums(&mut self, objective: bool, constraints: bool) {
        let (bs, per) = (self.batch.objective, self.batch.per_group);
        let n_needed = self.constraints.needed().len();
        let stat_base = 2 * bs;
        let mut terms = std::mem::take(&mut self.parallel.terms);
        terms.clear();
        terms.resize(stat_base + SUMS_PER_STATISTIC * per * n_needed, 0.0);
        if objective {
            for slot in self.parallel.owned(0..bs) {
                if self.selected(slot, 0) {
                    let p = self.parallel.position(slot, 0);
                    terms[2 * p..2 * p + 2].copy_from_slice(&self.objective_terms(slot));
                }
            }
        }
        if constraints {
            for (k, &(_, statistic)) in self.constraints.needed().iter().enumerate() {
                let first = self.cells[self.needed_cell[k]].first_slot;
                for slot in self.parallel.owned(first..first + per) {
                    if self.selected(slot, first) {
                        let at = stat_base + SUMS_PER_STATISTIC * (per * k + self.parallel.position(slot, first));
                        terms[at..at + SUMS_PER_STATISTIC].copy_from_slice(&self.statistic_terms(statistic, slot));
                    }
                }
            }
        }
        self.parallel.sum(&mut terms);
        if objective {
            let mut sums = [0.0f32; 2];
            terms[..stat_base].chunks_exact(2).for_each(|t| add(&mut sums, t));
            self.stats.sums[..2].copy_from_slice(&sums);
        }
        if constraints {
            for (k, block) in terms[stat_base..].chunks_exact(SUMS_PER_STATISTIC * per).enumerate() {
                let mut sums = [0.0f32; SUMS_PER_STATISTIC];
                block.chunks_exact(SUMS_PER_STATISTIC).for_each(|t| add(&mut sums, t));
                let at = 2 + SUMS_PER_STATISTIC * k;
                self.stats.sums[at..at + SUMS_PER_STATISTIC].copy_from_slice(&sums);
            }
        }
        self.parallel.terms = terms;
    }

    /// Adds the gradient of `objective_weight * f` (when `objective`) and of
    /// the statistics weighted by `stats.weights` (when `constraints`) to
    /// `grad`: each row's `dz`, then one backward pass.
    pub(super) fn add_host_gradient(
        &mut self,
        objective: bool,
        objective_weight: f32,
        constraints: bool,
        grad: &mut [f32],
    ) {
        let bs = self.batch.objective;
        let mut end = 0;
        self.host.dz[..self.n_slots].fill(0.0);
        if objective {
            let total = self.stats.objective_total;
            let scale = if total > 0.0 { objective_weight / total } else { 0.0 };
            for slot in self.parallel.owned(0..bs) {
                if self.selected(slot, 0) {
                    self.host.dz[slot] = scale * self.data.weight(self.rows[slot] as usize) * self.host.dlosses[slot];
                }
            }
            end = bs;
        }
        if constraints {
            let labels = self.data.labels();
            let per = self.batch.per_group;
            for (k, &(_, statistic)) in self.constraints.needed().iter().enumerate() {
                let (a, den) = (self.stats.weights[k], self.stats.denominators[k]);
                if a == 0.0 || den <= 0.0 {
                    continue;
                }
                let (scale, value) = (a / den, self.stats.values[k]);
                let first = self.cells[self.needed_cell[k]].first_slot;
                for slot in self.parallel.owned(first..first + per) {
                    if !self.selected(slot, first) {
                        continue;
                    }
                    let row = self.rows[slot] as usize;
                    let t = statistic.smooth(
                        self.host.logits[slot],
                        labels[row],
                        self.host.losses[slot],
                        self.host.dlosses[slot],
                        self.temperature,
                    );
                    self.host.dz[slot] += scale * self.data.weight(row) * (t.dnum - value * t.dden);
                }
            }
            if !self.cells.is_empty() {
                end = self.n_slots;
            }
        }
        if end > 0 {
            // Rows another process owns have dz = 0: the backward pass skips them.
            let Parallel { group, local, share, .. } = &mut self.parallel;
            let (data, rows) = Parallel::inputs(share, &self.data, &self.rows);
            let (rows, dz) = (&rows[..end], &self.host.dz[..end]);
            let (model, params, ws) = (&self.model, &self.params, &mut self.ws);
            Parallel::add_summed(group, local, grad, |g| model.backward(params, data, rows, ws, 0, dz, g));
        }
    }
}

/// Adds `terms` to `sums`, element by element.
#[inline]
fn add(sums: &mut [f32], terms: &[f32]) {
    for (s, t) in sums.iter_mut().zip(terms) {
        *s += t;
    }
}
