//! The stratified bootstrap of held-out rows at a cost independent of
//! their number.
//!
//! Every group statistic is a sum over the group's rows, and a row adds to
//! the rate counts according to its cell only (its predicted and true
//! label), with its weight. So a resample of a group's `n` rows with
//! replacement is drawn in two steps, as the row bootstrap draws it:
//!
//! 1. how many of the `n` draws fall in each cell: multinomial over the
//!    cells' shares, as sequential binomials (exact);
//! 2. what the `k` draws of a cell add up to: the rows themselves for a
//!    cell of at most [`EXACT_CELL_ROWS`] rows (exact); for a larger cell
//!    the sum of `k` independent draws of (weight, weight x loss, weight x
//!    probability), which is normal by the central limit theorem, with the
//!    cell's mean and covariance times `k`. For unweighted rows the weights
//!    add up to `k` exactly, so rate statistics are exact in every cell;
//!    only loss and probability sums of large cells are approximated.
//!
//! The cost of a resample is at most [`EXACT_CELL_ROWS`] draws per cell.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, StandardNormal};

use super::GroupCounts;
use super::outcome::RowOutcome;

/// Cells of at most this many rows are resampled row by row. Above it the
/// cell's sum of `k` draws (`k` about the cell's size) is drawn from its
/// normal limit: the sum's skewness is the rows' skewness over `sqrt(k)`,
/// e.g. at most 0.16 for a loss skewness of 5, which moves a one-sided 95%
/// quantile by about 0.05 standard deviations, less than the Monte Carlo
/// error of that quantile with 1,000 resamples (about 0.07).
pub const EXACT_CELL_ROWS: usize = 1000;

/// One (group, predicted, labelled) cell of held-out rows.
#[derive(Debug, Clone)]
struct Cell {
    predicted: bool,
    positive: bool,
    /// Its rows (indices into the outcomes), kept for a small cell.
    rows: Vec<u32>,
    /// Its number of rows.
    size: usize,
    /// Mean of (w, w loss, w probability) over its rows.
    mean: [f64; 3],
    /// Lower Cholesky factor of their covariance.
    factor: [[f64; 3]; 3],
}

/// Held-out rows summarized by cell, ready to be resampled.
#[derive(Debug, Clone)]
pub struct CellResampler {
    cells: Vec<Cell>,
    /// Per group, its cells' indices and its number of rows.
    groups: Vec<(Vec<usize>, usize)>,
}

fn cell_values(t: &RowOutcome) -> [f64; 3] {
    [t.weight, t.weight * t.loss, t.weight * t.probability]
}

/// The lower Cholesky factor of a positive semi-definite 3x3 matrix: a
/// direction without variance gets a zero column.
fn cholesky(a: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut l = [[0.0; 3]; 3];
    for j in 0..3 {
        let d = a[j][j] - (0..j).map(|k| l[j][k] * l[j][k]).sum::<f64>();
        let scale = a[j][j].abs().max(f64::MIN_POSITIVE);
        if d.is_nan() {
            // NaN statistics (hard predictions only): the sums become NaN,
            // as the row bootstrap's would.
            l[j][j] = f64::NAN;
            continue;
        }
        if d <= 1e-12 * scale {
            // No variance left in this direction.
            continue;
        }
        l[j][j] = d.sqrt();
        for i in j + 1..3 {
            l[i][j] = (a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>()) / l[j][j];
        }
    }
    l
}

impl CellResampler {
    /// Summarizes `outcomes` (rows of groups `groups`, `n_groups` groups).
    pub fn new(outcomes: &[RowOutcome], groups: &[u32], n_groups: usize) -> Self {
        let key = |g: u32, t: &RowOutcome| g as usize * 4 + 2 * usize::from(t.predicted) + usize::from(t.positive);
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); n_groups * 4];
        for (i, (t, &g)) in outcomes.iter().zip(groups).enumerate() {
            members[key(g, t)].push(i as u32);
        }
        let mut cells = Vec::new();
        let mut by_group = vec![(Vec::new(), 0usize); n_groups];
        for (k, rows) in members.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let n = rows.len() as f64;
            let mut mean = [0.0; 3];
            for &r in &rows {
                for (m, v) in mean.iter_mut().zip(cell_values(&outcomes[r as usize])) {
                    *m += v / n;
                }
            }
            let mut cov = [[0.0; 3]; 3];
            for &r in &rows {
                let v = cell_values(&outcomes[r as usize]);
                let d: [f64; 3] = std::array::from_fn(|i| v[i] - mean[i]);
                for (row, &di) in cov.iter_mut().zip(&d) {
                    for (c, &dj) in row.iter_mut().zip(&d) {
                        *c += di * dj / n;
                    }
                }
            }
            let group = k / 4;
            by_group[group].0.push(cells.len());
            by_group[group].1 += rows.len();
            let size = rows.len();
            cells.push(Cell {
                predicted: k % 4 >= 2,
                positive: k % 2 == 1,
                rows: if size <= EXACT_CELL_ROWS { rows } else { Vec::new() },
                size,
                mean,
                factor: cholesky(&cov),
            });
        }
        CellResampler { cells, groups: by_group }
    }

    /// One stratified resample (each group's size fixed) into `counts`
    /// (one per group) and `overall`.
    pub fn resample(
        &self,
        outcomes: &[RowOutcome],
        rng: &mut ChaCha8Rng,
        counts: &mut [GroupCounts],
        overall: &mut GroupCounts,
    ) {
        *overall = GroupCounts::default();
        for (g, (cells, n)) in self.groups.iter().enumerate() {
            counts[g] = GroupCounts::default();
            let (mut draws_left, mut rows_left) = (*n as u64, *n);
            for (i, &c) in cells.iter().enumerate() {
                let cell = &self.cells[c];
                // Sequential binomials: the multinomial split of the draws.
                let k = if i + 1 == cells.len() || draws_left == 0 {
                    draws_left
                } else {
                    let p = (cell.size as f64 / rows_left as f64).min(1.0);
                    Binomial::new(draws_left, p).map_or(0, |b| b.sample(rng))
                };
                draws_left -= k;
                rows_left -= cell.size;
                if k == 0 {
                    continue;
                }
                if !cell.rows.is_empty() {
                    for _ in 0..k {
                        let t = &outcomes[cell.rows[rng.random_range(0..cell.rows.len())] as usize];
                        counts[g].add_outcome(t);
                        overall.add_outcome(t);
                    }
                } else {
                    let z: [f64; 3] = std::array::from_fn(|_| StandardNormal.sample(rng));
                    let root = (k as f64).sqrt();
                    let sum: [f64; 3] = std::array::from_fn(|i| {
                        k as f64 * cell.mean[i] + root * (0..=i).map(|j| cell.factor[i][j] * z[j]).sum::<f64>()
                    });
                    for target in [&mut counts[g], &mut *overall] {
                        target.add_cell(cell.predicted, cell.positive, k, sum);
                    }
                }
            }
        }
    }
}

impl GroupCounts {
    /// Adds `rows` rows of one cell whose (weight, weight x loss, weight x
    /// probability) add up to `sum`.
    fn add_cell(&mut self, predicted: bool, positive: bool, rows: u64, sum: [f64; 3]) {
        let [w, loss, probability] = sum;
        let flag = |b: bool| if b { w } else { 0.0 };
        self.n += w;
        self.rows += rows;
        self.loss_sum += loss;
        self.correct += flag(predicted == positive);
        self.predicted_positive += flag(predicted);
        self.positives += flag(positive);
        self.true_positives += flag(predicted && positive);
        self.false_positives += flag(predicted && !positive);
        self.probability_sum += probability;
    }
}
