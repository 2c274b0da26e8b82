//! Sample weights: a column of non-negative numbers that weights every
//! row's term in the objective, the constraints and the metrics.

use super::RowRef;
use crate::data::table::RawTable;
use crate::error::{Error, Result};

/// Each kept row's sample weight from column `weight_col`: a value that is
/// not a non-negative number is an error naming file, line and column.
pub(super) fn sample_weights(
    tables: &[RawTable],
    kept: &[RowRef],
    weight_col: Option<usize>,
) -> Result<Option<Vec<f32>>> {
    let main = &tables[0];
    Ok(match weight_col {
        None => None,
        Some(c) => {
            let mut w = Vec::with_capacity(kept.len());
            for &r in kept {
                let table = &tables[r.table];
                let v = table.columns[c].number(r.row);
                match v {
                    Some(x) if x.is_finite() && x >= 0.0 => w.push(x as f32),
                    _ => {
                        return Err(Error::Parse {
                            source_name: table.source.clone(),
                            line: table.lines[r.row],
                            message: format!(
                                "weight '{}' in column '{}' is not a non-negative number",
                                table.columns[c].text(r.row).unwrap_or_default(),
                                main.names[c]
                            ),
                        });
                    }
                }
            }
            Some(w)
        }
    })
}
