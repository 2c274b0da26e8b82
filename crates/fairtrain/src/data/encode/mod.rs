//! From raw tables to model-ready data sets, in the order [`encode`] runs
//! the steps: the columns' roles (`columns`), rows with missing values
//! (`missing`), the binary target (`target`), groups (`groups`), the
//! train/test split (`split`), and feature encoding fitted on the training
//! rows only (`features`: standardized numeric columns, one-hot
//! categoricals), with sample weights (`weights`).

mod columns;
mod features;
mod groups;
mod missing;
mod split;
mod target;
#[cfg(test)]
mod tests;
mod weights;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use self::columns::Columns;
use self::features::numeric_value;
use self::features::{FeatureTypes, one_hot, standardize};
pub use self::groups::{GroupColumn, allowed_groups};
use self::missing::CompleteRows;
pub use self::target::{is_truthy, matches_value};
use super::peers::Peers;
use super::table::{MISSING, RawTable};
use super::{Dataset, FeatureLayout};
use crate::error::{Error, Result};

/// What to do with a row that has a missing value in a used column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingPolicy {
    /// Drop the row and report how many rows were dropped, per column.
    #[default]
    Drop,
    /// Stop at the first missing value, naming file, line and column.
    Error,
}

/// How to turn a table into a binary classification data set with groups.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Target column.
    pub target: String,
    /// The target value that is the positive class; optional when the target
    /// has two values and one of them is `1`, `true` or `yes`.
    pub positive: Option<String>,
    /// Sensitive columns; several columns give intersectional groups
    /// (named by joining the values with ` & `).
    pub groups: Vec<GroupColumn>,
    /// Columns that are not used at all.
    pub drop: Vec<String>,
    /// Columns to treat as categorical even when every value is a number.
    pub categorical: Vec<String>,
    /// Columns that must be numeric (a non-number is an error, not a category).
    pub numeric: Vec<String>,
    /// A sample-weight column (non-negative numbers): weights every row's
    /// term in the objective, the constraints and the metrics. Not a feature.
    pub weight: Option<String>,
    /// Missing-value policy.
    pub missing: MissingPolicy,
    /// Keep the sensitive columns among the features.
    pub keep_group_feature: bool,
}

impl TableSpec {
    /// A spec with a fixed target and positive class (built-in data sets):
    /// no forced column types, no drops, no weight.
    pub fn fixed(target: &str, positive: &str, groups: Vec<GroupColumn>, missing: MissingPolicy, keep: bool) -> Self {
        TableSpec {
            target: target.into(),
            positive: Some(positive.into()),
            groups,
            drop: vec![],
            categorical: vec![],
            numeric: vec![],
            missing,
            keep_group_feature: keep,
            weight: None,
        }
    }
}

/// Where the test rows come from.
#[derive(Debug, Clone)]
pub enum Split {
    /// A separate table (e.g. Adult's official test file).
    Table(RawTable),
    /// A seeded split of the one table, stratified by group and label.
    Random {
        /// Fraction of rows that go to the test split, in (0, 1).
        test_fraction: f64,
        /// Seed of the split.
        seed: u64,
    },
}

/// What preprocessing did, for the run report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrepReport {
    /// Rows read (all tables).
    pub rows_read: usize,
    /// Rows dropped for missing values.
    pub rows_dropped: usize,
    /// Missing cells per column among the dropped rows, in column order.
    pub missing_by_column: Vec<(String, usize)>,
    /// The target column.
    pub target: String,
    /// The positive target value.
    pub positive: String,
    /// Numeric feature columns.
    pub numeric: Vec<String>,
    /// Categorical feature columns.
    pub categorical: Vec<String>,
    /// Columns that look like mistakes (an identifier, a constant).
    pub warnings: Vec<String>,
    /// The sensitive columns, as the groups were formed from them.
    pub groups: Vec<GroupColumn>,
}

/// The result of encoding: train and test data sets sharing one layout.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Training rows.
    pub train: Dataset,
    /// Test rows.
    pub test: Dataset,
    /// What preprocessing did.
    pub report: PrepReport,
    /// Where each training row came from: (table, row) of the tables
    /// encoded (0 the training table, 1 a separate test table).
    pub train_origin: Vec<(u32, u32)>,
    /// Where each test row came from.
    pub test_origin: Vec<(u32, u32)>,
    /// The feature columns, in table order.
    pub features: Vec<String>,
}

/// A row of one of the tables.
#[derive(Clone, Copy)]
struct RowRef {
    table: usize,
    row: usize,
}

/// Parses a number the way features and targets are compared.
fn as_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok()
}

/// Encodes `table` (and the test table or split) according to `spec`.
pub fn encode(table: RawTable, split: Split, spec: &TableSpec) -> Result<Encoded> {
    encode_among(table, split, spec, Peers::alone())
}

/// Encodes this process's share of the rows of a data-parallel load:
/// `table` (and a test table in `split`) hold a contiguous part of each
/// file's rows, rank 0 the first. Every decision that depends on all rows
/// (column types, the positive class, groups, the split, categories, the
/// means and deviations, the warnings) is taken from summaries exchanged
/// among `peers` and combined in row order, so the data sets returned are
/// exactly (bit for bit) this share's rows of the data sets [`encode`]
/// makes from all rows, with the same layout, groups and report. `origin`
/// rows count from the file's first row.
pub fn encode_among(table: RawTable, split: Split, spec: &TableSpec, peers: Peers) -> Result<Encoded> {
    let (mut tables, random_split) = match split {
        Split::Table(test) => {
            if test.names != table.names {
                return Err(Error::Data(format!("{} and {} have different columns", table.source, test.source)));
            }
            (vec![table, test], None)
        }
        Split::Random { test_fraction, seed } => {
            if !(test_fraction > 0.0 && test_fraction < 1.0) {
                return Err(Error::config(
                    "test-fraction",
                    format!("{test_fraction} (must be between 0 and 1, exclusive)"),
                ));
            }
            (vec![table], Some((test_fraction, seed)))
        }
    };
    let columns = Columns::resolve(&tables[0], spec)?;
    // Columns used as text (target, groups, categories, and any column with
    // a value that is not a number) in dictionary form, in every table: a
    // column read as numbers is spelled out (see `RawColumn::to_dictionary`).
    let mut text: Vec<bool> = columns
        .used
        .iter()
        .map(|&c| {
            c == columns.target
                || columns.groups.contains(&c)
                || columns.forced_categorical.contains(&c)
                || tables.iter().any(|t| t.columns[c].has_text())
        })
        .collect();
    peers.any(&mut text);
    for (&c, &text) in columns.used.iter().zip(&text) {
        if text && Some(c) != columns.weight {
            tables.iter_mut().for_each(|t| t.columns[c].to_dictionary());
        }
    }
    let tables = tables;
    let main = &tables[0];
    let CompleteRows { kept, mut missing_counts, rows_dropped, rows_read } =
        peers.agree(CompleteRows::find(&tables, &columns.used, spec.missing))?;
    let mut totals = [kept.len(), rows_dropped, rows_read];
    peers.sum(&mut totals);
    peers.sum(&mut missing_counts);
    let [n_kept, rows_dropped, rows_read] = totals;
    if n_kept == 0 {
        return Err(Error::Data(format!("{}: no rows left after dropping rows with missing values", main.source)));
    }
    let positive = target::resolve_positive(&tables, &kept, columns.target, spec, peers)?;
    let row_labels = target::labels(&tables, &kept, columns.target, &positive);
    let (group_names, group_of) = groups::assign_groups(&tables, &kept, &spec.groups, &columns.groups, peers)?;
    let (train_rows, test_rows) = split::split_rows(&kept, &group_of, &row_labels, &group_names, random_split, peers)?;
    let n_train = peers.offset(train_rows.len()).1;

    let types = FeatureTypes::infer(&tables, &kept, n_kept, &columns, peers)?;
    let mut layout = FeatureLayout::default();
    let mut warnings = types.warnings.clone();
    let numeric_values = standardize(&tables, &kept, &train_rows, &types.numeric, &mut layout, &mut warnings, peers)?;
    let category_inputs = one_hot(&tables, &train_rows, n_train, &kept, &types, &mut layout, &mut warnings, peers);
    let weights = peers.agree(weights::sample_weights(&tables, &kept, columns.weight))?;
    let (numeric_cols, categorical_cols) = (&types.numeric, &types.categorical);

    let layout = Arc::new(layout);
    let group_names = Arc::new(group_names);
    let build = |rows: &[usize]| -> Result<Dataset> {
        let mut dense = Vec::with_capacity(rows.len() * numeric_cols.len());
        let mut cats = Vec::with_capacity(rows.len() * categorical_cols.len());
        let mut labels = Vec::with_capacity(rows.len());
        let mut groups = Vec::with_capacity(rows.len());
        for &i in rows {
            let r = kept[i];
            let table = &tables[r.table];
            for (k, &c) in numeric_cols.iter().enumerate() {
                let v = numeric_value(&tables, &numeric_values[k], c, r);
                dense.push(((v - layout.means[k]) / layout.stds[k]) as f32);
            }
            for (k, &c) in categorical_cols.iter().enumerate() {
                cats.push(category_inputs[k][r.table][table.columns[c].codes[r.row] as usize]);
            }
            labels.push(row_labels[i]);
            groups.push(group_of[i]);
        }
        let data = Dataset::new(layout.clone(), group_names.clone(), dense, cats, labels, groups)?;
        match &weights {
            Some(w) if peers.is_alone() => data.with_weights(rows.iter().map(|&i| w[i]).collect()),
            Some(w) => data.with_share_weights(rows.iter().map(|&i| w[i]).collect()),
            None => Ok(data),
        }
    };
    if let Some(w) = &weights {
        // (Alone, `with_weights` checks.)
        let mut weighed = [train_rows.iter().any(|&i| w[i] > 0.0), test_rows.iter().any(|&i| w[i] > 0.0)];
        peers.any(&mut weighed);
        if !peers.is_alone() && weighed.contains(&false) {
            return Err(Error::Data("every sample weight is zero".into()));
        }
    }
    let first_row: Vec<usize> = tables.iter().map(|t| peers.offset(t.n_rows()).0).collect();
    let (train, test) = peers.agree(build(&train_rows).and_then(|train| Ok((train, build(&test_rows)?))))?;

    let report = PrepReport {
        rows_read,
        rows_dropped,
        missing_by_column: missing_counts
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(c, &n)| (main.names[c].clone(), n))
            .collect(),
        target: spec.target.clone(),
        positive,
        numeric: numeric_cols.iter().map(|&c| main.names[c].clone()).collect(),
        categorical: categorical_cols.iter().map(|&c| main.names[c].clone()).collect(),
        warnings,
        groups: spec.groups.clone(),
    };
    let origin = |rows: &[usize]| {
        rows.iter().map(|&i| (kept[i].table as u32, (first_row[kept[i].table] + kept[i].row) as u32)).collect()
    };
    let (train_origin, test_origin) = (origin(&train_rows), origin(&test_rows));
    let features = columns.features.iter().map(|&c| main.names[c].clone()).collect();
    Ok(Encoded { train, test, report, train_origin, test_origin, features })
}

/// The columns of `table` that encoding under `spec` reads (features,
/// target, groups, weight), in table order; an unknown or doubly used
/// column is the error [`encode`] would give. Needs only the column names,
/// so a file's header can be checked before its rows are read.
///
/// ```
/// use fairtrain::data::encode::{GroupColumn, MissingPolicy, TableSpec, used_columns};
/// use fairtrain::data::table::RawTable;
/// let header = RawTable::with_names("t.csv", vec!["id".into(), "x".into(), "y".into(), "g".into()]);
/// let mut spec = TableSpec::fixed("y", "1", vec![GroupColumn::parse("g").unwrap()], MissingPolicy::Drop, false);
/// spec.drop = vec!["id".into()];
/// assert_eq!(used_columns(&header, &spec).unwrap(), [1, 2, 3]);
/// spec.target = "label".into();
/// assert!(used_columns(&header, &spec).unwrap_err().to_string().starts_with("unknown column 'label' in t.csv"));
/// ```
pub fn used_columns(table: &RawTable, spec: &TableSpec) -> Result<Vec<usize>> {
    Ok(Columns::resolve(table, spec)?.used)
}

/// The distinct `(table, code)` pairs that kept rows use in column `c`, in
/// the tables where it is in dictionary form.
fn used_values(tables: &[RawTable], kept: &[RowRef], c: usize) -> Vec<(usize, u32)> {
    let mut seen: Vec<Vec<bool>> = tables.iter().map(|t| vec![false; t.columns[c].values.len()]).collect();
    let mut out = Vec::new();
    for r in kept {
        let Some(&code) = tables[r.table].columns[c].codes.get(r.row) else { continue };
        if code != MISSING && !seen[r.table][code as usize] {
            seen[r.table][code as usize] = true;
            out.push((r.table, code));
        }
    }
    out
}
