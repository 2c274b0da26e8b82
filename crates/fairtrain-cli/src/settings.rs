//! From flags (and a config file) to fully resolved training settings:
//! preset defaults filled in, every value validated, hyperparameters
//! checked against the algorithm that uses them.

use std::path::PathBuf;

use fairtrain::Error;
use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName, SslAlmConfig, SwitchingConfig};
use fairtrain::constraints::{FairnessConstraint, Notion};
use fairtrain::data::{DataSource, LoadOptions, source::DEFAULT_TEST_FRACTION};
use fairtrain::problem::BatchSizes;
use fairtrain::train::DEFAULT_AVERAGE;

use crate::args::{Preset, TrainArgs};

/// Default iteration budget.
pub const DEFAULT_ITERATIONS: u64 = 20_000;
/// Default hidden widths.
pub const DEFAULT_HIDDEN: [usize; 2] = [64, 32];

/// How long to train, as the user asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BudgetSetting {
    /// A number of iterations.
    Iterations(u64),
    /// Seconds of training.
    Seconds(f64),
    /// Passes over the training rows.
    Epochs(f64),
}

/// Everything a training run needs, resolved.
#[derive(Debug, Clone)]
pub struct TrainSettings {
    pub source: DataSource,
    pub load: LoadOptions,
    pub preset: Preset,
    pub algorithm: AlgorithmConfig,
    pub constraint: FairnessConstraint,
    pub hidden: Vec<usize>,
    pub batch: BatchSizes,
    pub seed: u64,
    pub budget: BudgetSetting,
    pub log_every: u64,
    pub average: f64,
    pub threads: usize,
    pub out: Option<PathBuf>,
    pub overwrite: bool,
}

/// Hyperparameter flags and the algorithms that take them.
fn hyperparameters_given(args: &TrainArgs) -> Vec<&'static str> {
    [
        ("lr", args.lr.is_some()),
        ("dual-lr", args.dual_lr.is_some()),
        ("penalty", args.penalty.is_some()),
        ("augmentation", args.augmentation.is_some()),
        ("mu", args.mu.is_some()),
        ("beta", args.beta.is_some()),
        ("dual-bound", args.dual_bound.is_some()),
        ("constraint-lr", args.constraint_lr.is_some()),
        ("tolerance", args.tolerance.is_some()),
        ("momentum", args.momentum.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, given)| given.then_some(k))
    .collect()
}

fn hyperparameters_of(name: AlgorithmName) -> &'static [&'static str] {
    match name {
        AlgorithmName::SslAlm => &["lr", "dual-lr", "penalty", "augmentation", "mu", "beta", "dual-bound"],
        AlgorithmName::Ssw => &["lr", "constraint-lr", "tolerance"],
        AlgorithmName::Sgd => &["lr", "momentum"],
        AlgorithmName::Adam => &["lr"],
    }
}

fn at_least_one<T: PartialOrd + Default + std::fmt::Display + From<u8>>(field: &str, v: T) -> Result<T, Error> {
    if v >= T::from(1) { Ok(v) } else { Err(Error::config(field, format!("{v} (must be at least 1)"))) }
}

fn positive_seconds(field: &str, v: f64) -> Result<f64, Error> {
    if v.is_finite() && v > 0.0 { Ok(v) } else { Err(Error::config(field, format!("{v} (must be a positive number)"))) }
}

/// Parses `64,32` (or `none` / empty for no hidden layer).
pub fn parse_hidden(value: &str) -> Result<Vec<usize>, Error> {
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

impl TrainSettings {
    /// Resolves and validates `args` (already merged with any config file).
    pub fn resolve(args: &TrainArgs) -> Result<Self, Error> {
        let source = DataSource::parse(args.data.as_deref().unwrap_or("adult"))?;
        let preset = args.preset.unwrap_or(Preset::Paper);
        let name = args.algorithm.unwrap_or(AlgorithmName::SslAlm);
        let allowed = hyperparameters_of(name);
        if let Some(k) = hyperparameters_given(args).into_iter().find(|k| !allowed.contains(k)) {
            return Err(Error::config(
                k,
                format!("--{k} does not apply to algorithm {name} (it takes: {})", allowed.join(", ")),
            ));
        }
        let algorithm = match (preset, AlgorithmConfig::paper(name)) {
            (Preset::Paper, AlgorithmConfig::SslAlm(d)) => AlgorithmConfig::SslAlm(SslAlmConfig {
                lr: args.lr.unwrap_or(d.lr),
                dual_lr: args.dual_lr.unwrap_or(d.dual_lr),
                penalty: args.penalty.unwrap_or(d.penalty),
                mu: args.mu.unwrap_or(d.mu),
                beta: args.beta.unwrap_or(d.beta),
                dual_bound: args.dual_bound.unwrap_or(d.dual_bound),
                augmentation: args.augmentation.unwrap_or(d.augmentation),
            }),
            (Preset::Paper, AlgorithmConfig::Switching(d)) => AlgorithmConfig::Switching(SwitchingConfig {
                lr: args.lr.unwrap_or(d.lr),
                constraint_lr: args.constraint_lr.unwrap_or(d.constraint_lr),
                tolerance: args.tolerance.unwrap_or(d.tolerance),
            }),
            (Preset::Paper, AlgorithmConfig::Sgd { lr, momentum }) => {
                AlgorithmConfig::Sgd { lr: args.lr.unwrap_or(lr), momentum: args.momentum.unwrap_or(momentum) }
            }
            (Preset::Paper, AlgorithmConfig::Adam { lr }) => AlgorithmConfig::Adam { lr: args.lr.unwrap_or(lr) },
        };
        // Build once to validate the hyperparameters now, before any output.
        algorithm.build()?;

        let notion = args.constraint.unwrap_or(Notion::LossParity);
        let bound = args.bound.unwrap_or(notion.default_bound());
        let constraint = FairnessConstraint::new(notion, bound)?;

        let paper_batches = AlgorithmConfig::paper_batch_sizes(name);
        let batch = BatchSizes {
            objective: at_least_one("batch-size", args.batch_size.unwrap_or(paper_batches.objective))?,
            per_group: at_least_one("group-batch-size", args.group_batch_size.unwrap_or(paper_batches.per_group))?,
        };
        let budget = match (args.iterations, args.time_budget, args.epochs) {
            (Some(n), None, None) => BudgetSetting::Iterations(at_least_one("iterations", n)?),
            (None, Some(s), None) => BudgetSetting::Seconds(positive_seconds("time-budget", s)?),
            (None, None, Some(e)) => BudgetSetting::Epochs(positive_seconds("epochs", e)?),
            (None, None, None) => BudgetSetting::Iterations(DEFAULT_ITERATIONS),
            _ => {
                return Err(Error::config("budget", "give only one of --iterations, --time-budget, --epochs"));
            }
        };
        let hidden = match &args.hidden {
            Some(h) => parse_hidden(h)?,
            None => DEFAULT_HIDDEN.to_vec(),
        };
        let is_csv = matches!(source, DataSource::Csv(_));
        let load = LoadOptions {
            target: args.target.clone(),
            positive: args.positive.clone(),
            group: args.group.clone(),
            categorical: args.categorical.clone().unwrap_or_default(),
            drop: args.drop.clone().unwrap_or_default(),
            missing: args.missing.unwrap_or_default(),
            test_fraction: match (args.test_fraction, is_csv) {
                (None, true) => Some(DEFAULT_TEST_FRACTION),
                (t, _) => t,
            },
            split_seed: args.split_seed.unwrap_or(0),
            keep_group_feature: args.keep_group_feature.unwrap_or(false),
        };
        if let Some(t) = load.test_fraction.filter(|t| !(*t > 0.0 && *t < 1.0)) {
            return Err(Error::config("test-fraction", format!("{t} (must be between 0 and 1, exclusive)")));
        }
        if args.split_seed.is_some() && !is_csv {
            return Err(Error::config(
                "split-seed",
                format!("applies only to CSV data; {} has a fixed test split", source.name()),
            ));
        }
        Ok(TrainSettings {
            source,
            load,
            preset,
            algorithm,
            constraint,
            hidden,
            batch,
            seed: args.seed.unwrap_or(0),
            budget,
            log_every: at_least_one("log-every", args.log_every.unwrap_or(100))?,
            average: match args.average.unwrap_or(DEFAULT_AVERAGE) {
                a if (0.0..1.0).contains(&a) => a,
                a => {
                    return Err(Error::config(
                        "average",
                        format!("{a} (the averaged fraction of the budget must be in [0, 1))"),
                    ));
                }
            },
            threads: at_least_one("threads", args.threads.unwrap_or(1))?,
            out: args.out.clone(),
            overwrite: args.overwrite,
        })
    }

    /// The resolved settings as flags: written to `config.toml`, they re-run
    /// the same training with `--config` (the output directory aside).
    pub fn to_args(&self) -> TrainArgs {
        let is_csv = matches!(self.source, DataSource::Csv(_));
        let mut a = TrainArgs {
            data: Some(self.source.name()),
            group: self.load.group.clone().or_else(|| self.source.default_groups()),
            missing: Some(self.load.missing),
            keep_group_feature: Some(self.load.keep_group_feature),
            algorithm: Some(self.algorithm.name()),
            preset: Some(self.preset),
            constraint: Some(self.constraint.notion),
            bound: Some(self.constraint.bound),
            hidden: Some(if self.hidden.is_empty() {
                "none".into()
            } else {
                self.hidden.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(",")
            }),
            batch_size: Some(self.batch.objective),
            group_batch_size: Some(self.batch.per_group),
            seed: Some(self.seed),
            log_every: Some(self.log_every),
            average: Some(self.average),
            threads: Some(self.threads),
            ..TrainArgs::default()
        };
        if is_csv {
            a.target = self.load.target.clone();
            a.positive = self.load.positive.clone();
            a.categorical = Some(self.load.categorical.clone()).filter(|v| !v.is_empty());
            a.drop = Some(self.load.drop.clone()).filter(|v| !v.is_empty());
            a.test_fraction = self.load.test_fraction;
            a.split_seed = Some(self.load.split_seed);
        }
        match self.budget {
            BudgetSetting::Iterations(n) => a.iterations = Some(n),
            BudgetSetting::Seconds(s) => a.time_budget = Some(s),
            BudgetSetting::Epochs(e) => a.epochs = Some(e),
        }
        match self.algorithm {
            AlgorithmConfig::SslAlm(c) => {
                a.lr = Some(c.lr);
                a.dual_lr = Some(c.dual_lr);
                a.penalty = Some(c.penalty);
                a.augmentation = Some(c.augmentation);
                a.mu = Some(c.mu);
                a.beta = Some(c.beta);
                a.dual_bound = Some(c.dual_bound);
            }
            AlgorithmConfig::Switching(c) => {
                a.lr = Some(c.lr);
                a.constraint_lr = Some(c.constraint_lr);
                a.tolerance = Some(c.tolerance);
            }
            AlgorithmConfig::Sgd { lr, momentum } => {
                a.lr = Some(lr);
                a.momentum = Some(momentum);
            }
            AlgorithmConfig::Adam { lr } => a.lr = Some(lr),
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(toml_text: &str) -> TrainArgs {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn paper_defaults() {
        let s = TrainSettings::resolve(&TrainArgs::default()).unwrap();
        assert_eq!(s.source, DataSource::Adult);
        assert_eq!(s.algorithm, AlgorithmConfig::SslAlm(SslAlmConfig::default()));
        assert_eq!(s.batch, BatchSizes { objective: 8, per_group: 8 });
        assert_eq!(s.budget, BudgetSetting::Iterations(20_000));
        assert_eq!(s.constraint.bound, 0.005);
        assert_eq!(s.hidden, [64, 32]);
        let s = TrainSettings::resolve(&args("algorithm = \"ssw\"")).unwrap();
        assert_eq!(s.batch, BatchSizes { objective: 16, per_group: 16 });
    }

    #[test]
    fn resolved_settings_round_trip_through_toml() {
        let given =
            args("data = \"synthetic\"\nalgorithm = \"ssw\"\ntolerance = 0.001\ntime-budget = 2.5\nhidden = \"16\"");
        let s = TrainSettings::resolve(&given).unwrap();
        let text = toml::to_string(&s.to_args()).unwrap();
        let again = TrainSettings::resolve(&toml::from_str(&text).unwrap()).unwrap();
        assert_eq!(again.to_args().algorithm, s.to_args().algorithm);
        assert_eq!(toml::to_string(&again.to_args()).unwrap(), text);
        assert_eq!(again.budget, BudgetSetting::Seconds(2.5));
        assert_eq!(again.hidden, [16]);
    }

    #[test]
    fn foreign_hyperparameter_is_an_error() {
        let err = TrainSettings::resolve(&args("algorithm = \"adam\"\nmu = 1.0")).unwrap_err();
        assert_eq!(err.to_string(), "invalid value for mu: --mu does not apply to algorithm adam (it takes: lr)");
    }

    #[test]
    fn bad_values_name_their_field() {
        for (text, field) in [
            ("bound = -0.5", "bound"),
            ("batch-size = 0", "batch-size"),
            ("lr = -1.0", "lr"),
            ("time-budget = 0.0", "time-budget"),
            ("hidden = \"64,x\"", "hidden"),
            ("log-every = 0", "log-every"),
            ("average = 1.0", "average"),
        ] {
            let err = TrainSettings::resolve(&args(text)).unwrap_err();
            assert!(err.to_string().starts_with(&format!("invalid value for {field}:")), "{text}: {err}");
        }
    }

    #[test]
    fn unknown_config_key_is_named() {
        let err = toml::from_str::<TrainArgs>("algoritm = \"ssl-alm\"").unwrap_err();
        assert!(err.to_string().contains("unknown field `algoritm`"), "{err}");
    }
}
