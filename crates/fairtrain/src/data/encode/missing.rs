//! Rows with a missing value in a used column: dropped and counted per
//! column, or an error naming file, line and column.

use super::{MissingPolicy, RowRef};
use crate::data::table::RawTable;
use crate::error::{Error, Result};

/// The rows kept (no missing value in a used column) and what was dropped.
pub(super) struct CompleteRows {
    pub(super) kept: Vec<RowRef>,
    /// Missing cells per column among the dropped rows.
    pub(super) missing_counts: Vec<usize>,
    pub(super) rows_dropped: usize,
    pub(super) rows_read: usize,
}

impl CompleteRows {
    /// The rows of `tables` complete in the `used` columns, under `policy`
    /// (none left is the caller's error: a process may hold no row).
    pub(super) fn find(tables: &[RawTable], used: &[usize], policy: MissingPolicy) -> Result<Self> {
        let main = &tables[0];
        let mut kept: Vec<RowRef> = Vec::new();
        let mut missing_counts = vec![0usize; main.names.len()];
        let mut rows_dropped = 0;
        let mut rows_read = 0;
        for (t, table) in tables.iter().enumerate() {
            rows_read += table.n_rows();
            for row in 0..table.n_rows() {
                let mut missing = false;
                for &c in used {
                    if table.columns[c].is_missing(row) {
                        if policy == MissingPolicy::Error {
                            return Err(Error::Parse {
                                source_name: table.source.clone(),
                                line: table.lines[row],
                                message: format!(
                                    "missing value in column '{}' (use `missing drop` to drop such rows)",
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
        Ok(CompleteRows { kept, missing_counts, rows_dropped, rows_read })
    }
}
