//! Data-parallel membership of a [`TabularProblem`](super::TabularProblem):
//! which share of each minibatch this process forwards, and sums across the
//! process group.
//!
//! Every member holds every training row (`with_collective`): each forwards
//! the `rank`-th of `size` contiguous parts of every minibatch. Or each
//! holds a share of the rows' features (`with_share`): every member still
//! draws the same minibatches, of rows numbered over all shares, arranges
//! each minibatch's slots by the process that holds the row (stably, so a
//! row's position as drawn is kept for the half-row selections), and
//! forwards the slots whose rows it holds. Either way the sums over the
//! processes are the sums over the whole minibatch.

use std::ops::Range;
use std::sync::Arc;

use crate::data::Dataset;
use crate::distributed::Collective;

/// The process group of a data-parallel run, this process's rank and the
/// group's size (none, 0 and 1 alone).
#[derive(Debug, Clone)]
pub(super) struct Parallel {
    pub(super) group: Option<Arc<dyn Collective>>,
    pub(super) rank: usize,
    pub(super) size: usize,
    /// This process's share of a gradient, before the sum (data-parallel
    /// runs only).
    pub(super) local: Vec<f32>,
    /// The features this process holds, where it holds a share of them.
    pub(super) share: Option<Share>,
    /// Scratch of the per-row terms exchanged in a run over shares.
    pub(super) terms: Vec<f32>,
}

/// A share of the training rows' features: this process holds rows
/// `ends[rank - 1]..ends[rank]` of the rows the problem numbers (whose
/// labels, groups and weights every process holds).
#[derive(Debug, Clone)]
pub(super) struct Share {
    pub(super) features: Arc<Dataset>,
    /// Where each process's rows end, in rank order.
    ends: Vec<u32>,
    /// Per slot, the row of `features` of a row this process holds (0 for
    /// the others, whose `dz` is 0).
    pub(super) local_rows: Vec<u32>,
    /// Per slot, its row's position in its minibatch as drawn.
    pub(super) positions: Vec<u32>,
    /// Per minibatch (by its first slot, in slot order), the slots whose
    /// rows this process holds.
    held: Vec<(usize, Range<usize>)>,
    /// Scratch of one minibatch's (row, position), arranged.
    arranged: Vec<(u32, u32)>,
    /// Scratch of per-process counts.
    counts: Vec<usize>,
}

impl Share {
    /// The share of `features`, rows `ends[rank - 1]..ends[rank]`.
    pub(super) fn new(features: Arc<Dataset>, ends: Vec<u32>, slots: usize) -> Self {
        let n = ends.len();
        Share {
            features,
            ends,
            local_rows: vec![0; slots],
            positions: vec![0; slots],
            held: Vec::new(),
            arranged: Vec::with_capacity(slots),
            counts: vec![0; n + 1],
        }
    }

    /// Grows the per-slot buffers to `slots`.
    pub(super) fn grow(&mut self, slots: usize) {
        if self.local_rows.len() < slots {
            self.local_rows.resize(slots, 0);
            self.positions.resize(slots, 0);
        }
        self.held.clear();
    }

    /// Arranges the minibatch drawn into `rows[block]`: ordered by the
    /// process that holds each row (stably), each slot's position as drawn
    /// kept, this process's (`rank`) slots noted with their local rows.
    pub(super) fn arrange(&mut self, rank: usize, rows: &mut [u32], block: Range<usize>) {
        let owner = |ends: &[u32], row: u32| ends.partition_point(|&e| e <= row);
        self.counts.fill(0);
        for &row in &rows[block.clone()] {
            self.counts[owner(&self.ends, row) + 1] += 1;
        }
        for p in 1..self.counts.len() {
            self.counts[p] += self.counts[p - 1];
        }
        let mine = block.start + self.counts[rank]..block.start + self.counts[rank + 1];
        self.arranged.clear();
        self.arranged.resize(block.len(), (0, 0));
        for (position, &row) in rows[block.clone()].iter().enumerate() {
            let at = &mut self.counts[owner(&self.ends, row)];
            self.arranged[*at] = (row, position as u32);
            *at += 1;
        }
        let first = if rank == 0 { 0 } else { self.ends[rank - 1] };
        for (k, &(row, position)) in self.arranged.iter().enumerate() {
            let slot = block.start + k;
            rows[slot] = row;
            self.positions[slot] = position;
            self.local_rows[slot] = if mine.contains(&slot) { row - first } else { 0 };
        }
        match self.held.binary_search_by_key(&block.start, |(start, _)| *start) {
            Ok(k) => self.held[k].1 = mine,
            Err(k) => self.held.insert(k, (block.start, mine)),
        }
    }

    /// The rows of `rows[block]` in the order they were drawn (as they
    /// are, for a minibatch not drawn since the slots were laid out).
    pub(super) fn drawn(&self, rows: &[u32], block: Range<usize>, out: &mut [u32]) {
        if self.held.binary_search_by_key(&block.start, |(start, _)| *start).is_err() {
            return;
        }
        for slot in block.clone() {
            out[block.start + self.positions[slot] as usize] = rows[slot];
        }
    }
}

impl Parallel {
    /// A process alone.
    pub(super) fn alone() -> Self {
        Parallel { group: None, rank: 0, size: 1, local: Vec::new(), share: None, terms: Vec::new() }
    }

    /// A member of `group` for a model of `n_params` parameters.
    pub(super) fn member(group: Arc<dyn Collective>, n_params: usize) -> Self {
        Parallel {
            rank: group.rank(),
            size: group.size().max(1),
            local: vec![0.0; n_params],
            group: Some(group),
            share: None,
            terms: Vec::new(),
        }
    }

    /// This process's share of the block of slots `block` (one minibatch):
    /// all of it alone; the `rank`-th of `size` contiguous parts where every
    /// process holds every row; the slots of the rows it holds where it
    /// holds a share of them.
    #[inline]
    pub(super) fn owned(&self, block: Range<usize>) -> Range<usize> {
        if self.size == 1 {
            return block;
        }
        if let Some(share) = &self.share {
            return match share.held.binary_search_by_key(&block.start, |(start, _)| *start) {
                Ok(k) => share.held[k].1.clone(),
                // (Not drawn yet: nothing to forward.)
                Err(_) => block.start..block.start,
            };
        }
        let len = block.len();
        block.start + len * self.rank / self.size..block.start + len * (self.rank + 1) / self.size
    }

    /// The position of `slot` in its minibatch (which starts at `start`),
    /// as drawn.
    #[inline]
    pub(super) fn position(&self, slot: usize, start: usize) -> usize {
        match &self.share {
            Some(share) => share.positions[slot] as usize,
            None => slot - start,
        }
    }

    /// The data whose rows the model reads, and each slot's row in it:
    /// the problem's rows alone, this process's features in a share.
    #[inline]
    pub(super) fn inputs<'a>(share: &'a Option<Share>, data: &'a Dataset, rows: &'a [u32]) -> (&'a Dataset, &'a [u32]) {
        match share {
            Some(share) => (&share.features, &share.local_rows),
            None => (data, rows),
        }
    }

    /// Sums `values` across the group (nothing alone).
    pub(super) fn sum(&self, values: &mut [f32]) {
        if let Some(group) = &self.group {
            group.sum(values);
        }
    }

    /// Adds a gradient contribution, computed by `add` into the buffer it
    /// is given, to `grad`: directly alone; in a data-parallel run (of
    /// `group`) into this process's buffer `local` first, which is then
    /// summed across the group. (Of the fields, so that the caller may
    /// borrow the share's features meanwhile.)
    pub(super) fn add_summed(
        group: &Option<Arc<dyn Collective>>,
        local: &mut [f32],
        grad: &mut [f32],
        add: impl FnOnce(&mut [f32]),
    ) {
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
}
