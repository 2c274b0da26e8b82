//! [`RunOutcome`]: what a run produced, and how `fairtrain train` reports it.

use std::sync::Arc;

use super::config::Select;
use super::metrics::Metrics;
use crate::constraints::Sense;
use crate::error::Result;
use crate::evaluation::degenerate::NearConstant;
use crate::model::Mlp;
use crate::train::{RunSummary, StopReason};

/// What a run produced: its metrics, the returned model, and what the
/// console reports about how it got there.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Everything `metrics.json` holds.
    pub metrics: Metrics,
    /// The model's architecture.
    pub model: Mlp,
    /// The returned parameters.
    pub params: Vec<f32>,
    /// What the training loop did.
    pub summary: RunSummary,
    /// What the automatic margin found, one line per constraint.
    pub margin_report: Vec<String>,
    /// How many of `metrics.warnings` (the first ones) were raised during
    /// training; the rest are about the returned model.
    pub run_warnings: usize,
    /// The split on which the returned model is near-constant, and how,
    /// when it is (see [`crate::evaluation::degenerate`]).
    pub near_constant: Option<(&'static str, NearConstant)>,
    /// The averaged fraction of the budget.
    pub average: f64,
    /// What to save with the model.
    pub(crate) model_info: ModelRecord,
}

/// The preprocessing and names saved beside a model.
#[derive(Debug, Clone)]
pub(crate) struct ModelRecord {
    pub layout: Arc<crate::data::FeatureLayout>,
    pub label: String,
    pub positive: String,
    pub group_columns: Vec<String>,
    pub groups: Vec<String>,
    pub dataset: String,
    pub group_spec: Vec<crate::data::GroupColumn>,
    pub decisions: Option<crate::model::decision::GroupThresholds>,
}

impl RunOutcome {
    /// The per-group table of every split and the constraint verdicts.
    pub fn table(&self) -> String {
        let m = &self.metrics;
        super::table::render(&m.train, m.validation.as_ref(), &m.test)
    }

    /// One line per held-out certificate.
    pub fn certificate_lines(&self) -> Vec<String> {
        self.metrics
            .certificates
            .iter()
            .map(|c| {
                let side = if c.sense == Sense::AtMost { "upper" } else { "lower" };
                let bound = c.value_bound.map_or("undefined".to_string(), |v| format!("{v:.4}"));
                // A bound met by predicting one class says little.
                let verdict = match (&self.near_constant, c.holds) {
                    (Some((split, _)), true) => {
                        format!("{}, but the model is near-constant (on {split})", c.verdict())
                    }
                    _ => c.verdict(),
                };
                format!(
                    "held-out certificate: {} {verdict}: {:.0}% {side} bound {bound} on test (bootstrap)",
                    c.name,
                    c.confidence * 100.0
                )
            })
            .collect()
    }

    /// The run's warnings as `fairtrain train` prints them: those raised
    /// during training with the iteration where they were first seen.
    pub fn warning_lines(&self) -> Vec<String> {
        self.metrics
            .warnings
            .iter()
            .enumerate()
            .map(|(k, w)| match k < self.run_warnings {
                true => format!("warning ({}, iteration {}): {}", w.kind, w.iteration, w.message),
                false => format!("warning ({}): {}", w.kind, w.message),
            })
            .collect()
    }

    /// How training went and which model was returned, as `fairtrain
    /// train` prints it.
    pub fn training_lines(&self) -> Vec<String> {
        let s = &self.summary;
        let returned = match s.averaged_iterates {
            0 => "the last iterate".to_string(),
            n => format!("the average of {n} iterates from the last {:.0}% of the budget", self.average * 100.0),
        };
        let restarted = self.metrics.warnings.iter().any(|w| w.kind == "restarted");
        let mut lines = vec![format!(
            "trained {} iterations{} in {:.2} s ({:.0} it/s; {}); model: {returned}",
            s.iterations,
            if restarted { " after a restart (see the warning)" } else { "" },
            s.wall_seconds,
            self.metrics.iterations_per_second,
            match s.stop {
                StopReason::Iterations => "stopped by the iteration budget",
                StopReason::Time => "stopped by the time budget",
                StopReason::Interrupted => "interrupted",
            }
        )];
        lines.extend(self.margin_report.iter().map(|l| format!("generalization margin: {l}")));
        if let Some(pp) = &self.metrics.postprocess {
            lines.push(self.postprocess_line(pp));
        }
        if let Some(sel) = &self.metrics.selected {
            let which = match (sel.trained_model, sel.first_attempt) {
                (true, false) => "the trained model above".to_string(),
                (true, true) => "the model the first attempt ended with".to_string(),
                (false, first) => format!(
                    "the {}average of the evaluated iterates up to iteration {}",
                    if first { "first attempt's " } else { "" },
                    sel.iteration
                ),
            };
            let among = if sel.rule == Select::Best.name() { "" } else { " among candidates feasible on validation" };
            lines.push(format!(
                "returned model: {which}, the best validation objective ({:.4}){among}",
                sel.validation_objective
            ));
        }
        lines
    }

    /// What post-processing changed, on test.
    fn postprocess_line(&self, pp: &super::metrics::PostprocessReport) -> String {
        let randomized = pp.rules.groups.iter().filter(|g| g.thresholds.iter().any(|t| t.weight < 1.0)).count();
        let (before, after) = (&pp.before.test, &self.metrics.test);
        let mut changes = vec![format!(
            "accuracy {:.4} -> {:.4}",
            before.accuracy.unwrap_or(f64::NAN),
            after.accuracy.unwrap_or(f64::NAN)
        )];
        for (b, a) in before.constraints.iter().zip(&after.constraints) {
            if let (Some(vb), Some(va)) = (b.value, a.value) {
                changes.push(format!("{} {vb:.4} -> {va:.4}", a.name));
            }
        }
        if pp.rules.is_own() {
            return format!(
                "post-processing: kept the model's own decisions (they meet the bounds on {})",
                pp.fitted_on
            );
        }
        format!(
            "post-processing: per-group decision thresholds fitted on {} ({} of {} groups randomized between \
             thresholds); on test: {}",
            pp.fitted_on,
            randomized,
            pp.rules.groups.len(),
            changes.join(", ")
        )
    }

    /// How training went, the per-group table and the certificates: what
    /// `fairtrain train` prints of a finished run.
    pub fn report(&self) -> String {
        let mut text = self.training_lines().join("\n");
        text.push_str("\n\n");
        text.push_str(&self.table());
        for line in self.certificate_lines() {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    /// Writes `model.safetensors` (the weights) and `model.json` (the
    /// architecture and preprocessing) into `dir`.
    pub fn save_model(&self, dir: &std::path::Path) -> Result<()> {
        let r = &self.model_info;
        crate::model::saved::save(
            dir,
            &self.model,
            &self.params,
            &crate::model::saved::ModelInfo {
                layout: &r.layout,
                label: &r.label,
                positive: &r.positive,
                group_columns: &r.group_columns,
                groups: &r.groups,
                dataset: &r.dataset,
                group_spec: &r.group_spec,
                decisions: r.decisions.as_ref(),
            },
        )
    }
}
