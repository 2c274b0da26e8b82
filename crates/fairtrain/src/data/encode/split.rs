//! The train/test split: the training table and a test table as they are,
//! or a seeded split of one table stratified by group and label; every
//! group needs rows in both.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::RowRef;
use crate::error::{Error, Result};

/// The kept rows' indices in the training and the test split: by table
/// (`random` none), or stratified at `random = (test fraction, seed)`.
/// A group without rows in a split is an error naming it.
pub(super) fn split_rows(
    kept: &[RowRef],
    group_of: &[u32],
    labels: &[f32],
    group_names: &[String],
    random: Option<(f64, u64)>,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let (train_rows, test_rows): (Vec<usize>, Vec<usize>) = match random {
        None => (0..kept.len()).partition(|&i| kept[i].table == 0),
        Some((fraction, seed)) => stratified_split(group_of, labels, fraction, seed),
    };
    for (g, name) in group_names.iter().enumerate() {
        for (split_name, rows) in [("training", &train_rows), ("test", &test_rows)] {
            if !rows.iter().any(|&i| group_of[i] as usize == g) {
                return Err(Error::Data(format!(
                    "group '{name}' has no rows in the {split_name} split; \
                     it needs rows in both splits (more data, or another `test-fraction`)"
                )));
            }
        }
    }
    Ok((train_rows, test_rows))
}

/// Splits kept rows into train and test, stratified by (group, label):
/// each cell sends `round(fraction * size)` of its rows (but never all of
/// them), chosen by a seeded shuffle, to the test split. Both lists are
/// returned in source order.
fn stratified_split(group_of: &[u32], labels: &[f32], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut cells: BTreeMap<(u32, bool), Vec<usize>> = BTreeMap::new();
    for (i, (&g, &y)) in group_of.iter().zip(labels).enumerate() {
        cells.entry((g, y > 0.5)).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut is_test = vec![false; labels.len()];
    for rows in cells.values_mut() {
        rows.shuffle(&mut rng);
        let n_test = ((fraction * rows.len() as f64).round() as usize).min(rows.len() - 1);
        for &i in &rows[..n_test] {
            is_test[i] = true;
        }
    }
    (0..labels.len()).partition(|&i| !is_test[i])
}
