//! Optional capabilities of a [`Problem`]: each is a trait of its own, and
//! a problem that has it says so through a query on [`Problem`]
//! ([`Problem::minibatch_control`], [`Problem::bound_control`],
//! [`Problem::state`]). The `require_*` functions turn a missing capability
//! into an [`Error::Unsupported`] naming what needed it.

use super::{BatchSizes, Problem, RowSelection};
use crate::error::{Error, Result};

/// Control of the minibatches later estimates draw: their sizes (Stochastic
/// Ghost's multilevel batches) and which half of their rows count (its
/// antithetic halves).
pub trait MinibatchControl {
    /// Changes the sizes of the minibatches later estimates draw.
    fn set_batch_sizes(&mut self, sizes: BatchSizes) -> Result<()>;

    /// Restricts the estimates and gradients to a subset of the current
    /// minibatches' rows, re-evaluating the estimates on it. The selection
    /// holds until changed; a new estimate keeps it.
    fn select_rows(&mut self, selection: RowSelection) -> Result<()>;
}

/// Bounds that change during training, e.g. a tighter bound trained
/// against than the one reported.
pub trait BoundControl {
    /// Sets the bound of each constraint (one per constraint, not per
    /// scalar row).
    fn set_bounds(&mut self, bounds: &[f64]) -> Result<()>;
}

/// A problem's complete state (parameters, samplers and their random
/// generators, current minibatches) for a checkpoint.
pub trait ProblemState {
    /// The state as bytes.
    fn save_state(&self) -> Result<Vec<u8>>;

    /// Restores a state written by [`ProblemState::save_state`].
    fn load_state(&mut self, state: &[u8]) -> Result<()>;
}

/// `problem`'s minibatch control, or an [`Error::Unsupported`] saying that
/// `who` needs it.
pub fn require_minibatch_control<'a>(problem: &'a mut dyn Problem, who: &str) -> Result<&'a mut dyn MinibatchControl> {
    problem
        .minibatch_control()
        .ok_or_else(|| Error::unsupported("this problem", format!("minibatch control, which {who} needs")))
}

/// `problem`'s bound control, or an [`Error::Unsupported`] saying that
/// `who` needs it.
pub fn require_bound_control<'a>(problem: &'a mut dyn Problem, who: &str) -> Result<&'a mut dyn BoundControl> {
    problem
        .bound_control()
        .ok_or_else(|| Error::unsupported("this problem", format!("changing its bounds, which {who} needs")))
}

/// `problem`'s checkpoint state, or an [`Error::Unsupported`].
pub fn require_state(problem: &dyn Problem) -> Result<&dyn ProblemState> {
    problem.state().ok_or_else(|| Error::unsupported("this problem", "checkpoints"))
}

/// `problem`'s checkpoint state for restoring, or an [`Error::Unsupported`].
pub fn require_state_mut(problem: &mut dyn Problem) -> Result<&mut dyn ProblemState> {
    problem.state_mut().ok_or_else(|| Error::unsupported("this problem", "checkpoints"))
}
