//! Evaluation on whole splits. Per-group counts are computed once (a
//! [`GroupFrame`], after fairlearn's MetricFrame); every per-group metric,
//! gap and constraint value is derived from them. Predictions are hard:
//! positive when the logit is above 0 (probability above 0.5).

pub mod certificate;
pub mod coarse_rate;
pub mod degenerate;
pub mod outcome;
pub mod resample;
pub mod stats;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::constraints::{FairnessConstraint, GroupStatistics, Sense, Statistic};
use crate::data::Dataset;
use crate::model::{Mlp, TabularModel};

/// Sums over the rows of one group (or of all rows).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupCounts {
    /// Rows (the sum of their weights when the data has sample weights;
    /// every sum below is weighted the same way).
    pub n: f64,
    /// Rows, unweighted.
    pub rows: u64,
    /// Sum of BCE losses.
    pub loss_sum: f64,
    /// Correct predictions.
    pub correct: f64,
    /// Rows predicted positive.
    pub predicted_positive: f64,
    /// Rows labelled positive.
    pub positives: f64,
    /// Positive rows predicted positive.
    pub true_positives: f64,
    /// Negative rows predicted positive.
    pub false_positives: f64,
    /// Sum of predicted probabilities.
    pub probability_sum: f64,
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

impl GroupCounts {
    /// Adds one row with logit `z` and label `y` (0 or 1).
    #[inline]
    pub fn add(&mut self, z: f32, y: f32) {
        self.add_weighted(z, y, 1.0);
    }

    /// Adds one row with sample weight `w`.
    #[inline]
    pub fn add_weighted(&mut self, z: f32, y: f32, w: f64) {
        self.add_outcome(&certificate::RowOutcome::from_logit(z, y, w));
    }

    /// Mean loss.
    pub fn loss(&self) -> Option<f64> {
        ratio(self.loss_sum, self.n)
    }
    /// Accuracy.
    pub fn accuracy(&self) -> Option<f64> {
        ratio(self.correct, self.n)
    }
    /// Fraction predicted positive.
    pub fn positive_rate(&self) -> Option<f64> {
        ratio(self.predicted_positive, self.n)
    }
    /// True positive rate (undefined without positives).
    pub fn tpr(&self) -> Option<f64> {
        ratio(self.true_positives, self.positives)
    }
    /// False positive rate (undefined without negatives).
    pub fn fpr(&self) -> Option<f64> {
        ratio(self.false_positives, self.n - self.positives)
    }

    /// False negative rate (undefined without positives).
    pub fn fnr(&self) -> Option<f64> {
        ratio(self.positives - self.true_positives, self.positives)
    }
    /// Precision (undefined without predicted positives).
    pub fn precision(&self) -> Option<f64> {
        ratio(self.true_positives, self.predicted_positive)
    }
    /// Mean predicted probability minus the fraction of positives.
    pub fn calibration(&self) -> Option<f64> {
        ratio(self.probability_sum - self.positives, self.n)
    }

    /// The value of `statistic`.
    pub fn statistic(&self, statistic: Statistic) -> Option<f64> {
        match statistic {
            Statistic::Loss => self.loss(),
            Statistic::PositiveRate => self.positive_rate(),
            Statistic::Tpr => self.tpr(),
            Statistic::Fpr => self.fpr(),
            Statistic::Fnr => self.fnr(),
            Statistic::Accuracy => self.accuracy(),
            Statistic::ErrorRate => self.accuracy().map(|a| 1.0 - a),
            Statistic::Precision => self.precision(),
            Statistic::Calibration => self.calibration(),
        }
    }
}

/// Per-group counts of one split.
///
/// ```
/// use fairtrain::evaluation::GroupFrame;
/// // Logits, labels and groups of four rows in two groups.
/// let frame = GroupFrame::from_parts(
///     &["a".into(), "b".into()],
///     &[2.0, -1.0, 0.5, 3.0],
///     &[1.0, 0.0, 0.0, 1.0],
///     &[0, 0, 1, 1],
/// );
/// assert_eq!(frame.group(0).positive_rate(), Some(0.5));
/// assert_eq!(frame.group(1).positive_rate(), Some(1.0));
/// assert_eq!(frame.dp_gap(), Some(0.5));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFrame {
    names: Vec<String>,
    groups: Vec<GroupCounts>,
    overall: GroupCounts,
}

impl GroupFrame {
    /// Counts from per-row logits, labels and group indices.
    pub fn from_parts(names: &[String], logits: &[f32], labels: &[f32], groups: &[u32]) -> Self {
        Self::from_weighted_parts(names, logits, labels, groups, None)
    }

    /// Counts with per-row sample weights (`None`: every row weighs 1).
    pub fn from_weighted_parts(
        names: &[String],
        logits: &[f32],
        labels: &[f32],
        groups: &[u32],
        weights: Option<&[f32]>,
    ) -> Self {
        let mut counts = vec![GroupCounts::default(); names.len()];
        let mut overall = GroupCounts::default();
        for (i, ((&z, &y), &g)) in logits.iter().zip(labels).zip(groups).enumerate() {
            let w = weights.map_or(1.0, |w| w[i] as f64);
            counts[g as usize].add_weighted(z, y, w);
            overall.add_weighted(z, y, w);
        }
        GroupFrame { names: names.to_vec(), groups: counts, overall }
    }

    /// Counts from per-row outcomes.
    pub fn from_outcomes(names: &[String], outcomes: &[certificate::RowOutcome], groups: &[u32]) -> Self {
        let mut counts = vec![GroupCounts::default(); names.len()];
        let mut overall = GroupCounts::default();
        for (o, &g) in outcomes.iter().zip(groups) {
            counts[g as usize].add_outcome(o);
            overall.add_outcome(o);
        }
        GroupFrame { names: names.to_vec(), groups: counts, overall }
    }

    /// Counts of a model's predictions on `data` (weighted when it has
    /// sample weights).
    pub fn from_model(model: &Mlp, params: &[f32], data: &Dataset, threads: usize) -> Self {
        Self::from_logits(data, &model.logits(params, data, threads))
    }

    /// Counts of `data` scored with `logits` (weighted when it has sample weights).
    pub fn from_logits(data: &Dataset, logits: &[f32]) -> Self {
        Self::from_weighted_parts(data.group_names(), logits, data.labels(), data.groups(), data.weights())
    }

    /// Counts of `data` scored with `logits`, with each group's mean loss
    /// under `model`'s own loss ([`TabularModel::losses`]; a model with a
    /// loss of its own, such as the burn backend's `RowLoss`, reports that
    /// one, where [`GroupFrame::from_logits`] counts cross-entropy).
    ///
    /// ```
    /// use fairtrain::data::{DataSource, LoadOptions, load};
    /// use fairtrain::evaluation::GroupFrame;
    /// use fairtrain::model::Mlp;
    /// let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.test;
    /// let mlp = Mlp::new(data.n_inputs(), &[4]).unwrap();
    /// let logits = mlp.logits(&mlp.init_params(0), &data, 1);
    /// let frame = GroupFrame::from_model_losses(&mlp, &data, &logits);
    /// let plain = GroupFrame::from_logits(&data, &logits);
    /// assert!((frame.group(0).loss().unwrap() - plain.group(0).loss().unwrap()).abs() < 1e-6);
    /// ```
    pub fn from_model_losses<M: TabularModel>(model: &M, data: &Dataset, logits: &[f32]) -> Self {
        let (mut losses, mut derivatives) = (vec![0.0; logits.len()], vec![0.0; logits.len()]);
        for ((z, y), (l, d)) in logits
            .chunks(1_024)
            .zip(data.labels().chunks(1_024))
            .zip(losses.chunks_mut(1_024).zip(derivatives.chunks_mut(1_024)))
        {
            model.losses(z, y, l, d);
        }
        let outcomes: Vec<certificate::RowOutcome> = logits
            .iter()
            .zip(data.labels())
            .zip(&losses)
            .enumerate()
            .map(|(i, ((&z, &y), &loss))| certificate::RowOutcome {
                loss: loss as f64,
                ..certificate::RowOutcome::from_logit(z, y, data.weight(i) as f64)
            })
            .collect();
        Self::from_outcomes(data.group_names(), &outcomes, data.groups())
    }

    /// Group names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Counts of group `g`.
    pub fn group(&self, g: usize) -> &GroupCounts {
        &self.groups[g]
    }

    /// Counts over all rows.
    pub fn overall(&self) -> &GroupCounts {
        &self.overall
    }

    /// Largest minus smallest value of `metric` over the groups where it is
    /// defined (`None` if fewer than two are).
    pub fn gap(&self, metric: impl Fn(&GroupCounts) -> Option<f64>) -> Option<f64> {
        let values: Vec<f64> = self.groups.iter().filter_map(&metric).collect();
        if values.len() < 2 {
            return None;
        }
        let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
        Some(max - min)
    }

    /// Demographic parity gap: largest difference of positive rates.
    pub fn dp_gap(&self) -> Option<f64> {
        self.gap(GroupCounts::positive_rate)
    }

    /// Equal opportunity gap: largest difference of TPRs.
    pub fn eopp_gap(&self) -> Option<f64> {
        self.gap(GroupCounts::tpr)
    }

    /// Equalized odds gap: the larger of the TPR and FPR gaps.
    pub fn eo_gap(&self) -> Option<f64> {
        larger(self.eopp_gap(), self.gap(GroupCounts::fpr))
    }

    /// Largest deviation of a group's `metric` from its value over all
    /// rows (`None` when the overall value or every group's is undefined).
    /// FairBatch reports its disparities this way; for two groups it is
    /// the gap times the other group's share of the metric's rows.
    pub fn deviation(&self, metric: impl Fn(&GroupCounts) -> Option<f64>) -> Option<f64> {
        let overall = metric(&self.overall)?;
        self.groups.iter().filter_map(&metric).map(|v| (v - overall).abs()).reduce(f64::max)
    }

    /// `max_z |P(yhat=1 | z) - P(yhat=1)|`.
    pub fn dp_deviation(&self) -> Option<f64> {
        self.deviation(GroupCounts::positive_rate)
    }

    /// `max_z |TPR_z - TPR|`.
    pub fn eopp_deviation(&self) -> Option<f64> {
        self.deviation(GroupCounts::tpr)
    }

    /// The larger of the TPR and FPR deviations.
    pub fn eo_deviation(&self) -> Option<f64> {
        larger(self.eopp_deviation(), self.deviation(GroupCounts::fpr))
    }
}

/// The larger of two values where both are defined, else the defined one.
fn larger(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl GroupStatistics for GroupFrame {
    fn n_groups(&self) -> usize {
        self.groups.len()
    }
    fn statistic(&self, group: usize, statistic: Statistic) -> Option<f64> {
        self.groups[group].statistic(statistic)
    }
    fn overall(&self, statistic: Statistic) -> Option<f64> {
        self.overall.statistic(statistic)
    }
}

/// Per-group metrics, as written to `metrics.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupReport {
    /// Rows.
    pub n: u64,
    /// Mean BCE loss.
    pub loss: Option<f64>,
    /// Accuracy.
    pub accuracy: Option<f64>,
    /// Fraction predicted positive.
    pub positive_rate: Option<f64>,
    /// True positive rate.
    pub tpr: Option<f64>,
    /// False positive rate.
    pub fpr: Option<f64>,
    /// Precision (fraction of predicted positives that are positive).
    pub precision: Option<f64>,
}

impl From<&GroupCounts> for GroupReport {
    fn from(c: &GroupCounts) -> Self {
        GroupReport {
            n: c.rows,
            loss: c.loss(),
            accuracy: c.accuracy(),
            positive_rate: c.positive_rate(),
            tpr: c.tpr(),
            fpr: c.fpr(),
            precision: c.precision(),
        }
    }
}

/// A constraint evaluated on a split.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConstraintReport {
    /// The notion's name.
    pub name: String,
    /// The constraint's value (e.g. the largest loss gap).
    pub value: Option<f64>,
    /// The bound.
    pub bound: f64,
    /// `<=` or `>=`.
    pub sense: Sense,
    /// Whether the value is within the bound.
    pub satisfied: bool,
    /// The bound training used (tighter by the generalization margin), when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_bound: Option<f64>,
    /// Half-width of the two-sided 95% confidence interval of the value
    /// (held-out splits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_half_width: Option<f64>,
}

/// Groups in order, serialized as a JSON object keyed by group name.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMap(pub Vec<(String, GroupReport)>);

impl Serialize for GroupMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for GroupMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ordered_map(d).map(GroupMap)
    }
}

/// A map read in the order it was written.
pub fn ordered_map<'de, D: serde::Deserializer<'de>, V: serde::Deserialize<'de>>(
    d: D,
) -> Result<Vec<(String, V)>, D::Error> {
    struct Ordered<V>(std::marker::PhantomData<V>);
    impl<'de, V: serde::Deserialize<'de>> serde::de::Visitor<'de> for Ordered<V> {
        type Value = Vec<(String, V)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Ordered(std::marker::PhantomData))
}

/// Everything `metrics.json` reports about one split.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitReport {
    /// Mean BCE over the split.
    pub objective: Option<f64>,
    /// Accuracy over the split.
    pub accuracy: Option<f64>,
    /// Per-group metrics.
    pub groups: GroupMap,
    /// Demographic parity gap.
    pub dp_gap: Option<f64>,
    /// Equal opportunity gap.
    pub eopp_gap: Option<f64>,
    /// Equalized odds gap.
    pub eo_gap: Option<f64>,
    /// Largest deviation of a group's positive rate from the overall rate
    /// (FairBatch's `DP_diff`).
    pub dp_deviation: Option<f64>,
    /// Largest deviation of a group's TPR from the overall TPR (`EO_Y1_diff`).
    pub eopp_deviation: Option<f64>,
    /// The larger TPR or FPR deviation (`EqOdds_diff`).
    pub eo_deviation: Option<f64>,
    /// The constraints' values.
    pub constraints: Vec<ConstraintReport>,
    /// Largest violation over the constraints (negative when all hold).
    pub max_violation: Option<f64>,
}

impl SplitReport {
    /// The report of `frame` for `constraints` (`params`: the model's
    /// parameters, for constraints on them).
    pub fn new(frame: &GroupFrame, constraints: &[FairnessConstraint], params: &[f32]) -> Self {
        let reports: Vec<ConstraintReport> = constraints
            .iter()
            .map(|c| {
                let value = c.value(frame, params);
                ConstraintReport {
                    name: c.name().to_string(),
                    value,
                    bound: c.bound,
                    sense: c.sense(),
                    satisfied: value.is_some_and(|v| c.violation(v) <= 0.0),
                    train_bound: None,
                    ci_half_width: None,
                }
            })
            .collect();
        let max_violation =
            constraints.iter().zip(&reports).filter_map(|(c, r)| r.value.map(|v| c.violation(v))).reduce(f64::max);
        SplitReport {
            objective: frame.overall().loss(),
            accuracy: frame.overall().accuracy(),
            groups: GroupMap(
                frame
                    .names()
                    .iter()
                    .enumerate()
                    .map(|(g, name)| (name.clone(), GroupReport::from(frame.group(g))))
                    .collect(),
            ),
            dp_gap: frame.dp_gap(),
            eopp_gap: frame.eopp_gap(),
            eo_gap: frame.eo_gap(),
            dp_deviation: frame.dp_deviation(),
            eopp_deviation: frame.eopp_deviation(),
            eo_deviation: frame.eo_deviation(),
            constraints: reports,
            max_violation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_weights_equal_repeated_rows() {
        let names = ["a".to_string(), "b".to_string()];
        // Weight 3 on a row counts as three copies of it.
        let weighted = GroupFrame::from_weighted_parts(
            &names,
            &[1.0, -1.0, 0.5, -2.0],
            &[1.0, 1.0, 0.0, 1.0],
            &[0, 0, 1, 1],
            Some(&[3.0, 1.0, 1.0, 2.0]),
        );
        let repeated = GroupFrame::from_parts(
            &names,
            &[1.0, 1.0, 1.0, -1.0, 0.5, -2.0, -2.0],
            &[1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0],
            &[0, 0, 0, 0, 1, 1, 1],
        );
        for g in 0..2 {
            let (w, r) = (weighted.group(g), repeated.group(g));
            assert_eq!(w.positive_rate(), r.positive_rate());
            assert_eq!(w.tpr(), r.tpr());
            assert!((w.loss().unwrap() - r.loss().unwrap()).abs() < 1e-12);
        }
        assert_eq!(weighted.group(0).positive_rate(), Some(0.75));
        assert_eq!(weighted.group(0).rows, 2);
        assert_eq!(weighted.dp_gap(), repeated.dp_gap());
    }
    use crate::constraints::{Notion, Statistic};

    /// Eight rows by hand: group a has logits (2, -1, 0.5, -3) with labels
    /// (1, 1, 0, 0); group b has (1, 1, -2, 4) with labels (1, 0, 0, 1).
    fn frame() -> GroupFrame {
        GroupFrame::from_parts(
            &["a".into(), "b".into()],
            &[2.0, -1.0, 0.5, -3.0, 1.0, 1.0, -2.0, 4.0],
            &[1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0],
            &[0, 0, 0, 0, 1, 1, 1, 1],
        )
    }

    fn bce(z: f64, y: f64) -> f64 {
        let p = 1.0 / (1.0 + (-z).exp());
        -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
    }

    #[test]
    fn metrics_by_hand() {
        let f = frame();
        let a = f.group(0);
        // Predictions a: 1, 0, 1, 0 -> correct: yes, no, no, yes.
        assert_eq!(a.accuracy(), Some(0.5));
        assert_eq!(a.positive_rate(), Some(0.5));
        assert_eq!(a.tpr(), Some(0.5));
        assert_eq!(a.fpr(), Some(0.5));
        let b = f.group(1);
        // Predictions b: 1, 1, 0, 1 -> correct: yes, no, yes, yes.
        assert_eq!(b.accuracy(), Some(0.75));
        assert_eq!(b.positive_rate(), Some(0.75));
        assert_eq!(b.tpr(), Some(1.0));
        assert_eq!(b.fpr(), Some(0.5));
        let la = (bce(2.0, 1.0) + bce(-1.0, 1.0) + bce(0.5, 0.0) + bce(-3.0, 0.0)) / 4.0;
        let lb = (bce(1.0, 1.0) + bce(1.0, 0.0) + bce(-2.0, 0.0) + bce(4.0, 1.0)) / 4.0;
        assert!((a.loss().unwrap() - la).abs() < 1e-6);
        assert!((b.loss().unwrap() - lb).abs() < 1e-6);
        assert_eq!(f.dp_gap(), Some(0.25));
        assert_eq!(f.eopp_gap(), Some(0.5));
        // Overall: 5 of 8 predicted positive, TPR 3/4, FPR 2/4.
        assert_eq!(f.dp_deviation(), Some(0.125));
        assert_eq!(f.eopp_deviation(), Some(0.25));
        assert_eq!(f.deviation(GroupCounts::fpr), Some(0.0));
        assert_eq!(f.eo_deviation(), Some(0.25));
        assert_eq!(f.eo_gap(), Some(0.5));
        assert_eq!(f.overall().accuracy(), Some(0.625));
        // a: TP 1 of 2 positives, predicted positive 2 (one TP): precision 0.5.
        assert_eq!(a.fnr(), Some(0.5));
        assert_eq!(a.precision(), Some(0.5));
        assert_eq!(b.precision(), Some(2.0 / 3.0));
        let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
        let cal_b = (sig(1.0) + sig(1.0) + sig(-2.0) + sig(4.0) - 2.0) / 4.0;
        assert!((b.calibration().unwrap() - cal_b).abs() < 1e-6);
        assert_eq!(f.statistic(1, Statistic::ErrorRate), Some(0.25));
        assert_eq!(GroupStatistics::overall(&f, Statistic::PositiveRate), Some(5.0 / 8.0));

        let report = SplitReport::new(&f, &[FairnessConstraint::new(Notion::LossParity, 0.05).unwrap()], &[]);
        let gap = (la - lb).abs();
        let c = &report.constraints[0];
        assert!((c.value.unwrap() - gap).abs() < 1e-6);
        assert_eq!(c.satisfied, gap <= 0.05);
        assert!((report.max_violation.unwrap() - (gap - 0.05)).abs() < 1e-6);
    }

    /// Four intersectional groups by hand, one of them empty and one with a
    /// single row: gaps skip what is undefined.
    #[test]
    fn intersectional_groups_with_empty_and_tiny_groups() {
        let names: Vec<String> = ["W & M", "W & F", "NW & M", "NW & F"].iter().map(|s| s.to_string()).collect();
        // W & M: logits (1, -1, 2), labels (1, 1, 0); W & F: (0.5, -0.5), labels (0, 0);
        // NW & M: none; NW & F: one row (3, label 1).
        let f = GroupFrame::from_parts(
            &names,
            &[1.0, -1.0, 2.0, 0.5, -0.5, 3.0],
            &[1.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            &[0, 0, 0, 1, 1, 3],
        );
        assert_eq!(f.group(2).n, 0.0);
        assert_eq!(f.group(2).positive_rate(), None);
        assert_eq!(f.group(0).positive_rate(), Some(2.0 / 3.0));
        assert_eq!(f.group(1).positive_rate(), Some(0.5));
        assert_eq!(f.group(3).positive_rate(), Some(1.0));
        // DP gap over the three non-empty groups: 1 - 0.5.
        assert_eq!(f.dp_gap(), Some(0.5));
        // TPR: W & M 1/2, W & F undefined (no positives), NW & F 1.
        assert_eq!(f.group(1).tpr(), None);
        assert_eq!(f.eopp_gap(), Some(0.5));
        // FPR: W & M 1/1, W & F 1/2, NW & F undefined: gap 0.5; EO = 0.5.
        assert_eq!(f.eo_gap(), Some(0.5));
        let report = SplitReport::new(&f, &[FairnessConstraint::new(Notion::DemographicParity, 0.4).unwrap()], &[]);
        assert_eq!(report.constraints[0].value, Some(0.5));
        assert!((report.max_violation.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(report.groups.0[2].1.n, 0);
        assert_eq!(report.groups.0[2].1.loss, None);
    }

    #[test]
    fn undefined_rates_are_none_and_serialize_as_null() {
        // Group b has no positives: its TPR is undefined.
        let f = GroupFrame::from_parts(&["a".into(), "b".into()], &[1.0, -1.0, 1.0], &[1.0, 0.0, 0.0], &[0, 0, 1]);
        assert_eq!(f.group(1).tpr(), None);
        assert_eq!(f.eopp_gap(), None);
        assert_eq!(f.eo_gap(), Some(1.0)); // FPR: 0 vs 1
        let report = SplitReport::new(&f, &[], &[]);
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["groups"]["b"]["tpr"].is_null());
        assert_eq!(json["groups"]["b"]["n"], 1);
        let keys: Vec<&String> = json["groups"].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 2);
        assert!(json["max_violation"].is_null());
    }
}
