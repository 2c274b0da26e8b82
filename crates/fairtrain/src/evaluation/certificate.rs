//! Held-out feasibility certificates: does a constraint hold on the
//! population the held-out rows come from, not just on those rows?
//!
//! A constraint's value on a held-out split is an estimate. The certificate
//! bounds it from the side of violation with a stratified percentile
//! bootstrap: each group's rows are resampled with replacement (group
//! sizes fixed, as the split fixes them), the constraint is recomputed on
//! every resample, and the `confidence` quantile of the violation is the
//! certified worst case. "Holds with 95% confidence" means that quantile is
//! within the bound. The bootstrap needs no distributional assumption and
//! works for every statistic (ratios of sums, gaps, ratios between groups);
//! for a largest gap over pairs it is conservative, since the maximum of
//! noisy differences is biased upward.
//!
//! ```
//! use fairtrain::constraints::{FairnessConstraint, Notion};
//! use fairtrain::evaluation::certificate::{certify, CertifyOptions};
//! // A constant predictor has a demographic parity gap of exactly 0 in
//! // every resample: certified for any bound.
//! let logits = vec![0.3f32; 200];
//! let labels: Vec<f32> = (0..200).map(|i| (i % 3 == 0) as u8 as f32).collect();
//! let groups: Vec<u32> = (0..200).map(|i| (i % 2) as u32).collect();
//! let names = vec!["a".to_string(), "b".to_string()];
//! let c = FairnessConstraint::new(Notion::DemographicParity, 0.01).unwrap();
//! let certs = certify(&names, &logits, &labels, &groups, None, &[c], &[], &CertifyOptions::default());
//! assert!(certs[0].holds);
//! assert_eq!(certs[0].value_bound, Some(0.0));
//! ```

use rand::SeedableRng;

pub use super::outcome::RowOutcome;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::resample::CellResampler;
use super::{GroupCounts, GroupFrame};
use crate::constraints::{FairnessConstraint, Sense};

/// How to certify.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CertifyOptions {
    /// Confidence level, in (0, 1).
    pub confidence: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for CertifyOptions {
    fn default() -> Self {
        CertifyOptions { confidence: 0.95, resamples: 1000, seed: 0 }
    }
}

/// The verdict on one constraint.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Certificate {
    /// The constraint's name.
    pub name: String,
    /// Its value on the held-out rows.
    pub value: Option<f64>,
    /// The bound.
    pub bound: f64,
    /// `<=` or `>=`.
    pub sense: Sense,
    /// Confidence level of `value_bound`.
    pub confidence: f64,
    /// One-sided confidence bound on the value, from the side of violation
    /// (an upper bound for `<=`, a lower bound for `>=`).
    pub value_bound: Option<f64>,
    /// Whether `value_bound` is within the bound.
    pub holds: bool,
    /// Half-width of the two-sided 95% bootstrap interval of the value.
    pub ci_half_width: Option<f64>,
    /// How the bound was computed.
    pub method: String,
}

impl Certificate {
    /// The verdict in words: "holds with 95% confidence" or "not certified".
    pub fn verdict(&self) -> String {
        if self.holds {
            format!("holds with {:.0}% confidence", self.confidence * 100.0)
        } else {
            "not certified".to_string()
        }
    }
}

impl GroupCounts {
    /// Adds one row's outcome.
    #[inline]
    pub fn add_outcome(&mut self, t: &RowOutcome) {
        let w = t.weight;
        let flag = |b: bool| if b { w } else { 0.0 };
        self.n += w;
        self.rows += 1;
        self.loss_sum += w * t.loss;
        self.correct += flag(t.predicted == t.positive);
        self.predicted_positive += flag(t.predicted);
        self.positives += flag(t.positive);
        self.true_positives += flag(t.predicted && t.positive);
        self.false_positives += flag(t.predicted && !t.positive);
        self.probability_sum += w * t.probability;
    }
}

/// Certifies each constraint on held-out rows (per-row logits, labels,
/// group indices and optional sample weights; `params` for constraints on
/// the parameters).
#[allow(clippy::too_many_arguments)]
pub fn certify(
    group_names: &[String],
    logits: &[f32],
    labels: &[f32],
    groups: &[u32],
    weights: Option<&[f32]>,
    constraints: &[FairnessConstraint],
    params: &[f32],
    options: &CertifyOptions,
) -> Vec<Certificate> {
    let outcomes: Vec<RowOutcome> = (0..logits.len())
        .map(|i| RowOutcome::from_logit(logits[i], labels[i], weights.map_or(1.0, |w| w[i] as f64)))
        .collect();
    certify_outcomes(group_names, &outcomes, groups, constraints, params, options)
}

/// [`certify`] for a data set scored with `logits` (its labels, groups
/// and sample weights).
pub fn certify_dataset(
    data: &crate::data::Dataset,
    logits: &[f32],
    constraints: &[FairnessConstraint],
    params: &[f32],
    options: &CertifyOptions,
) -> Vec<Certificate> {
    certify(data.group_names(), logits, data.labels(), data.groups(), data.weights(), constraints, params, options)
}

/// [`certify`] from per-row outcomes (e.g. another tool's predictions).
pub fn certify_outcomes(
    group_names: &[String],
    terms: &[RowOutcome],
    groups: &[u32],
    constraints: &[FairnessConstraint],
    params: &[f32],
    options: &CertifyOptions,
) -> Vec<Certificate> {
    let n_groups = group_names.len();
    let resampler = CellResampler::new(terms, groups, n_groups);
    let observed = GroupFrame::from_outcomes(group_names, terms, groups);
    let values: Vec<Option<f64>> = constraints.iter().map(|c| c.value(&observed, params)).collect();

    // Bootstrap violations, one list per constraint.
    let mut violations: Vec<Vec<f64>> = vec![Vec::with_capacity(options.resamples); constraints.len()];
    let mut resampled: Vec<Vec<f64>> = vec![Vec::with_capacity(options.resamples); constraints.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut frame = GroupFrame {
        names: Vec::new(),
        groups: vec![GroupCounts::default(); n_groups],
        overall: GroupCounts::default(),
    };
    for _ in 0..options.resamples {
        resampler.resample(terms, &mut rng, &mut frame.groups, &mut frame.overall);
        for ((c, out), values) in constraints.iter().zip(&mut violations).zip(&mut resampled) {
            // An undefined statistic in a resample (a group without
            // positives, say) counts as the worst case.
            let value = c.value(&frame, params);
            out.push(value.map_or(f64::INFINITY, |v| c.violation(v)));
            values.extend(value);
        }
    }
    constraints
        .iter()
        .zip(values)
        .zip(violations)
        .zip(resampled)
        .map(|(((c, value), mut v), mut values)| {
            values.sort_by(f64::total_cmp);
            let ci_half_width = (values.len() >= 40).then(|| {
                let q = |p: f64| values[((p * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
                (q(0.975) - q(0.025)) / 2.0
            });
            v.sort_by(f64::total_cmp);
            let k = ((options.confidence * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1)) - 1;
            let worst = v.get(k).copied().filter(|x| x.is_finite());
            // Back from the violation to the value: violation = value - bound
            // for `<=`, bound - value for `>=`.
            let value_bound = worst.map(|w| match c.sense() {
                Sense::AtMost => w + c.bound,
                Sense::AtLeast => c.bound - w,
            });
            Certificate {
                name: c.name().to_string(),
                value,
                bound: c.bound,
                sense: c.sense(),
                confidence: options.confidence,
                value_bound,
                holds: worst.is_some_and(|w| w <= 0.0),
                ci_half_width,
                method: format!(
                    "stratified percentile bootstrap, {} resamples of the held-out rows (by cell)",
                    options.resamples
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::Notion;

    fn two_groups(n: usize, rate_a: f64, rate_b: f64) -> (Vec<String>, Vec<f32>, Vec<f32>, Vec<u32>) {
        // Group a: the first n rows, a fraction rate_a predicted positive;
        // group b: the next n rows, rate_b.
        let mut logits = Vec::new();
        let mut groups = Vec::new();
        for (g, rate) in [(0u32, rate_a), (1, rate_b)] {
            let k = (rate * n as f64).round() as usize;
            for i in 0..n {
                logits.push(if i < k { 1.0 } else { -1.0 });
                groups.push(g);
            }
        }
        let labels = (0..2 * n).map(|i| (i % 2) as f32).collect();
        (vec!["a".into(), "b".into()], logits, labels, groups)
    }

    #[test]
    fn matches_the_normal_approximation_of_a_rate_gap() {
        // Positive rates 0.5 and 0.4 over 2,000 rows each: the gap's standard
        // error is sqrt(0.25/2000 + 0.24/2000) = 0.015652, so the one-sided
        // 95% upper bound is 0.1 + 1.645 * 0.015652 = 0.1257.
        let (names, logits, labels, groups) = two_groups(2000, 0.5, 0.4);
        let c = FairnessConstraint::new(Notion::DemographicParity, 0.13).unwrap();
        let options = CertifyOptions { resamples: 4000, ..CertifyOptions::default() };
        let cert = &certify(&names, &logits, &labels, &groups, None, &[c], &[], &options)[0];
        assert!((cert.value.unwrap() - 0.1).abs() < 1e-12);
        let upper = cert.value_bound.unwrap();
        assert!((upper - 0.1257).abs() < 0.003, "{upper}");
        assert!(cert.holds);
        assert_eq!(cert.verdict(), "holds with 95% confidence");
        // A bound the estimate meets but its upper confidence bound does not.
        let c = FairnessConstraint::new(Notion::DemographicParity, 0.11).unwrap();
        let cert = &certify(&names, &logits, &labels, &groups, None, &[c], &[], &options)[0];
        assert!(!cert.holds);
        assert_eq!(cert.verdict(), "not certified");
    }

    /// The row bootstrap the cell bootstrap replaces: each group's rows
    /// drawn with replacement; the `confidence` quantile of each
    /// constraint's value.
    fn row_bootstrap(names: &[String], terms: &[RowOutcome], groups: &[u32], c: &FairnessConstraint) -> f64 {
        use rand::RngExt;
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
        for (i, &g) in groups.iter().enumerate() {
            members[g as usize].push(i);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let mut values = Vec::new();
        for _ in 0..2000 {
            let mut frame = GroupFrame {
                names: Vec::new(),
                groups: vec![GroupCounts::default(); names.len()],
                overall: GroupCounts::default(),
            };
            for (g, rows) in members.iter().enumerate() {
                for _ in 0..rows.len() {
                    let t = &terms[rows[rng.random_range(0..rows.len())]];
                    frame.groups[g].add_outcome(t);
                    frame.overall.add_outcome(t);
                }
            }
            values.push(c.value(&frame, &[]).unwrap());
        }
        values.sort_by(f64::total_cmp);
        values[(0.95 * values.len() as f64).ceil() as usize - 1]
    }

    #[test]
    fn the_cell_bootstrap_agrees_with_the_row_bootstrap() {
        use rand::RngExt;
        // Two groups with skewed losses (confident mistakes), with sample
        // weights or without: "mixed" has four cells per group, most rows
        // in cells above the exact-row size and one below; "one cell" has
        // every row positive and predicted positive, so the loss gap's
        // spread is all within the (normally drawn) cells.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let names: Vec<String> = vec!["a".into(), "b".into()];
        for (case, weighted) in [("mixed", false), ("mixed", true), ("one cell", false), ("one cell", true)] {
            let (mut terms, mut groups) = (Vec::new(), Vec::new());
            for (g, n, shift) in [(0u32, 8000, 0.0f32), (1, 6000, 0.6)] {
                for _ in 0..n {
                    let u = rng.random::<f32>();
                    let (y, z) = match case {
                        "mixed" => {
                            let y = rng.random_bool(0.35) as u8 as f32;
                            (y, 6.0 * (u - 0.5) + shift + if y > 0.5 { 1.0 } else { -1.0 })
                        }
                        _ => (1.0, 0.01 + 4.0 * u * u + shift),
                    };
                    let w = if weighted { 0.5 + rng.random::<f64>() } else { 1.0 };
                    terms.push(RowOutcome::from_logit(z, y, w));
                    groups.push(g);
                }
            }
            let notions: &[Notion] = match case {
                "mixed" => &[Notion::LossParity, Notion::DemographicParity, Notion::EqualizedOdds],
                _ => &[Notion::LossParity],
            };
            for &notion in notions {
                let c = FairnessConstraint::new(notion, 1.0).unwrap();
                let options = CertifyOptions { resamples: 2000, ..CertifyOptions::default() };
                let cert = &certify_outcomes(&names, &terms, &groups, std::slice::from_ref(&c), &[], &options)[0];
                let (cells, rows) = (cert.value_bound.unwrap(), row_bootstrap(&names, &terms, &groups, &c));
                // Each quantile carries Monte Carlo error of about 0.05
                // standard deviations of the bootstrap distribution (the
                // 95% half-width is 1.96 of them), their difference about
                // 0.07: allow 0.25 (normal sums with 1.5 times their
                // standard deviation move the one-cell bound by 0.8).
                let sd = cert.ci_half_width.unwrap() / 1.96;
                assert!(
                    (cells - rows).abs() < 0.25 * sd,
                    "{case}, {notion:?}, weighted {weighted}: {cells} vs {rows} (sd {sd})"
                );
            }
        }
    }

    #[test]
    fn constant_predictor_is_certified_exactly() {
        let (names, _, labels, groups) = two_groups(100, 0.5, 0.5);
        let logits = vec![2.0f32; 200];
        let c = FairnessConstraint::new(Notion::DemographicParity, 0.0).unwrap();
        let cert = &certify(&names, &logits, &labels, &groups, None, &[c], &[], &CertifyOptions::default())[0];
        assert_eq!(cert.value, Some(0.0));
        assert_eq!(cert.value_bound, Some(0.0));
        assert!(cert.holds);
    }

    #[test]
    fn at_least_constraints_bound_from_below() {
        // Disparate impact (ratio of positive rates, at least 0.8): 0.45 / 0.5.
        let (names, logits, labels, groups) = two_groups(2000, 0.5, 0.45);
        let c = FairnessConstraint::new(Notion::DisparateImpact, 0.8).unwrap();
        let cert = &certify(&names, &logits, &labels, &groups, None, &[c], &[], &CertifyOptions::default())[0];
        assert_eq!(cert.sense, Sense::AtLeast);
        let (value, lower) = (cert.value.unwrap(), cert.value_bound.unwrap());
        assert!((value - 0.9).abs() < 1e-12);
        assert!(lower < value && lower > 0.8, "{lower}");
        assert!(cert.holds);
    }
}
