//! Feature encoding, fitted on the training rows only: each feature
//! column's type (numeric when every used value is a number, unless
//! declared), warnings for columns that look like mistakes, standardized
//! numeric columns and one-hot categorical ones.

use std::collections::BTreeSet;

use super::columns::Columns;
use super::{RowRef, as_number, used_values};
use crate::data::peers::Peers;
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
    /// Types from the values the kept rows use (`n_kept` of them over
    /// every process's share): a non-number in a column declared numeric is
    /// an error naming file, line and column.
    pub(super) fn infer(
        tables: &[RawTable],
        kept: &[RowRef],
        n_kept: usize,
        columns: &Columns,
        peers: Peers,
    ) -> Result<Self> {
        let main = &tables[0];
        let mut warnings = Vec::new();
        let mut numeric_cols = Vec::new();
        let mut categorical_cols = Vec::new();
        let mut warned = Vec::new();
        for &c in &columns.features {
            // (Values of the tables in dictionary form; a column in numeric
            // form holds finite numbers only.)
            let used_values = used_values(tables, kept, c);
            let value = |&(t, code): &(usize, u32)| tables[t].columns[c].values[code as usize].as_str();
            // [not all numbers, numeric form]: over every share.
            let mut form = [
                !used_values.iter().all(|v| as_number(value(v)).is_some()),
                tables.iter().any(|t| t.columns[c].numbers().is_some()),
            ];
            peers.any(&mut form);
            let [not_all_numbers, numeric_form] = form;
            if columns.forced_numeric.contains(&c) && not_all_numbers {
                let bad = kept.iter().find(|r| {
                    let column = &tables[r.table].columns[c];
                    column.numbers().is_none() && as_number(&column.values[column.codes[r.row] as usize]).is_none()
                });
                let error = |r: &RowRef| Error::Parse {
                    source_name: tables[r.table].source.clone(),
                    line: tables[r.table].lines[r.row],
                    message: format!(
                        "value '{}' in column '{}' is not a number, but the column is declared numeric",
                        tables[r.table].columns[c].text(r.row).unwrap_or_default(),
                        main.names[c]
                    ),
                };
                peers.agree(bad.map_or(Ok(()), |r| Err(error(r))))?;
                // (A process holds the non-number, so it was reported above.)
                return Err(Error::Data(format!("column '{}' is declared numeric but holds text", main.names[c])));
            }
            let numeric = !columns.forced_categorical.contains(&c) && !not_all_numbers;
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
                let mut counts = [bad.len(), present];
                peers.sum(&mut counts);
                let [n_bad, present] = counts;
                if n_bad > 0 && n_bad * 10 <= present && distinct_count(tables, c, &used_values, peers) > 10 {
                    warned.push(c);
                    let first = bad.first().map(|&i| {
                        let r = kept[i];
                        let text = excerpt(&tables[r.table].columns[c].text(r.row).unwrap_or_default());
                        (text, tables[r.table].lines[r.row], tables[r.table].source.clone())
                    });
                    let (text, line, source) =
                        peers.gather(&first).into_iter().flatten().next().expect("a process holds the bad cell");
                    warnings.push(format!(
                        "column '{}' holds numbers except in {n_bad} of its {present} cells (first '{text}' on line \
                         {line} of {source}): it is encoded as categorical with one input per distinct value; fix or \
                         `drop` those cells, or declare its type in a `schema`",
                        main.names[c],
                    ));
                }
            }
            // An identifier used as a feature: named so, or whole numbers all
            // distinct (a categorical one is caught by its many categories).
            let name = main.names[c].to_ascii_lowercase();
            let id_named = name == "id" || name.ends_with("_id") || name.ends_with("-id");
            let mut fractional = [!numeric
                || !(used_values.iter().all(|v| as_number(value(v)).is_some_and(|v| v.fract() == 0.0))
                    && (tables.iter().all(|t| t.columns[c].numbers().is_none())
                        || kept
                            .iter()
                            .all(|r| tables[r.table].columns[c].number(r.row).is_none_or(|v| v.fract() == 0.0))))];
            peers.any(&mut fractional);
            let whole_numbers = !fractional[0];
            if id_named
                || (whole_numbers
                    && n_kept >= 50
                    && all_distinct(tables, kept, c, &used_values, numeric_form, n_kept, peers))
            {
                warned.push(c);
                warnings.push(format!(
                    "column '{}' looks like an identifier ({}): it is used as a feature; `drop` it unless it carries \
                     information",
                    main.names[c],
                    if id_named { "its name".to_string() } else { format!("all {n_kept} values distinct") }
                ));
            }
        }
        Ok(FeatureTypes { numeric: numeric_cols, categorical: categorical_cols, warnings, warned })
    }
}

/// The number of distinct `(table, value)` pairs among `used` (the used
/// values of column `c` in dictionary form) over every process's share.
fn distinct_count(tables: &[RawTable], c: usize, used: &[(usize, u32)], peers: Peers) -> usize {
    if peers.is_alone() {
        return used.len();
    }
    let mine: Vec<(u32, String)> =
        used.iter().map(|&(t, code)| (t as u32, tables[t].columns[c].values[code as usize].clone())).collect();
    peers.gather(&mine).into_iter().flatten().collect::<BTreeSet<_>>().len()
}

/// Whether the `n_kept` rows' values of column `c` are all distinct over
/// every process's share: as cells of each table (`used`, its distinct
/// used values) where every share holds the column in dictionary form, as
/// numbers over all tables where any share holds it in `numeric_form`.
fn all_distinct(
    tables: &[RawTable],
    kept: &[RowRef],
    c: usize,
    used: &[(usize, u32)],
    numeric_form: bool,
    n_kept: usize,
    peers: Peers,
) -> bool {
    // (0 and -0 are one number.)
    let numbers = || -> Vec<u64> {
        let mut numbers: Vec<f64> = kept.iter().filter_map(|r| tables[r.table].columns[c].number(r.row)).collect();
        numbers.sort_unstable_by(f64::total_cmp);
        numbers.dedup();
        numbers.into_iter().map(|x| (x + 0.0).to_bits()).collect()
    };
    let local = if numeric_form { numbers().len() == kept.len() } else { used.len() == kept.len() };
    let mut repeated = [!local];
    peers.any(&mut repeated);
    if repeated[0] || peers.is_alone() {
        return !repeated[0];
    }
    if numeric_form {
        peers.gather(&numbers()).into_iter().flatten().collect::<BTreeSet<u64>>().len() == n_kept
    } else {
        distinct_count(tables, c, used, peers) == n_kept
    }
}

/// Standardizes the numeric columns with their training mean and standard
/// deviation (recorded in `layout`): per column, per table, each code's
/// number. An infinite or overflowing value is an error naming file, line
/// and column; a constant column is warned of. The sums run over the
/// training rows in row order, continued from one process's share to the
/// next ([`Peers::chain`]), so a data-parallel load gets one process's bits.
pub(super) fn standardize(
    tables: &[RawTable],
    kept: &[RowRef],
    train_rows: &[usize],
    numeric_cols: &[usize],
    layout: &mut FeatureLayout,
    warnings: &mut Vec<String>,
    peers: Peers,
) -> Result<Vec<Vec<Vec<f64>>>> {
    let main = &tables[0];
    // [feature][table][code] (empty for a table whose column is in numeric
    // form: its rows hold their numbers).
    let numeric_values: Vec<Vec<Vec<f64>>> = numeric_cols
        .iter()
        .map(|&c| {
            tables
                .iter()
                .map(|t| t.columns[c].values.iter().map(|v| as_number(v).unwrap_or(f64::NAN)).collect())
                .collect()
        })
        .collect();
    let value = |k: usize, r: &RowRef| numeric_value(tables, &numeric_values[k], numeric_cols[k], *r);
    // A used value that parsed but is infinite is an error.
    let infinite = (|| {
        for (k, &c) in numeric_cols.iter().enumerate() {
            let Some(r) = kept.iter().find(|r| !value(k, r).is_finite()) else { continue };
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
        Ok(())
    })();
    peers.agree(infinite)?;
    let n_cols = numeric_cols.len();
    let (sums, n) = peers.chain((vec![0.0f64; n_cols], 0.0f64), |(mut sums, mut n)| {
        for (k, sum) in sums.iter_mut().enumerate() {
            for &i in train_rows {
                *sum += value(k, &kept[i]);
            }
        }
        for _ in train_rows {
            n += 1.0;
        }
        (sums, n)
    });
    let means: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let vars = peers.chain(vec![0.0f64; n_cols], |mut vars| {
        for (k, var) in vars.iter_mut().enumerate() {
            for &i in train_rows {
                let d = value(k, &kept[i]) - means[k];
                *var += d * d;
            }
        }
        vars
    });
    for (k, &c) in numeric_cols.iter().enumerate() {
        let (mean, std) = (means[k], (vars[k] / n).sqrt());
        if !(mean.is_finite() && std.is_finite()) {
            // Finite values whose sum or spread overflows: the largest (the
            // last of equals) is named.
            let largest =
                train_rows.iter().map(|&i| kept[i]).max_by(|a, b| value(k, a).abs().total_cmp(&value(k, b).abs()));
            let mine = largest.map(|r| {
                let text = excerpt(&tables[r.table].columns[c].text(r.row).unwrap_or_default());
                (value(k, &r).abs(), text, tables[r.table].lines[r.row], tables[r.table].source.clone())
            });
            let (_, text, line, source_name) = peers
                .gather(&mine)
                .into_iter()
                .flatten()
                .reduce(|a, b| if b.0.total_cmp(&a.0).is_ge() { b } else { a })
                .expect("training rows");
            return Err(Error::Parse {
                source_name,
                line,
                message: format!(
                    "value '{text}' in column '{}' is too large to standardize (the column's mean or spread \
                     overflows); rescale the column",
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
#[allow(clippy::too_many_arguments)]
pub(super) fn one_hot(
    tables: &[RawTable],
    train_rows: &[usize],
    n_train: usize,
    kept: &[RowRef],
    types: &FeatureTypes,
    layout: &mut FeatureLayout,
    warnings: &mut Vec<String>,
    peers: Peers,
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
        let categories: Vec<String> = if peers.is_alone() {
            seen.into_iter().map(str::to_string).collect()
        } else {
            // Every process's categories, merged (sorted, each once).
            let mine: Vec<String> = seen.into_iter().map(str::to_string).collect();
            peers.gather(&mine).into_iter().flatten().collect::<BTreeSet<String>>().into_iter().collect()
        };
        if categories.len() > 100 && categories.len() * 2 > n_train && !warned.contains(&c) {
            warnings.push(format!(
                "column '{}' is categorical with {} distinct values in {} training rows: an identifier, or \
                 numbers with a non-numeric entry? (`drop` it, or fix the values)",
                main.names[c],
                categories.len(),
                n_train
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
