//! Resuming a run folder: its checkpoint, checked against the settings
//! and the data of the run that continues it.

use std::path::Path;

use super::checkpointer::CHECKPOINT_FILE;
use super::data::RunData;
use super::manifest::Manifest;
use super::metrics::METRICS_FILE;
use super::plan::RunPlan;
use crate::error::{Error, Result};
use crate::train::{Budget, Checkpoint};

/// A run folder's checkpoint, checked to belong to the run that resumes it.
#[derive(Debug)]
pub struct Resumable {
    /// The checkpoint to continue from.
    pub checkpoint: Checkpoint,
    /// The folder's run completed and the budget did not grow: there is
    /// nothing to resume, and its results stay as they are.
    pub complete: bool,
}

impl Resumable {
    /// The checkpoint of the run in `dir`, checked against `plan` (the
    /// same settings, apart from the budget, the threads and the cadences)
    /// and `data` (the same files or in-memory table, by their sha256, and
    /// the same split sizes).
    ///
    /// ```
    /// use fairtrain::run::{Resumable, RunConfig, RunData};
    /// let plan = RunConfig::default().resolve().unwrap();
    /// let data = RunData::from_splits("toy".into(), toy(), toy(), 0.2, 0).unwrap();
    /// # fn toy() -> fairtrain::data::Dataset {
    /// #     fairtrain::data::Dataset::from_dense(vec![0.0; 100], 1, (0..100).map(|i| (i % 2) as f32).collect(),
    /// #         (0..100).map(|i| (i % 3 == 0) as u32).collect(), vec!["a".into(), "b".into()]).unwrap()
    /// # }
    /// let empty = std::env::temp_dir().join("fairtrain-doc-resumable");
    /// let err = Resumable::open(&empty, &plan, &data).unwrap_err();
    /// assert!(err.to_string().starts_with("nothing to resume in"));
    /// ```
    pub fn open(dir: &Path, plan: &RunPlan, data: &RunData) -> Result<Resumable> {
        let path = dir.join(CHECKPOINT_FILE);
        if !path.exists() {
            return Err(Error::Data(format!(
                "nothing to resume in {}: no {CHECKPOINT_FILE} (the run had `checkpoint-every` off, or is not a \
                 run folder)",
                dir.display()
            )));
        }
        let checkpoint = Checkpoint::read(&path)?;
        plan.check_checkpoint(&checkpoint, &path)?;
        let manifest = Manifest::read(dir)?;
        let theirs = &manifest.data;
        if theirs.sha256 != data.sha256 || theirs.train_rows != data.train.n_rows() {
            return Err(Error::Data(format!(
                "{}: the run was trained on other data ({}, {} training rows; now {}, {} training rows): resume it \
                 with the data it started with",
                dir.display(),
                digest_text(&theirs.sha256),
                theirs.train_rows,
                digest_text(&data.sha256),
                data.train.n_rows()
            )));
        }
        let done = match plan.budget.budget(data.train.n_rows(), plan.batch_for(data.train.n_rows()).objective) {
            Budget::Iterations(n) => checkpoint.loop_state.iteration >= n,
            Budget::Seconds(s) => checkpoint.loop_state.seconds >= s,
        };
        let complete = done && manifest.completed() && dir.join(METRICS_FILE).exists();
        Ok(Resumable { checkpoint, complete })
    }
}

/// The start of each sha256, for a message.
fn digest_text(sha256: &[String]) -> String {
    if sha256.is_empty() {
        return "no recorded sha256".into();
    }
    let short: Vec<&str> = sha256.iter().map(|s| &s[..s.len().min(12)]).collect();
    format!("sha256 {}", short.join(", "))
}
