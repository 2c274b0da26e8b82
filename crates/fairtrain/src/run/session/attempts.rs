//! The attempts of a run: a run whose first attempt failed trains again
//! with its rule's second attempt (see `Session::train`), and the better of
//! the two models is returned. [`AttemptState`] is what a checkpoint keeps
//! of them, so that a resumed second attempt still has the first to
//! compare with.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::run::metrics::Selected;
use crate::train::{Observer, ObserverStates, Warning};

/// Which attempt of a run a checkpoint belongs to, with why the run
/// restarted and the first attempt's returned model.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct AttemptState {
    /// The second attempt (see `AlgorithmConfig::second_attempt`).
    #[serde(alias = "escalated")]
    pub(crate) second: bool,
    /// Why the first attempt was not returned at once.
    pub(crate) restart_note: Option<String>,
    /// The first attempt's returned model, for the comparison with the
    /// second's.
    pub(crate) first: Option<FirstAttempt>,
}

/// The key of [`AttemptState`] in a checkpoint's observer states.
pub(crate) const ATTEMPT_KEY: &str = "attempt";

impl Observer for AttemptState {
    fn save_state(&self, states: &mut ObserverStates) -> Result<()> {
        states.insert(ATTEMPT_KEY.into(), crate::state::encode(self)?);
        Ok(())
    }
}

/// What the first attempt returned, kept while the second trains.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FirstAttempt {
    /// Its returned (selected, finalized) parameters.
    pub(crate) params: Vec<f32>,
    /// How the selection chose them.
    pub(crate) selected: Option<Selected>,
    /// Its warnings, the first `run_warnings` raised during training.
    pub(crate) warnings: Vec<Warning>,
    pub(crate) run_warnings: usize,
    /// The bounds it trained against, where a margin changed them.
    pub(crate) train_bounds: Option<Vec<f64>>,
    /// What its automatic margin found.
    pub(crate) margin_report: Vec<String>,
}

/// How a returned model stands for the choice between attempts: its
/// accuracy on the validation rows the selection judges, its largest
/// violation on the training rows it judges (`+inf` where a constraint is
/// undefined), and whether the selection found it feasible on validation
/// within the noise (`true` where nothing was selected on validation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Standing {
    pub(crate) validation_accuracy: f64,
    pub(crate) train_violation: f64,
    pub(crate) validated: bool,
}

impl Standing {
    /// Meets the bounds on train and, as far as the selection could tell,
    /// on validation.
    pub(crate) fn feasible(&self) -> bool {
        self.train_violation <= 0.0 && self.validated
    }

    /// Whether a model standing so is returned instead of the second
    /// attempt's, standing `second`: it is feasible and the second is not,
    /// or both are and it is more accurate on validation. The restart was
    /// called for by the first model's accuracy (near-constant, or keeping
    /// little of what a threshold on its scores gains), so accuracy
    /// decides: on small data a restart can end less accurate than the
    /// model it replaced (German credit, demographic parity 0.02, seed 4:
    /// 0.745 on test before the restart, 0.725 after).
    pub(crate) fn beats(&self, second: &Standing) -> bool {
        self.feasible() && (!second.feasible() || self.validation_accuracy > second.validation_accuracy)
    }

    /// Why this (first) model beat `second`, for the restart's warning.
    pub(crate) fn compared_with(&self, second: &Standing) -> String {
        let accuracies = format!(
            "validation accuracy {:.4}, the second attempt's {:.4}",
            self.validation_accuracy, second.validation_accuracy
        );
        if second.train_violation > 0.0 {
            format!("the second violates the bounds on train by {:.4} ({accuracies})", second.train_violation)
        } else if !second.validated {
            format!("no model of the second met the bounds on validation ({accuracies})")
        } else {
            accuracies
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(validation_accuracy: f64, train_violation: f64) -> Standing {
        Standing { validation_accuracy, train_violation, validated: true }
    }

    #[test]
    fn the_first_attempt_is_kept_only_when_feasible_and_better() {
        let feasible = standing(0.76, -0.01);
        assert!(feasible.beats(&standing(0.74, -0.02)));
        assert!(feasible.beats(&standing(0.80, 0.01)), "the second attempt is infeasible on train");
        assert!(!feasible.beats(&standing(0.76, 0.0)), "a tie goes to the second attempt");
        assert!(!feasible.beats(&standing(0.77, -0.02)));
        assert!(!standing(0.80, 0.001).beats(&standing(0.70, 0.02)), "an infeasible first attempt is never kept");
        assert!(!standing(0.80, f64::INFINITY).beats(&standing(0.70, -0.1)));
        let unvalidated = |s: Standing| Standing { validated: false, ..s };
        assert!(!unvalidated(feasible).beats(&standing(0.70, -0.1)), "nothing met the bounds on validation");
        assert!(feasible.beats(&unvalidated(standing(0.80, -0.1))));
        let why = feasible.compared_with(&unvalidated(standing(0.80, -0.1)));
        assert_eq!(
            why,
            "no model of the second met the bounds on validation (validation accuracy 0.7600, the second attempt's 0.8000)"
        );
    }
}
