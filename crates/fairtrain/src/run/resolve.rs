//! [`RunConfig::resolve`]: every default filled in once (preset,
//! algorithm, constraints, data), every value validated, and every key that
//! does not apply to the chosen algorithm or constraints refused (or, where
//! a file sets it to its default, noted).

use super::algorithm_keys::{default_value, foreign_key_error, resolve_keys};
use super::applicability::{batch_keys, uses_temperature};
use super::config::{ConstraintSpec, Margin, Preset, RunConfig, Select};
use super::constraint_spec::resolve_constraint;
use super::origin::Origin;
use super::plan::{BudgetSetting, RunPlan};
use crate::algorithms::methods::Target;
use crate::algorithms::{AlgorithmConfig, AlgorithmName};
use crate::constraints::{DEFAULT_TEMPERATURE, Notion, default_temperature};
use crate::data::acs::Horizon;
use crate::data::schema::Schema;
use crate::data::{DataSource, LoadOptions, source::DEFAULT_TEST_FRACTION};
use crate::error::{Error, Result};
use crate::postprocess::Postprocess;
use crate::train::{Budget, DEFAULT_AVERAGE};

/// Default iteration budget.
pub const DEFAULT_ITERATIONS: u64 = 20_000;
/// Default hidden widths.
pub const DEFAULT_HIDDEN: [usize; 2] = [64, 32];
/// The preset used when none is given.
pub const DEFAULT_PRESET: Preset = Preset::Default;
/// The validation fraction of the default preset.
pub const DEFAULT_VALIDATION: f64 = 0.2;
/// The default checkpoint cadence.
pub const DEFAULT_CHECKPOINT_EVERY: &str = "60s";
/// The default `history.csv` cadence.
pub const DEFAULT_LOG_EVERY: u64 = 100;

/// Evaluation threads: at least 1, at most 4 per core of this machine
/// (more only oversubscribe it: a 2-second budget once took 47 s).
fn threads(n: usize) -> Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    if n > 4 * cores {
        return Err(Error::config("threads", format!("{n} (this machine has {cores} cores; at most {})", 4 * cores)));
    }
    at_least_one("threads", n)
}

fn at_least_one<T: PartialOrd + Default + std::fmt::Display + From<u8>>(field: &str, v: T) -> Result<T> {
    if v >= T::from(1) { Ok(v) } else { Err(Error::config(field, format!("{v} (must be at least 1)"))) }
}

fn positive_seconds(field: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 { Ok(v) } else { Err(Error::config(field, format!("{v} (must be a positive number)"))) }
}

/// A cadence: `N` iterations or `Ss` seconds.
///
/// ```
/// use fairtrain::run::resolve::parse_cadence;
/// use fairtrain::train::Budget;
/// assert_eq!(parse_cadence("eval-every", "500").unwrap(), Budget::Iterations(500));
/// assert_eq!(parse_cadence("eval-every", "0.5s").unwrap(), Budget::Seconds(0.5));
/// assert!(parse_cadence("eval-every", "soon").is_err());
/// ```
pub fn parse_cadence(field: &str, value: &str) -> Result<Budget> {
    let v = value.trim();
    let bad = || Error::config(field, format!("'{value}' (give iterations, e.g. 500, or seconds, e.g. 0.5s)"));
    if let Some(seconds) = v.strip_suffix('s') {
        let s: f64 = seconds.trim().parse().map_err(|_| bad())?;
        if !(s.is_finite() && s > 0.0) {
            return Err(bad());
        }
        Ok(Budget::Seconds(s))
    } else {
        match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Budget::Iterations(n)),
            _ => Err(bad()),
        }
    }
}

/// Applies the ACS keys to an ACS source; elsewhere they are errors.
fn resolve_acs(source: &mut DataSource, c: &RunConfig) -> Result<()> {
    let d = &c.data;
    let given = [
        ("state", d.state.is_some()),
        ("year", d.year.is_some()),
        ("horizon", d.horizon.is_some()),
        ("acs-missing", d.acs_missing.is_some()),
        ("acs-relshipp", d.acs_relshipp.is_some()),
    ];
    let DataSource::Acs(request) = source else {
        if let Some((field, _)) = given.iter().find(|(_, g)| *g) {
            return Err(Error::config(*field, format!("applies only to ACS tasks, not to {}", source.name())));
        }
        return Ok(());
    };
    if let Some(states) = &d.state {
        request.states = states.iter().map(|s| s.trim().to_ascii_uppercase()).collect();
    }
    if let Some(year) = d.year {
        request.year = year;
    }
    if let Some(h) = &d.horizon {
        request.horizon = Horizon::parse(h)?;
    }
    if let Some(m) = d.acs_missing {
        request.missing = m;
    }
    if let Some(r) = d.acs_relshipp {
        request.relshipp = r;
    }
    request.validate()
}

impl RunConfig {
    /// Resolves and validates the configuration: the plan of the run.
    ///
    /// ```
    /// use fairtrain::run::RunConfig;
    /// let mut config = RunConfig::default();
    /// config.set("data", "synthetic").unwrap();
    /// config.set("algorithm", "adam").unwrap();
    /// let plan = config.resolve().unwrap();
    /// assert_eq!(plan.validation_fraction, 0.0); // an unconstrained baseline trains on every row
    /// // A key adam does not take is an error, not silently ignored.
    /// config.set("mu", 1.0).unwrap();
    /// assert!(config.resolve().unwrap_err().to_string().contains("--mu does not apply to algorithm adam"));
    /// ```
    pub fn resolve(&self) -> Result<RunPlan> {
        self.resolve_inner().map_err(|e| self.locate(e))
    }

    /// Names the file and line of the key an error is about, where a file
    /// set it.
    fn locate(&self, e: Error) -> Error {
        let Error::Config { field, message } = &e else { return e };
        match self.origins.find(field) {
            Some((_, origin @ Origin::File { .. })) => {
                Error::Data(format!("{}: invalid value for {field}: {message}", origin.describe(field)))
            }
            _ => e,
        }
    }

    /// Judges a key that does not apply: an error, unless a file sets it
    /// to `default` (as every earlier run's config.toml did), then a note.
    fn foreign(
        &self,
        path: &str,
        value: Option<toml::Value>,
        default: Option<toml::Value>,
        error: Error,
    ) -> Result<String> {
        match self.origins.keys.get(path) {
            Some(origin @ Origin::File { .. }) if value.is_some() && value == default => Ok(format!(
                "{}: `{}` does not apply to this run; at its default value it is ignored",
                origin.describe(path),
                path.rsplit('.').next().unwrap_or(path)
            )),
            _ => Err(error),
        }
    }

    fn resolve_inner(&self) -> Result<RunPlan> {
        let mut notes = self.origins.notes.clone();
        let source = DataSource::parse(self.data.source.as_deref().unwrap_or("adult"))?;
        let preset = self.preset.unwrap_or(DEFAULT_PRESET);
        // Post-processing alone meets the bound: without an algorithm named,
        // the model is trained for accuracy (in-training constraints first
        // cost 0.6 points at Adult DP 0.02 for the same held-out gap).
        let postprocessed = self.generalization.postprocess.is_some_and(|p| p != Postprocess::Off);
        let name =
            self.algorithm.name.unwrap_or(if postprocessed { AlgorithmName::Adam } else { AlgorithmName::SslAlm });
        let (mut algorithm, foreign) = resolve_keys(name, preset, &self.algorithm);
        let given = toml::Table::try_from(&self.algorithm).unwrap_or_default();
        for key in foreign {
            notes.push(self.foreign(
                &format!("algorithm.{key}"),
                given.get(&key).cloned(),
                default_value(&key, preset),
                foreign_key_error(name, &key),
            )?);
        }
        // Build once to validate the hyperparameters now, before any output.
        algorithm.build()?;

        // A method's default notion is the one its paper targets.
        let default_notion = match name {
            AlgorithmName::FairBatch | AlgorithmName::Forml => Notion::EqualOpportunity,
            AlgorithmName::Fermi => Notion::DemographicParity,
            _ => Notion::LossParity,
        };
        let specs = self.constraints.clone().unwrap_or_else(|| vec![ConstraintSpec::notion(default_notion)]);
        if let AlgorithmConfig::Method(m) = &mut algorithm {
            let target = match specs.as_slice() {
                [spec] => spec.notion.and_then(Target::from_notion),
                _ => None,
            };
            m.target = target.ok_or_else(|| {
                Error::config(
                    "constraint",
                    format!(
                        "method {name} targets one notion: give one `constraint` of equal-opportunity, \
                         equalized-odds or demographic-parity"
                    ),
                )
            })?;
            m.validate()?;
        }
        let bounds = self.bound.clone().unwrap_or_default();
        if bounds.len() > specs.len() {
            return Err(Error::config(
                "bound",
                format!(
                    "{} bounds given for {} constraint(s); give one `bound` per `constraint`",
                    bounds.len(),
                    specs.len()
                ),
            ));
        }
        let constraints = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| resolve_constraint(spec, bounds.get(i).copied()))
            .collect::<Result<Vec<_>>>()?;
        // The groups: the run's, or the constraints' (which must agree).
        let mut group = self.data.group.clone();
        for spec in &specs {
            if let Some(g) = &spec.group {
                match &group {
                    Some(run) if run != g => {
                        return Err(Error::config(
                            "group",
                            format!(
                                "a constraint on groups {} in a run grouped by {}: constraints on different group \
                                 columns in one run are not supported",
                                g.join(","),
                                run.join(",")
                            ),
                        ));
                    }
                    _ => group = Some(g.clone()),
                }
            }
        }

        let t = &self.training;
        let preset_batches = AlgorithmConfig::batch_sizes(name, preset);
        let (objective_batch, group_batch) = batch_keys(name);
        for (key, given, applies, default) in [
            ("batch-size", t.batch_size, objective_batch, preset_batches.objective),
            ("group-batch-size", t.group_batch_size, group_batch, preset_batches.per_group),
        ] {
            if let (Some(v), false) = (given, applies) {
                let why = if name == AlgorithmName::Ghost {
                    "ghost draws its own batches (ghost-base-batch rows per cell, doubling per level)".to_string()
                } else {
                    format!(
                        "{name} does not follow the constraints; their minibatches only feed the history's estimates"
                    )
                };
                notes.push(self.foreign(
                    &format!("training.{key}"),
                    Some(toml::Value::Integer(v as i64)),
                    Some(toml::Value::Integer(default as i64)),
                    Error::config(key, format!("does not apply to this run: {why}")),
                )?);
            }
        }
        let batch = crate::problem::BatchSizes {
            objective: at_least_one(
                "batch-size",
                t.batch_size.filter(|_| objective_batch).unwrap_or(preset_batches.objective),
            )?,
            per_group: at_least_one(
                "group-batch-size",
                t.group_batch_size.filter(|_| group_batch).unwrap_or(preset_batches.per_group),
            )?,
        };
        let budget = match (t.iterations, t.time_budget, t.epochs) {
            (Some(n), None, None) => BudgetSetting::Iterations(at_least_one("iterations", n)?),
            (None, Some(s), None) => BudgetSetting::Seconds(positive_seconds("time-budget", s)?),
            (None, None, Some(e)) => BudgetSetting::Epochs(positive_seconds("epochs", e)?),
            (None, None, None) => BudgetSetting::Iterations(DEFAULT_ITERATIONS),
            (n, s, e) => {
                let given: Vec<&str> =
                    [("iterations", n.is_some()), ("time-budget", s.is_some()), ("epochs", e.is_some())]
                        .into_iter()
                        .filter_map(|(k, set)| set.then_some(k))
                        .collect();
                return Err(Error::config(
                    "budget",
                    format!(
                        "more than one budget ({}); give only one of `iterations`, `time-budget`, `epochs`",
                        given.join(", ")
                    ),
                ));
            }
        };
        let m = &self.model;
        let burn_device = match (m.backend.as_deref(), m.device.as_deref()) {
            (None | Some("native"), None) => None,
            (Some("native"), Some(d)) => {
                return Err(Error::config("device", format!("{d}: `device` selects a device of `backend burn`")));
            }
            (Some(b), _) if b != "burn" => {
                return Err(Error::config("backend", format!("'{b}' (known: native, burn)")));
            }
            (_, Some(d)) if !["cpu", "cuda", "wgpu"].contains(&d) => {
                return Err(Error::config("device", format!("'{d}' (known: cpu, cuda, wgpu)")));
            }
            (_, d) => Some(d.unwrap_or("cpu").to_string()),
        };
        if let Some(d) = &burn_device {
            if !cfg!(feature = "burn") {
                return Err(Error::config(
                    "backend",
                    format!(
                        "burn (device {d}): this fairtrain was built without the burn backend; build it with `cargo \
                         build --release --features burn` (or `cuda`, `wgpu`)"
                    ),
                ));
            }
            if name.is_method() {
                return Err(Error::config(
                    "backend",
                    format!("burn: method {name} reads the native MLP row by row; use the native backend"),
                ));
            }
        }
        let hidden = m.hidden.clone().unwrap_or_else(|| DEFAULT_HIDDEN.to_vec());
        let mut source = source;
        resolve_acs(&mut source, self)?;
        let d = &self.data;
        if let Some(path) = &d.test_data {
            if !source.is_file() {
                return Err(Error::config(
                    "test-data",
                    format!("applies only to CSV/ARFF data; {} has a fixed test split", source.name()),
                ));
            }
            for (field, given) in [("test-fraction", d.test_fraction.is_some()), ("split-seed", d.split_seed.is_some())]
            {
                if given {
                    return Err(Error::config(
                        field,
                        format!(
                            "the test rows come from `test-data {}`; a random split does not apply",
                            path.display()
                        ),
                    ));
                }
            }
        }
        let random_split = source.has_random_split() && d.test_data.is_none();
        let schema = match &d.schema {
            Some(path) if source.is_file() => Some(Schema::from_file(path)?),
            Some(_) => {
                return Err(Error::config(
                    "schema",
                    format!("applies only to CSV/ARFF data; {} has a fixed schema", source.name()),
                ));
            }
            None => None,
        };
        let load = LoadOptions {
            target: d.target.clone(),
            positive: d.positive.clone(),
            group,
            categorical: d.categorical.clone().unwrap_or_default(),
            drop: d.drop.clone().unwrap_or_default(),
            missing: d.missing.unwrap_or_default(),
            test_fraction: match (d.test_fraction, random_split) {
                (None, true) => Some(DEFAULT_TEST_FRACTION),
                (t, _) => t,
            },
            split_seed: d.split_seed.unwrap_or(0),
            test_file: d.test_data.clone(),
            keep_group_feature: d.keep_group_feature.unwrap_or(false),
            weight: d.weight.clone(),
            schema,
            cache: None,
            offline: false,
            mirror: None,
        };
        if let Some(t) = load.test_fraction.filter(|t| !(*t > 0.0 && *t < 1.0)) {
            return Err(Error::config("test-fraction", format!("{t} (must be between 0 and 1, exclusive)")));
        }
        if d.split_seed.is_some() && !random_split {
            return Err(Error::config(
                "split-seed",
                format!("{} has a fixed test split; a split seed applies to other data", source.name()),
            ));
        }
        let temperature = match (t.temperature, uses_temperature(name, &constraints)) {
            (Some(temperature), true) => {
                if !(temperature.is_finite() && temperature > 0.0) {
                    return Err(Error::config("temperature", format!("{temperature} (must be a positive number)")));
                }
                Some(temperature)
            }
            (None, true) => Some(default_temperature(constraints.iter().flat_map(|c| c.statistics()))),
            (Some(temperature), false) => {
                let why = if name.pursues_bounds() {
                    "the constraints have no rate statistic (it shapes the surrogates of positive rates, TPR, FPR...)"
                        .to_string()
                } else {
                    format!("{name} does not follow the constraints' gradients")
                };
                notes.push(self.foreign(
                    "training.temperature",
                    Some(toml::Value::Float(temperature.into())),
                    Some(toml::Value::Float(DEFAULT_TEMPERATURE.into())),
                    Error::config("temperature", format!("does not apply to this run: {why}")),
                )?);
                None
            }
            (None, false) => None,
        };
        // The default preset holds out a validation split for the margin and
        // the choice of the returned model of a constrained algorithm; the
        // paper preset trains as the paper did, and a baseline or a fairness
        // method (no bound to meet) trains on every training row.
        let g = &self.generalization;
        let paper = preset == Preset::Paper;
        // Post-processing fits its thresholds on the validation split, so
        // it holds one out whatever the algorithm.
        let postprocess = g.postprocess.unwrap_or_default();
        let validation_fraction = g
            .validation_fraction
            .unwrap_or(if (paper || !name.pursues_bounds()) && !postprocessed { 0.0 } else { DEFAULT_VALIDATION });
        if !(0.0..1.0).contains(&validation_fraction) {
            return Err(Error::config("validation-fraction", format!("{validation_fraction} (must be in [0, 1))")));
        }
        if postprocessed {
            if validation_fraction == 0.0 {
                return Err(Error::config(
                    "validation-fraction",
                    "0: post-processing fits its thresholds on a validation split (e.g. 0.2)",
                ));
            }
            crate::postprocess::check(&constraints)?;
        }
        let generalize = validation_fraction > 0.0;
        let margin = match g.margin {
            Some(m) if !name.pursues_bounds() => {
                notes.push(self.foreign(
                    "generalization.margin",
                    toml::Value::try_from(m).ok(),
                    Some(toml::Value::String("off".into())),
                    Error::config(
                        "margin",
                        format!("does not apply to this run: {name} does not train toward the bounds"),
                    ),
                )?);
                Margin::Off
            }
            Some(m) => m,
            None if generalize && name.pursues_bounds() => Margin::Auto,
            None => Margin::Off,
        };
        // An unconstrained model that post-processing will make fair is
        // chosen by its validation objective alone, not by the bounds its
        // own decisions miss: early stopping keeps its scores from
        // overfitting (COMPAS, demographic parity 0.02, seeds 0-4: test
        // accuracy after post-processing 0.666 from the last model, 0.678
        // from the best on validation).
        let select = g.select.unwrap_or(if !generalize {
            Select::Last
        } else if name.pursues_bounds() || !postprocessed {
            Select::BestFeasible
        } else {
            Select::Best
        });
        if validation_fraction == 0.0 && (margin == Margin::Auto || select != Select::Last) {
            // (Named as they are in effect: the ones that ask for the split.)
            let needing: Vec<String> = [
                (margin == Margin::Auto).then(|| "`margin auto`".to_string()),
                (select != Select::Last).then(|| format!("`select {}`", select.name())),
            ]
            .into_iter()
            .flatten()
            .collect();
            return Err(Error::config(
                "validation-fraction",
                format!(
                    "0: the settings {} need a validation split (e.g. `validation-fraction 0.2`)",
                    needing.join(", ")
                ),
            ));
        }
        let o = &self.output;
        Ok(RunPlan {
            validation_fraction,
            margin,
            select,
            postprocess,
            eval_every: o.eval_every.as_deref().map(|v| parse_cadence("eval-every", v)).transpose()?,
            checkpoint_every: match o.checkpoint_every.as_deref().unwrap_or(DEFAULT_CHECKPOINT_EVERY) {
                "off" => None,
                v => Some(parse_cadence("checkpoint-every", v)?),
            },
            source,
            load,
            schema_path: d.schema.clone(),
            preset,
            algorithm,
            constraints,
            temperature,
            hidden,
            burn_device,
            batch,
            seed: self.seed.unwrap_or(0),
            budget,
            log_every: at_least_one("log-every", o.log_every.unwrap_or(DEFAULT_LOG_EVERY))?,
            average: match t.average.unwrap_or(DEFAULT_AVERAGE) {
                a if (0.0..1.0).contains(&a) => a,
                a => {
                    return Err(Error::config(
                        "average",
                        format!("{a} (the averaged fraction of the budget must be in [0, 1))"),
                    ));
                }
            },
            threads: threads(t.threads.unwrap_or(1))?,
            memory_budget: match t.memory_budget {
                Some(mb) if !(mb.is_finite() && mb > 0.0) => {
                    return Err(Error::config("memory-budget", format!("{mb} (must be a positive number of MB)")));
                }
                mb => mb,
            },
            out: o.out.clone(),
            notes,
        })
    }
}
