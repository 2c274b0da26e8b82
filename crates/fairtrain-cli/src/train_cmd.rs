//! `fairtrain train`: load, validate, train with history and progress,
//! evaluate, write outputs, print per-group results. [`execute`] is one
//! run on loaded data; `fairtrain bench` runs it for every cell of a grid.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use fairtrain::constraints::{ConstraintSet, FairnessConstraint};
use fairtrain::data::{Dataset, PrepReport, load};
use fairtrain::evaluation::certificate::{CertifyOptions, certify};
use fairtrain::evaluation::{GroupFrame, SplitReport};
use fairtrain::model::Mlp;
use fairtrain::problem::{Problem, TabularProblem};
use fairtrain::train::{Budget, HistoryWriter, Observer, Observers, TrainerConfig, train};

use crate::args::TrainArgs;
use crate::output;
use crate::progress::Progress;
use crate::report::{DataSummary, Metrics, Named, peak_rss_mb, render};
use crate::settings::{BudgetSetting, TrainSettings};

/// Groups with fewer training rows get a warning.
const MIN_GROUP_ROWS: usize = 50;

/// Loaded and encoded data, shareable between runs.
pub struct RunData {
    pub name: String,
    pub sha256: Vec<String>,
    pub group_columns: Vec<String>,
    pub report: PrepReport,
    pub train: Arc<Dataset>,
    pub test: Arc<Dataset>,
}

impl RunData {
    /// Loads the data of `settings` (fetching it first when allowed).
    pub fn load(settings: &TrainSettings) -> Result<RunData> {
        crate::datasets_cmd::ensure_cached(&settings.source, settings.load.cache.as_deref(), settings.load.offline)?;
        let loaded = load(&settings.source, &settings.load)?;
        Ok(RunData {
            name: loaded.name,
            sha256: loaded.sha256,
            group_columns: loaded.group_columns,
            report: loaded.encoded.report,
            train: Arc::new(loaded.encoded.train),
            test: Arc::new(loaded.encoded.test),
        })
    }
}

/// How a run reports itself.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Print the setup, the per-group table and the verdicts.
    pub print: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Evaluate the full train and test splits on this schedule into
    /// `evaluations.csv` (the time is not training time).
    pub evaluate_every: Option<Budget>,
}

/// Runs `fairtrain train`.
pub fn run(args: TrainArgs) -> Result<()> {
    let started = Instant::now();
    let args = args.merged_with_config()?;
    let settings = TrainSettings::resolve(&args)?;
    let out = output::choose_dir(settings.out.as_deref(), settings.overwrite)?;
    let data = RunData::load(&settings)?;
    let options = RunOptions { print: !args.quiet, progress: !args.quiet, evaluate_every: settings.eval_every };
    execute(&settings, &data, &out, &options, started).map(|_| ())
}

/// One training run on loaded data, writing `config.toml`, `history.csv`
/// (and `evaluations.csv` when asked) and `metrics.json` into `out`.
pub fn execute(
    settings: &TrainSettings,
    data: &RunData,
    out: &Path,
    options: &RunOptions,
    started: Instant,
) -> Result<Metrics> {
    let (train_data, test_data) = (data.train.clone(), &data.test);
    let constraints = ConstraintSet::new(settings.constraints.clone(), &train_data)?;
    let n_constraints = constraints.len();
    let mlp = Mlp::new(train_data.n_inputs(), &settings.hidden)?;
    let params = mlp.init_params(settings.seed);
    let mut problem =
        TabularProblem::new(mlp.clone(), params, train_data.clone(), constraints, settings.batch, settings.seed)?;
    let algorithm_config = settings.algorithm.for_run(train_data.n_rows(), settings.batch.objective, settings.seed);
    let mut algorithm = algorithm_config.build()?;
    let budget = match settings.budget {
        BudgetSetting::Iterations(n) => Budget::Iterations(n),
        BudgetSetting::Seconds(s) => Budget::Seconds(s),
        BudgetSetting::Epochs(e) => {
            let per_epoch = train_data.n_rows() as f64 / settings.batch.objective as f64;
            Budget::Iterations((e * per_epoch).ceil().max(1.0) as u64)
        }
    };

    // Inputs are valid: from here on, outputs are written.
    output::create_dir(out)?;
    let config_text = toml::to_string(&settings.to_args()).context("internal: settings do not serialize")?;
    let header = "# fairtrain train: the resolved settings of this run. Re-run with --config config.toml.\n";
    output::write_atomic(out, "config.toml", format!("{header}{config_text}").as_bytes())?;
    let history_path = out.join("history.csv");
    let history_file =
        File::create(&history_path).with_context(|| format!("cannot create {}", history_path.display()))?;
    let mut history = HistoryWriter::new(BufWriter::new(history_file), history_path.display().to_string());

    if options.print {
        print_setup(settings, data, &mlp, n_constraints);
    }
    print_warnings(data);

    let mut progress = Progress::new(budget, options.progress);
    let mut evaluations = match options.evaluate_every {
        Some(_) => Some(EvaluationLog::create(out, &mlp, data, &settings.constraints, settings.threads)?),
        None => None,
    };
    let trainer = TrainerConfig {
        budget,
        log_every: settings.log_every,
        average: settings.average,
        evaluate_every: options.evaluate_every,
    };
    let summary = {
        let mut none = ();
        let evaluation: &mut dyn Observer = match evaluations.as_mut() {
            Some(e) => e,
            None => &mut none,
        };
        let mut observers = Observers(&mut [&mut history, &mut progress, evaluation]);
        train(&mut problem, algorithm.as_mut(), &trainer, &mut observers)
    };
    progress.finish();
    let summary = summary?;
    history.into_inner()?;
    if let Some(e) = evaluations {
        e.finish()?;
    }
    let algorithm_name = settings.algorithm.name();
    let preset = settings.preset.name();
    let rate = summary.iterations as f64 / summary.wall_seconds.max(1e-12);
    if options.print {
        let returned = match summary.averaged_iterates {
            0 => "the last iterate".to_string(),
            n => format!("the average of {n} iterates from the last {:.0}% of the budget", settings.average * 100.0),
        };
        println!(
            "trained {} iterations in {:.2} s ({rate:.0} it/s; stopped by the {} budget); model: {returned}",
            summary.iterations,
            summary.wall_seconds,
            match summary.stop {
                fairtrain::train::StopReason::Iterations => "iteration",
                fairtrain::train::StopReason::Time => "time",
            }
        );
    }

    let params = problem.params();
    let constraints = &settings.constraints;
    let train_report =
        SplitReport::new(&GroupFrame::from_model(&mlp, params, &train_data, settings.threads), constraints, params);
    let test_logits = mlp.logits(params, test_data, settings.threads);
    let test_frame = GroupFrame::from_weighted_parts(
        test_data.group_names(),
        &test_logits,
        test_data.labels(),
        test_data.groups(),
        test_data.weights(),
    );
    let test_report = SplitReport::new(&test_frame, constraints, params);
    let certificates = certify(
        test_data.group_names(),
        &test_logits,
        test_data.labels(),
        test_data.groups(),
        test_data.weights(),
        constraints,
        params,
        &CertifyOptions { seed: settings.seed, ..CertifyOptions::default() },
    );
    let multipliers = Named(
        problem.constraint_names().iter().cloned().zip(algorithm.multipliers().iter().map(|&v| v as f64)).collect(),
    );
    let mut metrics = Metrics {
        schema_version: 1,
        fairtrain_version: fairtrain::VERSION,
        status: "completed",
        algorithm: algorithm_name.to_string(),
        preset: preset.to_string(),
        dataset: data.name.clone(),
        group: data.group_columns.clone(),
        seed: settings.seed,
        iterations: summary.iterations,
        epochs: problem.epochs(),
        wall_seconds: summary.wall_seconds,
        evaluation_seconds: summary.evaluation_seconds,
        total_seconds: 0.0,
        iterations_per_second: rate,
        peak_rss_mb: None,
        stop_reason: summary.stop,
        averaged_iterates: summary.averaged_iterates,
        threads: settings.threads,
        kernels: mlp.isa().name(),
        n_params: mlp.n_params(),
        multipliers,
        data: DataSummary {
            train_rows: train_data.n_rows(),
            test_rows: test_data.n_rows(),
            inputs: train_data.n_inputs(),
            positive_label: data.report.positive.clone(),
            rows_dropped: data.report.rows_dropped,
            weight: settings.load.weight.clone(),
            sha256: data.sha256.clone(),
            warnings: data.report.warnings.clone(),
        },
        train: train_report,
        test: test_report,
        certificates,
    };
    metrics.total_seconds = started.elapsed().as_secs_f64();
    metrics.peak_rss_mb = peak_rss_mb();
    let json = serde_json::to_vec_pretty(&metrics).context("internal: metrics do not serialize")?;
    output::write_atomic(out, "metrics.json", &json)?;

    if options.print {
        println!();
        print!("{}", render(&metrics.train, &metrics.test));
        for c in &metrics.certificates {
            let side = match c.sense {
                fairtrain::constraints::Sense::AtMost => "upper",
                fairtrain::constraints::Sense::AtLeast => "lower",
            };
            let bound = c.value_bound.map_or("undefined".to_string(), |v| format!("{v:.4}"));
            println!(
                "held-out certificate: {} {}: {:.0}% {side} bound {bound} on test (bootstrap)",
                c.name,
                c.verdict(),
                c.confidence * 100.0
            );
        }
        println!();
        if let Some(mb) = metrics.peak_rss_mb {
            println!("peak memory {mb:.0} MB; total time {:.2} s", metrics.total_seconds);
        }
        println!("outputs in {}: metrics.json, history.csv, config.toml", out.display());
    }
    Ok(metrics)
}

/// Prints what is about to be trained.
fn print_setup(settings: &TrainSettings, data: &RunData, mlp: &Mlp, n_constraints: usize) {
    let train_data = &data.train;
    let groups_line = train_data
        .group_names()
        .iter()
        .zip(train_data.group_counts())
        .map(|(g, n)| format!("{g} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let algorithm_name = settings.algorithm.name();
    let preset = settings.preset.name();
    println!(
        "fairtrain {}: {algorithm_name} (preset {preset}) on {}, groups by {} ({groups_line} training rows)",
        fairtrain::VERSION,
        data.name,
        data.group_columns.join(","),
    );
    let dropped = if data.report.rows_dropped > 0 {
        let by_column =
            data.report.missing_by_column.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ");
        format!("; dropped {} rows with missing values ({by_column})", data.report.rows_dropped)
    } else {
        String::new()
    };
    println!(
        "data: {} train / {} test rows, {} inputs, positive class '{}'{dropped}",
        train_data.n_rows(),
        data.test.n_rows(),
        train_data.n_inputs(),
        data.report.positive,
    );
    let described: Vec<String> = settings
        .constraints
        .iter()
        .map(|c| {
            let sense = match c.sense() {
                fairtrain::constraints::Sense::AtMost => "<=",
                fairtrain::constraints::Sense::AtLeast => ">=",
            };
            format!("{} {sense} {}", c.name(), c.bound)
        })
        .collect();
    println!(
        "constraints: {} ({n_constraints} scalar constraints); model {} ({} parameters, {} kernels)",
        described.join(", "),
        describe_model(&settings.hidden),
        mlp.n_params(),
        mlp.isa().name(),
    );
}

/// Data warnings, printed even by quiet runs.
fn print_warnings(data: &RunData) {
    let train_data = &data.train;
    for w in &data.report.warnings {
        eprintln!("warning: {w}");
    }
    for (name, n) in train_data.group_names().iter().zip(train_data.group_counts()) {
        if n < MIN_GROUP_ROWS {
            eprintln!(
                "warning: group '{name}' has only {n} training rows; its statistics (and constraints) are noisy \
                 estimates, and held-out values may differ widely"
            );
        }
    }
}

fn describe_model(hidden: &[usize]) -> String {
    if hidden.is_empty() {
        "logistic regression".into()
    } else {
        format!("MLP {}", hidden.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-"))
    }
}

/// Evaluates the full train and test splits during training and streams
/// one row per split and evaluation to `evaluations.csv`: iteration,
/// training seconds, split, objective (mean loss), accuracy, and each
/// constraint's value.
pub struct EvaluationLog<'a> {
    writer: BufWriter<File>,
    path: std::path::PathBuf,
    mlp: &'a Mlp,
    data: &'a RunData,
    constraints: &'a [FairnessConstraint],
    threads: usize,
}

/// The evaluation file's name.
pub const EVALUATIONS_FILE: &str = "evaluations.csv";

impl<'a> EvaluationLog<'a> {
    fn create(
        dir: &Path,
        mlp: &'a Mlp,
        data: &'a RunData,
        constraints: &'a [FairnessConstraint],
        threads: usize,
    ) -> Result<Self> {
        let path = dir.join(EVALUATIONS_FILE);
        let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut writer = BufWriter::new(file);
        let names: Vec<&str> = constraints.iter().map(|c| c.name()).collect();
        writeln!(writer, "iteration,seconds,split,objective,accuracy,{}", names.join(","))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(EvaluationLog { writer, path, mlp, data, constraints, threads })
    }

    fn finish(mut self) -> Result<()> {
        self.writer.flush().with_context(|| format!("cannot write {}", self.path.display()))
    }
}

impl Observer for EvaluationLog<'_> {
    fn evaluate(&mut self, iteration: u64, seconds: f64, params: &[f32]) -> fairtrain::Result<()> {
        let io = |path: &Path, e: std::io::Error| fairtrain::Error::io(path, e);
        for (split, data) in [("train", &self.data.train), ("test", &self.data.test)] {
            let frame = GroupFrame::from_model(self.mlp, params, data, self.threads);
            let report = SplitReport::new(&frame, self.constraints, params);
            let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
            let values: Vec<String> = report.constraints.iter().map(|c| cell(c.value)).collect();
            writeln!(
                self.writer,
                "{iteration},{seconds:.6},{split},{},{},{}",
                cell(report.objective),
                cell(report.accuracy),
                values.join(",")
            )
            .map_err(|e| io(&self.path, e))?;
        }
        Ok(())
    }
}
