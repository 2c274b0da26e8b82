//! The binary target: which value is the positive class, and each kept
//! row's label.

use super::{RowRef, TableSpec, as_number, used_values};
use crate::data::peers::Peers;
use crate::data::table::RawTable;
use crate::error::{Error, Result};

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

/// Finds the positive target value, checking that the target is binary
/// enough to be usable.
pub(super) fn resolve_positive(
    tables: &[RawTable],
    kept: &[RowRef],
    target: usize,
    spec: &TableSpec,
    peers: Peers,
) -> Result<String> {
    // Distinct target values among kept rows (equal spellings merged), in
    // order of appearance: per table, then over the processes' shares.
    let merge = |distinct: &mut Vec<String>, v: &String| {
        if !distinct.iter().any(|d| matches_value(d, v)) {
            distinct.push(v.clone());
        }
    };
    let mut per_table: Vec<Vec<String>> = vec![Vec::new(); tables.len()];
    for (t, code) in used_values(tables, kept, target) {
        merge(&mut per_table[t], &tables[t].columns[target].values[code as usize]);
    }
    let shares = peers.gather(&per_table);
    let mut distinct: Vec<String> = Vec::new();
    for t in 0..tables.len() {
        for share in &shares {
            share[t].iter().for_each(|v| merge(&mut distinct, v));
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
                    "target column '{}' has {} distinct values ({}); pass `positive VALUE` to say \
                     which one is the positive class",
                    spec.target,
                    distinct.len(),
                    shown(&distinct)
                )))
            }
        }
    }
}

/// Each kept row's label: 1 for the `positive` value, 0 otherwise.
pub(super) fn labels(tables: &[RawTable], kept: &[RowRef], target: usize, positive: &str) -> Vec<f32> {
    let labels_of: Vec<Vec<f32>> = tables
        .iter()
        .map(|t| t.columns[target].values.iter().map(|v| if matches_value(v, positive) { 1.0 } else { 0.0 }).collect())
        .collect();
    kept.iter().map(|r| labels_of[r.table][tables[r.table].columns[target].codes[r.row] as usize]).collect()
}
