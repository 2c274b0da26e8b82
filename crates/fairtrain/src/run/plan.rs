//! [`RunPlan`]: a [`RunConfig`](super::RunConfig) resolved, every default
//! filled and every value checked; what the run actually does.

use std::path::PathBuf;

use super::algorithm_keys::keys_of;
use super::config::{
    DataKeys, GeneralizationKeys, Margin, ModelKeys, OutputKeys, Preset, RunConfig, Select, TrainingKeys,
};
use super::constraint_spec::spec_of;
use crate::algorithms::AlgorithmConfig;
use crate::constraints::FairnessConstraint;
use crate::data::{DataSource, LoadOptions};
use crate::error::{Error, Result};
use crate::problem::BatchSizes;
use crate::train::Budget;

/// How long to train, as asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BudgetSetting {
    /// A number of iterations.
    Iterations(u64),
    /// Seconds of training.
    Seconds(f64),
    /// Passes over the training rows.
    Epochs(f64),
}

impl BudgetSetting {
    /// The trainer's budget on `rows` training rows at objective batch
    /// `batch` (epochs become iterations).
    pub fn budget(self, rows: usize, batch: usize) -> Budget {
        match self {
            BudgetSetting::Iterations(n) => Budget::Iterations(n),
            BudgetSetting::Seconds(s) => Budget::Seconds(s),
            BudgetSetting::Epochs(e) => {
                let per_epoch = rows as f64 / batch.max(1) as f64;
                Budget::Iterations((e * per_epoch).ceil().max(1.0) as u64)
            }
        }
    }
}

/// Everything a run does, resolved.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The data source.
    pub source: DataSource,
    /// How to load it.
    pub load: LoadOptions,
    /// The schema file of a CSV/ARFF source.
    pub schema_path: Option<PathBuf>,
    /// The preset the defaults came from.
    pub preset: Preset,
    /// The algorithm with all its settings.
    pub algorithm: AlgorithmConfig,
    /// The constraints, with the user's bounds.
    pub constraints: Vec<FairnessConstraint>,
    /// The rate surrogates' temperature, where it applies.
    pub temperature: Option<f32>,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// The burn device to train on (`None`: the native backend).
    pub burn_device: Option<String>,
    /// Minibatch sizes.
    pub batch: BatchSizes,
    /// Seed of the initialization and the samplers.
    pub seed: u64,
    /// The budget.
    pub budget: BudgetSetting,
    /// A `history.csv` row every this many iterations.
    pub log_every: u64,
    /// Averaged final fraction of the budget.
    pub average: f64,
    /// Evaluation threads.
    pub threads: usize,
    /// The most MB of encoded rows this process may hold (see
    /// [`RunData::held_mb`](super::RunData::held_mb)).
    pub memory_budget: Option<f64>,
    /// Fraction of the training split held out for validation.
    pub validation_fraction: f64,
    /// The generalization margin.
    pub margin: Margin,
    /// Which model to return.
    pub select: Select,
    /// Decisions chosen after training (see the session for the rows they are fitted on).
    pub postprocess: crate::postprocess::Postprocess,
    /// Full-split evaluations during training.
    pub eval_every: Option<Budget>,
    /// Checkpoint cadence (`None`: off).
    pub checkpoint_every: Option<Budget>,
    /// The output directory asked for.
    pub out: Option<PathBuf>,
    /// What resolving noticed and accepted (a key that does not apply set
    /// to its default in a file, a file in the flat form...).
    pub notes: Vec<String>,
}

/// `N` iterations or `Ss` seconds, as configured.
pub(crate) fn cadence_text(b: Budget) -> String {
    match b {
        Budget::Iterations(n) => n.to_string(),
        Budget::Seconds(s) => format!("{s}s"),
    }
}

fn absolute(p: &std::path::Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

impl RunPlan {
    /// The minibatch sizes on `rows` training rows: a minibatch larger
    /// than the training rows is all of them (small data, as
    /// scikit-learn's `MLPClassifier` clips its `batch_size`).
    pub fn batch_for(&self, rows: usize) -> BatchSizes {
        BatchSizes { objective: self.batch.objective.min(rows.max(1)), ..self.batch }
    }

    /// The resolved configuration with every key that applies set (paths
    /// absolute, the output directory left out): written as a run's
    /// `config.toml`, it re-runs the same training from any directory.
    pub fn config(&self) -> RunConfig {
        let is_table = self.source.is_table();
        let mut data = DataKeys {
            source: Some(match &self.source {
                DataSource::Csv(p) | DataSource::Arff(p) | DataSource::Parquet(p) => absolute(p).display().to_string(),
                other => other.data_value(),
            }),
            weight: self.load.weight.clone(),
            group: self.load.group.clone().or_else(|| self.source.default_groups()),
            missing: Some(self.load.missing),
            keep_group_feature: Some(self.load.keep_group_feature),
            ..DataKeys::default()
        };
        if is_table {
            data.target = self.load.target.clone();
            data.positive = self.load.positive.clone();
            data.categorical = Some(self.load.categorical.clone()).filter(|v| !v.is_empty());
            data.drop = Some(self.load.drop.clone()).filter(|v| !v.is_empty());
            data.schema = self.schema_path.as_deref().map(absolute);
        }
        if let Some(test) = &self.load.test_file {
            data.test_data = Some(absolute(test));
        } else if self.source.has_random_split() {
            data.test_fraction = self.load.test_fraction;
            data.split_seed = Some(self.load.split_seed);
        }
        if let DataSource::Acs(r) = &self.source {
            data.state = Some(r.states.clone());
            data.year = Some(r.year);
            data.horizon = Some(r.horizon.dir().to_string());
            data.acs_missing = Some(r.missing);
            data.acs_relshipp = Some(r.relshipp);
        }
        let (objective_batch, group_batch) = super::applicability::batch_keys(self.algorithm.name());
        let mut training = TrainingKeys {
            batch_size: Some(self.batch.objective).filter(|_| objective_batch),
            group_batch_size: Some(self.batch.per_group).filter(|_| group_batch),
            temperature: self.temperature,
            average: Some(self.average),
            threads: Some(self.threads),
            memory_budget: self.memory_budget,
            ..TrainingKeys::default()
        };
        match self.budget {
            BudgetSetting::Iterations(n) => training.iterations = Some(n),
            BudgetSetting::Seconds(s) => training.time_budget = Some(s),
            BudgetSetting::Epochs(e) => training.epochs = Some(e),
        }
        RunConfig {
            preset: Some(self.preset),
            seed: Some(self.seed),
            bound: None,
            data,
            model: ModelKeys {
                hidden: Some(self.hidden.clone()),
                backend: self.burn_device.as_ref().map(|_| "burn".to_string()),
                device: self.burn_device.clone(),
            },
            constraints: Some(self.constraints.iter().map(spec_of).collect()),
            algorithm: keys_of(&self.algorithm),
            training,
            generalization: GeneralizationKeys {
                validation_fraction: Some(self.validation_fraction),
                margin: Some(self.margin).filter(|_| self.algorithm.name().pursues_bounds()),
                select: Some(self.select),
                postprocess: Some(self.postprocess).filter(|p| *p != crate::postprocess::Postprocess::Off),
            },
            output: OutputKeys {
                out: None,
                log_every: Some(self.log_every),
                eval_every: self.eval_every.map(cadence_text),
                checkpoint_every: Some(self.checkpoint_every.map_or("off".to_string(), cadence_text)),
            },
            origins: Default::default(),
        }
    }

    /// What a checkpoint of this run belongs to: the resolved configuration
    /// without the keys a resumed run may change (the budget, the threads,
    /// the checkpoint and evaluation cadences).
    pub fn identity(&self) -> String {
        let mut config = self.config();
        config.training.iterations = None;
        config.training.time_budget = None;
        config.training.epochs = None;
        config.training.threads = None;
        config.training.memory_budget = None;
        config.output = OutputKeys { log_every: config.output.log_every, ..OutputKeys::default() };
        config.to_toml()
    }

    /// Checks that `checkpoint` belongs to this run: its settings, resolved
    /// as a configuration of this fairtrain, have this run's identity.
    pub fn check_checkpoint(&self, checkpoint: &crate::train::Checkpoint, path: &std::path::Path) -> Result<()> {
        let theirs =
            RunConfig::from_toml_in(&checkpoint.settings, path).and_then(|c| c.resolve()).map(|p| p.identity());
        match theirs {
            Ok(theirs) if theirs == self.identity() => Ok(()),
            _ => Err(Error::Data(format!("{} does not belong to this run's settings", path.display()))),
        }
    }

    /// The constraints training aims at from the start: the user's bounds,
    /// tightened by a fixed margin (an automatic one applies once measured).
    pub fn initial_constraints(&self) -> Vec<FairnessConstraint> {
        use crate::constraints::{ConstraintKind, Sense};
        self.constraints
            .iter()
            .map(|c| {
                let mut t = c.clone();
                if let Margin::Fixed(m) = self.margin
                    && c.kind != ConstraintKind::WeightNorm
                {
                    t.bound = match c.sense() {
                        Sense::AtMost => (c.bound - m).max(0.0),
                        Sense::AtLeast => c.bound + m,
                    };
                }
                t
            })
            .collect()
    }

    /// What computes the training steps: the native kernels' instruction
    /// set, or the burn backend and its device.
    pub fn kernels(&self, native: &'static str) -> &'static str {
        match self.burn_device.as_deref() {
            None => native,
            Some("cuda") => "burn cuda",
            Some("wgpu") => "burn wgpu",
            Some(_) => "burn flex (cpu)",
        }
    }
}
