//! How finely a split measures a rate: a group's TPR on 4 positive rows
//! moves in steps of 0.25, so a gap bound of 0.05 over it is met on that
//! split only by TPRs that are equal, which in practice means predicting
//! one class for everyone. Said where a run ends near-constant and no
//! threshold shows the bound does not force it: that group, not the
//! optimizer, is then why.

use super::{GroupCounts, GroupFrame};
use crate::constraints::{ConstraintKind, FairnessConstraint, LabelFilter, Statistic};

/// The group whose rate under a gap bound moves the most per row on one
/// split, where one row moves it by more than the bound.
#[derive(Debug, Clone, PartialEq)]
pub struct CoarseRate {
    /// The group's name.
    pub group: String,
    /// The rate.
    pub statistic: Statistic,
    /// The rows the rate is a fraction of (positives for TPR, negatives
    /// for FPR, all for the positive rate); weighted where the data are.
    pub rows: f64,
    /// The bound of the gap over it.
    pub bound: f64,
}

impl CoarseRate {
    /// The coarsest rate of `frame` under the gap bounds of `constraints`
    /// (a bounded gap of a rate over groups): the group and rate with the
    /// fewest rows where one row moves the rate by more than the bound;
    /// `None` where every such rate moves by less.
    ///
    /// ```
    /// use fairtrain::constraints::{FairnessConstraint, Notion, Statistic};
    /// use fairtrain::evaluation::GroupFrame;
    /// use fairtrain::evaluation::coarse_rate::CoarseRate;
    /// // Group "b" has 4 positive rows: its TPR moves by 0.25 per row.
    /// let labels: Vec<f32> = (0..100).map(|i| if i < 40 || (50..54).contains(&i) { 1.0 } else { 0.0 }).collect();
    /// let groups: Vec<u32> = (0..100).map(|i| (i / 50) as u32).collect();
    /// let frame = GroupFrame::from_parts(&["a".into(), "b".into()], &[1.0; 100], &labels, &groups);
    /// let eopp = [FairnessConstraint::new(Notion::EqualOpportunity, 0.05).unwrap()];
    /// let coarse = CoarseRate::of(&frame, &eopp).unwrap();
    /// assert_eq!((coarse.group.as_str(), coarse.statistic, coarse.rows), ("b", Statistic::Tpr, 4.0));
    /// assert!(CoarseRate::of(&frame, &[FairnessConstraint::new(Notion::EqualOpportunity, 0.3).unwrap()]).is_none());
    /// ```
    pub fn of(frame: &GroupFrame, constraints: &[FairnessConstraint]) -> Option<CoarseRate> {
        let mut coarsest: Option<CoarseRate> = None;
        for constraint in constraints {
            let ConstraintKind::Gap { statistics, .. } = &constraint.kind else { continue };
            for &statistic in statistics {
                for (g, name) in frame.names().iter().enumerate() {
                    let Some(rows) = rows_of(frame.group(g), statistic) else { continue };
                    let moves_past_bound = rows > 0.0 && 1.0 / rows > constraint.bound;
                    if moves_past_bound && coarsest.as_ref().is_none_or(|c| rows < c.rows) {
                        coarsest = Some(CoarseRate { group: name.clone(), statistic, rows, bound: constraint.bound });
                    }
                }
            }
        }
        coarsest
    }

    /// `group 'b' has 4 positive rows on validation: one row moves its TPR
    /// by 0.25, more than the bound 0.05`.
    pub fn describe(&self, split: &str) -> String {
        let (rows, rate) = match self.statistic {
            Statistic::Tpr => ("positive rows", "TPR"),
            Statistic::Fnr => ("positive rows", "FNR"),
            Statistic::Fpr => ("negative rows", "FPR"),
            Statistic::PositiveRate => ("rows", "positive rate"),
            Statistic::ErrorRate => ("rows", "error rate"),
            other => ("rows", other.name()),
        };
        format!(
            "group '{}' has {} {rows} on {split}: one row moves its {rate} by {:.2}, more than the bound {}",
            self.group,
            self.rows,
            1.0 / self.rows,
            self.bound
        )
    }
}

/// The rows `statistic` is a fraction of in `counts`; `None` for
/// statistics that are not such a fraction (loss, precision, calibration).
fn rows_of(counts: &GroupCounts, statistic: Statistic) -> Option<f64> {
    if matches!(statistic, Statistic::Loss | Statistic::Precision | Statistic::Calibration) {
        return None;
    }
    Some(match statistic.label_filter() {
        LabelFilter::Any => counts.n,
        LabelFilter::Positive => counts.positives,
        LabelFilter::Negative => counts.n - counts.positives,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::Notion;

    #[test]
    fn the_coarsest_cell_of_equalized_odds_is_named_with_its_step() {
        // Group "b": 30 rows, 25 positive and 5 negative, so its FPR moves
        // by 0.2 per row and its TPR by 0.04.
        let labels: Vec<f32> = (0..130).map(|i| if i < 50 || (100..125).contains(&i) { 1.0 } else { 0.0 }).collect();
        let groups: Vec<u32> = (0..130).map(|i| u32::from(i >= 100)).collect();
        let frame = GroupFrame::from_parts(&["a".into(), "b".into()], &[0.5; 130], &labels, &groups);
        let eo = [FairnessConstraint::new(Notion::EqualizedOdds, 0.05).unwrap()];
        let coarse = CoarseRate::of(&frame, &eo).unwrap();
        assert_eq!(
            coarse.describe("validation"),
            "group 'b' has 5 negative rows on validation: one row moves its FPR by 0.20, more than the bound 0.05"
        );
        // A loss gap is no rate; a bound coarser than every step names none.
        assert!(CoarseRate::of(&frame, &[FairnessConstraint::new(Notion::LossParity, 0.05).unwrap()]).is_none());
        assert!(CoarseRate::of(&frame, &[FairnessConstraint::new(Notion::EqualizedOdds, 0.25).unwrap()]).is_none());
    }
}
