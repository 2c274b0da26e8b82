//! Sampling of a [`TabularProblem`](super::TabularProblem): the objective's
//! minibatch from all training rows and one minibatch per *cell* the
//! constraints need (a group, or a group's positives or negatives for
//! label-conditional statistics), each from its own seeded epoch-wise
//! sampler, laid out in slots: the objective's rows, then each cell's.

use std::ops::Range;

use super::{BatchSizes, TabularProblem};
use crate::constraints::{ConstraintSet, LabelFilter};
use crate::data::{Dataset, EpochSampler};
use crate::error::{Error, Result};
use crate::model::TabularModel;
use crate::problem::RowSelection;

/// Sampler streams: the model's initialization uses stream 0 of the seed.
pub(super) const OBJECTIVE_STREAM: u64 = 1;
const CELL_STREAM: u64 = 1_000;

/// Rows the constraints sample from: a group, or its positives/negatives.
#[derive(Debug, Clone)]
pub(super) struct Cell {
    pub(super) group: usize,
    pub(super) filter: LabelFilter,
    pub(super) sampler: EpochSampler,
    pub(super) first_slot: usize,
}

/// "positive " or "negative " for a label-conditional cell, for messages.
fn label_name(filter: LabelFilter) -> &'static str {
    match filter {
        LabelFilter::Any => "",
        LabelFilter::Positive => "positive ",
        LabelFilter::Negative => "negative ",
    }
}

/// One cell per (group, label filter) that a needed statistic of
/// `constraints` uses, and for each needed statistic the index of its cell.
/// A cell with no rows, or fewer than a group minibatch, is an error naming
/// the group.
pub(super) fn build_cells(
    data: &Dataset,
    constraints: &ConstraintSet,
    batch: BatchSizes,
    seed: u64,
) -> Result<(Vec<Cell>, Vec<usize>)> {
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
                         (lower `group-batch-size`)",
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
    Ok((cells, needed_cell))
}

impl<M: TabularModel> TabularProblem<M> {
    /// The cells' slots.
    pub(super) fn cell_slots(&self) -> Range<usize> {
        self.batch.objective..self.n_slots
    }

    /// True when `slot` of the block starting at `start` is selected (by
    /// its row's position as drawn).
    #[inline]
    pub(super) fn selected(&self, slot: usize, start: usize) -> bool {
        match self.selection {
            RowSelection::All => true,
            RowSelection::Even => self.parallel.position(slot, start).is_multiple_of(2),
            RowSelection::Odd => self.parallel.position(slot, start) % 2 == 1,
        }
    }

    /// Draws the next objective minibatch (when `objective`) and the next
    /// minibatch of every cell (when `cells`) into their slots.
    pub(super) fn draw(&mut self, objective: bool, cells: bool) {
        if objective {
            let bs = self.batch.objective;
            self.rows[..bs].copy_from_slice(self.objective_sampler.next_batch_of(bs));
            self.has_objective = true;
        }
        if cells {
            let per = self.batch.per_group;
            for cell in &mut self.cells {
                self.rows[cell.first_slot..cell.first_slot + per].copy_from_slice(cell.sampler.next_batch_of(per));
            }
            self.has_constraints = true;
        }
        self.arrange(objective, cells);
    }

    /// In a run over shares of the rows, arranges the objective's and/or
    /// the cells' minibatches by the process holding each row (see
    /// [`Share::arrange`](super::parallel::Share::arrange)).
    pub(super) fn arrange(&mut self, objective: bool, cells: bool) {
        let rank = self.parallel.rank;
        let Some(share) = &mut self.parallel.share else { return };
        if objective {
            share.arrange(rank, &mut self.rows, 0..self.batch.objective);
        }
        if cells {
            let per = self.batch.per_group;
            for cell in &self.cells {
                share.arrange(rank, &mut self.rows, cell.first_slot..cell.first_slot + per);
            }
        }
    }

    /// Changes the minibatch sizes: the slots are laid out again and the
    /// buffers grow to fit; the next estimate draws new minibatches.
    pub(super) fn resize_batches(&mut self, sizes: BatchSizes) -> Result<()> {
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
            self.host.grow(self.n_slots);
            self.rows.resize(self.n_slots, 0);
        }
        if let Some(share) = &mut self.parallel.share {
            share.grow(self.n_slots);
        }
        if self.ws_rows < self.n_slots {
            self.model.grow_workspace(&mut self.ws, self.n_slots);
            self.ws_rows = self.n_slots;
        }
        self.has_objective = false;
        self.has_constraints = false;
        Ok(())
    }

    /// Estimates from one half of each minibatch's rows, or all of them.
    pub(super) fn choose_rows(&mut self, selection: RowSelection) -> Result<()> {
        if selection != RowSelection::All
            && (self.batch.objective < 2 || (!self.cells.is_empty() && self.batch.per_group < 2))
        {
            return Err(Error::Data("selecting half of the rows needs minibatches of at least 2 rows".into()));
        }
        self.selection = selection;
        // On a device the selected rows are the ones forwarded.
        if self.stale || self.device.enabled {
            self.refresh();
        }
        self.evaluate(self.has_objective, self.has_constraints);
        Ok(())
    }
}
