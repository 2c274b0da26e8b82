//! What a run writes to `metrics.json` and prints at the end.

use std::fmt::Write as _;

use fairtrain::evaluation::SplitReport;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// `metrics.json`, schema version 1.
#[derive(Debug, Serialize)]
pub struct Metrics {
    pub schema_version: u32,
    pub fairtrain_version: &'static str,
    pub status: &'static str,
    /// The iteration this run was resumed from (`null` for a fresh run).
    pub resumed_from: Option<u64>,
    /// Checkpoints written by this process, the size of the last, and the time spent writing them.
    pub checkpoints: u64,
    pub checkpoint_bytes: u64,
    pub checkpoint_seconds: f64,
    pub algorithm: String,
    pub preset: String,
    pub dataset: String,
    pub group: Vec<String>,
    pub seed: u64,
    pub iterations: u64,
    /// Passes of the objective sampler over the training rows.
    pub epochs: u64,
    /// Seconds of training only (steps and history logging; evaluations
    /// during training excluded).
    pub wall_seconds: f64,
    /// Seconds spent evaluating the full splits during training (bench).
    pub evaluation_seconds: f64,
    /// Seconds of the whole command up to writing this file.
    pub total_seconds: f64,
    pub iterations_per_second: f64,
    /// Peak resident memory of the process so far, in MB (Linux only).
    pub peak_rss_mb: Option<f64>,
    pub stop_reason: fairtrain::train::StopReason,
    /// Iterates averaged into the returned model (0: the last iterate).
    pub averaged_iterates: u64,
    pub threads: usize,
    /// Processes of a data-parallel run (1 alone); `iterations_per_second`
    /// is the whole run's.
    pub processes: usize,
    /// Instruction set of the model's kernels.
    pub kernels: &'static str,
    pub n_params: usize,
    /// Final multiplier of each scalar constraint (empty for methods without).
    pub multipliers: Named,
    pub data: DataSummary,
    pub train: SplitReport,
    /// The validation split, when one is held out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<SplitReport>,
    pub test: SplitReport,
    /// How the returned model was chosen (with `--select best-feasible`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected: Option<serde_json::Value>,
    /// Pruned runs: the fraction of the weights (not biases) that are zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparsity: Option<f64>,
    /// Held-out feasibility certificate of each constraint (test split).
    pub certificates: Vec<fairtrain::evaluation::certificate::Certificate>,
    /// Diagnostics raised while training: iteration, kind, message.
    pub warnings: Vec<fairtrain::train::Warning>,
}

/// What was loaded.
#[derive(Debug, Serialize)]
pub struct DataSummary {
    pub train_rows: usize,
    pub test_rows: usize,
    pub inputs: usize,
    pub positive_label: String,
    pub rows_dropped: usize,
    /// The sample-weight column, when rows are weighted.
    pub weight: Option<String>,
    pub sha256: Vec<String>,
    pub warnings: Vec<String>,
}

/// Named values, serialized as a JSON object in order.
#[derive(Debug, Default)]
pub struct Named(pub Vec<(String, f64)>);

impl Serialize for Named {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
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

fn num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{v:.digits$}"),
        None => "-".into(),
    }
}

/// The per-group table of the splits and the constraint verdicts.
pub fn render(train: &SplitReport, validation: Option<&SplitReport>, test: &SplitReport) -> String {
    match validation {
        Some(v) => render_splits(&[("train", train), ("valid", v), ("test", test)]),
        None => render_splits(&[("train", train), ("test", test)]),
    }
}

/// The per-group table and constraint verdicts of one split.
pub fn render_split(name: &str, report: &SplitReport) -> String {
    render_splits(&[(name, report)])
}

fn render_splits(splits: &[(&str, &SplitReport)]) -> String {
    let width = splits
        .iter()
        .flat_map(|(_, r)| r.groups.0.iter().map(|(name, _)| name.chars().count()))
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<6} {:<width$} {:>7} {:>7} {:>8} {:>8} {:>6} {:>6}",
        "split", "group", "n", "loss", "accuracy", "pos.rate", "TPR", "FPR"
    );
    for &(split, report) in splits {
        for (name, g) in &report.groups.0 {
            let _ = writeln!(
                out,
                "{:<6} {:<width$} {:>7} {:>7} {:>8} {:>8} {:>6} {:>6}",
                split,
                name,
                g.n,
                num(g.loss, 4),
                num(g.accuracy, 4),
                num(g.positive_rate, 4),
                num(g.tpr, 3),
                num(g.fpr, 3),
            );
        }
        let _ = writeln!(
            out,
            "{:<6} {:<width$} {:>7} {:>7} {:>8}   DP gap {}, EOpp gap {}, EO gap {}",
            split,
            "(all)",
            report.groups.0.iter().map(|(_, g)| g.n).sum::<u64>(),
            num(report.objective, 4),
            num(report.accuracy, 4),
            num(report.dp_gap, 3),
            num(report.eopp_gap, 3),
            num(report.eo_gap, 3),
        );
    }
    let _ = writeln!(out);
    for &(split, report) in splits {
        for c in &report.constraints {
            let verdict = if c.satisfied {
                "satisfied".to_string()
            } else {
                let excess = c.value.map(|v| (v - c.bound).abs());
                format!("VIOLATED by {}", num(excess, 4))
            };
            let sense = match c.sense {
                fairtrain::constraints::Sense::AtMost => "<=",
                fairtrain::constraints::Sense::AtLeast => ">=",
            };
            let _ = writeln!(out, "{:<6} {} = {} ({sense} {}): {verdict}", split, c.name, num(c.value, 4), c.bound,);
        }
    }
    out
}
