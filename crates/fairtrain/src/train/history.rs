//! `history.csv`: the log records, streamed to disk as training runs.

use std::io::Write;

use super::{LogColumns, LogRecord, Observer};
use crate::error::{Error, Result};

/// Writes log records as CSV rows: `iteration, seconds, objective`, then
/// `c:<constraint>` for each scalar constraint (the mean minibatch estimate
/// of `c_i`, satisfied when `<= 0`), `lambda:<constraint>` for each
/// multiplier, and the algorithm's extra columns. Each row is flushed, so
/// the file is complete up to the last record even if the run is stopped.
pub struct HistoryWriter<W: Write> {
    writer: csv::Writer<W>,
    n_multipliers: usize,
    name: String,
    fields: Vec<String>,
    /// A continued file has the header of the run it continues: the next
    /// start writes none (a restarted run's second attempt writes its own).
    skip_header: bool,
    /// Lines written to the file (header included), for checkpoints.
    lines: u64,
}

/// The key of the history's line count in a checkpoint's observer states.
pub const HISTORY_LINES: &str = "history.lines";

impl<W: Write> HistoryWriter<W> {
    /// A writer to `sink`; `name` (the file name) is used in error messages.
    pub fn new(sink: W, name: impl Into<String>) -> Self {
        HistoryWriter {
            writer: csv::Writer::from_writer(sink),
            n_multipliers: 0,
            name: name.into(),
            fields: Vec::new(),
            skip_header: false,
            lines: 0,
        }
    }

    /// A writer that continues a file which already has its header and
    /// `lines` lines in all (a resumed run).
    pub fn appending(sink: W, name: impl Into<String>, lines: u64) -> Self {
        HistoryWriter { skip_header: true, lines, ..HistoryWriter::new(sink, name) }
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Data(format!("cannot write {}: {e}", self.name))
    }

    /// Flushes and returns the sink.
    pub fn into_inner(self) -> Result<W> {
        let name = self.name.clone();
        self.writer.into_inner().map_err(|e| Error::Data(format!("cannot write {name}: {}", e.error())))
    }
}

impl<W: Write> Observer for HistoryWriter<W> {
    fn start(&mut self, columns: &LogColumns) -> Result<()> {
        let mut header: Vec<String> = vec!["iteration".into(), "seconds".into(), "objective".into()];
        header.extend(columns.constraints.iter().map(|c| format!("c:{c}")));
        header.extend(columns.multipliers.iter().map(|c| format!("lambda:{c}")));
        header.extend(columns.extras.iter().cloned());
        header.extend(["kkt:stationarity", "kkt:complementarity", "kkt:feasibility", "warnings"].map(String::from));
        self.n_multipliers = columns.multipliers.len();
        if std::mem::take(&mut self.skip_header) {
            return Ok(());
        }
        self.writer.write_record(&header).map_err(|e| self.error(e))?;
        self.lines += 1;
        self.writer.flush().map_err(|e| self.error(e))
    }

    fn record(&mut self, r: &LogRecord) -> Result<()> {
        // Reuse the field buffers: no allocation per record once warm.
        let n = 3 + r.constraints.len() + self.n_multipliers + r.extras.len() + 4;
        self.fields.resize(n, String::new());
        let mut k = 0;
        let mut put = |fields: &mut Vec<String>, v: &dyn std::fmt::Display| {
            use std::fmt::Write as _;
            fields[k].clear();
            let _ = write!(fields[k], "{v}");
            k += 1;
        };
        put(&mut self.fields, &r.iteration);
        put(&mut self.fields, &format_args!("{:.6}", r.seconds));
        put(&mut self.fields, &r.objective);
        for c in r.constraints {
            put(&mut self.fields, c);
        }
        for i in 0..self.n_multipliers {
            put(&mut self.fields, &r.multipliers.get(i).copied().unwrap_or(f32::NAN));
        }
        for e in r.extras {
            put(&mut self.fields, e);
        }
        for v in r.kkt {
            // Not measured at this record: an empty cell.
            if v.is_nan() {
                put(&mut self.fields, &"");
            } else {
                put(&mut self.fields, &v);
            }
        }
        let kinds: Vec<&str> = r.warnings.iter().map(|w| w.kind.as_ref()).collect();
        put(&mut self.fields, &kinds.join(";"));
        self.writer.write_record(&self.fields).map_err(|e| self.error(e))?;
        self.lines += 1;
        self.writer.flush().map_err(|e| self.error(e))
    }

    fn save_state(&self, states: &mut super::ObserverStates) -> Result<()> {
        states.insert(HISTORY_LINES.into(), crate::state::encode(&self.lines)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_header_and_rows() {
        let mut w = HistoryWriter::new(Vec::new(), "history.csv");
        let columns = LogColumns {
            constraints: vec!["gap(a - b)".into()],
            multipliers: vec!["gap(a - b)".into()],
            extras: vec!["extra".into()],
        };
        w.start(&columns).unwrap();
        w.record(&LogRecord {
            iteration: 100,
            seconds: 0.5,
            objective: 0.25,
            constraints: &[-0.125],
            multipliers: &[1.5],
            extras: &[0.75],
            kkt: [0.5, 0.1875, 0.0],
            warnings: &[crate::train::Warning { iteration: 100, kind: "oscillation".into(), message: "m".into() }],
        })
        .unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "iteration,seconds,objective,c:gap(a - b),lambda:gap(a - b),extra,kkt:stationarity,kkt:complementarity,\
             kkt:feasibility,warnings\n100,0.500000,0.25,-0.125,1.5,0.75,0.5,0.1875,0,oscillation\n"
        );
    }
}
