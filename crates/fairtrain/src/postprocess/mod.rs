//! Post-processing: decisions chosen per group after training, for users
//! who may use the group at prediction time.
//!
//! [`fit`] picks, for each group, a decision threshold on the
//! model's logit (randomized between thresholds where that is needed to
//! meet the bound exactly) that maximizes accuracy on the rows it is given
//! (a run gives validation, or training and validation for a model trained
//! without the constraints) subject to the rate constraints (demographic parity, equal opportunity,
//! equalized odds, predictive equality, accuracy parity and their
//! complements): the derived predictor of Hardt, Price and Srebro (2016),
//! for any model. A randomized decision's coin is a hash of the seed and
//! the row's encoded content, so a row gets the same decision in every
//! call, batch and order.
//!
//! ```
//! use fairtrain::constraints::{FairnessConstraint, Notion};
//! use fairtrain::data::Dataset;
//! use fairtrain::evaluation::{GroupFrame, SplitReport};
//! use fairtrain::postprocess;
//! // One feature that is also the score; group b's scores run lower.
//! let x: Vec<f32> = (0..400).map(|i| (i % 100) as f32 / 50.0 - 1.0).collect();
//! let g: Vec<u32> = (0..400).map(|i| (i >= 200) as u32).collect();
//! let logits: Vec<f32> = x.iter().zip(&g).map(|(&v, &g)| v - 0.6 * g as f32).collect();
//! let y: Vec<f32> = x.iter().map(|&v| (v > -0.2) as u8 as f32).collect();
//! let data = Dataset::from_dense(x, 1, y, g, vec!["a".into(), "b".into()]).unwrap();
//! let dp = [FairnessConstraint::new(Notion::DemographicParity, 0.02).unwrap()];
//! let before = SplitReport::new(&GroupFrame::from_logits(&data, &logits), &dp, &[]);
//! let rule = postprocess::fit(&data, &logits, &dp, 0).unwrap();
//! let frame = GroupFrame::from_outcomes(data.group_names(), &postprocess::outcomes(&rule, &data, &logits), data.groups());
//! let after = SplitReport::new(&frame, &dp, &[]);
//! assert!(before.constraints[0].value.unwrap() > 0.2);
//! assert!(after.constraints[0].value.unwrap() <= 0.03);
//! assert!(after.accuracy.unwrap() > 0.8);
//! ```

mod fit;
mod roc;

use serde::{Deserialize, Serialize};

use crate::constraints::{Comparison, ConstraintKind, FairnessConstraint, Statistic};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::evaluation::GroupFrame;
use crate::evaluation::certificate::RowOutcome;
pub use crate::model::decision::{GroupRule, GroupThresholds, Threshold};
use fit::{Band, Rate};

/// The post-processing step of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Postprocess {
    /// None: the model's own decisions (logit above 0).
    #[default]
    Off,
    /// Per-group decision thresholds ([`fit`]).
    GroupThresholds,
}

impl Postprocess {
    /// Every step's name.
    pub const NAMES: [&'static str; 2] = ["off", "group-thresholds"];

    /// The step's name.
    pub fn name(self) -> &'static str {
        match self {
            Postprocess::Off => "off",
            Postprocess::GroupThresholds => "group-thresholds",
        }
    }
}

/// The rate bands that post-process `constraints`; an error for a
/// constraint that decisions alone cannot meet.
fn bands(constraints: &[FairnessConstraint]) -> Result<Vec<Band>> {
    let mut bands: Vec<Band> = Vec::new();
    for c in constraints {
        let unsupported = |why: &str| {
            Error::config(
                "postprocess",
                format!(
                    "group-thresholds cannot post-process '{}': {why}; it supports between-group gaps of positive \
                     rates, TPR, FPR and accuracy (demographic-parity, equal-opportunity, equalized-odds, \
                     predictive-equality, accuracy-parity)",
                    c.name()
                ),
            )
        };
        let statistics = match &c.kind {
            ConstraintKind::Gap { statistics, comparison: Comparison::Pairwise } => statistics,
            ConstraintKind::Gap { .. } => return Err(unsupported("it compares each group with all rows")),
            ConstraintKind::WeightNorm => return Err(unsupported("it constrains the parameters, not decisions")),
            _ => return Err(unsupported("it is not a gap between groups' rates")),
        };
        for s in statistics {
            let rate = match s {
                Statistic::PositiveRate => Rate::Positive,
                Statistic::Tpr | Statistic::Fnr => Rate::Tpr,
                Statistic::Fpr => Rate::Fpr,
                Statistic::Accuracy | Statistic::ErrorRate => Rate::Accuracy,
                _ => return Err(unsupported("decisions do not change it (a loss or score statistic)")),
            };
            match bands.iter_mut().find(|b| b.rate == rate) {
                Some(b) => b.width = b.width.min(c.bound),
                None => bands.push(Band { rate, width: c.bound }),
            }
        }
    }
    if bands.len() > 2 {
        return Err(Error::config(
            "postprocess",
            "group-thresholds equalizes at most two rates at once (e.g. equalized odds' TPR and FPR)",
        ));
    }
    Ok(bands)
}

/// Checks that [`fit`] can post-process `constraints`.
///
/// ```
/// use fairtrain::constraints::{FairnessConstraint, Notion};
/// let eo = FairnessConstraint::new(Notion::EqualizedOdds, 0.05).unwrap();
/// assert!(fairtrain::postprocess::check(&[eo]).is_ok());
/// let loss = FairnessConstraint::new(Notion::LossParity, 0.05).unwrap();
/// assert!(fairtrain::postprocess::check(&[loss]).is_err());
/// ```
pub fn check(constraints: &[FairnessConstraint]) -> Result<()> {
    bands(constraints).map(|_| ())
}

/// Fits [`GroupThresholds`] on `data` scored with `logits`: per group, the most
/// accurate mixture of thresholds such that each constrained rate lies
/// within its bound for every pair of groups (in expectation over the
/// coins; realized coins add sampling noise of order `1/sqrt(n)`).
pub fn fit(data: &Dataset, logits: &[f32], constraints: &[FairnessConstraint], seed: u64) -> Result<GroupThresholds> {
    let bands = bands(constraints)?;
    if logits.len() != data.n_rows() {
        return Err(Error::Data(format!("{} logits for {} rows", logits.len(), data.n_rows())));
    }
    let names = data.group_names();
    let mut rows: Vec<Vec<(f32, bool, f64)>> = vec![Vec::new(); names.len()];
    for (i, (&z, (&y, &g))) in logits.iter().zip(data.labels().iter().zip(data.groups())).enumerate() {
        rows[g as usize].push((z, y > 0.5, data.weight(i) as f64));
    }
    if let Some(g) = rows.iter().position(|r| r.is_empty()) {
        return Err(Error::Data(format!("group '{}' has no rows in the split post-processing is fitted on", names[g])));
    }
    // The model's own decisions (logit above 0), per group, in ROC space.
    let frame = GroupFrame::from_logits(data, logits);
    let own: Vec<roc::Point> =
        (0..names.len()).map(|g| (frame.group(g).fpr().unwrap_or(0.0), frame.group(g).tpr().unwrap_or(0.0))).collect();
    let rocs: Vec<roc::Roc> = rows.iter_mut().map(|r| roc::Roc::new(r)).collect();
    // Where the model's own decisions already meet the bounds on this
    // split they are kept: a slack bound costs nothing, and thresholds
    // tuned for this split's accuracy alone would fit its noise.
    if fit::meets(&rocs, &bands, &own) {
        return Ok(GroupThresholds::own(seed, names));
    }
    let points = fit::fit(&rocs, &bands)
        .ok_or_else(|| Error::Data("no per-group thresholds meet the bounds on the fitting split".into()))?;
    let groups = rocs
        .iter()
        .zip(&points)
        .zip(names)
        .map(|((roc, &p), name)| GroupRule {
            group: name.clone(),
            thresholds: roc
                .mixture(p)
                .into_iter()
                .filter(|&(t, _)| t != roc::NOTHING)
                .map(|(logit, weight)| Threshold { logit, weight })
                .collect(),
        })
        .collect();
    Ok(GroupThresholds { seed, groups })
}

/// Per-row outcomes with `rule`'s decisions (losses and probabilities are
/// the model's), for [`GroupFrame::from_outcomes`](crate::evaluation::GroupFrame::from_outcomes)
/// and the certificate.
pub fn outcomes(rule: &GroupThresholds, data: &Dataset, logits: &[f32]) -> Vec<RowOutcome> {
    logits
        .iter()
        .enumerate()
        .map(|(i, &z)| RowOutcome {
            predicted: rule.decide(data, i, z),
            ..RowOutcome::from_logit(z, data.labels()[i], data.weight(i) as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::Notion;

    /// Two groups scored alike: the model's decisions already meet the
    /// bound, and post-processing keeps them.
    #[test]
    fn decisions_that_meet_the_bound_are_kept() {
        let x: Vec<f32> = (0..400).map(|i| (i % 100) as f32 / 50.0 - 1.0).collect();
        let g: Vec<u32> = (0..400).map(|i| (i % 2) as u32).collect();
        let y: Vec<f32> = x.iter().map(|&v| (v > 0.1) as u8 as f32).collect();
        let data = Dataset::from_dense(x.clone(), 1, y, g, vec!["a".into(), "b".into()]).unwrap();
        let eo = [FairnessConstraint::new(Notion::EqualizedOdds, 0.05).unwrap()];
        let rule = fit(&data, &x, &eo, 3).unwrap();
        assert!(rule.is_own());
        let own: Vec<bool> = x.iter().map(|&z| z > 0.0).collect();
        assert_eq!(rule.decisions(&data, &x), own);
        // A bound the decisions miss is fitted instead.
        let shifted: Vec<f32> = x.iter().zip(data.groups()).map(|(&v, &g)| v + 0.8 * g as f32).collect();
        assert!(!fit(&data, &shifted, &eo, 3).unwrap().is_own());
    }
}
