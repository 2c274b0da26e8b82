//! The `train` flags. The same struct is the schema of `--config` files:
//! TOML keys are the flag names (kebab-case), unknown keys are errors, and
//! flags override the file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use fairtrain::algorithms::{AlgorithmName, Augmentation, Barrier, PrimalKind, Regret};
use fairtrain::constraints::{Comparison, Notion, Statistic};
use fairtrain::data::MissingPolicy;
use fairtrain::data::acs::AcsMissing;
use fairtrain::methods::MetaObjective;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

pub use fairtrain::algorithms::Preset;

fn parser<T: Clone + Send + Sync + 'static>(
    names: &'static [&'static str],
    map: fn(&str) -> T,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(names).map(move |s| map(&s))
}

pub(crate) fn algorithm_parser() -> impl TypedValueParser<Value = AlgorithmName> {
    parser(&AlgorithmName::NAMES, |s| s.parse().expect("a listed algorithm name"))
}

fn method_parser() -> impl TypedValueParser<Value = AlgorithmName> {
    parser(&AlgorithmName::METHOD_NAMES, |s| AlgorithmName::parse_method(s).expect("a listed method name"))
}

fn meta_objective_parser() -> impl TypedValueParser<Value = MetaObjective> {
    parser(&["balanced", "worst-group"], |s| s.parse().expect("a listed meta-objective"))
}

fn missing_parser() -> impl TypedValueParser<Value = MissingPolicy> {
    parser(&["drop", "error"], |s| if s == "error" { MissingPolicy::Error } else { MissingPolicy::Drop })
}

fn acs_missing_parser() -> impl TypedValueParser<Value = AcsMissing> {
    parser(&["zero", "minus-one"], |s| if s == "minus-one" { AcsMissing::MinusOne } else { AcsMissing::Zero })
}

/// Which model a run returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Select {
    /// The last model (the tail average of the iterates).
    Last,
    /// The best validation objective among models feasible on validation.
    BestFeasible,
}

fn select_parser() -> impl TypedValueParser<Value = Select> {
    parser(&["last", "best-feasible"], |s| if s == "last" { Select::Last } else { Select::BestFeasible })
}

pub(crate) fn preset_parser() -> impl TypedValueParser<Value = Preset> {
    parser(&Preset::NAMES, |s| s.parse().expect("a listed preset"))
}

pub(crate) fn constraint_parser() -> impl TypedValueParser<Value = ConstraintSpec> {
    let names: Vec<&'static str> = Notion::names();
    PossibleValuesParser::new(names).map(|s| ConstraintSpec::notion(s.parse().expect("a listed notion")))
}

fn augmentation_parser() -> impl TypedValueParser<Value = Augmentation> {
    parser(&["hpr", "quadratic"], |s| if s == "hpr" { Augmentation::Hpr } else { Augmentation::Quadratic })
}

fn primal_parser() -> impl TypedValueParser<Value = PrimalKind> {
    parser(&PrimalKind::NAMES, |s| s.parse().expect("a listed optimizer"))
}

fn barrier_parser() -> impl TypedValueParser<Value = Barrier> {
    parser(&["quadratic-logarithmic", "quadratic-reciprocal"], |s| {
        if s == "quadratic-reciprocal" { Barrier::QuadraticReciprocal } else { Barrier::QuadraticLogarithmic }
    })
}

fn regret_parser() -> impl TypedValueParser<Value = Regret> {
    parser(&["swap", "external"], |s| if s == "external" { Regret::External } else { Regret::Swap })
}

/// The shape of a custom constraint in a config file.
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

/// One constraint as a config file declares it: a named notion, or a kind
/// and statistics (`--constraint NAME` on the command line).
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
    /// The sensitive columns (must be the run's `group`).
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
}

/// One statistic or a list of them.
fn statistics<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Statistic>>, D::Error> {
    let Some(names) = string_or_list(d)? else { return Ok(None) };
    names
        .iter()
        .map(|n| n.parse::<Statistic>().map_err(|e| D::Error::custom(e.to_string())))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `constraint = "name"`, `constraint = ["a", "b"]` or `[[constraint]]`
/// tables (mixed lists too), with errors that name the key at fault.
fn constraints<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<ConstraintSpec>>, D::Error> {
    let Some(value) = Option::<toml::Value>::deserialize(d)? else { return Ok(None) };
    let items = match value {
        toml::Value::Array(items) => items,
        one => vec![one],
    };
    let mut specs = Vec::with_capacity(items.len());
    for item in items {
        match item {
            toml::Value::String(name) => {
                let notion: Notion = name.parse().map_err(|e: fairtrain::Error| D::Error::custom(e.to_string()))?;
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
fn number_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    let Some(value) = Option::<toml::Value>::deserialize(d)? else { return Ok(None) };
    let number = |v: toml::Value| match v {
        toml::Value::Float(x) => Ok(x),
        toml::Value::Integer(i) => Ok(i as f64),
        other => Err(D::Error::custom(format!("expected a number, found a {}", other.type_str()))),
    };
    match value {
        toml::Value::Array(items) => items.into_iter().map(number).collect::<Result<Vec<_>, _>>().map(Some),
        one => number(one).map(|x| Some(vec![x])),
    }
}

/// A list given as `a,b` on the command line and as `"a"` or `["a", "b"]`
/// in TOML.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let Some(value) = Option::<toml::Value>::deserialize(d)? else { return Ok(None) };
    match value {
        toml::Value::String(s) => Ok(Some(s.split(',').map(|p| p.trim().to_string()).collect())),
        toml::Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                toml::Value::String(s) => Ok(s),
                other => Err(D::Error::custom(format!("expected a list of names, found a {}", other.type_str()))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(D::Error::custom(format!("expected a name or a list of names, found a {}", other.type_str()))),
    }
}

/// Options of `fairtrain train`.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrainArgs {
    /// Data: a built-in name (adult, german, compas, law, synthetic), an ACS task (acs-income, acs-employment, acs-public-coverage, acs-mobility, acs-travel-time, acs-income-poverty-ratio), or a CSV/ARFF path (contains '/' or ends in .csv/.arff) [default: adult]
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

    /// A separate test file with the same columns as the --data CSV/ARFF file: its rows are the test split (instead of a random --test-fraction)
    #[arg(long, value_name = "FILE", help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_data: Option<PathBuf>,

    /// Seed of the train/test split of a CSV file (independent of --seed) [default: 0]
    #[arg(long, help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,

    /// Sample-weight column (e.g. adult's fnlwgt, ACS's PWGTP): weights the objective, the constraints and the metrics
    #[arg(long, help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<String>,

    /// TOML schema of a CSV/ARFF file: column types, target, positive value, groups, weight, drop list (flags override it)
    #[arg(long, value_name = "FILE.toml", help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<PathBuf>,

    /// ACS: state postal code(s), e.g. OK or CA,TX [default: OK]
    #[arg(long, value_delimiter = ',', help_heading = "Data")]
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_list")]
    pub state: Option<Vec<String>>,

    /// ACS: survey year (2014 on) [default: 2018]
    #[arg(long, help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<u16>,

    /// ACS: 1-Year or 5-Year files [default: 1-Year]
    #[arg(long, help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon: Option<String>,

    /// ACS: what a missing cell becomes: zero (what folktables does) or minus-one (what it intends) [default: zero]
    #[arg(long, value_parser = acs_missing_parser(), help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs_missing: Option<AcsMissing>,

    /// ACS: read RELSHIPP where RELP is absent (survey years 2019 on; folktables fails there)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs_relshipp: Option<bool>,

    /// Data cache directory [default: $FAIRTRAIN_CACHE, else the platform cache dir]/fairtrain
    #[arg(long, value_name = "DIR", help_heading = "Data")]
    #[serde(skip)]
    pub cache: Option<PathBuf>,

    /// Never touch the network: data missing from the cache is an error saying how to get it
    #[arg(long, help_heading = "Data")]
    #[serde(skip)]
    pub offline: bool,

    /// Keep the sensitive column(s) among the model's features
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_group_feature: Option<bool>,

    /// Fraction of the training split held out for validation (margin and model selection), stratified by group and label [default: 0.2 for constrained algorithms; 0 for --preset paper, sgd, adam and --method]
    #[arg(long, help_heading = "Generalization")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_fraction: Option<f64>,

    /// Train against a tighter bound so held-out values land within yours: auto (measured on validation at a quarter of the budget), off, or a number [default: auto; --preset paper: off]
    #[arg(long, value_name = "auto|off|X", help_heading = "Generalization")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<String>,

    /// The returned model: last (the tail average), or best-feasible (the best validation objective among models feasible on validation) [default: best-feasible; --preset paper: last]
    #[arg(long, value_parser = select_parser(), help_heading = "Generalization")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<Select>,

    /// Training algorithm [default: ssl-alm]
    #[arg(long, value_parser = algorithm_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<AlgorithmName>,

    /// A fairness method instead of an algorithm: fairbatch (adaptive batch sampler), forml (meta-learned sample weights), fermi (exponential Renyi mutual information regularizer); it targets the --constraint notion (equal-opportunity, equalized-odds, demographic-parity)
    #[arg(long, value_parser = method_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "method_name", default)]
    pub method: Option<AlgorithmName>,

    /// Settings preset: default (fairtrain's), or paper (the humancompatible.train paper's hyperparameters and batch sizes) [default: default]
    #[arg(long, value_parser = preset_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,

    /// Fairness constraint; repeat for several [default: loss-parity]
    #[arg(long, value_parser = constraint_parser(), help_heading = "Algorithm")]
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "constraints")]
    pub constraint: Option<Vec<ConstraintSpec>>,

    /// Bound of each --constraint, in order [default: 0.005 loss parity, 0.05 rate gaps, 0.8 ratios]
    #[arg(long, allow_hyphen_values = true, help_heading = "Algorithm")]
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "number_or_list")]
    pub bound: Option<Vec<f64>>,

    /// Temperature T of the rate surrogates sigmoid(logit / T) used for constraint gradients [default: 0.25]
    #[arg(long, allow_hyphen_values = true, help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,

    /// Primal optimizer of a Lagrangian method [preset]
    #[arg(long, value_parser = primal_parser(), help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primal: Option<PrimalKind>,

    /// Primal step size (switching subgradient: objective step; ghost: initial step) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,

    /// Heavy-ball momentum of the sgd primal optimizer [default: 0]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f32>,

    /// Moreau-envelope proximal weight mu (0 = no smoothing) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mu: Option<f32>,

    /// Moreau anchor rate beta [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta: Option<f32>,

    /// Dual step size (ALM, GDA, nuPI integral gain, iALM gamma, proxy-Lagrangian eta) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_lr: Option<f32>,

    /// Upper bound of the multipliers [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_bound: Option<f32>,

    /// Double a multiplier's bound while it binds and its constraint stays violated (SSL-ALM, ALM) [preset: true; paper: false]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grow_dual_bound: Option<bool>,

    /// Penalty rho (ALM, nuPI, penalty method) or initial beta (iALM) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty: Option<f32>,

    /// Augmentation of the Lagrangian (ALM, SSL-ALM) [preset: hpr]
    #[arg(long, value_parser = augmentation_parser(), help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub augmentation: Option<Augmentation>,

    /// Penalty growth factor per step (iALM sigma; penalty method while violated) [preset: 1]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty_growth: Option<f32>,

    /// Proportional gain k_p (nuPI) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kp: Option<f32>,

    /// Error averaging nu (nuPI) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nu: Option<f32>,

    /// Initial dual averaging gamma_0 (SPBM) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_averaging: Option<f32>,

    /// Initial penalty averaging K_0 (SPBM) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty_decay: Option<f32>,

    /// Penalty factor delta for violated constraints (SPBM) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<f32>,

    /// Penalty-barrier function (SPBM) [preset: quadratic-logarithmic]
    #[arg(long, value_parser = barrier_parser(), help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barrier: Option<Barrier>,

    /// Starting multiplier (SPBM) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_multiplier: Option<f32>,

    /// Regret of the constraint player (proxy-Lagrangian) [preset: swap]
    #[arg(long, value_parser = regret_parser(), help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regret: Option<Regret>,

    /// Step size of constraint steps (switching subgradient) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_lr: Option<f32>,

    /// Constraint steps are taken while the largest constraint estimate exceeds this (switching subgradient) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f32>,

    /// Weight of the newest batch in the running average of the constraint estimates that decide the steps; 1 = current batch only (switching subgradient, penalty) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_averaging: Option<f32>,

    /// Step-size decay zeta: gamma <- gamma (1 - zeta gamma) (ghost) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_decay: Option<f32>,

    /// Geometric level parameter alpha (ghost) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_alpha: Option<f32>,

    /// Rows per cell of the level-0 batch (ghost) [preset: 1]
    #[arg(long, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_base_batch: Option<usize>,

    /// Largest level of the fine batches (ghost) [preset: 9]
    #[arg(long, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_max_level: Option<u32>,

    /// QP regularization tau (ghost) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tau: Option<f32>,

    /// Trust region beta of the direction (ghost) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_radius: Option<f32>,

    /// Ghost radius rho (ghost) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_radius: Option<f32>,

    /// Ghost weight lambda (ghost) [preset]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_weight: Option<f32>,

    /// FairBatch: step of the (label, group) batch shares per epoch [default: 0.005]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairbatch_alpha: Option<f32>,

    /// FERMI: weight of the ERMI regularizer [default: 10]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fermi_lambda: Option<f32>,

    /// FORML: fraction of each (label, group) cell held out as the fairness set [default: 0.2]
    #[arg(long, allow_hyphen_values = true, help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_fraction: Option<f64>,

    /// FORML: meta-objective on the fairness set: worst-group (the worst-off group of each compared label) or balanced (every group equally) [default: worst-group]
    #[arg(long, value_parser = meta_objective_parser(), help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_objective: Option<MetaObjective>,

    /// Training backend: native (fairtrain's own MLP kernels) or burn (the same MLP as a burn module; needs a build with `--features burn`) [default: native; burn when --device is given]
    #[arg(long, value_parser = ["native", "burn"], help_heading = "Model")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,

    /// Device of the burn backend: cpu (Flex), cuda or wgpu (builds with `--features cuda` or `wgpu`) [default: cpu]
    #[arg(long, value_parser = ["cpu", "cuda", "wgpu"], help_heading = "Model")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,

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

    /// Evaluate the full train and test splits every N iterations, or every S seconds written "Ss" (e.g. 0.5s), into evaluations.csv; evaluation time is not training time
    #[arg(long, value_name = "N|Ss", help_heading = "Output")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<String>,

    /// Write a checkpoint (the complete state, atomically) every N iterations or every S seconds written "Ss", and at the end; "off" disables [default: 60s]
    #[arg(long, value_name = "N|Ss|off", help_heading = "Output")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<String>,

    /// Continue the run in --out from its last checkpoint, to its budget or a new --iterations/--time-budget
    #[arg(long, help_heading = "Output")]
    #[serde(skip)]
    pub resume: bool,

    /// Print nothing but errors and warnings (the outputs are written as usual)
    #[arg(long, help_heading = "Output")]
    #[serde(skip)]
    pub quiet: bool,

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
        args.offline = self.offline;
        args.quiet = self.quiet;
        args.resume = self.resume;
        args.cache = self.cache.clone();
        args.config = self.config;
        Ok(args)
    }
}

fn method_name<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<AlgorithmName>, D::Error> {
    let name = String::deserialize(d)?;
    AlgorithmName::parse_method(&name).map(Some).map_err(D::Error::custom)
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

/// Flags every multi-run command shares with `train`: where data come from
/// and how much it prints.
#[derive(Debug, Clone, clap::Args)]
pub struct RunFlags {
    /// Data cache directory
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Never touch the network
    #[arg(long)]
    pub offline: bool,
    /// Print only errors and warnings
    #[arg(long)]
    pub quiet: bool,
}
