//! The `train` flags. Each is a key of the library's run configuration
//! ([`fairtrain::run::RunConfig`]) under the same name: the flags given
//! become a table of flat keys laid over the `--config` file, through the
//! one mechanism the library uses for files and Python keywords.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use fairtrain::algorithms::{AlgorithmName, Augmentation, Barrier, PrimalKind, Regret};
use fairtrain::constraints::Notion;
use fairtrain::data::MissingPolicy;
use fairtrain::data::acs::AcsMissing;
use fairtrain::methods::MetaObjective;
use fairtrain::postprocess::Postprocess;
use fairtrain::run::{ConstraintSpec, Origin, Preset, RunConfig, Select};
use serde::Serialize;

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

fn select_parser() -> impl TypedValueParser<Value = Select> {
    parser(&["last", "best-feasible", "best"], |s| match s {
        "last" => Select::Last,
        "best" => Select::Best,
        _ => Select::BestFeasible,
    })
}

fn postprocess_parser() -> impl TypedValueParser<Value = Postprocess> {
    parser(&Postprocess::NAMES, |s| if s == "off" { Postprocess::Off } else { Postprocess::GroupThresholds })
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

/// The data flags, shared by `train` and `prune`.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DataArgs {
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

    /// Sensitive column(s) defining the groups; several (a,b) give intersectional groups; COL:a:b cuts a numeric column into bands at cut points a, b [adult: race, sex or age:...; default race]
    #[arg(long, value_delimiter = ',', help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Vec<String>>,

    /// Columns to treat as categorical even if numeric (CSV)
    #[arg(long, value_delimiter = ',', help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categorical: Option<Vec<String>>,

    /// Columns to ignore (CSV)
    #[arg(long, value_delimiter = ',', help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
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
    #[arg(long, help_heading = "Data", value_parser = clap::value_parser!(u64).range(..=i64::MAX as u64))]
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
    #[serde(skip_serializing_if = "Option::is_none")]
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

    /// Keep the sensitive column(s) among the model's features
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Data")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_group_feature: Option<bool>,
}

/// Options of `fairtrain train`.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TrainArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub input: DataArgs,

    /// Data cache directory [default: $FAIRTRAIN_CACHE, else the platform cache dir]/fairtrain
    #[arg(long, value_name = "DIR", help_heading = "Data")]
    #[serde(skip)]
    pub cache: Option<PathBuf>,

    /// Never touch the network: data missing from the cache is an error saying how to get it
    #[arg(long, help_heading = "Data")]
    #[serde(skip)]
    pub offline: bool,

    /// Fraction of the training split held out for validation (margin, model selection, post-processing), stratified by group and label [default: 0.2 for constrained algorithms and post-processed runs; 0 for --preset paper, sgd, adam and --method]
    #[arg(long, help_heading = "Generalization")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_fraction: Option<f64>,

    /// Train against a tighter bound so held-out values land within yours: auto (at least one standard error of the training estimate, more where validation shows overfitting beyond its noise; measured at a quarter, half and three quarters of the budget; only ever tightened), off, or a number [default: auto; --preset paper: off]
    #[arg(long, value_name = "auto|off|X", help_heading = "Generalization")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<String>,

    /// The returned model: last (the tail average), best-feasible (the best validation objective among models feasible on validation), or best (the best validation objective: early stopping) [default: best-feasible; last without a validation split (--preset paper, sgd, adam, --method); best for sgd/adam/--method with --postprocess]
    #[arg(long, value_parser = select_parser(), help_heading = "Generalization")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<Select>,

    /// After training, choose per-group decision thresholds (randomized where needed) that maximize accuracy within the rate bounds, fitted on training and validation rows for a model trained without constraints that still errs on its training rows, else on validation alone; saved with the model, so `predict` then needs the group column(s). Without --algorithm the model trains unconstrained (adam) first [default: off]
    #[arg(long, value_parser = postprocess_parser(), value_name = "off|group-thresholds", help_heading = "Generalization")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postprocess: Option<Postprocess>,

    /// Training algorithm [default: ssl-alm; adam with --postprocess]
    #[arg(long, value_parser = algorithm_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<AlgorithmName>,

    /// A fairness method instead of an algorithm: fairbatch (adaptive batch sampler), forml (meta-learned sample weights), fermi (exponential Renyi mutual information regularizer); it targets the --constraint notion (equal-opportunity, equalized-odds, demographic-parity)
    #[arg(long, value_parser = method_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<AlgorithmName>,

    /// Settings preset: default (fairtrain's), or paper (the humancompatible.train paper's hyperparameters and batch sizes, no validation split; the returned model is the average of the last 25% of iterates, and --average 0 returns the last iterate, as the reference does) [default: default]
    #[arg(long, value_parser = preset_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,

    /// Fairness constraint; repeat for several [default: loss-parity]
    #[arg(long, value_parser = constraint_parser(), help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint: Option<Vec<ConstraintSpec>>,

    /// Bound of each --constraint, in order [default: 0.005 loss parity, 0.05 rate gaps, 0.8 ratios]
    #[arg(long, allow_hyphen_values = true, help_heading = "Algorithm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<Vec<f64>>,

    /// Temperature T of the rate surrogates sigmoid(logit / T) used for constraint gradients; applies to rate constraints (positive rate, TPR, FPR...) under a constrained algorithm [default: 0.5 when every constrained rate is a positive rate (demographic parity, disparate impact), else 0.25]
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

    /// The penalty term of rate constraints reads the averaged constraint estimates too (SSL-ALM, ALM; with --constraint-averaging below 1) [default: on over four groups or more, off over fewer; a run whose first attempt fails restarts with the other, unless set on]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = "Hyperparameters")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_penalty: Option<bool>,

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
    #[arg(long, help_heading = "Training", value_parser = clap::value_parser!(u64).range(..=i64::MAX as u64))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,

    /// Budget: number of iterations [default: 20000]
    #[arg(long, help_heading = "Training", value_parser = clap::value_parser!(u64).range(..=i64::MAX as u64))]
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
    #[arg(long, help_heading = "Training", value_parser = clap::value_parser!(u64).range(..=i64::MAX as u64))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_every: Option<u64>,

    /// Threads for evaluation (training steps use one) [default: 1]
    #[arg(long, help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,

    /// Refuse to train when the encoded rows this process holds take more than MB megabytes (in a data-parallel run, each process holds only its share of the rows) [default: no limit]
    #[arg(long, value_name = "MB", help_heading = "Training")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_budget: Option<f64>,

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

    /// Read settings from a TOML file: sections [data], [model], [algorithm], [training], [generalization], [output] and [[constraint]] tables, whose keys are these flags' names (a run's config.toml is one); flags override it
    #[arg(long, value_name = "FILE.toml", help_heading = "Output")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

impl TrainArgs {
    /// The flags given, as flat keys of the run configuration.
    pub fn flags(&self) -> Result<RunConfig> {
        if let (Some(algorithm), Some(method)) = (self.algorithm, self.method) {
            bail!(fairtrain::Error::config(
                "method",
                format!(
                    "{method} was given with --algorithm {algorithm}: a method replaces the algorithm, give one of them"
                ),
            ));
        }
        let table = toml::Table::try_from(self).context("internal: flags do not serialize")?;
        Ok(RunConfig::from_table(table, Origin::CommandLine)?)
    }

    /// The run configuration: the `--config` file (if any) with the flags
    /// laid over it.
    pub fn run_config(&self) -> Result<RunConfig> {
        let mut config = match &self.config {
            Some(path) => RunConfig::from_file(path)?,
            None => RunConfig::default(),
        };
        config.overlay(self.flags()?);
        Ok(config)
    }
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use fairtrain::run::keys::{flat_keys, route};

    /// The flags that steer the command, not the run.
    const COMMAND_ONLY: [&str; 6] = ["cache", "offline", "resume", "quiet", "overwrite", "config"];

    #[derive(clap::Parser)]
    struct Train {
        #[command(flatten)]
        args: super::TrainArgs,
    }

    #[test]
    fn every_flag_is_a_key_and_every_key_a_flag() {
        let command = Train::command();
        let flags: Vec<String> =
            command.get_arguments().filter_map(|a| a.get_long()).map(str::to_string).filter(|f| f != "help").collect();
        for flag in &flags {
            assert!(
                COMMAND_ONLY.contains(&flag.as_str()) || route(flag).is_some(),
                "--{flag} is no key of the run configuration"
            );
        }
        for (key, path) in flat_keys() {
            assert!(flags.contains(&key), "the key {path} has no flag --{key}");
        }
    }
}
