//! [`RunConfig`]: everything a run is asked to do, as one serde value.
//!
//! Every field is optional: an unset field takes the default of the preset,
//! the algorithm, the constraints or the data ([`RunConfig::resolve`] fills
//! them all, once, in [`super::resolve`]). The TOML file of `fairtrain
//! train --config` is this struct; command-line flags and Python keyword
//! arguments are flat keys laid over it ([`RunConfig::set`]); the
//! `config.toml` a run writes is the resolved value serialized with every
//! field set ([`super::RunPlan::config`]).
//!
//! ```
//! use fairtrain::run::RunConfig;
//! let config = RunConfig::from_toml(
//!     "seed = 3\n[data]\nsource = \"synthetic\"\n[algorithm]\nname = \"ssl-alm\"\nlr = 0.02\n\
//!      [[constraint]]\nnotion = \"demographic-parity\"\nbound = 0.05\n",
//! )
//! .unwrap();
//! assert_eq!(config.algorithm.lr, Some(0.02));
//! // The same key, flat, as a flag or a Python keyword gives it:
//! let mut flat = RunConfig::default();
//! flat.set("lr", 0.02).unwrap();
//! assert_eq!(flat.algorithm.lr, Some(0.02));
//! ```

use std::path::PathBuf;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::origin::KeyOrigins;
use crate::algorithms::methods::MetaObjective;
use crate::algorithms::{AlgorithmName, Augmentation, Barrier, PrimalKind, Regret};
use crate::constraints::{Comparison, Notion, Statistic};
use crate::data::MissingPolicy;
use crate::data::acs::AcsMissing;
use crate::error::{Error, Result};

/// A named set of hyperparameters and batch sizes (re-exported from
/// [`crate::algorithms`]).
pub use crate::algorithms::Preset;

/// A run's configuration: the sections of its TOML file. `None` (or an
/// empty section) means "the default".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunConfig {
    /// Settings preset: `default` (fairtrain's) or `paper` (the
    /// humancompatible.train paper's hyperparameters, batch sizes, no
    /// validation split, the tail average of the iterates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// Seed of the model's initialization and the minibatch samplers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Bound of each constraint, in order, for constraints whose table
    /// gives none (`--bound`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "number_or_list")]
    pub bound: Option<Vec<f64>>,
    /// Where the data come from and how they are encoded.
    #[serde(default, skip_serializing_if = "DataKeys::is_unset")]
    pub data: DataKeys,
    /// The model.
    #[serde(default, skip_serializing_if = "ModelKeys::is_unset")]
    pub model: ModelKeys,
    /// The constraints (`[[constraint]]` tables, or notion names).
    #[serde(default, rename = "constraint", skip_serializing_if = "Option::is_none", deserialize_with = "constraints")]
    pub constraints: Option<Vec<ConstraintSpec>>,
    /// The algorithm (or fairness method) and its hyperparameters.
    #[serde(default, skip_serializing_if = "AlgorithmKeys::is_unset")]
    pub algorithm: AlgorithmKeys,
    /// Budget, batches, averaging.
    #[serde(default, skip_serializing_if = "TrainingKeys::is_unset")]
    pub training: TrainingKeys,
    /// Validation split, margin and the choice of the returned model.
    #[serde(default, skip_serializing_if = "GeneralizationKeys::is_unset")]
    pub generalization: GeneralizationKeys,
    /// Where and how often the run writes.
    #[serde(default, skip_serializing_if = "OutputKeys::is_unset")]
    pub output: OutputKeys,
    /// Where each key came from (a file and line, the command line...), for
    /// messages and for the leniency toward keys a file sets to their
    /// default where they do not apply.
    #[serde(skip)]
    pub(crate) origins: KeyOrigins,
}

/// Implements `is_unset` (every field `None`) for a section.
macro_rules! unset {
    ($ty:ty) => {
        impl $ty {
            /// True when no key of the section is set.
            pub fn is_unset(&self) -> bool {
                *self == <$ty>::default()
            }
        }
    };
}

/// `[data]`: the data source and its encoding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DataKeys {
    /// A built-in data set (`adult`, `german`, `compas`, `law`,
    /// `synthetic`), an ACS task (`acs-income`...), or a CSV/ARFF path
    /// (flat key `data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The label column of a CSV/ARFF file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The target value that is the positive class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive: Option<String>,
    /// Sensitive column(s); several give intersectional groups.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_list")]
    pub group: Option<Vec<String>>,
    /// Columns one-hot encoded even if numeric.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_list")]
    pub categorical: Option<Vec<String>>,
    /// Columns ignored.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_list")]
    pub drop: Option<Vec<String>>,
    /// Rows with a missing value: `drop` or `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<MissingPolicy>,
    /// Fraction of the rows held out for testing (data without a test file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<f64>,
    /// A test file with the same columns as the data file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_data: Option<PathBuf>,
    /// Seed of the train/test split (independent of `seed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// Sample-weight column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<String>,
    /// A TOML schema of a CSV/ARFF file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<PathBuf>,
    /// ACS: state postal codes.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_list")]
    pub state: Option<Vec<String>>,
    /// ACS: survey year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<u16>,
    /// ACS: `1-Year` or `5-Year`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon: Option<String>,
    /// ACS: what a missing cell becomes (`zero` or `minus-one`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs_missing: Option<AcsMissing>,
    /// ACS: read `RELSHIPP` where `RELP` is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs_relshipp: Option<bool>,
    /// Keep the sensitive column(s) among the features.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_group_feature: Option<bool>,
}
unset!(DataKeys);

/// `[model]`: the network and where it trains.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ModelKeys {
    /// Hidden layer widths (`[64, 32]`, `"64,32"`; `[]` or `"none"` for a
    /// logistic regression).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "hidden_widths")]
    pub hidden: Option<Vec<usize>>,
    /// `native` or `burn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The burn backend's device: `cpu`, `cuda` or `wgpu`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}
unset!(ModelKeys);

/// `[algorithm]`: the algorithm or fairness method, tagged by `name`, and
/// its hyperparameters. A key the named algorithm does not use is an error
/// (see [`RunConfig::resolve`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AlgorithmKeys {
    /// The algorithm (`ssl-alm`, `ssw`, `adam`...) or fairness method
    /// (`fairbatch`, `forml`, `fermi`); flat keys `algorithm` and `method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<AlgorithmName>,
    /// Primal optimizer: `sgd`, `adam` or `rmsprop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primal: Option<PrimalKind>,
    /// Primal step size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
    /// Heavy-ball momentum of the `sgd` optimizer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f32>,
    /// Moreau-envelope proximal weight (0: no smoothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mu: Option<f32>,
    /// Moreau anchor rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta: Option<f32>,
    /// Dual step size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_lr: Option<f32>,
    /// Upper bound of the multipliers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_bound: Option<f32>,
    /// Double a multiplier's bound while it binds (SSL-ALM, ALM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grow_dual_bound: Option<bool>,
    /// The penalty term of rate constraints reads the averaged estimates
    /// (SSL-ALM, ALM); unset, the run chooses by the number of groups
    /// (see `AlgorithmConfig::first_attempt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_penalty: Option<bool>,
    /// Penalty `rho` (ALM, nuPI, penalty) or initial `beta` (iALM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty: Option<f32>,
    /// Augmentation of the Lagrangian: `hpr` or `quadratic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub augmentation: Option<Augmentation>,
    /// Penalty growth factor per step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty_growth: Option<f32>,
    /// Proportional gain (nuPI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kp: Option<f32>,
    /// Error averaging (nuPI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nu: Option<f32>,
    /// Initial dual averaging (SPBM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_averaging: Option<f32>,
    /// Initial penalty averaging (SPBM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty_decay: Option<f32>,
    /// Penalty factor for violated constraints (SPBM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<f32>,
    /// Penalty-barrier function (SPBM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barrier: Option<Barrier>,
    /// Starting multiplier (SPBM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_multiplier: Option<f32>,
    /// Regret of the constraint player (proxy-Lagrangian).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regret: Option<Regret>,
    /// Step size of constraint steps (switching subgradient).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_lr: Option<f32>,
    /// Switching tolerance (switching subgradient).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f32>,
    /// Weight of the newest batch in the constraint average that decides
    /// the steps (switching subgradient, penalty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_averaging: Option<f32>,
    /// Step-size decay (ghost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_decay: Option<f32>,
    /// Geometric level parameter (ghost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_alpha: Option<f32>,
    /// Rows per cell of the level-0 batch (ghost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_base_batch: Option<usize>,
    /// Largest level of the fine batches (ghost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_max_level: Option<u32>,
    /// QP regularization (ghost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tau: Option<f32>,
    /// Trust region of the direction (ghost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_radius: Option<f32>,
    /// Ghost radius (ghost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_radius: Option<f32>,
    /// Ghost weight (ghost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_weight: Option<f32>,
    /// FairBatch: step of the batch shares per epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairbatch_alpha: Option<f32>,
    /// FERMI: weight of the regularizer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fermi_lambda: Option<f32>,
    /// FORML: fraction of each cell held out as the fairness set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_fraction: Option<f64>,
    /// FORML: `worst-group` or `balanced`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_objective: Option<MetaObjective>,
}
unset!(AlgorithmKeys);

/// `[training]`: the budget, the batches, the returned iterate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrainingKeys {
    /// Budget: iterations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    /// Budget: seconds of training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_budget: Option<f64>,
    /// Budget: passes over the training rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<f64>,
    /// Objective minibatch size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Constraint minibatch size per group (or group-and-label cell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_batch_size: Option<usize>,
    /// Temperature `T` of the rate surrogates `sigmoid(logit / T)` (rate
    /// constraints under an algorithm that pursues the bounds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// The returned model averages the iterates over this final fraction of
    /// the budget; 0 returns the last iterate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    /// Threads for evaluation (results do not depend on it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Refuse to train when the encoded rows this process holds (its share
    /// in a data-parallel run) take more than this many MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_budget: Option<f64>,
}
unset!(TrainingKeys);

/// `[generalization]`: the validation split and what it is used for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GeneralizationKeys {
    /// Fraction of the training split held out for validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_fraction: Option<f64>,
    /// Train against a tighter bound: `auto`, `off`, or a number.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "margin")]
    pub margin: Option<Margin>,
    /// The returned model: `last`, `best-feasible` or `best`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<Select>,
    /// Decisions chosen after training: `off` or `group-thresholds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postprocess: Option<crate::postprocess::Postprocess>,
}
unset!(GeneralizationKeys);

/// `[output]`: where the run writes, and how often.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OutputKeys {
    /// Output directory (not written to the run's own `config.toml`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
    /// A `history.csv` row every N iterations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_every: Option<u64>,
    /// Full train/test evaluations every N iterations or `"Ss"` seconds.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "cadence")]
    pub eval_every: Option<String>,
    /// Checkpoints every N iterations, `"Ss"` seconds, or `"off"`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "cadence")]
    pub checkpoint_every: Option<String>,
}
unset!(OutputKeys);

/// Which model a run returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Select {
    /// The last model (the tail average of the iterates).
    Last,
    /// The best validation objective among models feasible on validation.
    BestFeasible,
    /// The best validation objective, feasible or not: early stopping, for
    /// a model trained without the constraints that post-processing will
    /// make fair (its decisions are not the final ones; its scores are).
    Best,
}

impl Select {
    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Select::Last => "last",
            Select::BestFeasible => "best-feasible",
            Select::Best => "best",
        }
    }
}

/// How much tighter than the user's bound training aims.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Margin {
    /// The user's bound.
    Off,
    /// A fixed margin.
    Fixed(f64),
    /// Measured on the validation split at a quarter, a half and three
    /// quarters of the budget (a later measurement only tightens it): one
    /// standard error of the training estimate, or the overfitting the
    /// validation split shows beyond its noise where that is more.
    Auto,
}

impl Margin {
    /// Parses `auto`, `off` or a non-negative number.
    pub fn parse(v: &str) -> Result<Margin> {
        match v.trim() {
            "off" => Ok(Margin::Off),
            "auto" => Ok(Margin::Auto),
            x => match x.parse::<f64>() {
                Ok(m) if m.is_finite() && m >= 0.0 => Ok(Margin::Fixed(m)),
                _ => Err(Error::config("margin", format!("'{v}' (use auto, off, or a non-negative number)"))),
            },
        }
    }
}

impl Serialize for Margin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Margin::Off => s.serialize_str("off"),
            Margin::Auto => s.serialize_str("auto"),
            Margin::Fixed(m) => s.serialize_f64(*m),
        }
    }
}

fn margin<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Margin>, D::Error> {
    let Some(value) = Option::<toml::Value>::deserialize(d)? else { return Ok(None) };
    let text = match value {
        toml::Value::String(s) => s,
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Integer(i) => i.to_string(),
        other => return Err(D::Error::custom(format!("expected auto, off or a number, found a {}", other.type_str()))),
    };
    Margin::parse(&text).map(Some).map_err(|e| D::Error::custom(e.to_string()))
}

/// A cadence: a number of iterations, or text (`"0.5s"`, `"off"`).
fn cadence<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    match Option::<toml::Value>::deserialize(d)? {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(toml::Value::Integer(i)) => Ok(Some(i.to_string())),
        Some(other) => Err(D::Error::custom(format!(
            "expected iterations (500) or seconds (\"0.5s\"), found a {}",
            other.type_str()
        ))),
    }
}

/// The shape of a custom constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KindName {
    /// Largest difference between groups.
    Gap,
    /// Every group's statistic at most (or at least) the bound.
    GroupBound,
    /// Every group's statistic within plus or minus the bound.
    AbsoluteBound,
    /// Smallest ratio between groups at least the bound.
    Ratio,
    /// Squared norm of the parameters at most the bound.
    WeightNorm,
}

impl KindName {
    /// The config-file name.
    pub fn name(self) -> &'static str {
        match self {
            KindName::Gap => "gap",
            KindName::GroupBound => "group-bound",
            KindName::AbsoluteBound => "absolute-bound",
            KindName::Ratio => "ratio",
            KindName::WeightNorm => "weight-norm",
        }
    }
}

/// `at-most` or `at-least` (group bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SenseName {
    /// The statistic stays at or below the bound.
    AtMost,
    /// The statistic stays at or above the bound.
    AtLeast,
}

/// One constraint as a file declares it: a named notion, or a kind and
/// statistics.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConstraintSpec {
    /// A named notion (`loss-parity`, `demographic-parity`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notion: Option<Notion>,
    /// Or a kind of constraint...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<KindName>,
    /// ...on these statistics.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "statistics")]
    pub statistic: Option<Vec<Statistic>>,
    /// Gaps: between pairs of groups (default) or against all rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Group bounds: at most (default) or at least.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sense: Option<SenseName>,
    /// The bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
    /// The sensitive columns (must be the run's groups).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_list")]
    pub group: Option<Vec<String>>,
    /// The name reported (default: the notion's, or kind:statistic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ConstraintSpec {
    /// A named notion with its default bound.
    pub fn notion(notion: Notion) -> Self {
        ConstraintSpec { notion: Some(notion), ..ConstraintSpec::default() }
    }

    /// A named notion with a bound.
    pub fn bounded(notion: Notion, bound: f64) -> Self {
        ConstraintSpec { notion: Some(notion), bound: Some(bound), ..ConstraintSpec::default() }
    }
}

/// One statistic or a list of them.
fn statistics<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Vec<Statistic>>, D::Error> {
    let Some(names) = string_or_list(d)? else { return Ok(None) };
    names
        .iter()
        .map(|n| n.parse::<Statistic>().map_err(|e| D::Error::custom(e.to_string())))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Some)
}

/// `constraint = "name"`, `constraint = ["a", "b"]` or `[[constraint]]`
/// tables (mixed lists too), with errors that name the key at fault.
fn constraints<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Vec<ConstraintSpec>>, D::Error> {
    let Some(value) = Option::<toml::Value>::deserialize(d)? else { return Ok(None) };
    let items = match value {
        toml::Value::Array(items) => items,
        one => vec![one],
    };
    let mut specs = Vec::with_capacity(items.len());
    for item in items {
        match item {
            toml::Value::String(name) => {
                let notion: Notion = name.parse().map_err(|e: Error| D::Error::custom(e.to_string()))?;
                specs.push(ConstraintSpec::notion(notion));
            }
            table @ toml::Value::Table(_) => {
                let spec: ConstraintSpec = table.try_into().map_err(|e: toml::de::Error| {
                    D::Error::custom(format!("in a [[constraint]] table: {}", e.message().trim()))
                })?;
                specs.push(spec);
            }
            other => {
                return Err(D::Error::custom(format!(
                    "constraint must be a notion name or a table, not {}",
                    other.type_str()
                )));
            }
        }
    }
    Ok(Some(specs))
}

/// A number or a list of numbers.
fn number_or_list<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Vec<f64>>, D::Error> {
    let Some(value) = Option::<toml::Value>::deserialize(d)? else { return Ok(None) };
    let number = |v: toml::Value| match v {
        toml::Value::Float(x) => Ok(x),
        toml::Value::Integer(i) => Ok(i as f64),
        toml::Value::String(s) => {
            s.trim().parse::<f64>().map_err(|_| D::Error::custom(format!("expected a number, found '{s}'")))
        }
        other => Err(D::Error::custom(format!("expected a number, found a {}", other.type_str()))),
    };
    match value {
        toml::Value::Array(items) => {
            items.into_iter().map(number).collect::<std::result::Result<Vec<_>, _>>().map(Some)
        }
        one => number(one).map(|x| Some(vec![x])),
    }
}

/// A list given as `a,b` on the command line and as `"a"` or `["a", "b"]`
/// in TOML.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Vec<String>>, D::Error> {
    let Some(value) = Option::<toml::Value>::deserialize(d)? else { return Ok(None) };
    match value {
        toml::Value::String(s) => Ok(Some(s.split(',').map(|p| p.trim().to_string()).collect())),
        toml::Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                toml::Value::String(s) => Ok(s),
                other => Err(D::Error::custom(format!("expected a list of names, found a {}", other.type_str()))),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Some),
        other => Err(D::Error::custom(format!("expected a name or a list of names, found a {}", other.type_str()))),
    }
}

/// Hidden widths as a list (`[64, 32]`, `[]`) or text (`"64,32"`, `"none"`).
fn hidden_widths<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Vec<usize>>, D::Error> {
    match Option::<toml::Value>::deserialize(d)? {
        None => Ok(None),
        Some(toml::Value::String(s)) => parse_hidden(&s).map(Some).map_err(|e| D::Error::custom(message_of(&e))),
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                toml::Value::Integer(w) if w > 0 => Ok(w as usize),
                other => Err(D::Error::custom(format!("expected positive layer widths, found {other}"))),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(D::Error::custom(format!("expected widths like [64, 32], found a {}", other.type_str()))),
    }
}

/// The message of a config error without its "invalid value for" prefix.
fn message_of(e: &Error) -> String {
    match e {
        Error::Config { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Parses `64,32` (or `none` / empty for no hidden layer).
///
/// ```
/// use fairtrain::run::config::parse_hidden;
/// assert_eq!(parse_hidden("64, 32").unwrap(), [64, 32]);
/// assert!(parse_hidden("none").unwrap().is_empty());
/// assert!(parse_hidden("64,x").is_err());
/// ```
pub fn parse_hidden(value: &str) -> Result<Vec<usize>> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    v.split(',')
        .map(|w| {
            w.trim()
                .parse::<usize>()
                .ok()
                .filter(|&w| w > 0)
                .ok_or_else(|| Error::config("hidden", format!("'{value}' (expected widths like 64,32, or none)")))
        })
        .collect()
}
