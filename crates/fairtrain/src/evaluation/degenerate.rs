//! Near-constant models: a constrained run can meet a rate bound by
//! predicting one class for (almost) everyone, which satisfies every parity
//! notion trivially. Such a model is reported as such, never as a plain
//! "holds", together with whether the bound forces it: a sweep of the
//! decision threshold over the model's own scores looks for a classifier
//! that meets the bounds above the near-constant line.

use super::{GroupCounts, GroupFrame};
use crate::constraints::FairnessConstraint;
use crate::data::Dataset;

/// Accuracy within this much of the majority-class rate is near-constant.
pub const MAJORITY_MARGIN: f64 = 0.01;

/// Putting at least this share of the rows in one class is near-constant.
pub const ONE_CLASS_SHARE: f64 = 0.98;

/// Decision thresholds the sweep tries (quantiles of the scores).
const THRESHOLDS: usize = 200;

/// The share of the majority class among a split's labels: the accuracy
/// of predicting that class for everyone.
fn majority_rate(counts: &GroupCounts) -> f64 {
    let base = counts.positives / counts.n;
    base.max(1.0 - base)
}

/// What makes a model near-constant on one split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearConstant {
    /// Accuracy on the split.
    pub accuracy: f64,
    /// Share of the majority class among the labels.
    pub majority_rate: f64,
    /// Share of the rows predicted positive.
    pub positive_share: f64,
}

impl NearConstant {
    /// `Some` when the counts of a split show a near-constant model: its
    /// accuracy within [`MAJORITY_MARGIN`] of the majority-class rate, or
    /// at least [`ONE_CLASS_SHARE`] of the rows in one class.
    ///
    /// ```
    /// use fairtrain::evaluation::{GroupFrame, degenerate::NearConstant};
    /// // Four rows, three negative: predicting "no" for all scores 0.75.
    /// let names = ["a".to_string()];
    /// let frame = GroupFrame::from_parts(&names, &[-1.0, -2.0, -1.0, -0.5], &[0.0, 0.0, 0.0, 1.0], &[0, 0, 0, 0]);
    /// let near = NearConstant::of(frame.overall()).unwrap();
    /// assert_eq!((near.accuracy, near.majority_rate, near.positive_share), (0.75, 0.75, 0.0));
    /// let good = GroupFrame::from_parts(&names, &[-1.0, -2.0, -1.0, 0.5], &[0.0, 0.0, 0.0, 1.0], &[0, 0, 0, 0]);
    /// assert!(NearConstant::of(good.overall()).is_none());
    /// ```
    pub fn of(counts: &GroupCounts) -> Option<Self> {
        let accuracy = counts.accuracy()?;
        let near =
            NearConstant { accuracy, majority_rate: majority_rate(counts), positive_share: counts.positive_rate()? };
        (accuracy <= near.majority_rate + MAJORITY_MARGIN
            || near.positive_share >= ONE_CLASS_SHARE
            || near.positive_share <= 1.0 - ONE_CLASS_SHARE)
            .then_some(near)
    }

    /// `accuracy 0.7520 vs majority-class rate 0.7519, 0.3% predicted
    /// positive`; a model below the line says it is worse than a constant
    /// (a collapse can end between the classes, far below it).
    ///
    /// ```
    /// use fairtrain::evaluation::degenerate::NearConstant;
    /// let near = NearConstant { accuracy: 0.752, majority_rate: 0.7519, positive_share: 0.003 };
    /// assert_eq!(near.describe(), "accuracy 0.7520 vs majority-class rate 0.7519, 0.3% predicted positive");
    /// let worse = NearConstant { accuracy: 0.418, majority_rate: 0.7515, positive_share: 0.394 };
    /// assert_eq!(
    ///     worse.describe(),
    ///     "accuracy 0.4180, below the majority-class rate 0.7515 (worse than predicting that class for everyone), \
    ///      39.4% predicted positive"
    /// );
    /// ```
    pub fn describe(&self) -> String {
        let accuracy = if self.accuracy < self.majority_rate - MAJORITY_MARGIN {
            format!(
                "accuracy {:.4}, below the majority-class rate {:.4} (worse than predicting that class for everyone)",
                self.accuracy, self.majority_rate
            )
        } else {
            format!("accuracy {:.4} vs majority-class rate {:.4}", self.accuracy, self.majority_rate)
        };
        format!("{accuracy}, {:.1}% predicted positive", 100.0 * self.positive_share)
    }
}

/// A model keeping less than this share of the accuracy above the
/// majority-class rate that a decision threshold on its own scores reaches
/// within the bounds is [`MostlyConstant`].
pub const KEPT_SHARE: f64 = 0.5;

/// A model above the near-constant line that the constraints still pushed
/// most of the way to it: its accuracy keeps less than [`KEPT_SHARE`] of
/// what a decision threshold on its own scores gains over the
/// majority-class rate while meeting the bounds. Its ranking of the rows
/// is useful, its decisions are not: the bounds did not force them (the
/// threshold meets them), and many pairwise rate constraints on noisy
/// minibatch estimates push toward one class for everyone (8 synthetic
/// groups, demographic parity 0.1, seed 1: validation accuracy 0.585 over
/// a majority rate of 0.562, where a threshold reaches about 0.75).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MostlyConstant {
    /// Accuracy on the split.
    pub accuracy: f64,
    /// Share of the majority class among the labels.
    pub majority_rate: f64,
    /// Accuracy of the threshold that meets the bounds.
    pub threshold_accuracy: f64,
}

impl MostlyConstant {
    /// `Some` when the counts of a split keep less than [`KEPT_SHARE`] of
    /// the gain over the majority-class rate of `threshold_accuracy`.
    ///
    /// ```
    /// use fairtrain::evaluation::{GroupFrame, degenerate::MostlyConstant};
    /// // Ten rows, six negative: one positive found, accuracy 0.7.
    /// let names = ["a".to_string()];
    /// let y = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
    /// let z = [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0];
    /// let frame = GroupFrame::from_parts(&names, &z, &y, &[0; 10]);
    /// // 0.1 of the 0.4 a threshold gains over the majority rate 0.6.
    /// let m = MostlyConstant::of(frame.overall(), 1.0).unwrap();
    /// assert_eq!((m.accuracy, m.majority_rate), (0.7, 0.6));
    /// assert!(MostlyConstant::of(frame.overall(), 0.75).is_none());
    /// ```
    pub fn of(counts: &GroupCounts, threshold_accuracy: f64) -> Option<Self> {
        let accuracy = counts.accuracy()?;
        let majority_rate = majority_rate(counts);
        (accuracy - majority_rate < KEPT_SHARE * (threshold_accuracy - majority_rate)).then_some(MostlyConstant {
            accuracy,
            majority_rate,
            threshold_accuracy,
        })
    }

    /// `accuracy 0.5850 vs majority-class rate 0.5620, where a decision
    /// threshold on its scores reaches 0.7500 within the bounds`.
    pub fn describe(&self) -> String {
        format!(
            "accuracy {:.4} vs majority-class rate {:.4}, where a decision threshold on its scores reaches {:.4} \
             within the bounds",
            self.accuracy, self.majority_rate, self.threshold_accuracy
        )
    }
}

/// A decision threshold on a model's scores that meets the bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeasibleThreshold {
    /// Predict positive when the logit exceeds this (the model's own
    /// threshold is 0).
    pub logit: f32,
    /// Accuracy there.
    pub accuracy: f64,
}

/// The most accurate decision threshold on `logits` (a model's scores of
/// `data`) at which every constraint holds on `data` and the predictions
/// are not near-constant; `None` when no threshold of the sweep is such.
/// A near-constant model for which this finds none is one the bound
/// forces, as far as this model's ranking of the rows can tell.
pub fn feasible_threshold(
    data: &Dataset,
    logits: &[f32],
    constraints: &[FairnessConstraint],
    params: &[f32],
) -> Option<FeasibleThreshold> {
    sweep(data, logits, &sorted_scores(logits), constraints, params).into_iter().next()
}

/// The most accurate decision threshold on `validation` (a model's scores
/// of those rows) at which every constraint holds and the predictions are
/// not near-constant there and, with the same threshold, on `train`: a
/// threshold that meets the bounds on validation alone may be the luck of
/// a small group's noise. The threshold lies midway between two scores of
/// the validation rows. `None` when no threshold of the sweep passes both
/// splits: a near-constant model is then one the bound forces, as far as
/// its ranking of the rows can tell.
///
/// ```
/// use fairtrain::constraints::{FairnessConstraint, Notion};
/// use fairtrain::data::Dataset;
/// use fairtrain::evaluation::degenerate::threshold_on_both;
/// // Half of each group positive, every positive scored above every
/// // negative, all below 0: "no" for everyone at the model's threshold.
/// let labels: Vec<f32> = (0..200).map(|i| (i % 2) as f32).collect();
/// let groups: Vec<u32> = (0..200).map(|i| (i / 100) as u32).collect();
/// let logits: Vec<f32> = (0..200).map(|i| -1.0 + 0.5 * (i % 2) as f32).collect();
/// let data = Dataset::from_dense(vec![0.0; 200], 1, labels, groups, vec!["a".into(), "b".into()]).unwrap();
/// let dp = [FairnessConstraint::new(Notion::DemographicParity, 0.05).unwrap()];
/// let t = threshold_on_both((&data, &logits), (&data, &logits), &dp, &[]).unwrap();
/// assert_eq!((t.logit, t.accuracy), (-0.75, 1.0));
/// ```
pub fn threshold_on_both(
    validation: (&Dataset, &[f32]),
    train: (&Dataset, &[f32]),
    constraints: &[FairnessConstraint],
    params: &[f32],
) -> Option<FeasibleThreshold> {
    let (data, logits) = validation;
    let sorted = sorted_scores(logits);
    let mut shifted = vec![0.0f32; train.1.len()];
    sweep(data, logits, &sorted, constraints, params).into_iter().find_map(|found| {
        // Midway to the next larger score: the same decisions on validation,
        // and none of its rows left exactly at the moved threshold.
        let next = sorted.iter().copied().find(|&z| z > found.logit)?;
        let logit = found.logit + 0.5 * (next - found.logit);
        for (s, &z) in shifted.iter_mut().zip(train.1) {
            *s = z - logit;
        }
        let frame = GroupFrame::from_logits(train.0, &shifted);
        let feasible = constraints.iter().all(|c| c.value(&frame, params).is_some_and(|v| c.violation(v) <= 0.0));
        (feasible && NearConstant::of(frame.overall()).is_none())
            .then_some(FeasibleThreshold { logit, accuracy: found.accuracy })
    })
}

/// The finite scores of `logits`, ascending.
fn sorted_scores(logits: &[f32]) -> Vec<f32> {
    let mut sorted: Vec<f32> = logits.iter().copied().filter(|z| z.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    sorted
}

/// The accuracy of the most accurate decision threshold on `logits` (a
/// model's scores of `data`, its rows weighted), bounds aside: at least
/// that of any threshold [`feasible_threshold`] finds, from one sort
/// instead of a sweep of group statistics.
///
/// ```
/// use fairtrain::data::Dataset;
/// use fairtrain::evaluation::degenerate::best_threshold_accuracy;
/// // Scores order the labels 0, 1, 0, 1, 1: above the first score, 0.8.
/// let labels = vec![0.0, 1.0, 0.0, 1.0, 1.0];
/// let data = Dataset::from_dense(vec![0.0; 5], 1, labels, vec![0; 5], vec!["a".into()]).unwrap();
/// assert_eq!(best_threshold_accuracy(&data, &[-3.0, -2.0, -1.0, 0.5, 2.0]), Some(0.8));
/// ```
pub fn best_threshold_accuracy(data: &Dataset, logits: &[f32]) -> Option<f64> {
    let mut order: Vec<usize> = (0..logits.len()).filter(|&i| logits[i].is_finite()).collect();
    order.sort_by(|&a, &b| logits[a].total_cmp(&logits[b]));
    let labels = data.labels();
    let weight = |i: usize| data.weight(i) as f64;
    let total: f64 = order.iter().map(|&i| weight(i)).sum();
    // Below every score: every row positive.
    let mut correct: f64 = order.iter().filter(|&&i| labels[i] > 0.5).map(|&i| weight(i)).sum();
    let mut best = correct;
    for &i in &order {
        // The threshold passes row i: it turns negative.
        correct += if labels[i] > 0.5 { -weight(i) } else { weight(i) };
        best = best.max(correct);
    }
    (total > 0.0).then(|| best / total)
}

/// The thresholds of the sweep (quantiles of `sorted`, the finite scores
/// of `logits` in order) at which every constraint holds on `data` and the
/// predictions are not near-constant, most accurate first (the lower
/// threshold first on a tie).
fn sweep(
    data: &Dataset,
    logits: &[f32],
    sorted: &[f32],
    constraints: &[FairnessConstraint],
    params: &[f32],
) -> Vec<FeasibleThreshold> {
    if sorted.is_empty() {
        return Vec::new();
    }
    let mut shifted = vec![0.0f32; logits.len()];
    let mut found = Vec::new();
    for k in 1..THRESHOLDS {
        let t = sorted[k * (sorted.len() - 1) / THRESHOLDS];
        for (s, &z) in shifted.iter_mut().zip(logits) {
            *s = z - t;
        }
        let frame = GroupFrame::from_logits(data, &shifted);
        let feasible = constraints.iter().all(|c| c.value(&frame, params).is_some_and(|v| c.violation(v) <= 0.0));
        if feasible && NearConstant::of(frame.overall()).is_none() {
            found.push(FeasibleThreshold { logit: t, accuracy: frame.overall().accuracy().unwrap_or(0.0) });
        }
    }
    // Stable: the lower threshold first among equally accurate ones.
    found.sort_by(|a, b| b.accuracy.total_cmp(&a.accuracy));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::Notion;

    fn data(labels: Vec<f32>, groups: Vec<u32>) -> Dataset {
        let n = labels.len();
        Dataset::from_dense(vec![0.0; n], 1, labels, groups, vec!["a".into(), "b".into()]).unwrap()
    }

    /// Scores that rank every positive above every negative in both groups
    /// (half of each group positive), all below 0: the model predicts "no"
    /// for everyone, which meets demographic parity trivially; a threshold
    /// between the two score levels meets it too, at accuracy 1.
    #[test]
    fn a_collapsed_model_with_a_useful_ranking_is_not_forced() {
        let labels: Vec<f32> = (0..200).map(|i| (i % 2) as f32).collect();
        let groups: Vec<u32> = (0..200).map(|i| (i / 100) as u32).collect();
        let logits: Vec<f32> = (0..200).map(|i| -1.0 + 0.5 * (i % 2) as f32 + 0.001 * (i % 7) as f32).collect();
        let data = data(labels, groups);
        let dp = [FairnessConstraint::new(Notion::DemographicParity, 0.05).unwrap()];
        let near = NearConstant::of(GroupFrame::from_logits(&data, &logits).overall()).unwrap();
        assert_eq!((near.accuracy, near.positive_share), (0.5, 0.0));
        let t = feasible_threshold(&data, &logits, &dp, &[]).unwrap();
        assert_eq!(t.accuracy, 1.0);
        assert!(t.logit > -1.0 && t.logit < -0.5, "{}", t.logit);
    }

    /// A threshold that meets demographic parity on validation but not on
    /// the training rows (group b scored below it there) does not count:
    /// the near-constant model is then said to be forced.
    #[test]
    fn a_threshold_must_meet_the_bounds_on_train_as_well() {
        let labels: Vec<f32> = (0..200).map(|i| (i % 2) as f32).collect();
        let groups: Vec<u32> = (0..200).map(|i| (i / 100) as u32).collect();
        let logits: Vec<f32> = (0..200).map(|i| -1.0 + 0.5 * (i % 2) as f32).collect();
        let data = data(labels, groups);
        let dp = [FairnessConstraint::new(Notion::DemographicParity, 0.05).unwrap()];
        assert!(threshold_on_both((&data, &logits), (&data, &logits), &dp, &[]).is_some());
        let train_logits: Vec<f32> = logits.iter().enumerate().map(|(i, &z)| if i < 100 { z } else { -2.0 }).collect();
        assert!(feasible_threshold(&data, &logits, &dp, &[]).is_some());
        assert_eq!(threshold_on_both((&data, &logits), (&data, &train_logits), &dp, &[]), None);
    }

    /// Group a all positive and scored high, group b all negative and
    /// scored low: every threshold that is not constant splits the groups,
    /// so demographic parity at 0.05 forces a constant model.
    #[test]
    fn a_bound_that_only_a_constant_meets_is_said_to_force_it() {
        let labels: Vec<f32> = (0..200).map(|i| if i < 100 { 1.0 } else { 0.0 }).collect();
        let groups: Vec<u32> = (0..200).map(|i| (i / 100) as u32).collect();
        let logits: Vec<f32> = (0..200).map(|i| if i < 100 { -0.2 } else { -2.0 } + 0.001 * (i % 5) as f32).collect();
        let data = data(labels, groups);
        let dp = [FairnessConstraint::new(Notion::DemographicParity, 0.05).unwrap()];
        assert!(feasible_threshold(&data, &logits, &dp, &[]).is_none());
    }
}
