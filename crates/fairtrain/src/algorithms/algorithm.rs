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

    /// Appends the extra values for the log window just ended, parallel to
    /// [`Algorithm::log_columns`], and starts a new window.
    fn log_values(&mut self, _out: &mut Vec<f64>) {}

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
