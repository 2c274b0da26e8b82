//! [`Algorithm`]: one training algorithm, one step at a time over the
//! [`Problem`] interface.

use crate::error::{Error, Result};
use crate::problem::Problem;

/// One training algorithm: `step` does exactly one iteration.
pub trait Algorithm {
    /// The command-line name.
    fn name(&self) -> &'static str;

    /// One iteration: draw estimates from `problem`, update the algorithm's
    /// own state and the parameters.
    fn step(&mut self, problem: &mut dyn Problem) -> Result<()>;

    /// Whether the algorithm can handle a problem of `m` constraints: an
    /// error says why not (checked before training, so a run fails before
    /// it writes anything).
    fn supports(&self, _m: usize) -> Result<()> {
        Ok(())
    }

    /// True when each step estimates the constraints (so the trainer can
    /// log them without drawing extra samples).
    fn uses_constraints(&self) -> bool {
        false
    }

    /// True for methods with Lagrange multipliers.
    fn has_multipliers(&self) -> bool {
        false
    }

    /// The Lagrange multipliers, one per scalar constraint (empty for
    /// methods without multipliers, and before the first step).
    fn multipliers(&self) -> &[f32] {
        &[]
    }

    /// Names of extra per-log values (step sizes, penalties, switching
    /// rates...), given the problem's constraint names.
    fn log_columns(&self, _constraint_names: &[String]) -> Vec<String> {
        Vec::new()
    }

    /// Appends the extra values at the end of a log window, parallel to
    /// [`Algorithm::log_columns`]: the algorithm's state then (step sizes,
    /// penalties). Per-step quantities are [`Algorithm::step_values`].
    fn log_values(&mut self, _out: &mut Vec<f64>) {}

    /// Names of values each step reports ([`Algorithm::step_values`]),
    /// which the trainer averages over each log window and logs after
    /// [`Algorithm::log_columns`]' (the share of constraint steps, a mean
    /// level). The window's sums are the trainer's, so they are in its
    /// checkpoint and the algorithm keeps no counters.
    fn step_value_columns(&self) -> Vec<String> {
        Vec::new()
    }

    /// The last step's values, parallel to [`Algorithm::step_value_columns`].
    fn step_values(&self) -> &[f64] {
        &[]
    }

    /// Projects the returned parameters (the last, averaged or selected
    /// iterate) onto the structure the algorithm maintains, such as a
    /// pruning mask. The default changes nothing.
    fn finalize(&self, _params: &mut [f32]) {}

    /// The algorithm's complete state (multipliers, optimizer moments,
    /// random generators...) for a checkpoint.
    fn save_state(&self) -> Result<Vec<u8>> {
        Err(Error::Data(format!("algorithm {} cannot save its state for a checkpoint", self.name())))
    }

    /// Restores a state written by [`Algorithm::save_state`].
    fn load_state(&mut self, _state: &[u8]) -> Result<()> {
        Err(Error::Data(format!("algorithm {} cannot restore a checkpoint", self.name())))
    }
}
