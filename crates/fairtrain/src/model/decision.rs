//! [`GroupThresholds`]: a decision rule on a model's logit that depends on
//! the row's group, possibly randomized (fitted by
//! [`crate::postprocess::fit`]). A randomized decision's coin is a hash of
//! the rule's seed and the row's encoded inputs, so a row gets the same
//! decision in every call, batch and order.

use serde::{Deserialize, Serialize};

use crate::data::Dataset;

/// One threshold of a group's rule: a logit at which `weight` of the
/// probability of a positive decision is reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Logits at least this get `weight` more of the probability.
    pub logit: f32,
    /// Its share (the shares of a group sum to 1, thresholds that predict
    /// nothing positive left out).
    pub weight: f64,
}

/// One group's rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRule {
    /// The group's name.
    pub group: String,
    /// The probability of a positive decision for a logit `z` is the sum
    /// of the weights of the thresholds `z` reaches.
    pub thresholds: Vec<Threshold>,
}

/// Per-group decision thresholds on a model's logit (see the module docs).
///
/// ```
/// use fairtrain::model::decision::{GroupRule, GroupThresholds, Threshold};
/// let half = |g: &str| GroupRule { group: g.into(), thresholds: vec![Threshold { logit: 0.0, weight: 0.5 }, Threshold { logit: 1.0, weight: 0.5 }] };
/// let rule = GroupThresholds { seed: 7, groups: vec![half("a"), half("b")] };
/// assert_eq!(rule.probability(0, 0.5), 0.5);
/// assert_eq!(rule.probability(1, 2.0), 1.0);
/// let coin = rule.coin(&[0.25, -1.0], &[3]);
/// assert!((0.0..1.0).contains(&coin));
/// assert_eq!(coin, rule.coin(&[0.25, -1.0], &[3])); // the same row, the same coin
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupThresholds {
    /// Seeds the coins of randomized decisions.
    pub seed: u64,
    /// The rules, in the data's group order.
    pub groups: Vec<GroupRule>,
}

/// SplitMix64's finalizer: a well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl GroupThresholds {
    /// The model's own decisions (logit above 0) for every group: the rule
    /// post-processing keeps where they already meet the bounds.
    pub fn own(seed: u64, groups: &[String]) -> Self {
        let above_zero = Threshold { logit: f32::from_bits(1), weight: 1.0 };
        let groups = groups.iter().map(|g| GroupRule { group: g.clone(), thresholds: vec![above_zero] }).collect();
        GroupThresholds { seed, groups }
    }

    /// Whether this rule is [`own`](Self::own): the model's decisions unchanged.
    pub fn is_own(&self) -> bool {
        self.groups
            .iter()
            .all(|g| matches!(g.thresholds.as_slice(), [t] if t.weight == 1.0 && t.logit == f32::from_bits(1)))
    }

    /// The probability of a positive decision for logit `z` in group `g`.
    pub fn probability(&self, g: usize, z: f32) -> f64 {
        self.groups[g].thresholds.iter().filter(|t| z >= t.logit).map(|t| t.weight).sum()
    }

    /// The coin of a row, uniform in `[0, 1)`: a hash of the seed and the
    /// row's encoded inputs.
    pub fn coin(&self, dense: &[f32], cats: &[u32]) -> f64 {
        let mut h = mix(self.seed ^ 0x6a09_e667_f3bc_c908);
        for &v in dense {
            h = mix(h ^ v.to_bits() as u64);
        }
        for &c in cats {
            h = mix(h ^ (c as u64 | 1 << 32));
        }
        (h >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The decision for row `i` of `data` scored `z`.
    pub fn decide(&self, data: &Dataset, i: usize, z: f32) -> bool {
        let p = self.probability(data.groups()[i] as usize, z);
        p >= 1.0 || (p > 0.0 && self.coin(data.dense_row(i), data.cat_row(i)) < p)
    }

    /// The decisions for every row of `data` scored with `logits`.
    pub fn decisions(&self, data: &Dataset, logits: &[f32]) -> Vec<bool> {
        logits.iter().enumerate().map(|(i, &z)| self.decide(data, i, z)).collect()
    }
}
