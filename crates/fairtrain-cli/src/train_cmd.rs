//! `fairtrain train`: load, validate, train with history and progress,
//! evaluate, write outputs, print per-group results. [`execute`] is one
//! run on loaded data; `fairtrain bench` runs it for every cell of a grid.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fairtrain::algorithms::Algorithm;
use fairtrain::constraints::{ConstraintSet, FairnessConstraint};
use fairtrain::data::{Dataset, PrepReport, load};
use fairtrain::evaluation::certificate::{CertifyOptions, certify};
use fairtrain::evaluation::{GroupFrame, SplitReport};
use fairtrain::model::Mlp;
use fairtrain::problem::{Problem, TabularProblem};
use fairtrain::train::{
    Budget, Checkpoint, HistoryWriter, LoopState, Observer, Observers, StopReason, TrainerConfig, train_from,
};

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

/// Raised by Ctrl-C or SIGTERM: the run stops after the current step.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit status of an interrupted run (128 + SIGINT, as shells report it).
pub const INTERRUPTED_EXIT: u8 = 130;

/// Installs the Ctrl-C/SIGTERM handler: the first signal asks the run to
/// stop cleanly; a second one exits at once.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(INTERRUPTED_EXIT as i32);
        }
    });
}

/// The checkpoint's file name.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";

/// A run that stopped early on a signal.
#[derive(Debug)]
pub struct Interrupted {
    pub iteration: u64,
    pub out: PathBuf,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted at iteration {}; outputs and a checkpoint are in {}; continue with `fairtrain train \
             --resume --out {}`",
            self.iteration,
            self.out.display(),
            self.out.display()
        )
    }
}

impl std::error::Error for Interrupted {}

/// Runs `fairtrain train`.
pub fn run(args: TrainArgs) -> Result<()> {
    let started = Instant::now();
    if args.resume {
        return resume(args, started);
    }
    let args = args.merged_with_config()?;
    let settings = TrainSettings::resolve(&args)?;
    let out = output::choose_dir(settings.out.as_deref(), settings.overwrite)?;
    let data = RunData::load(&settings)?;
    let options = RunOptions { print: !args.quiet, progress: !args.quiet, evaluate_every: settings.eval_every };
    execute(&settings, &data, &out, &options, started, None).map(|_| ())
}

/// Keys that a resumed run may change: the budget and how it runs.
const RESUMABLE_CHANGES: [&str; 5] = ["iterations", "time-budget", "epochs", "threads", "checkpoint-every"];

/// `fairtrain train --resume --out DIR`.
fn resume(args: TrainArgs, started: Instant) -> Result<()> {
    let Some(out) = args.out.clone() else { bail!("--resume needs --out DIR (the run to continue)") };
    if args.config.is_some() {
        bail!("--resume continues the run in {} with its own settings; --config does not apply", out.display());
    }
    // Only the budget (and how the run executes) may change.
    let given = toml::Table::try_from(&args).context("internal: flags do not serialize")?;
    if let Some(key) = given.keys().find(|k| *k != "out" && !RESUMABLE_CHANGES.contains(&k.as_str())) {
        bail!(
            "--resume continues the run in {} with its own settings; --{key} cannot change (only --iterations, \
             --time-budget, --epochs, --threads, --checkpoint-every)",
            out.display()
        );
    }
    let checkpoint_path = out.join(CHECKPOINT_FILE);
    if !checkpoint_path.exists() {
        bail!(
            "nothing to resume in {}: no {CHECKPOINT_FILE} (the run had --checkpoint-every off, or is not a run \
             directory)",
            out.display()
        );
    }
    let checkpoint = Checkpoint::read(&checkpoint_path)?;
    let mut resolved = crate::args::read_config(&out.join("config.toml"))?;
    if args.iterations.is_some() || args.time_budget.is_some() || args.epochs.is_some() {
        resolved.iterations = args.iterations;
        resolved.time_budget = args.time_budget;
        resolved.epochs = args.epochs;
    }
    if args.threads.is_some() {
        resolved.threads = args.threads;
    }
    if args.checkpoint_every.is_some() {
        resolved.checkpoint_every = args.checkpoint_every.clone();
    }
    resolved.out = Some(out.clone());
    resolved.offline = args.offline;
    resolved.cache = args.cache.clone();
    let settings = TrainSettings::resolve(&resolved)?;
    if settings_key(&settings)? != checkpoint.settings {
        bail!("{} does not belong to the settings in {}", checkpoint_path.display(), out.join("config.toml").display());
    }
    let data = RunData::load(&settings)?;
    let options = RunOptions { print: !args.quiet, progress: !args.quiet, evaluate_every: settings.eval_every };
    execute(&settings, &data, &out, &options, started, Some(checkpoint)).map(|_| ())
}

/// The settings a checkpoint belongs to: everything but the budget and the
/// execution details that may change on resume.
fn settings_key(settings: &TrainSettings) -> Result<String> {
    let mut table = toml::Table::try_from(settings.to_args()).context("internal: settings do not serialize")?;
    for k in RESUMABLE_CHANGES.iter().chain(&["out", "eval-every"]) {
        table.remove(*k);
    }
    Ok(table.to_string())
}

/// Writes checkpoints for the training loop.
struct Checkpointer {
    path: PathBuf,
    settings: String,
    algorithm: String,
    /// Checkpoints written and the size of the last one.
    written: u64,
    bytes: u64,
    seconds: f64,
}

impl Observer for Checkpointer {
    fn checkpoint(
        &mut self,
        state: &LoopState,
        problem: &dyn fairtrain::problem::Problem,
        algorithm: &dyn Algorithm,
    ) -> fairtrain::Result<()> {
        let t = Instant::now();
        let checkpoint = Checkpoint {
            format: fairtrain::train::checkpoint::FORMAT,
            version: fairtrain::VERSION.to_string(),
            settings: self.settings.clone(),
            algorithm: self.algorithm.clone(),
            loop_state: state.clone(),
            problem: problem.save_state()?,
            algorithm_state: algorithm.save_state()?,
        };
        self.bytes = checkpoint.write(&self.path)?;
        self.written += 1;
        self.seconds += t.elapsed().as_secs_f64();
        Ok(())
    }
}

/// Keeps the header and the rows of a CSV log up to `iteration` (a resumed
/// run continues it from there).
fn truncate_log(path: &Path, iteration: u64) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut kept = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        let keep = i == 0 || line.split(',').next().and_then(|v| v.parse::<u64>().ok()).is_some_and(|k| k <= iteration);
        if keep {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("log.csv");
    output::write_atomic(dir, name, kept.as_bytes())
}

/// One training run on loaded data, writing `config.toml`, `history.csv`
/// (and `evaluations.csv` when asked) and `metrics.json` into `out`.
pub fn execute(
    settings: &TrainSettings,
    data: &RunData,
    out: &Path,
    options: &RunOptions,
    started: Instant,
    resume: Option<Checkpoint>,
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
    let resume_state = match resume {
        Some(c) => {
            if c.algorithm != settings.algorithm.name().to_string() {
                bail!("the checkpoint is of algorithm {}, the run's is {}", c.algorithm, settings.algorithm.name());
            }
            problem.load_state(&c.problem)?;
            algorithm.load_state(&c.algorithm_state)?;
            Some(c.loop_state)
        }
        None => None,
    };
    let resumed_from = resume_state.as_ref().map(|s| s.iteration);
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
    let manifest_start = crate::manifest::Manifest::start(settings, data, mlp.isa().name(), resumed_from.is_some())?;
    // (A resumed run rewrites it too: its budget may have changed.)
    let config_text = toml::to_string(&settings.to_args()).context("internal: settings do not serialize")?;
    let header = "# fairtrain train: the resolved settings of this run. Re-run with --config config.toml.\n";
    output::write_atomic(out, "config.toml", format!("{header}{config_text}").as_bytes())?;
    let history_path = out.join("history.csv");
    let mut history = match resumed_from {
        Some(k) => {
            truncate_log(&history_path, k)?;
            let file = std::fs::OpenOptions::new()
                .append(true)
                .open(&history_path)
                .with_context(|| format!("cannot append to {}", history_path.display()))?;
            HistoryWriter::appending(BufWriter::new(file), history_path.display().to_string())
        }
        None => {
            let file =
                File::create(&history_path).with_context(|| format!("cannot create {}", history_path.display()))?;
            HistoryWriter::new(BufWriter::new(file), history_path.display().to_string())
        }
    };
    manifest_start.write(out, "running", None)?;

    if options.print {
        print_setup(settings, data, &mlp, n_constraints);
    }
    print_warnings(data);

    let mut progress = Progress::new(budget, options.progress);
    let mut evaluations = match options.evaluate_every {
        Some(_) => Some(EvaluationLog::create(out, &mlp, data, &settings.constraints, settings.threads, resumed_from)?),
        None => None,
    };
    let mut checkpointer = Checkpointer {
        path: out.join(CHECKPOINT_FILE),
        settings: settings_key(settings)?,
        algorithm: settings.algorithm.name().to_string(),
        written: 0,
        bytes: 0,
        seconds: 0.0,
    };
    let trainer = TrainerConfig {
        budget,
        log_every: settings.log_every,
        average: settings.average,
        evaluate_every: options.evaluate_every,
        checkpoint_every: settings.checkpoint_every,
        interrupt: Some(&INTERRUPTED),
    };
    let summary = {
        let mut none = ();
        let evaluation: &mut dyn Observer = match evaluations.as_mut() {
            Some(e) => e,
            None => &mut none,
        };
        let mut observers = Observers(&mut [&mut history, &mut progress, evaluation, &mut checkpointer]);
        train_from(&mut problem, algorithm.as_mut(), &trainer, &mut observers, resume_state)
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
    for w in &summary.warnings {
        eprintln!("warning ({}, iteration {}): {}", w.kind, w.iteration, w.message);
    }
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
                StopReason::Iterations => "iteration",
                StopReason::Time => "time",
                StopReason::Interrupted => "interrupt",
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
        status: if summary.stop == StopReason::Interrupted { "interrupted" } else { "completed" },
        resumed_from: summary.resumed_from,
        checkpoints: checkpointer.written,
        checkpoint_bytes: checkpointer.bytes,
        checkpoint_seconds: checkpointer.seconds,
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
        warnings: summary.warnings.clone(),
    };
    metrics.total_seconds = started.elapsed().as_secs_f64();
    metrics.peak_rss_mb = peak_rss_mb();
    fairtrain::model::saved::save(
        out,
        &mlp,
        params,
        &fairtrain::model::saved::ModelInfo {
            layout: train_data.layout(),
            label: &data.report.target,
            positive: &data.report.positive,
            group_columns: &data.group_columns,
            groups: train_data.group_names(),
            dataset: &data.name,
        },
    )?;
    let json = serde_json::to_vec_pretty(&metrics).context("internal: metrics do not serialize")?;
    output::write_atomic(out, "metrics.json", &json)?;
    manifest_start.write(out, metrics.status, Some(summary.iterations))?;

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
        println!(
            "outputs in {}: metrics.json, history.csv, config.toml, manifest.json, model.safetensors, model.json",
            out.display()
        );
    }
    if summary.stop == StopReason::Interrupted {
        return Err(Interrupted { iteration: summary.iterations, out: out.to_path_buf() }.into());
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
        resumed_from: Option<u64>,
    ) -> Result<Self> {
        let path = dir.join(EVALUATIONS_FILE);
        if let (Some(k), true) = (resumed_from, path.exists()) {
            truncate_log(&path, k)?;
            let file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot append to {}", path.display()))?;
            return Ok(EvaluationLog { writer: BufWriter::new(file), path, mlp, data, constraints, threads });
        }
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
