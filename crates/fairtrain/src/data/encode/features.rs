//! Feature encoding, fitted on the training rows only: each feature
//! column's type (numeric when every used value is a number, unless
//! declared), warnings for columns that look like mistakes, standardized
//! numeric columns and one-hot categorical ones.

use std::collections::BTreeSet;

use super::columns::Columns;
use super::{RowRef, as_number, used_values};
use crate::data::table::{MISSING, RawTable, excerpt};
use crate::data::{CategoricalFeature, FeatureLayout, NO_INPUT};
use crate::error::{Error, Result};

/// The feature columns by type, and the warnings about them.
pub(super) struct FeatureTypes {
    pub(super) numeric: Vec<usize>,
    pub(super) categorical: Vec<usize>,
    pub(super) warnings: Vec<String>,
    /// Columns already warned of (mostly numbers, or an identifier).
    pub(super) warned: Vec<usize>,
}

impl FeatureTypes {
    /// Types from the values the kept rows use: a non-number in a column
    /// declared numeric is an error naming file, line and column.
    pub(super) fn infer(tables: &[RawTable], kept: &[RowRef], columns: &Columns) -> Result<Self> {
        let main = &tables[0];
        let mut warnings = Vec::new();
        let mut numeric_cols = Vec::new();
        let mut categorical_cols = Vec::new();
        let mut warned = Vec::new();
        for &c in &columns.features {
            // (Values of the tables in dictionary form; a column in numeric
            // form holds finite numbers only.)
            let used_values = used_values(tables, kept, c);
            let all_numbers =
                used_values.iter().all(|(t, code)| as_number(&tables[*t].columns[c].values[*code as usize]).is_some());
            let numeric_form = tables.iter().any(|t| t.columns[c].numbers().is_some());
            if columns.forced_numeric.contains(&c) && !all_numbers {
                let r = kept
                    .iter()
                    .find(|r| {
                        let column = &tables[r.table].columns[c];
                        column.numbers().is_none() && as_number(&column.values[column.codes[r.row] as usize]).is_none()
                    })
                    .expect("a non-number among the used values");
                return Err(Error::Parse {
                    source_name: tables[r.table].source.clone(),
                    line: tables[r.table].lines[r.row],
                    message: format!(
                        "value '{}' in column '{}' is not a number, but the column is declared numeric",
                        tables[r.table].columns[c].text(r.row).unwrap_or_default(),
                        main.names[c]
                    ),
                });
            }
            let numeric = !columns.forced_categorical.contains(&c) && all_numbers;
            if numeric {
                numeric_cols.push(c);
            } else {
                categorical_cols.push(c);
            }
            if !numeric && !columns.forced_categorical.contains(&c) {
                // Mostly numbers: a few bad cells changed the column's meaning.
                let bad: Vec<usize> = (0..kept.len())
                    .filter(|&i| {
                        let r = kept[i];
                        tables[r.table].columns[c].text(r.row).is_some_and(|v| as_number(&v).is_none())
                    })
                    .collect();
                let present = kept.iter().filter(|r| !tables[r.table].columns[c].is_missing(r.row)).count();
                if !bad.is_empty() && bad.len() * 10 <= present && used_values.len() > 10 {
                    warned.push(c);
                    let first = kept[bad[0]];
                    warnings.push(format!(
                        "column '{}' holds numbers except in {} of its {present} cells (first '{}' on line {} of {}): \
                         it is encoded as categorical with one input per distinct value; fix or `drop` those cells, or \
                         declare its type in a `schema`",
                        main.names[c],
                        bad.len(),
                        excerpt(&tables[first.table].columns[c].text(first.row).unwrap_or_default()),
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
                })
                && (!numeric_form
                    || kept.iter().all(|r| tables[r.table].columns[c].number(r.row).is_none_or(|v| v.fract() == 0.0)));
            let all_distinct = || {
                if !numeric_form {
                    return used_values.len() == kept.len();
                }
                let mut numbers: Vec<f64> =
                    kept.iter().filter_map(|r| tables[r.table].columns[c].number(r.row)).collect();
                numbers.sort_unstable_by(f64::total_cmp);
                numbers.dedup();
                numbers.len() == kept.len()
            };
            if id_named || (whole_numbers && kept.len() >= 50 && all_distinct()) {
                warned.push(c);
                warnings.push(format!(
                    "column '{}' looks like an identifier ({}): it is used as a feature; `drop` it unless it carries \
                     information",
                    main.names[c],
                    if id_named { "its name".to_string() } else { format!("all {} values distinct", kept.len()) }
                ));
            }
        }
        Ok(FeatureTypes { numeric: numeric_cols, categorical: categorical_cols, warnings, warned })
    }
}

/// Standardizes the numeric columns with their training mean and standard
/// deviation (recorded in `layout`): per column, per table, each code's
/// number. An infinite or overflowing value is an error naming file, line
/// and column; a constant column is warned of.
pub(super) fn standardize(
    tables: &[RawTable],
    kept: &[RowRef],
    train_rows: &[usize],
    numeric_cols: &[usize],
    layout: &mut FeatureLayout,
    warnings: &mut Vec<String>,
) -> Result<Vec<Vec<Vec<f64>>>> {
    let main = &tables[0];
    let mut numeric_values: Vec<Vec<Vec<f64>>> = Vec::new(); // [feature][table][code]
    for &c in numeric_cols {
        let mut per_table = Vec::new();
        // (Empty for a table whose column is in numeric form: its rows
        // hold their numbers.)
        for table in tables {
            let mut values = Vec::with_capacity(table.columns[c].values.len());
            for v in &table.columns[c].values {
                values.push(as_number(v).unwrap_or(f64::NAN));
            }
            per_table.push(values);
        }
        let value = |r: &RowRef| numeric_value(tables, &per_table, c, *r);
        // A used value that parsed but is infinite is an error.
        for r in kept {
            let v = value(r);
            if !v.is_finite() {
                let column = &tables[r.table].columns[c];
                let text = column.values[column.codes[r.row] as usize].trim();
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
        for &i in train_rows {
            let r = kept[i];
            sum += value(&r);
            n += 1.0;
        }
        let mean = sum / n;
        let mut var = 0.0;
        for &i in train_rows {
            let r = kept[i];
            let d = value(&r) - mean;
            var += d * d;
        }
        let std = (var / n).sqrt();
        if !(mean.is_finite() && std.is_finite()) {
            // Finite values whose sum or spread overflows.
            let r = train_rows
                .iter()
                .map(|&i| kept[i])
                .max_by(|a, b| value(a).abs().total_cmp(&value(b).abs()))
                .expect("training rows");
            return Err(Error::Parse {
                source_name: tables[r.table].source.clone(),
                line: tables[r.table].lines[r.row],
                message: format!(
                    "value '{}' in column '{}' is too large to standardize (the column's mean or spread overflows); \
                     rescale the column",
                    excerpt(&tables[r.table].columns[c].text(r.row).unwrap_or_default()),
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
    Ok(numeric_values)
}

/// The number of numeric column `c` in row `r`: its code's number
/// (`per_table`, as [`standardize`] returns them) in dictionary form.
pub(super) fn numeric_value(tables: &[RawTable], per_table: &[Vec<f64>], c: usize, r: RowRef) -> f64 {
    let column = &tables[r.table].columns[c];
    match column.numbers() {
        Some(numbers) => numbers[r.row],
        None => per_table[r.table][column.codes[r.row] as usize],
    }
}

/// One-hot inputs of the categorical columns, with the categories of the
/// training rows, sorted (recorded in `layout`, after the numeric inputs):
/// per column, per table, each code's input ([`NO_INPUT`] for a category
/// unseen in training).
pub(super) fn one_hot(
    tables: &[RawTable],
    train_rows: &[usize],
    kept: &[RowRef],
    types: &FeatureTypes,
    layout: &mut FeatureLayout,
    warnings: &mut Vec<String>,
) -> Vec<Vec<Vec<u32>>> {
    let main = &tables[0];
    let (categorical_cols, warned) = (&types.categorical, &types.warned);
    let mut category_inputs: Vec<Vec<Vec<u32>>> = Vec::new(); // [feature][table][code] -> input
    let mut offset = layout.numeric.len() as u32;
    for &c in categorical_cols {
        // The values the training rows use (categorical columns are in
        // dictionary form), sorted.
        let mut used: Vec<Vec<bool>> = tables.iter().map(|t| vec![false; t.columns[c].values.len()]).collect();
        for &i in train_rows {
            let r = kept[i];
            if let Some(&code) = tables[r.table].columns[c].codes.get(r.row).filter(|&&code| code != MISSING) {
                used[r.table][code as usize] = true;
            }
        }
        let seen: BTreeSet<&str> = used
            .iter()
            .zip(tables)
            .flat_map(|(used, t)| t.columns[c].values.iter().zip(used).filter(|(_, u)| **u).map(|(v, _)| v.as_str()))
            .collect();
        let categories: Vec<String> = seen.into_iter().map(str::to_string).collect();
        if categories.len() > 100 && categories.len() * 2 > train_rows.len() && !warned.contains(&c) {
            warnings.push(format!(
                "column '{}' is categorical with {} distinct values in {} training rows: an identifier, or \
                 numbers with a non-numeric entry? (`drop` it, or fix the values)",
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
    category_inputs
}
