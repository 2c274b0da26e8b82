//! FairBatch (Roh, Lee, Whang, Suh; ICLR 2021): fairness through the
//! composition of the minibatch alone. The loss stays the plain batch mean;
//! what changes is how many rows each (label, group) cell contributes.
//!
//! Once per epoch, on the **whole training set** and without gradients
//! (see below for large data), the per-cell mean losses are computed and the cell shares take one signed
//! step of size `alpha` toward the group that is worse off (the outer step
//! of FairBatch's bilevel problem: the sign of the loss difference is the
//! sign of the outer gradient). As the reference code:
//! * for equal opportunity only the positives' shares move; for equalized
//!   odds, per epoch, only the label whose group-loss gap is larger; for
//!   demographic parity the statistic is the loss against label 1
//!   (`-log p`), summed per cell and divided by the **group** size, the
//!   label whose statistic spreads more across groups moves, and the
//!   negatives' shares move the other way (to raise a group's positive
//!   rate, give it more positives or fewer negatives). One deliberate
//!   difference: the group to lift is the one with the lowest mean
//!   predicted probability (the soft positive rate DP compares). The
//!   reference compares the per-label sums, which carry the group's base
//!   rate (a group with more positives looks "worse" among the positives
//!   and gets even more of them), and a loss against label 1 is dominated
//!   by confident negatives rather than by the positive rate: on the
//!   synthetic data here both rules widened the test DP gap (0.072 to
//!   0.098);
//! * each label's total in the batch stays `B * n_y / N`; per-cell counts
//!   are rounded half to even (Python's `round`), so the realised batch can
//!   differ from `B` by a row or two;
//! * each cell is shuffled and cut into consecutive chunks; a cell that
//!   runs out is reshuffled and continues (so small cells repeat when their
//!   share grows).
//!
//! The reference takes its outer step once per epoch on the whole training
//! set; its experiment has 2,000 rows and batches of 100, so an epoch is 20
//! steps. On larger data an epoch is hundreds of steps and the shares would
//! hardly move within a usual budget, so here the outer step comes every
//! `min(floor(N / B), 20)` steps and the cell statistics are computed on a
//! fixed stratified evaluation set of up to 1,000 rows per cell: on data of
//! the reference's size both are exactly the reference's, and on large
//! data the evaluation costs about as much as the training batches.
//!
//! Differences, documented: the model's probability is the sigmoid of the
//! logit (the reference squashes with `(tanh(z) + 1) / 2` in the model and
//! the update alike); with more than two groups, each label's shares form
//! a simplex over the groups and a step moves `alpha` of share from the
//! group with the lowest statistic to the one with the highest (for two
//! groups, exactly the reference's `lambda += alpha` or `-= alpha` with
//! clipping to [0, 1]); at an exact tie no share moves.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{MethodConfig, RowBatch, Target, cell_rows, native};
use crate::algorithms::algorithm::Algorithm;
use crate::algorithms::optim::{Primal, PrimalConfig};
use crate::buffer::AlignedVec;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::loss::bce_with_logits;
use crate::problem::Problem;

/// FairBatch's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FairBatchConfig {
    /// The targeted notion.
    pub target: Target,
    /// The optimizer underneath.
    pub primal: PrimalConfig,
    /// The step of the cell shares per epoch (the notebook's 0.005).
    pub alpha: f32,
    /// The nominal batch size `B`.
    pub batch: usize,
    /// Seed of the cell shuffles.
    pub seed: u64,
}

impl FairBatchConfig {
    pub(super) fn from_method(m: &MethodConfig) -> Self {
        FairBatchConfig { target: m.target, primal: m.primal, alpha: m.alpha, batch: m.batch, seed: m.seed }
    }
}

/// The sampler's state, built from the data at the first step.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sampler {
    groups: usize,
    /// Rows of each cell, label-major (`[y * groups + g]`), in this epoch's order.
    cells: Vec<Vec<u32>>,
    /// Position of each cell's next row.
    cursor: Vec<usize>,
    /// Share of each group within its label's part of the batch.
    shares: Vec<f64>,
    /// Expected rows of each label in a batch: `B * n_y / N`.
    label_rows: [f64; 2],
    /// Rows of each cell per batch.
    counts: Vec<usize>,
    /// Steps between outer steps.
    update_every: u64,
    step: u64,
    /// The rows the cell statistics are computed on (all rows of small data).
    evaluation_rows: Vec<u32>,
    rng: ChaCha8Rng,
}

/// The reference experiment's epoch, in steps (2,000 rows, batches of 100).
const REFERENCE_EPOCH_STEPS: usize = 20;
/// Rows per cell of the evaluation set.
const EVALUATION_ROWS_PER_CELL: usize = 1_000;

/// FairBatch over any primal optimizer (see the module documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FairBatch {
    config: FairBatchConfig,
    primal: Primal,
    sampler: Option<Sampler>,
    grad: AlignedVec,
    #[serde(skip)]
    batch: RowBatch,
    /// Logits of the evaluation rows (reused).
    #[serde(skip)]
    evaluation: RowBatch,
}

impl FairBatch {
    /// FairBatch with `config`.
    pub fn new(config: FairBatchConfig) -> Result<Self> {
        if config.batch == 0 {
            return Err(Error::config("batch-size", "0 (must be at least 1)"));
        }
        Ok(FairBatch {
            primal: Primal::new(config.primal)?,
            config,
            sampler: None,
            grad: AlignedVec::default(),
            batch: RowBatch::default(),
            evaluation: RowBatch::default(),
        })
    }

    /// Each group's share of each label's part of the batch, label-major
    /// (`[y * groups + g]`); empty before the first step.
    pub fn shares(&self) -> &[f64] {
        self.sampler.as_ref().map_or(&[], |s| &s.shares)
    }

    /// Rows of each (label, group) cell per batch this epoch, label-major.
    pub fn counts(&self) -> &[usize] {
        self.sampler.as_ref().map_or(&[], |s| &s.counts)
    }

    fn init(&self, data: &Dataset) -> Result<Sampler> {
        let groups = data.n_groups();
        let cells = cell_rows(data);
        let n = data.n_rows() as f64;
        if self.config.batch > data.n_rows() {
            return Err(Error::config(
                "batch-size",
                format!("{} is larger than the {} training rows", self.config.batch, data.n_rows()),
            ));
        }
        let mut label_rows = [0.0; 2];
        let mut shares = vec![0.0; 2 * groups];
        for y in 0..2 {
            let n_y: usize = cells[y * groups..(y + 1) * groups].iter().map(Vec::len).sum();
            label_rows[y] = self.config.batch as f64 * n_y as f64 / n;
            for g in 0..groups {
                shares[y * groups + g] = if n_y == 0 { 0.0 } else { cells[y * groups + g].len() as f64 / n_y as f64 };
            }
        }
        // The cells the target compares must have rows.
        let compared: &[usize] = match self.config.target {
            Target::EqualOpportunity => &[1],
            _ => &[0, 1],
        };
        for &y in compared {
            for g in 0..groups {
                if cells[y * groups + g].is_empty() && self.config.target != Target::DemographicParity {
                    return Err(Error::Data(format!(
                        "group '{}' has no {} training rows: FairBatch cannot balance its {}",
                        data.group_names()[g],
                        if y == 1 { "positive" } else { "negative" },
                        self.config.target.name()
                    )));
                }
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
        rng.set_stream(2_000);
        let mut cells = cells;
        let mut evaluation_rows = Vec::new();
        for cell in &mut cells {
            cell.shuffle(&mut rng);
            evaluation_rows.extend_from_slice(&cell[..cell.len().min(EVALUATION_ROWS_PER_CELL)]);
        }
        evaluation_rows.sort_unstable();
        let mut sampler = Sampler {
            groups,
            cursor: vec![0; cells.len()],
            counts: vec![0; cells.len()],
            cells,
            shares,
            label_rows,
            update_every: (data.n_rows() / self.config.batch).clamp(1, REFERENCE_EPOCH_STEPS) as u64,
            step: 0,
            evaluation_rows,
            rng,
        };
        sampler.counts = cell_counts(&sampler.shares, sampler.label_rows, groups);
        Ok(sampler)
    }
}

/// Rows per batch of each (label, group) cell: `round_half_even(share *
/// label_rows[y])`, label-major.
pub fn cell_counts(shares: &[f64], label_rows: [f64; 2], groups: usize) -> Vec<usize> {
    (0..2 * groups).map(|c| (shares[c] * label_rows[c / groups]).round_ties_even().max(0.0) as usize).collect()
}

/// Moves `alpha` of share within one label's simplex: from the group with
/// the lowest statistic to the one with the highest (`toward_highest`), or
/// the other way. Groups with no statistic (no rows) do not take part.
/// Returns the spread (highest minus lowest statistic).
fn step_shares(shares: &mut [f64], statistic: &[Option<f64>], alpha: f64, toward_highest: bool) -> f64 {
    let mut hi: Option<usize> = None;
    let mut lo: Option<usize> = None;
    for (g, s) in statistic.iter().enumerate() {
        if let Some(v) = *s {
            if hi.is_none_or(|h| v > statistic[h].unwrap_or(f64::NEG_INFINITY)) {
                hi = Some(g);
            }
            if lo.is_none_or(|l| v < statistic[l].unwrap_or(f64::INFINITY)) {
                lo = Some(g);
            }
        }
    }
    let (Some(hi), Some(lo)) = (hi, lo) else { return 0.0 };
    if hi == lo {
        return 0.0;
    }
    let (to, from) = if toward_highest { (hi, lo) } else { (lo, hi) };
    let amount = alpha.min(shares[from]);
    shares[to] += amount;
    shares[from] -= amount;
    statistic[hi].unwrap_or(0.0) - statistic[lo].unwrap_or(0.0)
}

/// Spread of a label's statistic across groups (highest minus lowest).
fn spread(statistic: &[Option<f64>]) -> f64 {
    let values = statistic.iter().flatten();
    let hi = values.clone().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let lo = values.fold(f64::INFINITY, |m, &v| m.min(v));
    if hi >= lo { hi - lo } else { 0.0 }
}

/// FairBatch's outer step: updates `shares` (label-major, `groups` per
/// label) from per-cell statistics `stat` (label-major; `None` for an empty
/// cell). For equal opportunity and equalized odds `stat` holds each cell's
/// mean loss; for demographic parity each cell's summed loss against label 1
/// divided by its group's size, and `deficit` each group's
/// `1 - mean probability` (the group with the largest is lifted).
pub fn update_shares(
    target: Target,
    stat: &[Option<f64>],
    deficit: &[Option<f64>],
    shares: &mut [f64],
    groups: usize,
    alpha: f64,
) {
    let (neg, pos) = stat.split_at(groups);
    let (neg_shares, pos_shares) = shares.split_at_mut(groups);
    match target {
        Target::EqualOpportunity => {
            step_shares(pos_shares, pos, alpha, true);
        }
        Target::EqualizedOdds => {
            if spread(pos) > spread(neg) {
                step_shares(pos_shares, pos, alpha, true);
            } else {
                step_shares(neg_shares, neg, alpha, true);
            }
        }
        Target::DemographicParity => {
            // The group to lift is the one with the lowest mean predicted
            // probability; see the module documentation for why not the
            // per-label sums.
            if spread(pos) > spread(neg) {
                step_shares(pos_shares, deficit, alpha, true);
            } else {
                step_shares(neg_shares, deficit, alpha, false);
            }
        }
    }
}

impl FairBatch {
    /// The outer step: cell statistics on the evaluation rows, new shares
    /// and counts.
    fn outer_step(&mut self, model: &crate::model::Mlp, params: &[f32], data: &Dataset) {
        let sampler = self.sampler.as_mut().expect("initialized");
        let groups = sampler.groups;
        self.evaluation.rows.clone_from(&sampler.evaluation_rows);
        self.evaluation.forward(model, params, data);
        let (labels, row_groups) = (data.labels(), data.groups());
        let mut sums = vec![0.0f64; 2 * groups];
        let mut rows = vec![0usize; 2 * groups];
        let mut group_rows = vec![0usize; groups];
        let mut group_p = vec![0.0f64; groups];
        let dp = self.config.target == Target::DemographicParity;
        for (&r, &z) in self.evaluation.rows.iter().zip(&self.evaluation.logits) {
            let (y, g) = (labels[r as usize], row_groups[r as usize] as usize);
            let c = (y > 0.5) as usize * groups + g;
            // DP: the loss against label 1, -log p.
            let target_label = if dp { 1.0 } else { y };
            sums[c] += bce_with_logits(z, target_label).0 as f64;
            rows[c] += 1;
            group_rows[g] += 1;
            group_p[g] += crate::model::loss::sigmoid(z) as f64;
        }
        let deficit: Vec<Option<f64>> =
            (0..groups).map(|g| (group_rows[g] > 0).then(|| 1.0 - group_p[g] / group_rows[g] as f64)).collect();
        let stat: Vec<Option<f64>> = (0..2 * groups)
            .map(|c| {
                (rows[c] > 0)
                    .then(|| if dp { sums[c] / group_rows[c % groups] as f64 } else { sums[c] / rows[c] as f64 })
            })
            .collect();
        update_shares(self.config.target, &stat, &deficit, &mut sampler.shares, groups, self.config.alpha as f64);
        sampler.counts = cell_counts(&sampler.shares, sampler.label_rows, groups);
    }
}

impl Algorithm for FairBatch {
    fn name(&self) -> &'static str {
        "fairbatch"
    }

    fn step(&mut self, problem: &mut dyn Problem) -> Result<()> {
        let view = native(problem, "fairbatch")?;
        let (model, data) = (view.model, view.data);
        if self.sampler.is_none() {
            self.sampler = Some(self.init(data)?);
            self.grad = AlignedVec::zeros(view.params.len());
        }
        if self.sampler.as_ref().is_some_and(|s| s.step % s.update_every == 0) {
            self.outer_step(model, view.params, data);
        }
        let sampler = self.sampler.as_mut().expect("initialized");
        // This batch: each cell's next chunk; a cell that runs out is
        // reshuffled and continues.
        self.batch.rows.clear();
        for ((cell, cursor), &count) in sampler.cells.iter_mut().zip(&mut sampler.cursor).zip(&sampler.counts) {
            if cell.is_empty() {
                continue;
            }
            for _ in 0..count {
                if *cursor == cell.len() {
                    cell.shuffle(&mut sampler.rng);
                    *cursor = 0;
                }
                self.batch.rows.push(cell[*cursor]);
                *cursor += 1;
            }
        }
        sampler.step += 1;
        if self.batch.rows.is_empty() {
            return Ok(());
        }
        self.batch.forward(model, view.params, data);
        *view.objective = self.batch.mean_bce(data);
        self.batch.backward(model, view.params, data, &mut self.grad);
        self.primal.step(view.params, &mut self.grad);
        Ok(())
    }

    crate::state::checkpoint_self!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_half_to_even() {
        // Two groups; positives 30% of a batch of 10 -> 3 rows, split 0.25/0.75.
        let shares = [0.5, 0.5, 0.25, 0.75];
        assert_eq!(cell_counts(&shares, [7.0, 3.0], 2), vec![4, 4, 1, 2]); // 3.5 -> 4, 0.75 -> 1, 2.25 -> 2
        assert_eq!(cell_counts(&[0.5, 0.5, 0.5, 0.5], [5.0, 5.0], 2), vec![2, 2, 2, 2]); // 2.5 -> 2
    }

    #[test]
    fn equal_opportunity_moves_the_positive_share_toward_the_higher_loss() {
        // Cells: (y0,g0) (y0,g1) (y1,g0) (y1,g1).
        let mut shares = vec![0.7, 0.3, 0.8, 0.2];
        let stat = [Some(0.3), Some(0.5), Some(0.2), Some(0.6)];
        update_shares(Target::EqualOpportunity, &stat, &[], &mut shares, 2, 0.005);
        assert_eq!(shares, vec![0.7, 0.3, 0.8 - 0.005, 0.2 + 0.005]);
        // Group 0 worse off: the share moves back.
        let stat = [Some(0.3), Some(0.5), Some(0.7), Some(0.6)];
        update_shares(Target::EqualOpportunity, &stat, &[], &mut shares, 2, 0.005);
        assert!((shares[3] - 0.2).abs() < 1e-12);
        // Clipped at 1.
        let mut shares = vec![0.5, 0.5, 0.003, 0.997];
        update_shares(
            Target::EqualOpportunity,
            &[Some(0.0), Some(0.0), Some(0.1), Some(0.9)],
            &[],
            &mut shares,
            2,
            0.005,
        );
        assert_eq!(&shares[2..], &[0.0, 1.0]);
    }

    #[test]
    fn equalized_odds_moves_only_the_label_with_the_larger_gap() {
        let mut shares = vec![0.6, 0.4, 0.6, 0.4];
        // Negatives' gap 0.4 > positives' 0.1: the negatives move, toward g0.
        update_shares(Target::EqualizedOdds, &[Some(0.9), Some(0.5), Some(0.3), Some(0.4)], &[], &mut shares, 2, 0.01);
        assert_eq!(shares, vec![0.61, 0.39, 0.6, 0.4]);
    }

    #[test]
    fn demographic_parity_lifts_the_group_with_the_lower_positive_rate() {
        let mut shares = vec![0.6, 0.4, 0.6, 0.4];
        // g1 predicts fewer positives (deficit 0.7 vs 0.5). Label-0 spread
        // 0.3 > label-1 spread 0.1: g1 gets fewer negatives.
        let deficit = [Some(0.5), Some(0.7)];
        update_shares(
            Target::DemographicParity,
            &[Some(0.2), Some(0.5), Some(0.3), Some(0.4)],
            &deficit,
            &mut shares,
            2,
            0.01,
        );
        assert_eq!(shares, vec![0.61, 0.39, 0.6, 0.4]);
        // Label-1 spread larger: g1 gets more positives, even where the
        // per-label sums point the other way (g0's 0.3 > g1's 0.2).
        update_shares(
            Target::DemographicParity,
            &[Some(0.2), Some(0.2), Some(0.3), Some(0.2)],
            &deficit,
            &mut shares,
            2,
            0.01,
        );
        for (a, b) in shares.iter().zip([0.61, 0.39, 0.59, 0.41]) {
            assert!((a - b).abs() < 1e-12, "{shares:?}");
        }
    }

    #[test]
    fn three_groups_move_share_from_the_lowest_to_the_highest() {
        let mut shares = vec![0.5, 0.3, 0.2, 0.5, 0.3, 0.2];
        let stat = [None, None, None, Some(0.4), Some(0.1), Some(0.9)];
        update_shares(Target::EqualOpportunity, &stat, &[], &mut shares, 3, 0.05);
        assert_eq!(&shares[3..], &[0.5, 0.25, 0.25]);
    }
}
