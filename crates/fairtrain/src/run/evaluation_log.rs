//! [`EvaluationLog`]: `evaluations.csv`, the full train and test splits
//! evaluated during training.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use super::data::RunData;
use super::files::open_log;
use crate::algorithms::Algorithm;
use crate::constraints::FairnessConstraint;
use crate::error::{Error, Result};
use crate::evaluation::SplitReport;
use crate::model::Mlp;
use crate::problem::Problem;
use crate::train::{LoopState, Observer, ObserverStates};

/// The evaluation file's name.
pub const EVALUATIONS_FILE: &str = "evaluations.csv";

/// Evaluates the full train and test splits at the trainer's evaluation
/// points and streams one row per split and evaluation: iteration, training
/// seconds, split, objective (mean loss), accuracy, and each constraint's
/// value. Evaluation time is not training time.
pub struct EvaluationLog<'a> {
    writer: BufWriter<File>,
    path: PathBuf,
    mlp: Mlp,
    data: &'a RunData,
    constraints: &'a [FairnessConstraint],
    threads: usize,
    /// Lines written (header included), for checkpoints.
    lines: u64,
}

/// The key of the evaluations' line count in a checkpoint's observer states.
pub const EVALUATION_LINES: &str = "evaluations.lines";

impl<'a> EvaluationLog<'a> {
    /// Creates `dir/evaluations.csv`, or continues it from the `keep`
    /// lines a checkpoint recorded.
    pub fn create(
        dir: &Path,
        mlp: Mlp,
        data: &'a RunData,
        constraints: &'a [FairnessConstraint],
        threads: usize,
        keep: Option<u64>,
    ) -> Result<Self> {
        let path = dir.join(EVALUATIONS_FILE);
        let (mut writer, kept) = open_log(&path, keep)?;
        let lines = match kept {
            Some(n) => n,
            None => {
                let names: Vec<&str> = constraints.iter().map(|c| c.name()).collect();
                writeln!(writer, "iteration,seconds,split,objective,accuracy,{}", names.join(","))
                    .map_err(|e| Error::io(&path, e))?;
                1
            }
        };
        Ok(EvaluationLog { writer, path, mlp, data, constraints, threads, lines })
    }

    /// Flushes the file.
    pub fn finish(mut self) -> Result<()> {
        self.writer.flush().map_err(|e| Error::io(&self.path, e))
    }
}

impl Observer for EvaluationLog<'_> {
    fn evaluate(&mut self, iteration: u64, seconds: f64, params: &[f32]) -> Result<()> {
        for (split, rows) in [("train", self.data.train_rows()), ("test", self.data.test_rows())] {
            let frame = rows.frame(&self.mlp, params, self.threads);
            let report = SplitReport::new(&frame, self.constraints, params);
            let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
            let values: Vec<String> = report.constraints.iter().map(|c| cell(c.value)).collect();
            writeln!(
                self.writer,
                "{iteration},{seconds:.6},{split},{},{},{}",
                cell(report.objective),
                cell(report.accuracy),
                values.join(",")
            )
            .map_err(|e| Error::io(&self.path, e))?;
            self.lines += 1;
        }
        Ok(())
    }

    fn save_state(&self, states: &mut ObserverStates) -> Result<()> {
        states.insert(EVALUATION_LINES.into(), crate::state::encode(&self.lines)?);
        Ok(())
    }

    /// The lines a checkpoint counts are on disk when it is written.
    fn checkpoint(&mut self, _: &LoopState, _: &dyn Problem, _: &dyn Algorithm) -> Result<()> {
        self.writer.flush().map_err(|e| Error::io(&self.path, e))
    }
}
