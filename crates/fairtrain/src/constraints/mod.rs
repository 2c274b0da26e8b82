//! Fairness constraints.
//!
//! A group statistic ([`Statistic`]) is a ratio of sums over a group's
//! rows. A user-level [`FairnessConstraint`] (a kind, a bound and a name)
//! expands into scalar [`LinearConstraint`]s: each is a linear combination
//! of group statistics (plus, for the weight-norm constraint, the squared
//! norm of the parameters) and a constant, satisfied when `<= 0`. These
//! `c_i` are what the algorithms see. The same definitions give the exact
//! value on a whole split (from hard predictions) and the smooth and exact
//! estimates on minibatches.
//!
//! ```
//! use fairtrain::constraints::{FairnessConstraint, Notion};
//! let eo = FairnessConstraint::new(Notion::EqualizedOdds, 0.05).unwrap();
//! let rows = eo.expand(&["a".into(), "b".into()], &[[0.5; 3], [0.5; 3]]);
//! // TPR and FPR gaps, both signs: 4 scalar constraints.
//! assert_eq!(rows.len(), 4);
//! assert_eq!(rows[0].name, "equalized-odds:tpr(a - b)");
//! ```

mod factors;
mod statistic;

use serde::{Deserialize, Serialize};

pub use factors::ConstraintFactors;
pub use statistic::{
    DEFAULT_TEMPERATURE, LabelFilter, POSITIVE_RATE_TEMPERATURE, SmoothTerms, Statistic, default_temperature,
};

use crate::data::Dataset;
use crate::error::{Error, Result};

/// Exact per-group statistics of a whole split (see
/// [`crate::evaluation::GroupFrame`]).
pub trait GroupStatistics {
    /// Number of groups.
    fn n_groups(&self) -> usize;
    /// The statistic of group `group`, or `None` when undefined (e.g. a TPR
    /// without positives).
    fn statistic(&self, group: usize, statistic: Statistic) -> Option<f64>;
    /// The statistic over all rows.
    fn overall(&self, statistic: Statistic) -> Option<f64>;
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

/// What a gap compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
    /// Every pair of groups: the largest difference between two groups.
    #[default]
    Pairwise,
    /// Every group against the overall value: the largest deviation.
    Overall,
}

/// The shape of a constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstraintKind {
    /// The largest difference of each statistic between groups (or between
    /// a group and all rows) is at most the bound.
    Gap {
        /// The statistics (equalized odds: TPR and FPR).
        statistics: Vec<Statistic>,
        /// Pairwise or against the overall value.
        comparison: Comparison,
    },
    /// Every group's statistic is at most (or at least) the bound: bounded
    /// group loss, or a rate target such as FPR <= 5%.
    GroupBound {
        /// The statistic.
        statistic: Statistic,
        /// At most or at least.
        sense: Sense,
    },
    /// Every group's statistic lies within ±bound (calibration).
    AbsoluteBound {
        /// The statistic.
        statistic: Statistic,
    },
    /// The smallest ratio of the statistic between two groups is at least
    /// the bound (the 80% rule for positive rates).
    Ratio {
        /// The statistic.
        statistic: Statistic,
    },
    /// The squared L2 norm of the parameters is at most the bound (a
    /// constraint that is not about fairness at all).
    WeightNorm,
}

/// The named fairness notions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Notion {
    /// Mean losses within the bound of each other.
    LossParity,
    /// Positive rates within the bound.
    DemographicParity,
    /// True positive rates within the bound.
    EqualOpportunity,
    /// True and false positive rates within the bound.
    EqualizedOdds,
    /// False positive rates within the bound.
    PredictiveEquality,
    /// Accuracies within the bound.
    AccuracyParity,
    /// Every group's mean loss at most the bound.
    BoundedGroupLoss,
    /// Precisions within the bound.
    PredictiveParity,
    /// Every group's mean predicted probability within ±bound of its
    /// fraction of positives.
    Calibration,
    /// Smallest ratio of positive rates at least the bound (80% rule).
    DisparateImpact,
    /// Squared norm of the parameters at most the bound.
    WeightNorm,
}

impl Notion {
    /// Every notion.
    pub const ALL: [Notion; 11] = [
        Notion::LossParity,
        Notion::DemographicParity,
        Notion::EqualOpportunity,
        Notion::EqualizedOdds,
        Notion::PredictiveEquality,
        Notion::AccuracyParity,
        Notion::BoundedGroupLoss,
        Notion::PredictiveParity,
        Notion::Calibration,
        Notion::DisparateImpact,
        Notion::WeightNorm,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Notion::LossParity => "loss-parity",
            Notion::DemographicParity => "demographic-parity",
            Notion::EqualOpportunity => "equal-opportunity",
            Notion::EqualizedOdds => "equalized-odds",
            Notion::PredictiveEquality => "predictive-equality",
            Notion::AccuracyParity => "accuracy-parity",
            Notion::BoundedGroupLoss => "bounded-group-loss",
            Notion::PredictiveParity => "predictive-parity",
            Notion::Calibration => "calibration",
            Notion::DisparateImpact => "disparate-impact",
            Notion::WeightNorm => "weight-norm",
        }
    }

    /// Every command-line name.
    pub fn names() -> Vec<&'static str> {
        Notion::ALL.iter().map(|n| n.name()).collect()
    }

    /// The default bound: 0.005 for loss parity, 0.05 for rate gaps and
    /// calibration, 0.8 for the ratio; bounded group loss and the weight
    /// norm have no sensible default (their scale is the model's).
    pub fn default_bound(self) -> Option<f64> {
        match self {
            Notion::LossParity => Some(0.005),
            Notion::BoundedGroupLoss | Notion::WeightNorm => None,
            Notion::DisparateImpact => Some(0.8),
            _ => Some(0.05),
        }
    }

    /// The constraint's shape.
    pub fn kind(self) -> ConstraintKind {
        let gap = |statistics: &[Statistic]| ConstraintKind::Gap {
            statistics: statistics.to_vec(),
            comparison: Comparison::Pairwise,
        };
        match self {
            Notion::LossParity => gap(&[Statistic::Loss]),
            Notion::DemographicParity => gap(&[Statistic::PositiveRate]),
            Notion::EqualOpportunity => gap(&[Statistic::Tpr]),
            Notion::EqualizedOdds => gap(&[Statistic::Tpr, Statistic::Fpr]),
            Notion::PredictiveEquality => gap(&[Statistic::Fpr]),
            Notion::AccuracyParity => gap(&[Statistic::Accuracy]),
            Notion::PredictiveParity => gap(&[Statistic::Precision]),
            Notion::BoundedGroupLoss => ConstraintKind::GroupBound { statistic: Statistic::Loss, sense: Sense::AtMost },
            Notion::Calibration => ConstraintKind::AbsoluteBound { statistic: Statistic::Calibration },
            Notion::DisparateImpact => ConstraintKind::Ratio { statistic: Statistic::PositiveRate },
            Notion::WeightNorm => ConstraintKind::WeightNorm,
        }
    }
}

impl std::str::FromStr for Notion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Notion::ALL
            .into_iter()
            .find(|n| n.name() == s)
            .ok_or_else(|| Error::config("constraint", format!("'{s}' (known: {})", Notion::names().join(", "))))
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

/// A scalar constraint `sum_k coef_k * S_k + norm_coef * ||params||^2 + offset <= 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearConstraint {
    /// Name, e.g. `loss-parity(White - Non-White)`.
    pub name: String,
    /// The statistic terms.
    pub terms: Vec<Term>,
    /// Coefficient of the squared parameter norm (0 but for weight norms).
    pub norm_coef: f32,
    /// The constant.
    pub offset: f32,
}

/// A user-level constraint: a kind, a bound and a name.
///
/// ```
/// use fairtrain::constraints::{FairnessConstraint, Notion};
/// let c = FairnessConstraint::new(Notion::LossParity, 0.01).unwrap();
/// let rows = c.expand(&["a".into(), "b".into(), "c".into()], &[[1.0 / 3.0; 3]; 3]);
/// assert_eq!(rows.len(), 6); // both signs for each of the 3 pairs
/// assert_eq!(rows[0].name, "loss-parity(a - b)");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FairnessConstraint {
    /// The name reported (the notion's, or a custom one).
    pub name: String,
    /// The shape.
    pub kind: ConstraintKind,
    /// The bound on the constraint's value.
    pub bound: f64,
}

impl FairnessConstraint {
    /// A named notion with the given bound.
    pub fn new(notion: Notion, bound: f64) -> Result<Self> {
        Self::custom(notion.name(), notion.kind(), bound)
    }

    /// A named notion with its default bound (an error for notions without
    /// one).
    pub fn with_default_bound(notion: Notion) -> Result<Self> {
        let bound = notion.default_bound().ok_or_else(|| {
            Error::config("bound", format!("{} has no default bound; give one (`bound`)", notion.name()))
        })?;
        Self::new(notion, bound)
    }

    /// A constraint of any kind, reported under `name`.
    pub fn custom(name: impl Into<String>, kind: ConstraintKind, bound: f64) -> Result<Self> {
        let name = name.into();
        if !bound.is_finite() {
            return Err(Error::config("bound", format!("{bound} for {name} (a bound must be a finite number)")));
        }
        match &kind {
            ConstraintKind::Ratio { .. } if !(bound > 0.0 && bound <= 1.0) => {
                return Err(Error::config("bound", format!("{bound} for {name} (a ratio bound must be in (0, 1])")));
            }
            ConstraintKind::Gap { statistics, .. } if statistics.is_empty() => {
                return Err(Error::config("statistic", format!("{name} needs at least one statistic")));
            }
            ConstraintKind::Gap { .. } | ConstraintKind::AbsoluteBound { .. } | ConstraintKind::WeightNorm
                if bound < 0.0 =>
            {
                return Err(Error::config(
                    "bound",
                    format!("{bound} for {name} (a bound must be a non-negative number)"),
                ));
            }
            _ => {}
        }
        Ok(FairnessConstraint { name, kind, bound })
    }

    /// The constraint's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the value must stay below or above the bound.
    pub fn sense(&self) -> Sense {
        match self.kind {
            ConstraintKind::Ratio { .. } => Sense::AtLeast,
            ConstraintKind::GroupBound { sense, .. } => sense,
            _ => Sense::AtMost,
        }
    }

    /// The statistics the constraint is about.
    pub fn statistics(&self) -> Vec<Statistic> {
        match &self.kind {
            ConstraintKind::Gap { statistics, .. } => statistics.clone(),
            ConstraintKind::GroupBound { statistic, .. }
            | ConstraintKind::AbsoluteBound { statistic }
            | ConstraintKind::Ratio { statistic } => vec![*statistic],
            ConstraintKind::WeightNorm => Vec::new(),
        }
    }

    /// The scalar constraints over groups `names`. `shares[g][f]` is group
    /// `g`'s share of the rows under label filter `f` (Any, Positive,
    /// Negative), used by gaps against the overall value.
    pub fn expand(&self, names: &[String], shares: &[[f64; 3]]) -> Vec<LinearConstraint> {
        let n = names.len();
        let b = self.bound as f32;
        let row =
            |name: String, terms: Vec<Term>, offset: f32| LinearConstraint { name, terms, norm_coef: 0.0, offset };
        let term = |group, statistic, coef| Term { group, statistic, coef };
        let mut rows = Vec::new();
        match &self.kind {
            ConstraintKind::Gap { statistics, comparison } => {
                for &s in statistics {
                    let label =
                        if statistics.len() > 1 { format!("{}:{}", self.name, s.name()) } else { self.name.clone() };
                    match comparison {
                        Comparison::Pairwise => {
                            for a in 0..n {
                                for c in a + 1..n {
                                    for (x, y) in [(a, c), (c, a)] {
                                        rows.push(row(
                                            format!("{label}({} - {})", names[x], names[y]),
                                            vec![term(x, s, 1.0), term(y, s, -1.0)],
                                            -b,
                                        ));
                                    }
                                }
                            }
                        }
                        Comparison::Overall => {
                            let f = s.label_filter() as usize;
                            for (g, name) in names.iter().enumerate() {
                                // S_g - sum_h share_h S_h, and its negative.
                                let diff: Vec<Term> = (0..n)
                                    .map(|h| {
                                        let share = shares[h][f] as f32;
                                        term(h, s, if h == g { 1.0 - share } else { -share })
                                    })
                                    .collect();
                                let negated = diff.iter().map(|t| Term { coef: -t.coef, ..*t }).collect();
                                rows.push(row(format!("{label}({name} - all)"), diff, -b));
                                rows.push(row(format!("{label}(all - {name})"), negated, -b));
                            }
                        }
                    }
                }
            }
            ConstraintKind::GroupBound { statistic, sense } => {
                for (g, name) in names.iter().enumerate() {
                    let (coef, offset) = match sense {
                        Sense::AtMost => (1.0, -b),
                        Sense::AtLeast => (-1.0, b),
                    };
                    rows.push(row(format!("{}({name})", self.name), vec![term(g, *statistic, coef)], offset));
                }
            }
            ConstraintKind::AbsoluteBound { statistic } => {
                for (g, name) in names.iter().enumerate() {
                    rows.push(row(format!("{}(+{name})", self.name), vec![term(g, *statistic, 1.0)], -b));
                    rows.push(row(format!("{}(-{name})", self.name), vec![term(g, *statistic, -1.0)], -b));
                }
            }
            ConstraintKind::Ratio { statistic } => {
                // S_a / S_c >= r  <=>  r S_c - S_a <= 0 (statistics are non-negative).
                for a in 0..n {
                    for c in 0..n {
                        if a != c {
                            rows.push(row(
                                format!("{}({} / {})", self.name, names[a], names[c]),
                                vec![term(c, *statistic, b), term(a, *statistic, -1.0)],
                                0.0,
                            ));
                        }
                    }
                }
            }
            ConstraintKind::WeightNorm => {
                rows.push(LinearConstraint { name: self.name.clone(), terms: Vec::new(), norm_coef: 1.0, offset: -b });
            }
        }
        rows
    }

    /// The constraint's value on exact statistics (and the parameters, for
    /// the weight norm): the largest gap, the largest (or smallest) group
    /// value, the smallest ratio, or the squared norm. Groups where a
    /// statistic is undefined are left out; `None` when nothing is defined.
    pub fn value(&self, stats: &dyn GroupStatistics, params: &[f32]) -> Option<f64> {
        let values =
            |s: Statistic| -> Vec<f64> { (0..stats.n_groups()).filter_map(|g| stats.statistic(g, s)).collect() };
        let max = |v: &[f64]| v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let min = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
        match &self.kind {
            ConstraintKind::Gap { statistics, comparison } => {
                let mut worst: Option<f64> = None;
                for &s in statistics {
                    let v = values(s);
                    let gap = match comparison {
                        Comparison::Pairwise if v.len() >= 2 => Some(max(&v) - min(&v)),
                        Comparison::Overall if !v.is_empty() => {
                            stats.overall(s).map(|all| v.iter().map(|x| (x - all).abs()).fold(0.0, f64::max))
                        }
                        _ => None,
                    };
                    worst = match (worst, gap) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                }
                worst
            }
            ConstraintKind::GroupBound { statistic, sense } => {
                let v = values(*statistic);
                (!v.is_empty()).then(|| match sense {
                    Sense::AtMost => max(&v),
                    Sense::AtLeast => min(&v),
                })
            }
            ConstraintKind::AbsoluteBound { statistic } => {
                let v = values(*statistic);
                (!v.is_empty()).then(|| v.iter().map(|x| x.abs()).fold(0.0, f64::max))
            }
            ConstraintKind::Ratio { statistic } => {
                let v = values(*statistic);
                let hi = max(&v);
                (v.len() >= 2 && hi > 0.0).then(|| min(&v) / hi)
            }
            ConstraintKind::WeightNorm => Some(params.iter().map(|&p| (p as f64) * (p as f64)).sum()),
        }
    }

    /// How far `value` is beyond the bound (negative when satisfied).
    pub fn violation(&self, value: f64) -> f64 {
        match self.sense() {
            Sense::AtMost => value - self.bound,
            Sense::AtLeast => self.bound - value,
        }
    }
}

/// The constraints of a problem, expanded into scalar rows, with the
/// (group, statistic) pairs their terms need.
#[derive(Debug, Clone)]
pub struct ConstraintSet {
    constraints: Vec<FairnessConstraint>,
    rows: Vec<LinearConstraint>,
    names: Vec<String>,
    needed: Vec<(usize, Statistic)>,
    /// The rows' terms as (index into `needed`, coefficient), then the
    /// squared parameter norm (index `needed.len()`) where a row uses it.
    factors: ConstraintFactors,
}

/// Each group's share of the rows, of the positives and of the negatives.
pub fn group_shares(data: &Dataset) -> Vec<[f64; 3]> {
    let g = data.n_groups();
    let mut counts = vec![[0.0f64; 3]; g];
    for (&group, &y) in data.groups().iter().zip(data.labels()) {
        let c = &mut counts[group as usize];
        c[LabelFilter::Any as usize] += 1.0;
        c[if y > 0.5 { LabelFilter::Positive } else { LabelFilter::Negative } as usize] += 1.0;
    }
    let totals: Vec<f64> = (0..3).map(|f| counts.iter().map(|c| c[f]).sum()).collect();
    counts.iter().map(|c| [0, 1, 2].map(|f| if totals[f] > 0.0 { c[f] / totals[f] } else { 0.0 })).collect()
}

impl ConstraintSet {
    /// Expands `constraints` over the groups of `data` (the training rows).
    /// Needs at least two groups for group constraints.
    pub fn new(constraints: Vec<FairnessConstraint>, data: &Dataset) -> Result<Self> {
        Self::with_groups(constraints, data.group_names(), &group_shares(data))
    }

    /// As [`ConstraintSet::new`], from group names and shares (see
    /// [`FairnessConstraint::expand`]).
    pub fn with_groups(constraints: Vec<FairnessConstraint>, names: &[String], shares: &[[f64; 3]]) -> Result<Self> {
        if names.len() < 2 && constraints.iter().any(|c| c.kind != ConstraintKind::WeightNorm) {
            return Err(Error::config(
                "constraint",
                "fairness constraints need at least two groups: name a sensitive column (`group`), or train \
                 without constraints",
            ));
        }
        let mut seen = Vec::new();
        for c in &constraints {
            if seen.contains(&c.name) {
                return Err(Error::config("constraint", format!("{} is given twice", c.name)));
            }
            seen.push(c.name.clone());
        }
        let rows: Vec<LinearConstraint> = constraints.iter().flat_map(|c| c.expand(names, shares)).collect();
        let mut needed: Vec<(usize, Statistic)> = Vec::new();
        let mut factor_rows = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut terms = Vec::with_capacity(row.terms.len() + 1);
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
            factor_rows.push(terms);
        }
        // The squared norm is one more statistic, after the needed ones.
        let norm = needed.len();
        for (terms, row) in factor_rows.iter_mut().zip(&rows) {
            if row.norm_coef != 0.0 {
                terms.push((norm, row.norm_coef));
            }
        }
        let uses_norm = rows.iter().any(|r| r.norm_coef != 0.0);
        let factors = ConstraintFactors::from_rows(norm + uses_norm as usize, &factor_rows);
        Ok(ConstraintSet { names: rows.iter().map(|r| r.name.clone()).collect(), constraints, rows, needed, factors })
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

    /// The rows as a sparse matrix over the needed statistics (in the order
    /// of [`Self::needed`]) and, where a row uses it, the squared parameter
    /// norm as one more statistic (the last).
    pub fn factors(&self) -> &ConstraintFactors {
        &self.factors
    }

    /// True when a row involves the parameter norm.
    pub fn uses_norm(&self) -> bool {
        self.rows.iter().any(|r| r.norm_coef != 0.0)
    }

    /// Row values `c_i` from the needed statistics' values (parallel to
    /// [`Self::needed`]) and the squared parameter norm.
    pub fn values(&self, statistics: &[f32], norm2: f32, out: &mut [f32]) {
        let norm = self.needed.len();
        for (i, (row, c)) in self.rows.iter().zip(out.iter_mut()).enumerate() {
            let value = |k: usize| if k == norm { norm2 } else { statistics[k] };
            *c = self.factors.row(i).iter().map(|&(k, coef)| coef * value(k)).sum::<f32>() + row.offset;
        }
    }

    /// The weight of each needed statistic in `sum_i w_i c_i`; returns the
    /// weight of the squared parameter norm.
    pub fn statistic_weights(&self, w: &[f32], out: &mut [f32]) -> f32 {
        out.fill(0.0);
        let norm = self.needed.len();
        let mut norm_weight = 0.0;
        for (i, &wi) in w.iter().enumerate().take(self.rows.len()) {
            if wi != 0.0 {
                for &(k, coef) in self.factors.row(i) {
                    if k == norm {
                        norm_weight += wi * coef;
                    } else {
                        out[k] += wi * coef;
                    }
                }
            }
        }
        norm_weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact statistics given as a table: `stats[g][s]`, plus overall values.
    struct Table(Vec<Vec<Option<f64>>>, Vec<Option<f64>>);
    impl GroupStatistics for Table {
        fn n_groups(&self) -> usize {
            self.0.len()
        }
        fn statistic(&self, g: usize, s: Statistic) -> Option<f64> {
            self.0[g][s as usize]
        }
        fn overall(&self, s: Statistic) -> Option<f64> {
            self.1[s as usize]
        }
    }

    fn table(per_group: &[(Statistic, &[Option<f64>])], overall: &[(Statistic, f64)]) -> Table {
        let n = per_group[0].1.len();
        let mut t = vec![vec![None; 9]; n];
        for (s, values) in per_group {
            for (g, v) in values.iter().enumerate() {
                t[g][*s as usize] = *v;
            }
        }
        let mut o = vec![None; 9];
        for (s, v) in overall {
            o[*s as usize] = Some(*v);
        }
        Table(t, o)
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| ["a", "b", "c", "d"][i].to_string()).collect()
    }

    #[test]
    fn loss_parity_rows_and_values() {
        let set = ConstraintSet::with_groups(
            vec![FairnessConstraint::new(Notion::LossParity, 0.005).unwrap()],
            &names(2),
            &[[0.5; 3]; 2],
        )
        .unwrap();
        assert_eq!(set.names(), ["loss-parity(a - b)", "loss-parity(b - a)"]);
        assert_eq!(set.needed(), [(0, Statistic::Loss), (1, Statistic::Loss)]);
        let mut c = [0.0; 2];
        set.values(&[0.30, 0.42], 0.0, &mut c);
        assert!((c[0] - (0.30 - 0.42 - 0.005)).abs() < 1e-7);
        assert!((c[1] - (0.42 - 0.30 - 0.005)).abs() < 1e-7);
        let mut a = [0.0; 2];
        assert_eq!(set.statistic_weights(&[2.0, 0.5], &mut a), 0.0);
        assert_eq!(a, [1.5, -1.5]);
        // Two rows over the two groups' losses.
        let t = set.factors();
        assert_eq!((t.rows(), t.statistics()), (2, 2));
        assert_eq!((t.row(0), t.row(1)), (&[(0, 1.0), (1, -1.0)][..], &[(1, 1.0), (0, -1.0)][..]));
    }

    #[test]
    fn values_by_hand_for_every_kind() {
        let t = table(
            &[
                (Statistic::Loss, &[Some(0.3), Some(0.5), None, Some(0.35)]),
                (Statistic::Tpr, &[Some(0.8), Some(0.6), Some(0.7), None]),
                (Statistic::Fpr, &[Some(0.1), Some(0.25), Some(0.2), Some(0.15)]),
                (Statistic::PositiveRate, &[Some(0.4), Some(0.2), Some(0.3), Some(0.36)]),
                (Statistic::Calibration, &[Some(0.02), Some(-0.07), Some(0.01), Some(0.0)]),
            ],
            &[(Statistic::PositiveRate, 0.33)],
        );
        let v = |n: Notion, b: f64| FairnessConstraint::new(n, b).unwrap().value(&t, &[]).unwrap();
        assert!((v(Notion::LossParity, 0.1) - 0.2).abs() < 1e-12);
        // Equalized odds: max(TPR gap 0.2, FPR gap 0.15).
        assert!((v(Notion::EqualizedOdds, 0.05) - 0.2).abs() < 1e-12);
        assert!((v(Notion::PredictiveEquality, 0.05) - 0.15).abs() < 1e-12);
        assert!((v(Notion::BoundedGroupLoss, 0.4) - 0.5).abs() < 1e-12);
        assert!((v(Notion::Calibration, 0.05) - 0.07).abs() < 1e-12);
        assert!((v(Notion::DisparateImpact, 0.8) - 0.5).abs() < 1e-12);
        let overall = FairnessConstraint::custom(
            "dp-overall",
            ConstraintKind::Gap { statistics: vec![Statistic::PositiveRate], comparison: Comparison::Overall },
            0.05,
        )
        .unwrap();
        assert!((overall.value(&t, &[]).unwrap() - 0.13).abs() < 1e-12);
        let norm = FairnessConstraint::new(Notion::WeightNorm, 10.0).unwrap();
        assert_eq!(norm.value(&t, &[1.0, -2.0, 2.0]), Some(9.0));
        let di = FairnessConstraint::new(Notion::DisparateImpact, 0.8).unwrap();
        assert_eq!(di.sense(), Sense::AtLeast);
        assert!((di.violation(0.5) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn rows_evaluate_to_the_definitions() {
        // Statistic values for 3 groups; rows must give c = value - bound
        // for the worst row of each constraint.
        let shares = [[0.5, 0.6, 0.45], [0.3, 0.25, 0.32], [0.2, 0.15, 0.23]];
        let check = |c: FairnessConstraint, stat_values: &[(usize, Statistic, f32)], expected_max: f32| {
            let set = ConstraintSet::with_groups(vec![c], &names(3), &shares).unwrap();
            let vals: Vec<f32> = set
                .needed()
                .iter()
                .map(|&(g, s)| stat_values.iter().find(|&&(h, t, _)| h == g && t == s).unwrap().2)
                .collect();
            let mut out = vec![0.0; set.len()];
            set.values(&vals, 0.0, &mut out);
            let worst = out.iter().cloned().fold(f32::MIN, f32::max);
            assert!((worst - expected_max).abs() < 1e-6, "{:?}: {worst} vs {expected_max}", set.names());
        };
        let pr =
            [(0, Statistic::PositiveRate, 0.4), (1, Statistic::PositiveRate, 0.2), (2, Statistic::PositiveRate, 0.3)];
        check(FairnessConstraint::new(Notion::DemographicParity, 0.05).unwrap(), &pr, 0.2 - 0.05);
        // Against the overall rate 0.5*0.4 + 0.3*0.2 + 0.2*0.3 = 0.32.
        let overall = FairnessConstraint::custom(
            "dp",
            ConstraintKind::Gap { statistics: vec![Statistic::PositiveRate], comparison: Comparison::Overall },
            0.05,
        )
        .unwrap();
        check(overall, &pr, 0.12 - 0.05);
        // Ratio 0.8: worst row is 0.8 * 0.4 - 0.2 = 0.12.
        check(FairnessConstraint::new(Notion::DisparateImpact, 0.8).unwrap(), &pr, 0.12);
        // TPR gap uses the positives' shares for "overall": not needed here.
        let loss = [(0, Statistic::Loss, 0.41), (1, Statistic::Loss, 0.52), (2, Statistic::Loss, 0.47)];
        check(FairnessConstraint::new(Notion::BoundedGroupLoss, 0.5).unwrap(), &loss, 0.02);
        let cal =
            [(0, Statistic::Calibration, 0.01), (1, Statistic::Calibration, -0.09), (2, Statistic::Calibration, 0.03)];
        check(FairnessConstraint::new(Notion::Calibration, 0.05).unwrap(), &cal, 0.04);
    }

    #[test]
    fn weight_norm_row() {
        let set = ConstraintSet::with_groups(
            vec![FairnessConstraint::new(Notion::WeightNorm, 4.0).unwrap()],
            &names(1),
            &[[1.0; 3]],
        )
        .unwrap();
        assert!(set.uses_norm());
        let mut c = [0.0];
        set.values(&[], 6.5, &mut c);
        assert_eq!(c[0], 2.5);
        assert_eq!(set.statistic_weights(&[3.0], &mut []), 3.0);
        // The squared norm is the one statistic.
        assert_eq!(set.factors().statistics(), 1);
        assert_eq!(set.factors().row(0), &[(0, 1.0)]);
    }

    #[test]
    fn bad_bounds_and_names_are_rejected() {
        let err = FairnessConstraint::new(Notion::LossParity, -0.5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for bound: -0.5 for loss-parity (a bound must be a non-negative number)"
        );
        assert!(FairnessConstraint::new(Notion::LossParity, f64::NAN).is_err());
        assert!(FairnessConstraint::new(Notion::DisparateImpact, 1.5).is_err());
        let err = FairnessConstraint::with_default_bound(Notion::BoundedGroupLoss).unwrap_err();
        assert!(err.to_string().contains("bounded-group-loss has no default bound"));
        assert!("equal-odds".parse::<Notion>().is_err());
        for n in Notion::ALL {
            assert_eq!(n.name().parse::<Notion>().unwrap(), n);
        }
        let twice = vec![FairnessConstraint::new(Notion::LossParity, 0.1).unwrap(); 2];
        assert!(ConstraintSet::with_groups(twice, &names(2), &[[0.5; 3]; 2]).is_err());
    }

    #[test]
    fn expansion_sizes() {
        let shares = [[0.25; 3]; 4];
        let rows = |n: Notion| FairnessConstraint::new(n, 0.8).unwrap().expand(&names(4), &shares).len();
        assert_eq!(rows(Notion::LossParity), 12);
        assert_eq!(rows(Notion::EqualizedOdds), 24);
        assert_eq!(rows(Notion::BoundedGroupLoss), 4);
        assert_eq!(rows(Notion::Calibration), 8);
        assert_eq!(rows(Notion::DisparateImpact), 12);
        assert_eq!(rows(Notion::WeightNorm), 1);
    }
}
