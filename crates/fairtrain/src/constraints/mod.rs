//! Fairness constraints.
//!
//! A group statistic is a ratio of sums over a group's rows (mean loss,
//! positive rate, TPR, FPR). A user-level [`FairnessConstraint`] (a notion
//! and a bound) expands into scalar [`LinearConstraint`]s, each a linear
//! combination of group statistics minus a bound that must stay `<= 0`:
//! these are the `c_i` the algorithms see. The same definitions give the
//! exact value on a whole split (from hard predictions) and a smooth
//! estimate on a minibatch (from per-sample losses and sigmoids), whose
//! derivative with respect to each logit drives the backward pass.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::loss::sigmoid;

/// A per-group statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Statistic {
    /// Mean BCE loss.
    Loss,
    /// Fraction predicted positive.
    PositiveRate,
    /// Fraction of positives predicted positive.
    TruePositiveRate,
    /// Fraction of negatives predicted positive.
    FalsePositiveRate,
}

impl Statistic {
    /// Smooth per-sample contribution for minibatch estimates: returns
    /// `(numerator, d numerator / d logit, denominator)`; the group's
    /// estimate is `sum numerator / sum denominator`. Rates use the sigmoid
    /// of the logit in place of the 0/1 prediction.
    #[inline]
    pub fn smooth_terms(self, z: f32, y: f32, loss: f32, dloss: f32) -> (f32, f32, f32) {
        match self {
            Statistic::Loss => (loss, dloss, 1.0),
            Statistic::PositiveRate => {
                let s = sigmoid(z);
                (s, s * (1.0 - s), 1.0)
            }
            Statistic::TruePositiveRate => {
                let s = sigmoid(z);
                (y * s, y * s * (1.0 - s), y)
            }
            Statistic::FalsePositiveRate => {
                let s = sigmoid(z);
                ((1.0 - y) * s, (1.0 - y) * s * (1.0 - s), 1.0 - y)
            }
        }
    }
}

/// Exact per-group statistics of a whole split (see
/// [`crate::evaluation::GroupFrame`]).
pub trait GroupStatistics {
    /// Number of groups.
    fn n_groups(&self) -> usize;
    /// The statistic of group `group`, or `None` when undefined (e.g. a TPR
    /// without positives).
    fn statistic(&self, group: usize, statistic: Statistic) -> Option<f64>;
}

/// Whether a constraint's value must stay below or above its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sense {
    /// value <= bound
    #[serde(rename = "<=")]
    AtMost,
    /// value >= bound
    #[serde(rename = ">=")]
    AtLeast,
}

/// A fairness notion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Notion {
    /// Every pair of groups has mean losses within the bound:
    /// `|L_a - L_b| <= bound`.
    LossParity,
}

impl Notion {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Notion::LossParity => "loss-parity",
        }
    }

    /// The default bound: 0.005 for loss-based notions.
    pub fn default_bound(self) -> f64 {
        match self {
            Notion::LossParity => 0.005,
        }
    }

    fn statistic(self) -> Statistic {
        match self {
            Notion::LossParity => Statistic::Loss,
        }
    }
}

/// One term `coef * statistic(group)` of a linear constraint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    /// Group index.
    pub group: usize,
    /// The statistic.
    pub statistic: Statistic,
    /// Coefficient.
    pub coef: f32,
}

/// A scalar constraint `sum_k coef_k * S_k - bound <= 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearConstraint {
    /// Name, e.g. `loss-parity(White - Non-White)`.
    pub name: String,
    /// The terms.
    pub terms: Vec<Term>,
    /// The bound subtracted.
    pub bound: f32,
}

/// A user-level fairness constraint: a notion and its bound.
///
/// ```
/// use fairtrain::constraints::{FairnessConstraint, Notion};
/// let c = FairnessConstraint::new(Notion::LossParity, 0.01).unwrap();
/// let rows = c.expand(&["a".into(), "b".into(), "c".into()]);
/// assert_eq!(rows.len(), 6); // both signs for each of the 3 pairs
/// assert_eq!(rows[0].name, "loss-parity(a - b)");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FairnessConstraint {
    /// The notion.
    pub notion: Notion,
    /// The bound on the notion's value.
    pub bound: f64,
}

impl FairnessConstraint {
    /// A constraint; the bound must be finite and non-negative.
    pub fn new(notion: Notion, bound: f64) -> Result<Self> {
        if !(bound.is_finite() && bound >= 0.0) {
            return Err(Error::config("bound", format!("{bound} (a bound must be a non-negative number)")));
        }
        Ok(FairnessConstraint { notion, bound })
    }

    /// The notion's name.
    pub fn name(&self) -> &'static str {
        self.notion.name()
    }

    /// Whether the value must stay below or above the bound.
    pub fn sense(&self) -> Sense {
        Sense::AtMost
    }

    /// The scalar constraints: for a gap notion, `S_a - S_b - bound <= 0`
    /// and `S_b - S_a - bound <= 0` for each pair `a < b` of groups.
    pub fn expand(&self, group_names: &[String]) -> Vec<LinearConstraint> {
        let statistic = self.notion.statistic();
        let mut rows = Vec::new();
        for a in 0..group_names.len() {
            for b in a + 1..group_names.len() {
                for (x, y) in [(a, b), (b, a)] {
                    rows.push(LinearConstraint {
                        name: format!("{}({} - {})", self.name(), group_names[x], group_names[y]),
                        terms: vec![Term { group: x, statistic, coef: 1.0 }, Term { group: y, statistic, coef: -1.0 }],
                        bound: self.bound as f32,
                    });
                }
            }
        }
        rows
    }

    /// The constraint's value on exact statistics: for a gap notion, the
    /// largest difference of the statistic between two groups (groups where
    /// it is undefined are left out). `None` when fewer than two groups
    /// have it defined.
    pub fn value(&self, stats: &dyn GroupStatistics) -> Option<f64> {
        let s = self.notion.statistic();
        let values: Vec<f64> = (0..stats.n_groups()).filter_map(|g| stats.statistic(g, s)).collect();
        if values.len() < 2 {
            return None;
        }
        let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
        Some(max - min)
    }

    /// How far `value` is beyond the bound (negative when satisfied).
    pub fn violation(&self, value: f64) -> f64 {
        match self.sense() {
            Sense::AtMost => value - self.bound,
            Sense::AtLeast => self.bound - value,
        }
    }
}

/// The constraints of a problem, expanded into scalar rows, with the list
/// of (group, statistic) pairs their terms need.
#[derive(Debug, Clone)]
pub struct ConstraintSet {
    constraints: Vec<FairnessConstraint>,
    rows: Vec<LinearConstraint>,
    names: Vec<String>,
    needed: Vec<(usize, Statistic)>,
    /// For each row, its terms as (index into `needed`, coefficient).
    row_terms: Vec<Vec<(usize, f32)>>,
}

impl ConstraintSet {
    /// Expands `constraints` over the groups. Needs at least two groups.
    pub fn new(constraints: Vec<FairnessConstraint>, group_names: &[String]) -> Result<Self> {
        if group_names.len() < 2 && !constraints.is_empty() {
            return Err(Error::Data("fairness constraints need at least two groups".into()));
        }
        let rows: Vec<LinearConstraint> = constraints.iter().flat_map(|c| c.expand(group_names)).collect();
        let mut needed: Vec<(usize, Statistic)> = Vec::new();
        let mut row_terms = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut terms = Vec::with_capacity(row.terms.len());
            for t in &row.terms {
                let key = (t.group, t.statistic);
                let k = match needed.iter().position(|&n| n == key) {
                    Some(k) => k,
                    None => {
                        needed.push(key);
                        needed.len() - 1
                    }
                };
                terms.push((k, t.coef));
            }
            row_terms.push(terms);
        }
        Ok(ConstraintSet { names: rows.iter().map(|r| r.name.clone()).collect(), constraints, rows, needed, row_terms })
    }

    /// The user-level constraints.
    pub fn constraints(&self) -> &[FairnessConstraint] {
        &self.constraints
    }

    /// The scalar rows.
    pub fn rows(&self) -> &[LinearConstraint] {
        &self.rows
    }

    /// Names of the scalar rows.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of scalar rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True without constraints.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The (group, statistic) pairs the rows use.
    pub fn needed(&self) -> &[(usize, Statistic)] {
        &self.needed
    }

    /// Row values `c_i = sum coef * S - bound` from the needed statistics'
    /// values (parallel to [`Self::needed`]).
    pub fn values(&self, statistics: &[f32], out: &mut [f32]) {
        for ((terms, row), c) in self.row_terms.iter().zip(&self.rows).zip(out.iter_mut()) {
            *c = terms.iter().map(|&(k, coef)| coef * statistics[k]).sum::<f32>() - row.bound;
        }
    }

    /// The weight of each needed statistic in `sum_i w_i c_i`.
    pub fn statistic_weights(&self, w: &[f32], out: &mut [f32]) {
        out.fill(0.0);
        for (terms, &wi) in self.row_terms.iter().zip(w) {
            if wi != 0.0 {
                for &(k, coef) in terms {
                    out[k] += wi * coef;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Table(Vec<[Option<f64>; 4]>);
    impl GroupStatistics for Table {
        fn n_groups(&self) -> usize {
            self.0.len()
        }
        fn statistic(&self, g: usize, s: Statistic) -> Option<f64> {
            self.0[g][s as usize]
        }
    }

    #[test]
    fn loss_parity_rows_and_values() {
        let names: Vec<String> = vec!["a".into(), "b".into()];
        let set =
            ConstraintSet::new(vec![FairnessConstraint::new(Notion::LossParity, 0.005).unwrap()], &names).unwrap();
        assert_eq!(set.names(), ["loss-parity(a - b)", "loss-parity(b - a)"]);
        assert_eq!(set.needed(), [(0, Statistic::Loss), (1, Statistic::Loss)]);
        let mut c = [0.0; 2];
        set.values(&[0.30, 0.42], &mut c);
        assert!((c[0] - (0.30 - 0.42 - 0.005)).abs() < 1e-7);
        assert!((c[1] - (0.42 - 0.30 - 0.005)).abs() < 1e-7);
        let mut a = [0.0; 2];
        set.statistic_weights(&[2.0, 0.5], &mut a);
        assert_eq!(a, [1.5, -1.5]);
    }

    #[test]
    fn gap_value_over_many_groups_skips_undefined() {
        let c = FairnessConstraint::new(Notion::LossParity, 0.1).unwrap();
        let t = Table(vec![
            [Some(0.3), None, None, None],
            [Some(0.5), None, None, None],
            [None, None, None, None],
            [Some(0.35), None, None, None],
        ]);
        let v = c.value(&t).unwrap();
        assert!((v - 0.2).abs() < 1e-12);
        assert!((c.violation(v) - 0.1).abs() < 1e-12);
        assert_eq!(c.expand(&["a".into(), "b".into(), "c".into(), "d".into()]).len(), 12);
    }

    #[test]
    fn negative_or_nan_bound_is_rejected() {
        let err = FairnessConstraint::new(Notion::LossParity, -0.5).unwrap_err();
        assert_eq!(err.to_string(), "invalid value for bound: -0.5 (a bound must be a non-negative number)");
        assert!(FairnessConstraint::new(Notion::LossParity, f64::NAN).is_err());
    }

    #[test]
    fn smooth_terms_derivatives() {
        let (z, y) = (0.3f32, 1.0);
        let (loss, dloss) = crate::model::loss::bce_with_logits(z, y);
        for s in [Statistic::Loss, Statistic::PositiveRate, Statistic::TruePositiveRate, Statistic::FalsePositiveRate] {
            let h = 1e-3;
            let (lp, dlp) = crate::model::loss::bce_with_logits(z + h, y);
            let (lm, dlm) = crate::model::loss::bce_with_logits(z - h, y);
            let fd = (s.smooth_terms(z + h, y, lp, dlp).0 - s.smooth_terms(z - h, y, lm, dlm).0) / (2.0 * h);
            let (_, d, _) = s.smooth_terms(z, y, loss, dloss);
            assert!((fd - d).abs() < 1e-3, "{s:?}: {fd} vs {d}");
        }
    }
}
