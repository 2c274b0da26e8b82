//! Data-parallel membership of a [`TabularProblem`](super::TabularProblem):
//! which share of each minibatch this process forwards, and sums across the
//! process group.

use std::ops::Range;
use std::sync::Arc;

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
}

impl Parallel {
    /// A process alone.
    pub(super) fn alone() -> Self {
        Parallel { group: None, rank: 0, size: 1, local: Vec::new() }
    }

    /// A member of `group` for a model of `n_params` parameters.
    pub(super) fn member(group: Arc<dyn Collective>, n_params: usize) -> Self {
        Parallel { rank: group.rank(), size: group.size().max(1), local: vec![0.0; n_params], group: Some(group) }
    }

    /// This process's share of the block of slots `block`: all of it alone,
    /// the `rank`-th of `size` contiguous parts in a data-parallel run.
    #[inline]
    pub(super) fn owned(&self, block: Range<usize>) -> Range<usize> {
        if self.size == 1 {
            return block;
        }
        let len = block.len();
        block.start + len * self.rank / self.size..block.start + len * (self.rank + 1) / self.size
    }

    /// Sums `values` across the group (nothing alone).
    pub(super) fn sum(&self, values: &mut [f32]) {
        if let Some(group) = &self.group {
            group.sum(values);
        }
    }

    /// Adds a gradient contribution, computed by `add` into the buffer it
    /// is given, to `grad`: directly alone; in a data-parallel run into
    /// this process's buffer first, which is then summed across the group.
    pub(super) fn add_summed(&mut self, grad: &mut [f32], add: impl FnOnce(&mut [f32])) {
        match &self.group {
            None => add(grad),
            Some(group) => {
                self.local.fill(0.0);
                add(&mut self.local);
                group.sum(&mut self.local);
                for (g, l) in grad.iter_mut().zip(self.local.iter()) {
                    *g += l;
                }
            }
        }
    }
}
