//! [`Metrics`]: what a run reports, the contents of its `metrics.json`.
//! Written and read by the same type, so every tool that compares runs
//! (bench, report, study, prune) reads typed fields.

use std::path::Path;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::evaluation::SplitReport;
use crate::evaluation::certificate::Certificate;
use crate::model::decision::GroupThresholds;
use crate::train::{StopReason, Warning};

/// The file's name in a run directory.
pub const METRICS_FILE: &str = "metrics.json";

/// The keys of `metrics.json` that measure time or resources, not results:
/// two runs of the same configuration differ only in these.
pub const TIMING_FIELDS: [&str; 10] = [
    "wall_seconds",
    "total_seconds",
    "evaluation_seconds",
    "iterations_per_second",
    "rows_per_iteration",
    "peak_rss_mb",
    "checkpoints",
    "checkpoint_bytes",
    "checkpoint_seconds",
    "resumed_from",
];

/// `metrics.json`, schema version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The schema's version (1).
    pub schema_version: u32,
    /// The fairtrain version that wrote it.
    pub fairtrain_version: String,
    /// `completed` or `interrupted`.
    pub status: String,
    /// The iteration this run was resumed from (`null` for a fresh run).
    pub resumed_from: Option<u64>,
    /// Checkpoints written by this process.
    pub checkpoints: u64,
    /// The size of the last checkpoint.
    pub checkpoint_bytes: u64,
    /// Seconds spent writing checkpoints.
    pub checkpoint_seconds: f64,
    /// The algorithm (or method).
    pub algorithm: String,
    /// The preset.
    pub preset: String,
    /// The data set's name.
    pub dataset: String,
    /// The sensitive columns.
    pub group: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// Iterations done.
    pub iterations: u64,
    /// Passes of the objective sampler over the training rows.
    pub epochs: u64,
    /// Seconds of training only (steps and history logging; evaluations
    /// during training excluded).
    pub wall_seconds: f64,
    /// Seconds spent evaluating the full splits during training.
    pub evaluation_seconds: f64,
    /// Seconds of the whole command up to writing this file.
    pub total_seconds: f64,
    /// Iterations per second of training.
    pub iterations_per_second: f64,
    /// Rows forwarded through the model per iteration, every minibatch
    /// (the objective's and the groups') and every re-estimate together:
    /// what an iteration costs, to compare iteration rates across batch
    /// sizes and numbers of groups. Model-selection evaluations are not
    /// counted (they are `evaluation_seconds`).
    pub rows_per_iteration: Option<f64>,
    /// Peak resident memory of the process so far, in MB (Linux only).
    pub peak_rss_mb: Option<f64>,
    /// Why training stopped.
    pub stop_reason: StopReason,
    /// Iterates averaged into the returned model (0: the last iterate).
    pub averaged_iterates: u64,
    /// Evaluation threads.
    pub threads: usize,
    /// Processes of a data-parallel run (1 alone); `iterations_per_second`
    /// is the whole run's.
    pub processes: usize,
    /// Instruction set of the model's kernels (or the burn device).
    pub kernels: String,
    /// Parameters of the model.
    pub n_params: usize,
    /// Final multiplier of each scalar constraint (empty for methods without).
    pub multipliers: Named,
    /// What was loaded.
    pub data: DataSummary,
    /// The training split.
    pub train: SplitReport,
    /// The validation split, when one is held out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<SplitReport>,
    /// The test split.
    pub test: SplitReport,
    /// How the returned model was chosen (with `select = "best-feasible"` or `"best"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<Selected>,
    /// Pruned runs: the fraction of the weights (not biases) that are zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparsity: Option<f64>,
    /// Post-processed runs: the step, its rules, and the model before it
    /// (the splits above and the certificates are of the post-processed
    /// decisions, those `predict` gives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postprocess: Option<PostprocessReport>,
    /// Held-out feasibility certificate of each constraint (test split).
    pub certificates: Vec<Certificate>,
    /// Diagnostics raised while training: iteration, kind, message.
    pub warnings: Vec<Warning>,
}

impl Metrics {
    /// Reads `dir/metrics.json`.
    pub fn read(dir: &Path) -> Result<Metrics> {
        let path = dir.join(METRICS_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Data(format!("{}: {e}", path.display())))
    }

    /// The metrics of a completed run in `dir`, if there is one.
    pub fn completed(dir: &Path) -> Option<Metrics> {
        Metrics::read(dir).ok().filter(|m| m.status == "completed")
    }
}

/// What post-processing did (see [`crate::postprocess`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostprocessReport {
    /// The step (`group-thresholds`).
    pub method: String,
    /// The split the rules were fitted on.
    pub fitted_on: String,
    /// The rules, as saved in `model.json`.
    pub rules: GroupThresholds,
    /// The model's own decisions (logit above 0) on each split.
    pub before: BeforePostprocess,
}

/// The splits' reports of the model's own decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeforePostprocess {
    /// The training split.
    pub train: SplitReport,
    /// The validation split.
    pub validation: Option<SplitReport>,
    /// The test split.
    pub test: SplitReport,
}

/// How a `best-feasible` or `best` selection chose the returned model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selected {
    /// The iteration of the last iterate in the chosen average.
    pub iteration: u64,
    /// `best-feasible`, or `best` (the validation objective alone).
    pub rule: String,
    /// Its validation objective, as the selection judged it: before any
    /// moved decision threshold (a `threshold-moved` warning), which
    /// shifts the output bias; the `validation` report is of the returned
    /// model.
    pub validation_objective: f64,
    /// Whether it is the model training ended with (the tail average, or
    /// the last iterate) rather than an average of evaluated iterates.
    #[serde(default)]
    pub trained_model: bool,
    /// Whether it is the first attempt's model, kept after a restart
    /// because the second attempt's was less accurate on validation or
    /// violated the bounds on train (see the `restarted` warning).
    #[serde(default)]
    pub first_attempt: bool,
}

/// What was loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// Training rows (after the validation split).
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Encoded inputs.
    pub inputs: usize,
    /// The positive label.
    pub positive_label: String,
    /// Rows dropped for missing values.
    pub rows_dropped: usize,
    /// The sample-weight column, when rows are weighted.
    pub weight: Option<String>,
    /// sha256 of the files read.
    pub sha256: Vec<String>,
    /// Data warnings.
    pub warnings: Vec<String>,
}

/// Named values, serialized as a JSON object in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Named(pub Vec<(String, f64)>);

impl Serialize for Named {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Named {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        crate::evaluation::ordered_map(d).map(Named)
    }
}

/// Peak resident set size of this process in MB, from `/proc/self/status`
/// (`None` where that file does not exist).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
