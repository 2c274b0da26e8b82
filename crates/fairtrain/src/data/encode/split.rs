//! The train/test split: the training table and a test table as they are,
//! or a seeded split of one table stratified by group and label; every
//! group needs rows in both.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::RowRef;
use crate::data::peers::Peers;
use crate::error::{Error, Result};

/// The kept rows' indices in the training and the test split: by table
/// (`random` none), or stratified at `random = (test fraction, seed)`.
/// A group without rows in a split is an error naming it. In a
/// data-parallel load the stratified split is drawn over every process's
/// rows (their groups and labels gathered in row order), so each process
/// keeps its rows' part of the one split.
pub(super) fn split_rows(
    kept: &[RowRef],
    group_of: &[u32],
    labels: &[f32],
    group_names: &[String],
    random: Option<(f64, u64)>,
    peers: Peers,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let (train_rows, test_rows): (Vec<usize>, Vec<usize>) = match random {
        None => (0..kept.len()).partition(|&i| kept[i].table == 0),
        Some((fraction, seed)) if peers.is_alone() => stratified_split(group_of, labels, fraction, seed),
        Some((fraction, seed)) => {
            let cells: Vec<u32> = group_of.iter().zip(labels).map(|(&g, &y)| 2 * g + u32::from(y > 0.5)).collect();
            let (first, _) = peers.offset(cells.len());
            let all: Vec<u32> = peers.gather(&cells).concat();
            let group_of: Vec<u32> = all.iter().map(|c| c / 2).collect();
            let labels: Vec<f32> = all.iter().map(|c| (c % 2) as f32).collect();
            let (train, test) = stratified_split(&group_of, &labels, fraction, seed);
            let mine = |rows: Vec<usize>| -> Vec<usize> {
                rows.into_iter().filter(|i| (first..first + kept.len()).contains(i)).map(|i| i - first).collect()
            };
            (mine(train), mine(test))
        }
    };
    let mut counts = vec![0usize; 2 * group_names.len()];
    for (split, rows) in [&train_rows, &test_rows].into_iter().enumerate() {
        for &i in rows {
            counts[2 * group_of[i] as usize + split] += 1;
        }
    }
    peers.sum(&mut counts);
    for (g, name) in group_names.iter().enumerate() {
        for (split, split_name) in ["training", "test"].into_iter().enumerate() {
            if counts[2 * g + split] == 0 {
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
