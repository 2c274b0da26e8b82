//! From flags (and a config file) to fully resolved training settings:
//! preset defaults filled in, every value validated, hyperparameters
//! checked against the algorithm that uses them.

use std::path::PathBuf;

use fairtrain::Error;
use fairtrain::algorithms::{
    AlgorithmConfig, AlgorithmName, AlmConfig, DualConfig, GdaConfig, GhostConfig, IalmConfig, NupiConfig,
    PenaltyConfig, PrimalConfig, ProxyConfig, SpbmConfig, SwitchingConfig,
};
use fairtrain::constraints::{Comparison, ConstraintKind, DEFAULT_TEMPERATURE, FairnessConstraint, Notion, Sense};
use fairtrain::data::acs::Horizon;
use fairtrain::data::schema::Schema;
use fairtrain::data::{DataSource, LoadOptions, source::DEFAULT_TEST_FRACTION};
use fairtrain::methods::{MethodConfig, Target};
use fairtrain::problem::BatchSizes;
use fairtrain::train::DEFAULT_AVERAGE;

use crate::args::{ConstraintSpec, KindName, Preset, Select, SenseName, TrainArgs};

/// Default iteration budget.
pub const DEFAULT_ITERATIONS: u64 = 20_000;
/// Default hidden widths.
pub const DEFAULT_HIDDEN: [usize; 2] = [64, 32];
/// The preset used when none is given.
pub const DEFAULT_PRESET: Preset = Preset::Default;

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
    /// The burn device to train on (`None`: the native backend).
    pub burn_device: Option<String>,
    /// Fraction of the training split held out for validation.
    pub validation_fraction: f64,
    /// The generalization margin.
    pub margin: Margin,
    /// Which model to return.
    pub select: Select,
    /// Full-split evaluations during training (`--eval-every`).
    pub eval_every: Option<fairtrain::train::Budget>,
    /// Checkpoint cadence (`--checkpoint-every`; `None`: off).
    pub checkpoint_every: Option<fairtrain::train::Budget>,
    pub source: DataSource,
    pub load: LoadOptions,
    pub schema_path: Option<PathBuf>,
    pub preset: Preset,
    pub algorithm: AlgorithmConfig,
    pub constraints: Vec<FairnessConstraint>,
    pub temperature: f32,
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

/// The hyperparameter flags that were given.
fn hyperparameters_given(args: &TrainArgs) -> Vec<&'static str> {
    [
        ("primal", args.primal.is_some()),
        ("lr", args.lr.is_some()),
        ("momentum", args.momentum.is_some()),
        ("mu", args.mu.is_some()),
        ("beta", args.beta.is_some()),
        ("dual-lr", args.dual_lr.is_some()),
        ("dual-bound", args.dual_bound.is_some()),
        ("grow-dual-bound", args.grow_dual_bound.is_some()),
        ("penalty", args.penalty.is_some()),
        ("augmentation", args.augmentation.is_some()),
        ("penalty-growth", args.penalty_growth.is_some()),
        ("kp", args.kp.is_some()),
        ("nu", args.nu.is_some()),
        ("dual-averaging", args.dual_averaging.is_some()),
        ("penalty-decay", args.penalty_decay.is_some()),
        ("delta", args.delta.is_some()),
        ("barrier", args.barrier.is_some()),
        ("initial-multiplier", args.initial_multiplier.is_some()),
        ("regret", args.regret.is_some()),
        ("constraint-lr", args.constraint_lr.is_some()),
        ("tolerance", args.tolerance.is_some()),
        ("constraint-averaging", args.constraint_averaging.is_some()),
        ("step-decay", args.step_decay.is_some()),
        ("ghost-alpha", args.ghost_alpha.is_some()),
        ("ghost-base-batch", args.ghost_base_batch.is_some()),
        ("ghost-max-level", args.ghost_max_level.is_some()),
        ("tau", args.tau.is_some()),
        ("trust-radius", args.trust_radius.is_some()),
        ("ghost-radius", args.ghost_radius.is_some()),
        ("ghost-weight", args.ghost_weight.is_some()),
        ("fairbatch-alpha", args.fairbatch_alpha.is_some()),
        ("fermi-lambda", args.fermi_lambda.is_some()),
        ("meta-fraction", args.meta_fraction.is_some()),
        ("meta-objective", args.meta_objective.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, given)| given.then_some(k))
    .collect()
}

/// The hyperparameters each algorithm takes.
fn hyperparameters_of(name: AlgorithmName) -> Vec<&'static str> {
    const PRIMAL: [&str; 5] = ["primal", "lr", "momentum", "mu", "beta"];
    let own: &[&str] = match name {
        AlgorithmName::SslAlm | AlgorithmName::Alm => {
            &["dual-lr", "penalty", "augmentation", "dual-bound", "grow-dual-bound"]
        }
        AlgorithmName::Ialm => &["penalty", "penalty-growth", "dual-lr", "dual-bound"],
        AlgorithmName::Gda => &["dual-lr", "dual-bound"],
        AlgorithmName::Nupi => &["dual-lr", "kp", "nu", "penalty", "dual-bound"],
        AlgorithmName::Spbm => {
            &["dual-averaging", "penalty-decay", "delta", "barrier", "initial-multiplier", "dual-bound"]
        }
        AlgorithmName::Penalty => &["penalty", "penalty-growth", "constraint-averaging"],
        AlgorithmName::ProxyLagrangian => &["dual-lr", "regret"],
        AlgorithmName::Ssw => return vec!["lr", "constraint-lr", "tolerance", "constraint-averaging"],
        AlgorithmName::Ghost => {
            return vec![
                "lr",
                "step-decay",
                "ghost-alpha",
                "ghost-base-batch",
                "ghost-max-level",
                "tau",
                "trust-radius",
                "ghost-radius",
                "ghost-weight",
            ];
        }
        AlgorithmName::Sgd => return vec!["lr", "momentum"],
        AlgorithmName::Adam => return vec!["lr"],
        AlgorithmName::FairBatch => return vec!["primal", "lr", "momentum", "fairbatch-alpha"],
        AlgorithmName::Fermi => return vec!["primal", "lr", "momentum", "fermi-lambda", "dual-lr"],
        AlgorithmName::Forml => return vec!["primal", "lr", "momentum", "meta-fraction", "meta-objective"],
    };
    PRIMAL.iter().chain(own).copied().collect()
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

/// The algorithm's settings: the preset's, with the flags' overrides.
fn resolve_algorithm(name: AlgorithmName, preset: Preset, a: &TrainArgs) -> Result<AlgorithmConfig, Error> {
    let allowed = hyperparameters_of(name);
    if let Some(k) = hyperparameters_given(a).into_iter().find(|k| !allowed.contains(k)) {
        return Err(Error::config(
            k,
            format!(
                "--{k} does not apply to {} {name} (it takes: {})",
                if name.is_method() { "method" } else { "algorithm" },
                allowed.join(", ")
            ),
        ));
    }
    let primal = |p: PrimalConfig| PrimalConfig {
        kind: a.primal.unwrap_or(p.kind),
        lr: a.lr.unwrap_or(p.lr),
        momentum: a.momentum.unwrap_or(p.momentum),
        mu: a.mu.unwrap_or(p.mu),
        beta: a.beta.unwrap_or(p.beta),
    };
    let config = match AlgorithmConfig::preset(name, preset) {
        AlgorithmConfig::Lagrangian { name, dual, primal: p } => {
            let dual = match dual {
                DualConfig::Alm(d) => DualConfig::Alm(AlmConfig {
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    penalty: a.penalty.unwrap_or(d.penalty),
                    augmentation: a.augmentation.unwrap_or(d.augmentation),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                    grow_bound: a.grow_dual_bound.unwrap_or(d.grow_bound),
                }),
                DualConfig::Ialm(d) => DualConfig::Ialm(IalmConfig {
                    penalty: a.penalty.unwrap_or(d.penalty),
                    penalty_growth: a.penalty_growth.unwrap_or(d.penalty_growth),
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                    ..d
                }),
                DualConfig::Gda(d) => DualConfig::Gda(GdaConfig {
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                }),
                DualConfig::Nupi(d) => DualConfig::Nupi(NupiConfig {
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    kp: a.kp.unwrap_or(d.kp),
                    nu: a.nu.unwrap_or(d.nu),
                    penalty: a.penalty.unwrap_or(d.penalty),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                }),
                DualConfig::Spbm(d) => DualConfig::Spbm(SpbmConfig {
                    dual_averaging: a.dual_averaging.unwrap_or(d.dual_averaging),
                    penalty_decay: a.penalty_decay.unwrap_or(d.penalty_decay),
                    delta: a.delta.unwrap_or(d.delta),
                    barrier: a.barrier.unwrap_or(d.barrier),
                    initial_multiplier: a.initial_multiplier.unwrap_or(d.initial_multiplier),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                    ..d
                }),
                DualConfig::Penalty(d) => DualConfig::Penalty(PenaltyConfig {
                    penalty: a.penalty.unwrap_or(d.penalty),
                    penalty_growth: a.penalty_growth.unwrap_or(d.penalty_growth),
                    constraint_averaging: a.constraint_averaging.unwrap_or(d.constraint_averaging),
                    ..d
                }),
                DualConfig::Proxy(d) => DualConfig::Proxy(ProxyConfig {
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    regret: a.regret.unwrap_or(d.regret),
                    ..d
                }),
            };
            AlgorithmConfig::Lagrangian { name, dual, primal: primal(p) }
        }
        AlgorithmConfig::Switching(d) => AlgorithmConfig::Switching(SwitchingConfig {
            lr: a.lr.unwrap_or(d.lr),
            constraint_lr: a.constraint_lr.unwrap_or(d.constraint_lr),
            tolerance: a.tolerance.unwrap_or(d.tolerance),
            constraint_averaging: a.constraint_averaging.unwrap_or(d.constraint_averaging),
        }),
        AlgorithmConfig::Ghost(d) => AlgorithmConfig::Ghost(GhostConfig {
            lr: a.lr.unwrap_or(d.lr),
            step_decay: a.step_decay.unwrap_or(d.step_decay),
            alpha: a.ghost_alpha.unwrap_or(d.alpha),
            base_batch: a.ghost_base_batch.unwrap_or(d.base_batch),
            max_level: a.ghost_max_level.unwrap_or(d.max_level),
            tau: a.tau.unwrap_or(d.tau),
            trust_radius: a.trust_radius.unwrap_or(d.trust_radius),
            ghost_radius: a.ghost_radius.unwrap_or(d.ghost_radius),
            ghost_weight: a.ghost_weight.unwrap_or(d.ghost_weight),
            seed: d.seed,
        }),
        AlgorithmConfig::Unconstrained { name, primal: p } => {
            AlgorithmConfig::Unconstrained { name, primal: primal(p) }
        }
        AlgorithmConfig::Method(m) => AlgorithmConfig::Method(MethodConfig {
            primal: primal(m.primal),
            alpha: a.fairbatch_alpha.unwrap_or(m.alpha),
            lambda: a.fermi_lambda.unwrap_or(m.lambda),
            dual_lr: a.dual_lr.unwrap_or(m.dual_lr),
            meta_fraction: a.meta_fraction.unwrap_or(m.meta_fraction),
            meta_objective: a.meta_objective.unwrap_or(m.meta_objective),
            ..m
        }),
    };
    // Build once to validate the hyperparameters now, before any output.
    config.build()?;
    Ok(config)
}

/// A user-level constraint from its declaration and its bound (the
/// declaration's own, else the positional `--bound`, else the default).
fn resolve_constraint(spec: &ConstraintSpec, positional: Option<f64>) -> Result<FairnessConstraint, Error> {
    if spec.bound.is_some() && positional.is_some() {
        return Err(Error::config("bound", "given both in a [[constraint]] table and as a top-level bound"));
    }
    let bound = spec.bound.or(positional);
    let mut constraint = match (spec.notion, spec.kind) {
        (Some(notion), None) => {
            if spec.statistic.is_some() || spec.sense.is_some() {
                return Err(Error::config(
                    "constraint",
                    format!("{} fixes its statistics and sense; use kind = ... for a custom constraint", notion.name()),
                ));
            }
            match bound {
                Some(b) => FairnessConstraint::new(notion, b)?,
                None => FairnessConstraint::with_default_bound(notion)?,
            }
        }
        (None, Some(kind)) => {
            let statistics = spec.statistic.clone().unwrap_or_default();
            if kind != KindName::WeightNorm && statistics.is_empty() {
                return Err(Error::config("constraint", "a custom constraint needs statistic = ..."));
            }
            if kind != KindName::Gap && statistics.len() > 1 {
                return Err(Error::config("statistic", "only a gap takes several statistics"));
            }
            let first = statistics.first().copied();
            let kind = match kind {
                KindName::Gap => {
                    ConstraintKind::Gap { statistics: statistics.clone(), comparison: Comparison::Pairwise }
                }
                KindName::GroupBound => ConstraintKind::GroupBound {
                    statistic: first.expect("checked above"),
                    sense: match spec.sense {
                        Some(SenseName::AtLeast) => Sense::AtLeast,
                        _ => Sense::AtMost,
                    },
                },
                KindName::AbsoluteBound => ConstraintKind::AbsoluteBound { statistic: first.expect("checked above") },
                KindName::Ratio => ConstraintKind::Ratio { statistic: first.expect("checked above") },
                KindName::WeightNorm => ConstraintKind::WeightNorm,
            };
            let bound = bound.ok_or_else(|| Error::config("bound", "a custom constraint needs a bound"))?;
            let default_name = match &kind {
                ConstraintKind::WeightNorm => "weight-norm".to_string(),
                _ => format!(
                    "{}:{}",
                    spec.kind.expect("a kind").name(),
                    statistics.iter().map(|s| s.name()).collect::<Vec<_>>().join("+")
                ),
            };
            FairnessConstraint::custom(spec.name.clone().unwrap_or(default_name), kind, bound)?
        }
        (Some(_), Some(_)) => return Err(Error::config("constraint", "give either a notion or a kind, not both")),
        (None, None) => {
            return Err(Error::config(
                "constraint",
                "a [[constraint]] table needs notion = \"...\" (or kind = ... and statistic = ...)",
            ));
        }
    };
    if let Some(comparison) = spec.comparison {
        match &mut constraint.kind {
            ConstraintKind::Gap { comparison: c, .. } => *c = comparison,
            _ => return Err(Error::config("comparison", format!("applies to gaps, not to {}", constraint.name))),
        }
    }
    if let Some(name) = &spec.name {
        constraint.name = name.clone();
    }
    Ok(constraint)
}

/// A constraint as a declaration, for the resolved config: a named notion
/// (with its comparison when it is measured against all rows), or a kind
/// with its statistics.
fn constraint_spec(c: &FairnessConstraint) -> ConstraintSpec {
    let bound = Some(c.bound);
    if let Some(notion) = Notion::ALL.into_iter().find(|n| n.name() == c.name) {
        let comparison = match (notion.kind(), &c.kind) {
            (ConstraintKind::Gap { statistics: a, .. }, ConstraintKind::Gap { statistics: b, comparison })
                if &a == b =>
            {
                Some((*comparison != Comparison::Pairwise).then_some(*comparison))
            }
            (kind, own) if &kind == own => Some(None),
            _ => None,
        };
        if let Some(comparison) = comparison {
            return ConstraintSpec { notion: Some(notion), bound, comparison, ..ConstraintSpec::default() };
        }
    }
    let (kind, statistic, comparison, sense) = match &c.kind {
        ConstraintKind::Gap { statistics, comparison } => {
            (KindName::Gap, Some(statistics.clone()), Some(*comparison), None)
        }
        ConstraintKind::GroupBound { statistic, sense } => (
            KindName::GroupBound,
            Some(vec![*statistic]),
            None,
            Some(if *sense == Sense::AtLeast { SenseName::AtLeast } else { SenseName::AtMost }),
        ),
        ConstraintKind::AbsoluteBound { statistic } => (KindName::AbsoluteBound, Some(vec![*statistic]), None, None),
        ConstraintKind::Ratio { statistic } => (KindName::Ratio, Some(vec![*statistic]), None, None),
        ConstraintKind::WeightNorm => (KindName::WeightNorm, None, None, None),
    };
    ConstraintSpec {
        kind: Some(kind),
        statistic,
        comparison,
        sense,
        bound,
        name: Some(c.name.clone()),
        ..ConstraintSpec::default()
    }
}

/// How much tighter than the user's bound training aims.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Margin {
    /// The user's bound.
    Off,
    /// A fixed margin.
    Fixed(f64),
    /// Measured on the validation split (see `train_cmd::Generalization`).
    Auto,
}

fn parse_margin(v: &str) -> Result<Margin, Error> {
    match v.trim() {
        "off" => Ok(Margin::Off),
        "auto" => Ok(Margin::Auto),
        x => match x.parse::<f64>() {
            Ok(m) if m.is_finite() && m >= 0.0 => Ok(Margin::Fixed(m)),
            _ => Err(Error::config("margin", format!("'{v}' (use auto, off, or a non-negative number)"))),
        },
    }
}

/// The validation fraction of the default preset.
pub const DEFAULT_VALIDATION: f64 = 0.2;

/// The default checkpoint cadence.
pub const DEFAULT_CHECKPOINT_EVERY: &str = "60s";

/// A cadence: `N` iterations or `Ss` seconds.
pub fn parse_cadence(field: &str, value: &str) -> Result<fairtrain::train::Budget, Error> {
    use fairtrain::train::Budget;
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

fn cadence(b: fairtrain::train::Budget) -> String {
    match b {
        fairtrain::train::Budget::Iterations(n) => n.to_string(),
        fairtrain::train::Budget::Seconds(s) => format!("{s}s"),
    }
}

/// Applies the ACS flags to an ACS source; elsewhere they are errors.
fn resolve_acs(source: &mut DataSource, args: &TrainArgs) -> Result<(), Error> {
    let given = [
        ("state", args.state.is_some()),
        ("year", args.year.is_some()),
        ("horizon", args.horizon.is_some()),
        ("acs-missing", args.acs_missing.is_some()),
        ("acs-relshipp", args.acs_relshipp.is_some()),
    ];
    let DataSource::Acs(request) = source else {
        if let Some((field, _)) = given.iter().find(|(_, g)| *g) {
            return Err(Error::config(*field, format!("applies only to ACS tasks, not to {}", source.name())));
        }
        return Ok(());
    };
    if let Some(states) = &args.state {
        request.states = states.iter().map(|s| s.trim().to_ascii_uppercase()).collect();
    }
    if let Some(year) = args.year {
        request.year = year;
    }
    if let Some(h) = &args.horizon {
        request.horizon = Horizon::parse(h)?;
    }
    if let Some(m) = args.acs_missing {
        request.missing = m;
    }
    if let Some(r) = args.acs_relshipp {
        request.relshipp = r;
    }
    request.validate()
}

impl TrainSettings {
    /// Resolves and validates `args` (already merged with any config file).
    pub fn resolve(args: &TrainArgs) -> Result<Self, Error> {
        let source = DataSource::parse(args.data.as_deref().unwrap_or("adult"))?;
        let preset = args.preset.unwrap_or(DEFAULT_PRESET);
        let name = match (args.method, args.algorithm) {
            (Some(m), Some(a)) => {
                return Err(Error::config(
                    "method",
                    format!("{m} was given with --algorithm {a}: a method replaces the algorithm, give one of them"),
                ));
            }
            (None, Some(a)) if a.is_method() => {
                return Err(Error::config("algorithm", format!("'{a}' is a method: use --method {a}")));
            }
            (Some(m), None) => m,
            (None, a) => a.unwrap_or(AlgorithmName::SslAlm),
        };
        let mut algorithm = resolve_algorithm(name, preset, args)?;

        // A method's default notion is the one its paper targets.
        let default_notion = match name {
            AlgorithmName::FairBatch | AlgorithmName::Forml => Notion::EqualOpportunity,
            AlgorithmName::Fermi => Notion::DemographicParity,
            _ => Notion::LossParity,
        };
        let specs = args.constraint.clone().unwrap_or_else(|| vec![ConstraintSpec::notion(default_notion)]);
        if let AlgorithmConfig::Method(m) = &mut algorithm {
            let target = match specs.as_slice() {
                [spec] => spec.notion.and_then(Target::from_notion),
                _ => None,
            };
            m.target = target.ok_or_else(|| {
                Error::config(
                    "constraint",
                    format!(
                        "method {name} targets one notion: give one --constraint of equal-opportunity, \
                         equalized-odds or demographic-parity"
                    ),
                )
            })?;
            m.validate()?;
        }
        let bounds = args.bound.clone().unwrap_or_default();
        if bounds.len() > specs.len() {
            return Err(Error::config(
                "bound",
                format!(
                    "{} bounds given for {} constraint(s); give one --bound per --constraint",
                    bounds.len(),
                    specs.len()
                ),
            ));
        }
        let constraints = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| resolve_constraint(spec, bounds.get(i).copied()))
            .collect::<Result<Vec<_>, _>>()?;
        // The groups: the run's --group, or the constraints' (which must agree).
        let mut group = args.group.clone();
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

        let preset_batches = AlgorithmConfig::batch_sizes(name, preset);
        let batch = BatchSizes {
            objective: at_least_one("batch-size", args.batch_size.unwrap_or(preset_batches.objective))?,
            per_group: at_least_one("group-batch-size", args.group_batch_size.unwrap_or(preset_batches.per_group))?,
        };
        let budget = match (args.iterations, args.time_budget, args.epochs) {
            (Some(n), None, None) => BudgetSetting::Iterations(at_least_one("iterations", n)?),
            (None, Some(s), None) => BudgetSetting::Seconds(positive_seconds("time-budget", s)?),
            (None, None, Some(e)) => BudgetSetting::Epochs(positive_seconds("epochs", e)?),
            (None, None, None) => BudgetSetting::Iterations(DEFAULT_ITERATIONS),
            _ => return Err(Error::config("budget", "give only one of --iterations, --time-budget, --epochs")),
        };
        let burn_device = match (args.backend.as_deref(), args.device.as_deref()) {
            (None | Some("native"), None) => None,
            (Some("native"), Some(d)) => {
                return Err(Error::config("device", format!("{d}: --device selects a device of --backend burn")));
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
        let hidden = match &args.hidden {
            Some(h) => parse_hidden(h)?,
            None => DEFAULT_HIDDEN.to_vec(),
        };
        let mut source = source;
        resolve_acs(&mut source, args)?;
        if let Some(path) = &args.test_data {
            if !source.is_file() {
                return Err(Error::config(
                    "test-data",
                    format!("applies only to CSV/ARFF data; {} has a fixed test split", source.name()),
                ));
            }
            for (field, given) in
                [("test-fraction", args.test_fraction.is_some()), ("split-seed", args.split_seed.is_some())]
            {
                if given {
                    return Err(Error::config(
                        field,
                        format!(
                            "the test rows come from --test-data {}; a random split does not apply",
                            path.display()
                        ),
                    ));
                }
            }
        }
        let random_split = source.has_random_split() && args.test_data.is_none();
        let schema = match &args.schema {
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
            target: args.target.clone(),
            positive: args.positive.clone(),
            group,
            categorical: args.categorical.clone().unwrap_or_default(),
            drop: args.drop.clone().unwrap_or_default(),
            missing: args.missing.unwrap_or_default(),
            test_fraction: match (args.test_fraction, random_split) {
                (None, true) => Some(DEFAULT_TEST_FRACTION),
                (t, _) => t,
            },
            split_seed: args.split_seed.unwrap_or(0),
            test_file: args.test_data.clone(),
            keep_group_feature: args.keep_group_feature.unwrap_or(false),
            weight: args.weight.clone(),
            schema,
            cache: args.cache.clone(),
            offline: args.offline,
            mirror: None,
        };
        if let Some(t) = load.test_fraction.filter(|t| !(*t > 0.0 && *t < 1.0)) {
            return Err(Error::config("test-fraction", format!("{t} (must be between 0 and 1, exclusive)")));
        }
        if args.split_seed.is_some() && !random_split {
            return Err(Error::config(
                "split-seed",
                format!("{} has a fixed test split; a split seed applies to other data", source.name()),
            ));
        }
        let temperature = args.temperature.unwrap_or(DEFAULT_TEMPERATURE);
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(Error::config("temperature", format!("{temperature} (must be a positive number)")));
        }
        // The default preset holds out a validation split for the margin and
        // the choice of the returned model of a constrained algorithm; the
        // paper preset trains as the paper did, and a baseline or a fairness
        // method (no bound to meet) trains on every training row.
        let paper = preset == Preset::Paper;
        let validation_fraction =
            args.validation_fraction.unwrap_or(if paper || !name.pursues_bounds() { 0.0 } else { DEFAULT_VALIDATION });
        if !(0.0..1.0).contains(&validation_fraction) {
            return Err(Error::config("validation-fraction", format!("{validation_fraction} (must be in [0, 1))")));
        }
        let generalize = validation_fraction > 0.0;
        let margin = parse_margin(args.margin.as_deref().unwrap_or(if generalize { "auto" } else { "off" }))?;
        let select = args.select.unwrap_or(if generalize { Select::BestFeasible } else { Select::Last });
        if validation_fraction == 0.0 && (margin == Margin::Auto || select == Select::BestFeasible) {
            return Err(Error::config(
                "validation-fraction",
                "0: --margin auto and --select best-feasible need a validation split (e.g. --validation-fraction 0.2)",
            ));
        }
        Ok(TrainSettings {
            validation_fraction,
            margin,
            select,
            eval_every: args.eval_every.as_deref().map(|v| parse_cadence("eval-every", v)).transpose()?,
            checkpoint_every: match args.checkpoint_every.as_deref().unwrap_or(DEFAULT_CHECKPOINT_EVERY) {
                "off" => None,
                v => Some(parse_cadence("checkpoint-every", v)?),
            },
            source,
            load,
            schema_path: args.schema.clone(),
            preset,
            algorithm,
            constraints,
            temperature,
            hidden,
            burn_device,
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
        let is_file = self.source.is_file();
        let mut a = TrainArgs {
            data: Some(self.source.data_value()),
            weight: self.load.weight.clone(),
            group: self.load.group.clone().or_else(|| self.source.default_groups()),
            missing: Some(self.load.missing),
            keep_group_feature: Some(self.load.keep_group_feature),
            algorithm: Some(self.algorithm.name()),
            preset: Some(self.preset),
            constraint: Some(self.constraints.iter().map(constraint_spec).collect()),
            temperature: Some(self.temperature),
            hidden: Some(if self.hidden.is_empty() {
                "none".into()
            } else {
                self.hidden.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(",")
            }),
            backend: self.burn_device.as_ref().map(|_| "burn".to_string()),
            device: self.burn_device.clone(),
            batch_size: Some(self.batch.objective),
            group_batch_size: Some(self.batch.per_group),
            seed: Some(self.seed),
            log_every: Some(self.log_every),
            validation_fraction: Some(self.validation_fraction),
            margin: Some(match self.margin {
                Margin::Off => "off".to_string(),
                Margin::Auto => "auto".to_string(),
                Margin::Fixed(m) => m.to_string(),
            }),
            select: Some(self.select),
            eval_every: self.eval_every.map(cadence),
            checkpoint_every: Some(self.checkpoint_every.map_or("off".to_string(), cadence)),
            average: Some(self.average),
            threads: Some(self.threads),
            ..TrainArgs::default()
        };
        if is_file {
            a.target = self.load.target.clone();
            a.positive = self.load.positive.clone();
            a.categorical = Some(self.load.categorical.clone()).filter(|v| !v.is_empty());
            a.drop = Some(self.load.drop.clone()).filter(|v| !v.is_empty());
            a.schema = self.schema_path.clone();
        }
        if self.load.test_file.is_some() {
            a.test_data = self.load.test_file.clone();
        } else if self.source.has_random_split() {
            a.test_fraction = self.load.test_fraction;
            a.split_seed = Some(self.load.split_seed);
        }
        if let DataSource::Acs(r) = &self.source {
            a.state = Some(r.states.clone());
            a.year = Some(r.year);
            a.horizon = Some(r.horizon.dir().to_string());
            a.acs_missing = Some(r.missing);
            a.acs_relshipp = Some(r.relshipp);
        }
        match self.budget {
            BudgetSetting::Iterations(n) => a.iterations = Some(n),
            BudgetSetting::Seconds(s) => a.time_budget = Some(s),
            BudgetSetting::Epochs(e) => a.epochs = Some(e),
        }
        let set_primal = |a: &mut TrainArgs, p: PrimalConfig, with_kind: bool| {
            if with_kind {
                a.primal = Some(p.kind);
                a.mu = Some(p.mu);
                a.beta = Some(p.beta);
            }
            a.lr = Some(p.lr);
            if p.kind == fairtrain::algorithms::PrimalKind::Sgd {
                a.momentum = Some(p.momentum);
            }
        };
        match self.algorithm {
            AlgorithmConfig::Method(m) => {
                // A method run names its method, not an algorithm.
                a.algorithm = None;
                a.method = Some(m.name);
                a.primal = Some(m.primal.kind);
                set_primal(&mut a, m.primal, false);
                match m.name {
                    AlgorithmName::FairBatch => a.fairbatch_alpha = Some(m.alpha),
                    AlgorithmName::Fermi => {
                        a.fermi_lambda = Some(m.lambda);
                        a.dual_lr = Some(m.dual_lr);
                    }
                    _ => {
                        a.meta_fraction = Some(m.meta_fraction);
                        a.meta_objective = Some(m.meta_objective);
                    }
                }
            }
            AlgorithmConfig::Lagrangian { dual, primal, .. } => {
                set_primal(&mut a, primal, true);
                match dual {
                    DualConfig::Alm(c) => {
                        a.dual_lr = Some(c.dual_lr);
                        a.penalty = Some(c.penalty);
                        a.augmentation = Some(c.augmentation);
                        a.dual_bound = Some(c.dual_bound);
                        a.grow_dual_bound = Some(c.grow_bound);
                    }
                    DualConfig::Ialm(c) => {
                        a.penalty = Some(c.penalty);
                        a.penalty_growth = Some(c.penalty_growth);
                        a.dual_lr = Some(c.dual_lr);
                        a.dual_bound = Some(c.dual_bound);
                    }
                    DualConfig::Gda(c) => {
                        a.dual_lr = Some(c.dual_lr);
                        a.dual_bound = Some(c.dual_bound);
                    }
                    DualConfig::Nupi(c) => {
                        a.dual_lr = Some(c.dual_lr);
                        a.kp = Some(c.kp);
                        a.nu = Some(c.nu);
                        a.penalty = Some(c.penalty);
                        a.dual_bound = Some(c.dual_bound);
                    }
                    DualConfig::Spbm(c) => {
                        a.dual_averaging = Some(c.dual_averaging);
                        a.penalty_decay = Some(c.penalty_decay);
                        a.delta = Some(c.delta);
                        a.barrier = Some(c.barrier);
                        a.initial_multiplier = Some(c.initial_multiplier);
                        a.dual_bound = Some(c.dual_bound);
                    }
                    DualConfig::Penalty(c) => {
                        a.penalty = Some(c.penalty);
                        a.penalty_growth = Some(c.penalty_growth);
                        a.constraint_averaging = Some(c.constraint_averaging);
                    }
                    DualConfig::Proxy(c) => {
                        a.dual_lr = Some(c.dual_lr);
                        a.regret = Some(c.regret);
                    }
                }
            }
            AlgorithmConfig::Switching(c) => {
                a.lr = Some(c.lr);
                a.constraint_lr = Some(c.constraint_lr);
                a.tolerance = Some(c.tolerance);
                a.constraint_averaging = Some(c.constraint_averaging);
            }
            AlgorithmConfig::Ghost(c) => {
                a.lr = Some(c.lr);
                a.step_decay = Some(c.step_decay);
                a.ghost_alpha = Some(c.alpha);
                a.ghost_base_batch = Some(c.base_batch);
                a.ghost_max_level = Some(c.max_level);
                a.tau = Some(c.tau);
                a.trust_radius = Some(c.trust_radius);
                a.ghost_radius = Some(c.ghost_radius);
                a.ghost_weight = Some(c.ghost_weight);
            }
            AlgorithmConfig::Unconstrained { primal, .. } => set_primal(&mut a, primal, false),
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fairtrain::constraints::Statistic;

    fn args(toml_text: &str) -> TrainArgs {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults() {
        let s = TrainSettings::resolve(&TrainArgs::default()).unwrap();
        assert_eq!(s.source, DataSource::Adult);
        assert_eq!(s.preset, Preset::Default);
        // The paper's SSL-ALM, with a multiplier bound that grows while it binds.
        let AlgorithmConfig::Lagrangian { dual: DualConfig::Alm(alm), primal, .. } = s.algorithm else { panic!() };
        let AlgorithmConfig::Lagrangian { dual: DualConfig::Alm(paper), primal: paper_primal, .. } =
            AlgorithmConfig::paper(AlgorithmName::SslAlm)
        else {
            panic!()
        };
        assert_eq!((alm, primal), (AlmConfig { grow_bound: true, ..paper }, paper_primal));
        assert!(!paper.grow_bound);
        assert_eq!(s.batch, BatchSizes { objective: 8, per_group: 8 });
        assert_eq!(s.budget, BudgetSetting::Iterations(20_000));
        assert_eq!(s.constraints, [FairnessConstraint::new(Notion::LossParity, 0.005).unwrap()]);
        assert_eq!(s.hidden, [64, 32]);
        let s = TrainSettings::resolve(&args("algorithm = \"ssw\"")).unwrap();
        assert_eq!(s.batch, BatchSizes { objective: 16, per_group: 16 });
        // The default preset takes equal switching steps; the paper's stays.
        assert_eq!(
            s.algorithm,
            AlgorithmConfig::Switching(SwitchingConfig {
                lr: 0.02,
                constraint_averaging: 0.02,
                ..SwitchingConfig::default()
            })
        );
        let s = TrainSettings::resolve(&args("algorithm = \"ssw\"\npreset = \"paper\"")).unwrap();
        assert_eq!(s.algorithm, AlgorithmConfig::Switching(SwitchingConfig::default()));
    }

    #[test]
    fn every_algorithm_round_trips_through_toml() {
        for name in AlgorithmName::NAMES {
            let given = args(&format!(
                "data = \"synthetic\"\nalgorithm = \"{name}\"\ntime-budget = 2.5\nhidden = \"16\"\n\
                 constraint = [\"demographic-parity\", \"loss-parity\"]\nbound = [0.1, 0.02]"
            ));
            let s = TrainSettings::resolve(&given).unwrap();
            let text = toml::to_string(&s.to_args()).unwrap();
            let again = TrainSettings::resolve(&toml::from_str(&text).unwrap()).unwrap();
            assert_eq!(again.algorithm, s.algorithm, "{name}");
            assert_eq!(again.constraints, s.constraints, "{name}");
            assert_eq!(toml::to_string(&again.to_args()).unwrap(), text, "{name}");
            assert_eq!(again.budget, BudgetSetting::Seconds(2.5));
        }
    }

    #[test]
    fn constraint_tables() {
        let s = TrainSettings::resolve(&args(
            "[[constraint]]\nnotion = \"equalized-odds\"\ngroup = [\"race\", \"sex\"]\nbound = 0.04\n\
             [[constraint]]\nkind = \"group-bound\"\nstatistic = \"fpr\"\nbound = 0.1\n\
             [[constraint]]\nnotion = \"demographic-parity\"\ncomparison = \"overall\"",
        ))
        .unwrap();
        assert_eq!(s.load.group, Some(vec!["race".to_string(), "sex".to_string()]));
        assert_eq!(s.constraints.len(), 3);
        assert_eq!(s.constraints[0], FairnessConstraint::new(Notion::EqualizedOdds, 0.04).unwrap());
        assert_eq!(s.constraints[1].name, "group-bound:fpr");
        assert_eq!(
            s.constraints[1].kind,
            ConstraintKind::GroupBound { statistic: Statistic::Fpr, sense: Sense::AtMost }
        );
        assert_eq!(
            s.constraints[2].kind,
            ConstraintKind::Gap { statistics: vec![Statistic::PositiveRate], comparison: Comparison::Overall }
        );
        // Round trip of custom and overall constraints.
        let text = toml::to_string(&s.to_args()).unwrap();
        let again = TrainSettings::resolve(&toml::from_str(&text).unwrap()).unwrap();
        assert_eq!(again.constraints, s.constraints);
    }

    #[test]
    fn foreign_hyperparameter_is_an_error() {
        let err = TrainSettings::resolve(&args("algorithm = \"adam\"\nmu = 1.0")).unwrap_err();
        assert_eq!(err.to_string(), "invalid value for mu: --mu does not apply to algorithm adam (it takes: lr)");
        let err = TrainSettings::resolve(&args("algorithm = \"gda\"\nkp = 1.0")).unwrap_err();
        assert!(err.to_string().starts_with("invalid value for kp: --kp does not apply to algorithm gda"));
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
            ("bound = [0.1, 0.2]", "bound"),
            ("constraint = \"bounded-group-loss\"", "bound"),
            ("algorithm = \"ghost\"\nghost-radius = 50.0", "ghost-radius"),
            ("algorithm = \"nupi\"\nnu = 1.0", "nu"),
            ("[[constraint]]\nkind = \"ratio\"\nbound = 0.8", "constraint"),
            ("temperature = 0.0", "temperature"),
        ] {
            let err = TrainSettings::resolve(&args(text)).unwrap_err();
            assert!(err.to_string().starts_with(&format!("invalid value for {field}:")), "{text}: {err}");
        }
    }

    #[test]
    fn unknown_config_keys_are_named() {
        let err = toml::from_str::<TrainArgs>("algoritm = \"ssl-alm\"").unwrap_err();
        assert!(err.to_string().contains("unknown field `algoritm`"), "{err}");
        let err = toml::from_str::<TrainArgs>("[[constraint]]\nnotoin = \"x\"").unwrap_err();
        assert!(err.to_string().contains("unknown field `notoin`"), "{err}");
        let err = toml::from_str::<TrainArgs>("constraint = \"equal-odds\"").unwrap_err();
        assert!(err.to_string().contains("'equal-odds' (known: loss-parity"), "{err}");
    }
}
