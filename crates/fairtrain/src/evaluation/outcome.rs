//! One row's outcome under a model: the loss, probability, decision,
//! label and weight every group statistic (and its resampling) sums.

use crate::model::loss::{bce_with_logits, sigmoid};

/// One row's outcome: what every group statistic is a sum of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowOutcome {
    /// BCE loss of the row (NaN when only hard predictions are known).
    pub loss: f64,
    /// Predicted probability of the positive class (NaN when unknown).
    pub probability: f64,
    /// Predicted positive.
    pub predicted: bool,
    /// Labelled positive.
    pub positive: bool,
    /// Sample weight.
    pub weight: f64,
}

impl RowOutcome {
    /// The outcome of a row with logit `z`, label `y` and weight `w`
    /// (predicted positive when `z > 0`).
    pub fn from_logit(z: f32, y: f32, w: f64) -> Self {
        RowOutcome {
            loss: bce_with_logits(z, y).0 as f64,
            probability: sigmoid(z) as f64,
            predicted: z > 0.0,
            positive: y > 0.5,
            weight: w,
        }
    }
}
