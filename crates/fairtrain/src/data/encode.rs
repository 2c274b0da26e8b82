//! From raw tables to model-ready data sets: missing values, the binary
//! target, groups, the train/test split, and feature encoding fitted on the
//! training rows only (standardized numeric columns, one-hot categoricals).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::table::excerpt;
use super::table::{MISSING, RawTable};
use super::{CategoricalFeature, Dataset, FeatureLayout, NO_INPUT};
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

/// One sensitive column. Its values name the groups, unless `keep` is set:
/// then the value `keep` is one group and every other value is the group
/// `rest` (Adult's race: `White` vs `Non-White`); or unless `bands` is
/// set: then the column is numeric and each band between consecutive cut
/// points is a group (age bands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupColumn {
    /// Column name.
    pub name: String,
    /// One-vs-rest recoding: `(value kept, name of the rest)`.
    pub one_vs_rest: Option<(String, String)>,
    /// Increasing cut points of a numeric column: `[a, b]` gives the
    /// groups `name<a`, `a<=name<b` and `name>=b`. Empty: the values are
    /// the groups.
    pub bands: Vec<f64>,
}

impl GroupColumn {
    /// A column whose values are the groups.
    pub fn plain(name: impl Into<String>) -> Self {
        GroupColumn { name: name.into(), one_vs_rest: None, bands: Vec::new() }
    }

    /// A column whose value `keep` is one group and every other value the
    /// group `rest`.
    pub fn one_vs_rest(name: impl Into<String>, keep: impl Into<String>, rest: impl Into<String>) -> Self {
        GroupColumn { name: name.into(), one_vs_rest: Some((keep.into(), rest.into())), bands: Vec::new() }
    }

    /// A group column as `--group` writes it: `COL`, or `COL:a:b:...` for
    /// bands of a numeric column at increasing cut points.
    ///
    /// ```
    /// use fairtrain::data::GroupColumn;
    /// let age = GroupColumn::parse("age:30:50").unwrap();
    /// assert_eq!((age.name.as_str(), age.bands.as_slice()), ("age", &[30.0, 50.0][..]));
    /// assert_eq!(age.band_names(), ["age<30", "30<=age<50", "age>=50"]);
    /// assert!(GroupColumn::parse("age:50:30").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default().trim();
        if name.is_empty() {
            return Err(Error::config("group", format!("'{text}' names no column")));
        }
        let bands = parts
            .map(|p| {
                p.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                    Error::config("group", format!("'{text}': cut point '{p}' is not a number (COLUMN:a:b:...)"))
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        if bands.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::config("group", format!("'{text}': the cut points must increase")));
        }
        Ok(GroupColumn { name: name.to_string(), one_vs_rest: None, bands })
    }

    /// The groups' names when the column is cut into bands (empty when it
    /// is not).
    pub fn band_names(&self) -> Vec<String> {
        if self.bands.is_empty() {
            return Vec::new();
        }
        let (n, b) = (&self.name, &self.bands);
        let mut names = vec![format!("{n}<{}", b[0])];
        names.extend(b.windows(2).map(|w| format!("{}<={n}<{}", w[0], w[1])));
        names.push(format!("{n}>={}", b[b.len() - 1]));
        names
    }

    /// The band of numeric value `v`.
    fn band(&self, v: f64) -> usize {
        self.bands.partition_point(|&cut| cut <= v)
    }

    /// This column's part of a row's group name, from the row's `value`
    /// (`band_names` from [`band_names`](Self::band_names)); `None` when
    /// the column is cut into bands and `value` is not a number.
    ///
    /// ```
    /// use fairtrain::data::GroupColumn;
    /// let age = GroupColumn::parse("age:30").unwrap();
    /// let bands = age.band_names();
    /// assert_eq!(age.group_part("42", &bands), Some("age>=30"));
    /// assert_eq!(age.group_part("n/a", &bands), None);
    /// let race = GroupColumn::one_vs_rest("race", "White", "Non-White");
    /// assert_eq!(race.group_part("Asian-Pac-Islander", &[]), Some("Non-White"));
    /// ```
    pub fn group_part<'a>(&'a self, value: &'a str, band_names: &'a [String]) -> Option<&'a str> {
        if !self.bands.is_empty() {
            let x = value.trim().parse::<f64>().ok().filter(|x| x.is_finite())?;
            return Some(band_names[self.band(x)].as_str());
        }
        Some(match &self.one_vs_rest {
            Some((keep, rest)) if value != keep => rest.as_str(),
            _ => value,
        })
    }
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

/// Plain group columns from `groups`, each of which must be one of
/// `allowed` (the sensitive columns data set `name` offers).
pub fn allowed_groups(name: &str, groups: &[String], allowed: &[&str]) -> Result<Vec<GroupColumn>> {
    groups
        .iter()
        .map(|g| {
            if allowed.contains(&g.as_str()) {
                Ok(GroupColumn::plain(g.as_str()))
            } else {
                Err(Error::config(
                    "group",
                    format!("'{g}' is not a sensitive column of {name} (use {})", allowed.join(" or ")),
                ))
            }
        })
        .collect()
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

/// True when `value` is the positive class `positive`: equal after trimming,
/// or numerically equal when both are numbers (`1` matches `1.0`).
pub fn matches_value(value: &str, positive: &str) -> bool {
    let (v, p) = (value.trim(), positive.trim());
    if v == p {
        return true;
    }
    match (as_number(v), as_number(p)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// True for the spellings of a positive label: `true`, `yes`, or a number equal to 1.
pub fn is_truthy(value: &str) -> bool {
    let v = value.trim();
    v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes") || as_number(v) == Some(1.0)
}

/// Encodes `table` (and the test table or split) according to `spec`.
pub fn encode(table: RawTable, split: Split, spec: &TableSpec) -> Result<Encoded> {
    let (tables, random_split) = match split {
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
    let main = &tables[0];

    // Columns.
    let target = main.column_index(&spec.target)?;
    let mut group_cols = Vec::with_capacity(spec.groups.len());
    for g in &spec.groups {
        let c = main.column_index(&g.name)?;
        if c == target {
            return Err(Error::Data(format!("column '{}' cannot be both the target and a group column", g.name)));
        }
        if group_cols.contains(&c) {
            return Err(Error::Data(format!("group column '{}' is named twice", g.name)));
        }
        group_cols.push(c);
    }
    if group_cols.is_empty() {
        return Err(Error::Data("no group column given".into()));
    }
    let mut dropped_cols = Vec::new();
    for d in &spec.drop {
        let c = main.column_index(d)?;
        if c == target || group_cols.contains(&c) {
            return Err(Error::Data(format!("column '{d}' is dropped but is the target or a group column")));
        }
        dropped_cols.push(c);
    }
    let mut forced_categorical = Vec::new();
    for name in &spec.categorical {
        forced_categorical.push(main.column_index(name)?);
    }
    let mut forced_numeric = Vec::new();
    for name in &spec.numeric {
        let c = main.column_index(name)?;
        if forced_categorical.contains(&c) {
            return Err(Error::Data(format!("column '{name}' is declared both numeric and categorical")));
        }
        forced_numeric.push(c);
    }
    let weight_col = match &spec.weight {
        Some(w) => {
            let c = main.column_index(w)?;
            if c == target || group_cols.contains(&c) || dropped_cols.contains(&c) {
                return Err(Error::Data(format!(
                    "weight column '{w}' is also the target, a group column or a dropped column"
                )));
            }
            Some(c)
        }
        None => None,
    };
    let features: Vec<usize> = (0..main.names.len())
        .filter(|&c| {
            c != target
                && Some(c) != weight_col
                && !dropped_cols.contains(&c)
                && (spec.keep_group_feature || !group_cols.contains(&c))
        })
        .collect();
    if features.is_empty() {
        return Err(Error::Data(format!(
            "{}: no feature columns are left after removing the target, group and dropped columns",
            main.source
        )));
    }
    let mut used: Vec<usize> = features.clone();
    used.push(target);
    used.extend(group_cols.iter().filter(|c| !features.contains(c)));
    used.extend(weight_col);
    used.sort_unstable();

    // Missing values.
    let mut kept: Vec<RowRef> = Vec::new();
    let mut missing_counts = vec![0usize; main.names.len()];
    let mut rows_dropped = 0;
    let mut rows_read = 0;
    for (t, table) in tables.iter().enumerate() {
        rows_read += table.n_rows();
        for row in 0..table.n_rows() {
            let mut missing = false;
            for &c in &used {
                if table.columns[c].codes[row] == MISSING {
                    if spec.missing == MissingPolicy::Error {
                        return Err(Error::Parse {
                            source_name: table.source.clone(),
                            line: table.lines[row],
                            message: format!(
                                "missing value in column '{}' (use --missing drop to drop such rows)",
                                table.names[c]
                            ),
                        });
                    }
                    missing_counts[c] += 1;
                    missing = true;
                }
            }
            if missing {
                rows_dropped += 1;
            } else {
                kept.push(RowRef { table: t, row });
            }
        }
    }
    if kept.is_empty() {
        return Err(Error::Data(format!("{}: no rows left after dropping rows with missing values", main.source)));
    }

    // Target.
    let positive = resolve_positive(&tables, &kept, target, spec)?;
    let labels_of: Vec<Vec<f32>> = tables
        .iter()
        .map(|t| t.columns[target].values.iter().map(|v| if matches_value(v, &positive) { 1.0 } else { 0.0 }).collect())
        .collect();
    let label = |r: RowRef| labels_of[r.table][tables[r.table].columns[target].codes[r.row] as usize];

    // Groups: named from the values, ordered by size (largest first) over
    // the training rows, then by name.
    let band_names: Vec<Vec<String>> = spec.groups.iter().map(GroupColumn::band_names).collect();
    let group_key = |r: RowRef| -> Result<String> {
        let table = &tables[r.table];
        let parts = spec
            .groups
            .iter()
            .zip(&group_cols)
            .zip(&band_names)
            .map(|((g, &c), bands)| {
                let v = table.columns[c].get(r.row).unwrap_or("");
                g.group_part(v, bands).ok_or_else(|| {
                    Error::Data(format!(
                        "{}, line {}, column '{}': '{v}' is not a number (the group is cut into bands)",
                        table.source, table.lines[r.row], g.name
                    ))
                })
            })
            .collect::<Result<Vec<&str>>>()?;
        Ok(parts.join(" & "))
    };
    let keys: Vec<String> = kept.iter().map(|&r| group_key(r)).collect::<Result<_>>()?;
    let is_train_row = |r: &RowRef| r.table == 0;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (r, k) in kept.iter().zip(&keys) {
        if is_train_row(r) {
            *counts.entry(k.as_str()).or_default() += 1;
        }
    }
    let mut group_names: Vec<(&str, usize)> = counts.into_iter().collect();
    group_names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let group_label = spec.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(",");
    if group_names.len() < 2 {
        let only = group_names.first().map_or("", |g| g.0);
        return Err(Error::Data(format!(
            "group column '{group_label}' has only one group ('{only}') in the training data; \
             fairness constraints need at least two groups"
        )));
    }
    let group_index: HashMap<&str, u32> =
        group_names.iter().enumerate().map(|(i, (name, _))| (*name, i as u32)).collect();
    let mut group_of = Vec::with_capacity(kept.len());
    for (r, k) in kept.iter().zip(&keys) {
        match group_index.get(k.as_str()) {
            Some(&g) => group_of.push(g),
            None => {
                return Err(Error::Data(format!(
                    "{}, line {}: group '{k}' does not occur in the training data",
                    tables[r.table].source, tables[r.table].lines[r.row]
                )));
            }
        }
    }
    let group_names: Vec<String> = group_names.iter().map(|(n, _)| n.to_string()).collect();

    // Split.
    let (train_rows, test_rows): (Vec<usize>, Vec<usize>) = match random_split {
        None => (0..kept.len()).partition(|&i| kept[i].table == 0),
        Some((fraction, seed)) => stratified_split(&group_of, &kept, &label, fraction, seed),
    };
    for (g, name) in group_names.iter().enumerate() {
        for (split_name, rows) in [("training", &train_rows), ("test", &test_rows)] {
            if !rows.iter().any(|&i| group_of[i] as usize == g) {
                return Err(Error::Data(format!(
                    "group '{name}' has no rows in the {split_name} split; \
                     it needs rows in both splits (more data, or another --test-fraction)"
                )));
            }
        }
    }

    // Feature types, from the values the kept rows use.
    let mut layout = FeatureLayout::default();
    let mut warnings = Vec::new();
    let mut numeric_cols = Vec::new();
    let mut categorical_cols = Vec::new();
    // Columns already warned of (mostly numbers, or an identifier).
    let mut warned = Vec::new();
    for &c in &features {
        let used_values = used_values(&tables, &kept, c);
        let all_numbers =
            used_values.iter().all(|(t, code)| as_number(&tables[*t].columns[c].values[*code as usize]).is_some());
        if forced_numeric.contains(&c) && !all_numbers {
            let r = kept
                .iter()
                .find(|r| {
                    let code = tables[r.table].columns[c].codes[r.row];
                    as_number(&tables[r.table].columns[c].values[code as usize]).is_none()
                })
                .expect("a non-number among the used values");
            return Err(Error::Parse {
                source_name: tables[r.table].source.clone(),
                line: tables[r.table].lines[r.row],
                message: format!(
                    "value '{}' in column '{}' is not a number, but the column is declared numeric",
                    tables[r.table].columns[c].get(r.row).unwrap_or(""),
                    main.names[c]
                ),
            });
        }
        let numeric = !forced_categorical.contains(&c) && all_numbers;
        if numeric {
            numeric_cols.push(c);
        } else {
            categorical_cols.push(c);
        }
        if !numeric && !forced_categorical.contains(&c) {
            // Mostly numbers: a few bad cells changed the column's meaning.
            let bad: Vec<usize> = (0..kept.len())
                .filter(|&i| {
                    let r = kept[i];
                    tables[r.table].columns[c].get(r.row).is_some_and(|v| as_number(v).is_none())
                })
                .collect();
            let present = kept.iter().filter(|r| tables[r.table].columns[c].get(r.row).is_some()).count();
            if !bad.is_empty() && bad.len() * 10 <= present && used_values.len() > 10 {
                warned.push(c);
                let first = kept[bad[0]];
                warnings.push(format!(
                    "column '{}' holds numbers except in {} of its {present} cells (first '{}' on line {} of {}): \
                     it is encoded as categorical with one input per distinct value; fix or --drop those cells, or \
                     declare its type in a --schema",
                    main.names[c],
                    bad.len(),
                    excerpt(tables[first.table].columns[c].get(first.row).unwrap_or("")),
                    tables[first.table].lines[first.row],
                    tables[first.table].source
                ));
            }
        }
        // An identifier used as a feature: named so, or whole numbers all
        // distinct (a categorical one is caught by its many categories).
        let name = main.names[c].to_ascii_lowercase();
        let id_named = name == "id" || name.ends_with("_id") || name.ends_with("-id");
        let whole_numbers = numeric
            && used_values.iter().all(|(t, code)| {
                as_number(&tables[*t].columns[c].values[*code as usize]).is_some_and(|v| v.fract() == 0.0)
            });
        if id_named || (whole_numbers && used_values.len() == kept.len() && kept.len() >= 50) {
            warned.push(c);
            warnings.push(format!(
                "column '{}' looks like an identifier ({}): it is used as a feature; --drop it unless it carries \
                 information",
                main.names[c],
                if id_named { "its name".to_string() } else { format!("all {} values distinct", kept.len()) }
            ));
        }
    }

    // Numeric columns: values per code, then training mean and std.
    let mut numeric_values: Vec<Vec<Vec<f64>>> = Vec::new(); // [feature][table][code]
    for &c in &numeric_cols {
        let mut per_table = Vec::new();
        for table in &tables {
            let mut values = Vec::with_capacity(table.columns[c].values.len());
            for v in &table.columns[c].values {
                values.push(as_number(v).unwrap_or(f64::NAN));
            }
            per_table.push(values);
        }
        // A used value that parsed but is infinite is an error.
        for &r in &kept {
            let code = tables[r.table].columns[c].codes[r.row] as usize;
            let v = per_table[r.table][code];
            if !v.is_finite() {
                let text = tables[r.table].columns[c].values[code].trim();
                let looks_infinite = text.trim_start_matches(['+', '-']).to_ascii_lowercase().starts_with("inf");
                return Err(Error::Parse {
                    source_name: tables[r.table].source.clone(),
                    line: tables[r.table].lines[r.row],
                    message: if looks_infinite {
                        format!("value '{}' in column '{}' is not a finite number", excerpt(text), main.names[c])
                    } else {
                        format!(
                            "value '{}' in column '{}' overflows a 64-bit float (its magnitude is above 1.8e308)",
                            excerpt(text),
                            main.names[c]
                        )
                    },
                });
            }
        }
        let (mut sum, mut n) = (0.0, 0.0);
        for &i in &train_rows {
            let r = kept[i];
            sum += per_table[r.table][tables[r.table].columns[c].codes[r.row] as usize];
            n += 1.0;
        }
        let mean = sum / n;
        let mut var = 0.0;
        for &i in &train_rows {
            let r = kept[i];
            let d = per_table[r.table][tables[r.table].columns[c].codes[r.row] as usize] - mean;
            var += d * d;
        }
        let std = (var / n).sqrt();
        if !(mean.is_finite() && std.is_finite()) {
            // Finite values whose sum or spread overflows.
            let r = train_rows
                .iter()
                .map(|&i| kept[i])
                .max_by(|a, b| {
                    let v = |r: &RowRef| per_table[r.table][tables[r.table].columns[c].codes[r.row] as usize].abs();
                    v(a).total_cmp(&v(b))
                })
                .expect("training rows");
            return Err(Error::Parse {
                source_name: tables[r.table].source.clone(),
                line: tables[r.table].lines[r.row],
                message: format!(
                    "value '{}' in column '{}' is too large to standardize (the column's mean or spread overflows); \
                     rescale the column",
                    excerpt(tables[r.table].columns[c].get(r.row).unwrap_or("")),
                    main.names[c]
                ),
            });
        }
        if std == 0.0 {
            warnings.push(format!(
                "column '{}' has the same value in every training row; it carries no information",
                main.names[c]
            ));
        }
        layout.numeric.push(main.names[c].clone());
        layout.means.push(mean);
        layout.stds.push(if std > 0.0 { std } else { 1.0 });
        numeric_values.push(per_table);
    }

    // Categorical columns: categories from the training rows, sorted.
    let mut category_inputs: Vec<Vec<Vec<u32>>> = Vec::new(); // [feature][table][code] -> input
    let mut offset = layout.numeric.len() as u32;
    for &c in &categorical_cols {
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        for &i in &train_rows {
            let r = kept[i];
            if let Some(v) = tables[r.table].columns[c].get(r.row) {
                seen.insert(v, ());
            }
        }
        let categories: Vec<String> = seen.keys().map(|s| s.to_string()).collect();
        if categories.len() > 100 && categories.len() * 2 > train_rows.len() && !warned.contains(&c) {
            warnings.push(format!(
                "column '{}' is categorical with {} distinct values in {} training rows: an identifier, or \
                 numbers with a non-numeric entry? (--drop it, or fix the values)",
                main.names[c],
                categories.len(),
                train_rows.len()
            ));
        } else if categories.len() == 1 {
            warnings.push(format!(
                "column '{}' has the same value in every training row; it carries no information",
                main.names[c]
            ));
        }
        let per_table = tables
            .iter()
            .map(|t| {
                t.columns[c]
                    .values
                    .iter()
                    .map(|v| match categories.binary_search_by(|x| x.as_str().cmp(v)) {
                        Ok(k) => offset + k as u32,
                        Err(_) => NO_INPUT,
                    })
                    .collect()
            })
            .collect();
        category_inputs.push(per_table);
        let n = categories.len() as u32;
        layout.categorical.push(CategoricalFeature { name: main.names[c].clone(), categories, offset });
        offset += n;
    }

    // Sample weights of the kept rows.
    let weights: Option<Vec<f32>> = match weight_col {
        None => None,
        Some(c) => {
            let mut w = Vec::with_capacity(kept.len());
            for &r in &kept {
                let table = &tables[r.table];
                let v = table.columns[c].get(r.row).and_then(as_number);
                match v {
                    Some(x) if x.is_finite() && x >= 0.0 => w.push(x as f32),
                    _ => {
                        return Err(Error::Parse {
                            source_name: table.source.clone(),
                            line: table.lines[r.row],
                            message: format!(
                                "weight '{}' in column '{}' is not a non-negative number",
                                table.columns[c].get(r.row).unwrap_or(""),
                                main.names[c]
                            ),
                        });
                    }
                }
            }
            Some(w)
        }
    };

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
                let v = numeric_values[k][r.table][table.columns[c].codes[r.row] as usize];
                dense.push(((v - layout.means[k]) / layout.stds[k]) as f32);
            }
            for (k, &c) in categorical_cols.iter().enumerate() {
                cats.push(category_inputs[k][r.table][table.columns[c].codes[r.row] as usize]);
            }
            labels.push(label(r));
            groups.push(group_of[i]);
        }
        let data = Dataset::new(layout.clone(), group_names.clone(), dense, cats, labels, groups)?;
        match &weights {
            Some(w) => data.with_weights(rows.iter().map(|&i| w[i]).collect()),
            None => Ok(data),
        }
    };
    let train = build(&train_rows)?;
    let test = build(&test_rows)?;

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
    Ok(Encoded { train, test, report })
}

/// The distinct `(table, code)` pairs that kept rows use in column `c`.
fn used_values(tables: &[RawTable], kept: &[RowRef], c: usize) -> Vec<(usize, u32)> {
    let mut seen: Vec<Vec<bool>> = tables.iter().map(|t| vec![false; t.columns[c].values.len()]).collect();
    let mut out = Vec::new();
    for r in kept {
        let code = tables[r.table].columns[c].codes[r.row];
        if code != MISSING && !seen[r.table][code as usize] {
            seen[r.table][code as usize] = true;
            out.push((r.table, code));
        }
    }
    out
}

/// Finds the positive target value, checking that the target is binary
/// enough to be usable.
fn resolve_positive(tables: &[RawTable], kept: &[RowRef], target: usize, spec: &TableSpec) -> Result<String> {
    // Distinct target values among kept rows (equal spellings merged).
    let mut distinct: Vec<String> = Vec::new();
    for (t, code) in used_values(tables, kept, target) {
        let v = &tables[t].columns[target].values[code as usize];
        if !distinct.iter().any(|d| matches_value(d, v)) {
            distinct.push(v.clone());
        }
    }
    let shown = |d: &[String]| {
        let mut list: Vec<&str> = d.iter().take(10).map(String::as_str).collect();
        if d.len() > 10 {
            list.push("...");
        }
        list.join(", ")
    };
    match &spec.positive {
        Some(p) => {
            if !distinct.iter().any(|d| matches_value(d, p)) {
                return Err(Error::Data(format!(
                    "positive value '{p}' does not occur in target column '{}' (its values: {})",
                    spec.target,
                    shown(&distinct)
                )));
            }
            if distinct.len() < 2 {
                return Err(Error::Data(format!(
                    "target column '{}' has only one value ('{p}'); a classifier needs two classes",
                    spec.target
                )));
            }
            Ok(p.trim().to_string())
        }
        None => {
            let truthy: Vec<&String> = distinct.iter().filter(|d| is_truthy(d)).collect();
            if distinct.len() == 2 && truthy.len() == 1 {
                Ok(truthy[0].clone())
            } else {
                Err(Error::Data(format!(
                    "target column '{}' has {} distinct values ({}); pass --positive VALUE to say \
                     which one is the positive class",
                    spec.target,
                    distinct.len(),
                    shown(&distinct)
                )))
            }
        }
    }
}

/// Splits kept rows into train and test, stratified by (group, label):
/// each cell sends `round(fraction * size)` of its rows (but never all of
/// them), chosen by a seeded shuffle, to the test split. Both lists are
/// returned in source order.
fn stratified_split(
    group_of: &[u32],
    kept: &[RowRef],
    label: &dyn Fn(RowRef) -> f32,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut cells: BTreeMap<(u32, bool), Vec<usize>> = BTreeMap::new();
    for (i, &r) in kept.iter().enumerate() {
        cells.entry((group_of[i], label(r) > 0.5)).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut is_test = vec![false; kept.len()];
    for rows in cells.values_mut() {
        rows.shuffle(&mut rng);
        let n_test = ((fraction * rows.len() as f64).round() as usize).min(rows.len() - 1);
        for &i in &rows[..n_test] {
            is_test[i] = true;
        }
    }
    (0..kept.len()).partition(|&i| !is_test[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::table::ReadOptions;

    fn table(text: &str) -> RawTable {
        RawTable::read(text.as_bytes(), "t.csv", &ReadOptions::default()).unwrap()
    }

    fn spec() -> TableSpec {
        TableSpec {
            target: "y".into(),
            positive: None,
            groups: vec![GroupColumn::plain("g")],
            drop: vec![],
            categorical: vec![],
            numeric: vec![],
            missing: MissingPolicy::Drop,
            keep_group_feature: false,
            weight: None,
        }
    }

    const SMALL: &str = "a,c,g,y\n1,u,x,1\n2,v,y,0\n3,u,x,0\n4,w,y,1\n5,u,x,1\n6,v,y,0\n7,u,x,0\n8,v,y,1\n";

    #[test]
    fn encodes_numeric_and_one_hot_with_training_statistics() {
        let train = table(SMALL);
        let test = table("a,c,g,y\n2.5,v,x,1\n9,z,y,0\n");
        let e = encode(train, Split::Table(test), &spec()).unwrap();
        let layout = e.train.layout();
        assert_eq!(layout.numeric, ["a"]);
        assert!((layout.means[0] - 4.5).abs() < 1e-12);
        let std = (5.25f64).sqrt(); // population variance of 1..=8
        assert!((layout.stds[0] - std).abs() < 1e-12);
        assert_eq!(layout.categorical[0].categories, ["u", "v", "w"]);
        assert_eq!(e.train.n_inputs(), 4);
        // Row 1 of train: a = 2, c = v.
        assert!((e.train.dense_row(1)[0] - ((2.0 - 4.5) / std) as f32).abs() < 1e-6);
        assert_eq!(e.train.cat_row(1), [2]);
        // Unseen category in test gives no input.
        assert_eq!(e.test.cat_row(1), [NO_INPUT]);
        assert_eq!(e.train.labels(), [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(e.report.positive, "1");
        assert_eq!(e.train.group_names(), ["x", "y"]);
    }

    #[test]
    fn drops_rows_with_missing_values_and_reports_them() {
        let text = "a,c,g,y\n1,u,x,1\n,v,y,0\n3,u,x,0\n4,?,y,1\n5,u,x,1\n6,v,y,0\n7,u,x,0\n8,v,y,1\n9,v,y,0\n";
        let e = encode(table(text), Split::Random { test_fraction: 0.3, seed: 1 }, &spec()).unwrap();
        assert_eq!(e.report.rows_dropped, 2);
        assert_eq!(e.report.missing_by_column, [("a".to_string(), 1), ("c".to_string(), 1)]);
        assert_eq!(e.train.n_rows() + e.test.n_rows(), 7);
    }

    #[test]
    fn missing_error_names_line_and_column() {
        let text = "a,b,g,y\n1,2,x,1\n3,,y,0\n5,6,x,1\n";
        let mut s = spec();
        s.missing = MissingPolicy::Error;
        let err = encode(table(text), Split::Random { test_fraction: 0.5, seed: 0 }, &s).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv, line 3: missing value in column 'b' (use --missing drop to drop such rows)"
        );
    }

    #[test]
    fn target_needs_positive_when_not_obvious() {
        let text = "a,g,y\n1,x,1\n2,y,0\n3,x,7\n";
        let err = encode(table(text), Split::Random { test_fraction: 0.5, seed: 0 }, &spec()).unwrap_err();
        assert!(err.to_string().contains("has 3 distinct values (1, 0, 7)"), "{err}");
        let text = "a,g,y\n1,x,yes\n2,y,no\n3,x,no\n4,y,yes\n5,x,yes\n6,y,no\n7,x,no\n8,y,yes\n";
        let e = encode(table(text), Split::Random { test_fraction: 0.5, seed: 0 }, &spec()).unwrap();
        assert_eq!(e.report.positive, "yes");
    }

    #[test]
    fn positive_matches_numerically_and_must_occur() {
        let mut s = spec();
        s.positive = Some("1.0".into());
        let e = encode(table(SMALL), Split::Random { test_fraction: 0.25, seed: 0 }, &s).unwrap();
        let total: f32 = e.train.labels().iter().chain(e.test.labels()).sum();
        assert_eq!(total, 4.0);
        s.positive = Some("9".into());
        let err = encode(table(SMALL), Split::Random { test_fraction: 0.25, seed: 0 }, &s).unwrap_err();
        assert_eq!(err.to_string(), "positive value '9' does not occur in target column 'y' (its values: 1, 0)");
    }

    #[test]
    fn one_group_is_an_error() {
        let text = "a,g,y\n1,x,1\n2,x,0\n3,x,1\n";
        let err = encode(table(text), Split::Random { test_fraction: 0.3, seed: 0 }, &spec()).unwrap_err();
        assert!(err.to_string().contains("only one group ('x')"), "{err}");
    }

    #[test]
    fn unknown_column_is_named() {
        let mut s = spec();
        s.target = "zzz".into();
        let err = encode(table(SMALL), Split::Random { test_fraction: 0.3, seed: 0 }, &s).unwrap_err();
        assert!(err.to_string().starts_with("unknown column 'zzz' in t.csv"), "{err}");
    }

    #[test]
    fn stratified_split_keeps_cell_proportions_and_is_seeded() {
        let mut text = String::from("a,g,y\n");
        for i in 0..200 {
            let g = if i % 4 == 0 { "b" } else { "a" };
            text.push_str(&format!("{i},{g},{}\n", i % 2));
        }
        let split = |seed| encode(table(&text), Split::Random { test_fraction: 0.2, seed }, &spec()).unwrap();
        let e = split(3);
        assert_eq!(e.test.n_rows(), 40);
        assert_eq!(e.test.group_counts(), [30, 10]);
        assert_eq!(e.test.labels().iter().sum::<f32>(), 20.0);
        assert_eq!(split(3).test.dense_row(5), e.test.dense_row(5));
        let other = split(4);
        assert!((0..40).any(|i| other.test.dense_row(i) != e.test.dense_row(i)));
    }

    #[test]
    fn warns_about_identifier_and_constant_columns() {
        let mut text = String::from("id,k,a,g,y\n");
        for i in 0..300 {
            text.push_str(&format!("row{i},same,{},{},{}\n", i % 7, ["x", "z"][i % 2], (i / 2) % 2));
        }
        let e = encode(table(&text), Split::Random { test_fraction: 0.2, seed: 0 }, &spec()).unwrap();
        assert_eq!(e.report.warnings.len(), 2, "{:?}", e.report.warnings);
        assert!(e.report.warnings[0].starts_with("column 'id' looks like an identifier (its name)"));
        assert!(e.report.warnings[1].starts_with("column 'k' has the same value"));
    }

    #[test]
    fn one_vs_rest_and_intersectional_groups() {
        let text = "a,r,s,y\n1,W,M,1\n2,B,F,0\n3,A,M,1\n4,W,F,0\n5,W,M,0\n6,B,M,1\n7,W,F,1\n8,A,F,0\n";
        let mut s = spec();
        s.groups = vec![GroupColumn::one_vs_rest("r", "W", "Non-W"), GroupColumn::plain("s")];
        let e = encode(table(text), Split::Table(table(text)), &s).unwrap();
        let mut names = e.train.group_names().to_vec();
        names.sort();
        assert_eq!(names, ["Non-W & F", "Non-W & M", "W & F", "W & M"]);
        // Group columns are not features unless kept.
        assert_eq!(e.train.n_inputs(), 1);
        s.keep_group_feature = true;
        let e = encode(table(text), Split::Table(table(text)), &s).unwrap();
        assert_eq!(e.train.n_inputs(), 1 + 3 + 2);
    }

    /// A numeric column cut into bands: each band is a group (intersected
    /// with another column as usual); a non-number there is an error that
    /// names the line and column.
    #[test]
    fn numeric_bands_are_groups() {
        let text = "a,age,s,y\n1,22,M,1\n2,35,F,0\n3,50,M,1\n4,29.5,F,0\n5,64,M,0\n6,30,M,1\n";
        let mut s = spec();
        s.groups = vec![GroupColumn::parse("age:30:50").unwrap()];
        let e = encode(table(text), Split::Table(table(text)), &s).unwrap();
        let names = e.train.group_names();
        let group_of = |row: usize| names[e.train.groups()[row] as usize].as_str();
        // 30 and 50 open their bands; 29.5 is below 30.
        let expected = ["age<30", "30<=age<50", "age>=50", "age<30", "age>=50", "30<=age<50"];
        assert_eq!((0..6).map(group_of).collect::<Vec<_>>(), expected);
        s.groups.push(GroupColumn::plain("s"));
        let e = encode(table(text), Split::Table(table(text)), &s).unwrap();
        assert_eq!(e.train.group_names().len(), 5, "{:?}", e.train.group_names());
        let bad = "a,age,s,y\n1,22,M,1\n2,old,F,0\n";
        s.groups.pop();
        let err = encode(table(bad), Split::Table(table(bad)), &s).unwrap_err().to_string();
        assert!(err.contains("line 3, column 'age': 'old' is not a number"), "{err}");
        let err = GroupColumn::parse("age:30:x").unwrap_err().to_string();
        assert!(err.contains("cut point 'x' is not a number"), "{err}");
    }
}
