//! Which keys apply to a run: rules that depend on the algorithm and the
//! constraints, shared by the resolution (which refuses a key that does
//! not apply) and the resolved configuration (which writes only those
//! that do).

use crate::algorithms::AlgorithmName;
use crate::constraints::FairnessConstraint;

/// True when the rate surrogates' temperature changes what `name` trains
/// on `constraints`: a rate statistic under an algorithm that follows the
/// constraints' gradients.
pub fn uses_temperature(name: AlgorithmName, constraints: &[FairnessConstraint]) -> bool {
    name.pursues_bounds() && constraints.iter().any(|c| c.statistics().iter().any(|s| s.is_rate()))
}

/// Whether the objective and the per-group minibatch sizes shape what
/// `name` trains: Stochastic Ghost draws its own batches (`ghost-base-batch`
/// rows per cell, doubling per level), and an algorithm that does not
/// follow the constraints draws group minibatches only for the history's
/// estimates.
pub fn batch_keys(name: AlgorithmName) -> (bool, bool) {
    match name {
        AlgorithmName::Ghost => (false, false),
        _ => (true, name.pursues_bounds()),
    }
}
