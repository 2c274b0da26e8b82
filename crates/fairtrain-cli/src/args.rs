//! The `train` flags. The same struct is the schema of `--config` files:
//! TOML keys are the flag names (kebab-case), unknown keys are errors, and
//! flags override the file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use fairtrain::algorithms::{AlgorithmName, Augmentation};
use fairtrain::constraints::Notion;
use fairtrain::data::MissingPolicy;
use serde::{Deserialize, Deserializer, Serialize};

/// A named group of settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The humancompatible.train paper's settings (the default for now).
    Paper,
}

fn parser<T: Clone + Send + Sync + 'static>(
    names: &'static [&'static str],
    map: fn(&str) -> T,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(names).map(move |s| map(&s))
}

fn algorithm_parser() -> impl TypedValueParser<Value = AlgorithmName> {
    parser(&AlgorithmName::NAMES, |s| s.parse().expect("a listed algorithm name"))
}

fn missing_parser() -> impl TypedValueParser<Value = MissingPolicy> {
    parser(&["drop", "error"], |s| if s == "error" { MissingPolicy::Error } else { MissingPolicy::Drop })
}

fn preset_parser() -> impl TypedValueParser<Value = Preset> {
    parser(&["paper"], |_| Preset::Paper)
}

fn constraint_parser() -> impl TypedValueParser<Value = Notion> {
    parser(&["loss-parity"], |_| Notion::LossParity)
}

fn augmentation_parser() -> impl TypedValueParser<Value = Augmentation> {
    parser(&["hpr", "quadratic"], |s| if s == "hpr" { Augmentation::Hpr } else { Augmentation::Quadratic })
}

/// A list given as `a,b` on the command line and as `"a"` or `["a", "b"]`
/// in TOML.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        OneOrMany::Many(v) => v,
    }))
}

/// Options of `fairtrain train`.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrainArgs {
    /// Data: a built-in name (adult, synthetic) or a CSV path (contains '/' or ends in .csv) [default: adult]
    #[arg(long, help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,

    /// Target (label) column of a CSV file
    #[arg(long, help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,

    /// The target value that is the positive class (needed unless the target has two values, one of them 1/true/yes)
    #[arg(long, help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive: Option<String>,

    /// Sensitive column(s) defining the groups; several (a,b) give intersectional groups [adult: race or sex; default race]
    #[arg(long, value_delimiter = ',', help_heading = "Data")]
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_list")]
    pub group: Option<Vec<String>>,

    /// Columns to treat as categorical even if numeric (CSV)
    #[arg(long, value_delimiter = ',', help_heading = "Data")]
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_list")]
    pub categorical: Option<Vec<String>>,

    /// Columns to ignore (CSV)
    #[arg(long, value_delimiter = ',', help_heading = "Data")]
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_list")]
    pub drop: Option<Vec<String>>,

    /// Rows with a missing value (empty, NA, ?, NaN): drop them, or stop with an error [default: drop]
    #[arg(long, value_parser = missing_parser(), help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<MissingPolicy>,

    /// Fraction of a CSV file's rows held out for testing, stratified by group and label [default: 0.2]
    #[arg(long, help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<f64>,

    /// Seed of the train/test split of a CSV file (independent of --seed) [default: 0]
    #[arg(long, help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,

    /// Keep the sensitive column(s) among the model's features
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_group_feature: Option<bool>,

    /// Training algorithm [default: ssl-alm]
    #[arg(long, value_parser = algorithm_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<AlgorithmName>,

    /// Settings preset: paper = the humancompatible.train paper's hyperparameters and batch sizes [default: paper]
    #[arg(long, value_parser = preset_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,

    /// Fairness constraint [default: loss-parity]
    #[arg(long, value_parser = constraint_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint: Option<Notion>,

    /// Bound on the constraint (loss-parity: largest |L_a - L_b|) [default: 0.005]
    #[arg(long, allow_hyphen_values = true, help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,

    /// Primal step size (SSL-ALM: tau; switching subgradient: objective step) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,

    /// Dual (multiplier) step size (SSL-ALM: eta) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_lr: Option<f32>,

    /// Augmented-Lagrangian penalty rho (SSL-ALM) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty: Option<f32>,

    /// Augmentation of the Lagrangian (SSL-ALM) [preset: hpr]
    #[arg(long, value_parser = augmentation_parser(), help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub augmentation: Option<Augmentation>,

    /// Moreau-envelope proximal weight mu (SSL-ALM; 0 = plain ALM) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mu: Option<f32>,

    /// Moreau anchor rate beta (SSL-ALM) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta: Option<f32>,

    /// Upper bound of the multipliers (SSL-ALM) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_bound: Option<f32>,

    /// Step size of constraint steps (switching subgradient) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_lr: Option<f32>,

    /// Constraint steps are taken while the largest constraint estimate exceeds this (switching subgradient) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f32>,

    /// Heavy-ball momentum (sgd) [default: 0]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f32>,

    /// Hidden layer widths, e.g. 64,32; "none" for a logistic regression [default: 64,32]
    #[arg(long, help_heading = "Model")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<String>,

    /// Objective minibatch size [preset]
    #[arg(long, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,

    /// Constraint minibatch size per group [preset]
    #[arg(long, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_batch_size: Option<usize>,

    /// Seed of the model's initialization and the minibatch samplers [default: 0]
    #[arg(long, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,

    /// Budget: number of iterations [default: 20000]
    #[arg(long, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,

    /// Budget: seconds of training
    #[arg(long, allow_hyphen_values = true, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_budget: Option<f64>,

    /// Budget: passes over the training data (iterations = epochs * rows / batch size)
    #[arg(long, allow_hyphen_values = true, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<f64>,

    /// Return the average of the iterates over this final fraction of the budget (Polyak-Ruppert); 0 returns the last iterate [default: 0.25]
    #[arg(long, allow_hyphen_values = true, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,

    /// Write a history.csv row every N iterations [default: 100]
    #[arg(long, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_every: Option<u64>,

    /// Threads for evaluation (training steps use one) [default: 1]
    #[arg(long, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,

    /// Output directory [default: runs/<UTC timestamp>]
    #[arg(long, help_heading = "Output")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,

    /// Replace a previous run in the output directory
    #[arg(long, help_heading = "Output")]
    #[serde(skip)]
    pub overwrite: bool,

    /// Read settings from a TOML file whose keys are these flags' names (flags override it)
    #[arg(long, value_name = "FILE.toml", help_heading = "Output")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

/// The keys that set the budget: a source that sets one replaces the
/// budget of lower-precedence sources.
const BUDGET_KEYS: [&str; 3] = ["iterations", "time-budget", "epochs"];

fn budget_keys(table: &toml::Table, source: &str) -> Result<usize> {
    let given: Vec<&str> = BUDGET_KEYS.iter().copied().filter(|k| table.contains_key(*k)).collect();
    if given.len() > 1 {
        bail!(
            "{source} sets more than one budget ({}); give only one of --iterations, --time-budget, --epochs",
            given.join(", ")
        );
    }
    Ok(given.len())
}

impl TrainArgs {
    /// These flags over the config file they name (if any).
    pub fn merged_with_config(self) -> Result<TrainArgs> {
        let Some(path) = self.config.clone() else {
            let table = toml::Table::try_from(&self).context("internal: flags do not serialize")?;
            budget_keys(&table, "the command line")?;
            return Ok(self);
        };
        let file = read_config(&path)?;
        let mut merged = toml::Table::try_from(&file).context("internal: config does not serialize")?;
        let flags = toml::Table::try_from(&self).context("internal: flags do not serialize")?;
        budget_keys(&merged, &path.display().to_string())?;
        if budget_keys(&flags, "the command line")? > 0 {
            for k in BUDGET_KEYS {
                merged.remove(k);
            }
        }
        merged.extend(flags);
        let mut args: TrainArgs = merged.try_into().context("internal: merged settings do not parse")?;
        args.overwrite = self.overwrite;
        args.config = self.config;
        Ok(args)
    }
}

/// Reads a config file; unknown keys and bad values are errors naming the
/// key and the file.
pub fn read_config(path: &Path) -> Result<TrainArgs> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let msg = e.message().trim().to_string();
        let line = e.span().map(|s| text[..s.start].lines().count().max(1));
        match line {
            Some(line) => anyhow::anyhow!("config file {}, line {line}: {msg}", path.display()),
            None => anyhow::anyhow!("config file {}: {msg}", path.display()),
        }
    })
}
