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
use fairtrain::distributed::Collective;
use fairtrain::evaluation::certificate::{CertifyOptions, certify_dataset};
use fairtrain::evaluation::{GroupFrame, SplitReport};
use fairtrain::model::Mlp;
use fairtrain::problem::{TabularProblem, TabularRun};
use fairtrain::train::{
    Budget, Checkpoint, HistoryWriter, LoopState, Observer, Observers, StopReason, TrainerConfig, train_from,
};

use crate::args::TrainArgs;
use crate::output;
use crate::progress::Progress;
use crate::report::{DataSummary, Metrics, Named, peak_rss_mb, render};
use crate::settings::{BudgetSetting, Margin, TrainSettings};

/// Groups with fewer training rows get a warning.
const MIN_GROUP_ROWS: usize = 50;

/// Loaded and encoded data, shareable between runs.
pub struct RunData {
    pub name: String,
    pub sha256: Vec<String>,
    pub group_columns: Vec<String>,
    pub report: PrepReport,
    pub train: Arc<Dataset>,
    /// Held out from the training split (`--validation-fraction`).
    pub validation: Option<Arc<Dataset>>,
    pub test: Arc<Dataset>,
}

impl RunData {
    /// Loads the data of `settings` (fetching it first when allowed).
    pub fn load(settings: &TrainSettings) -> Result<RunData> {
        crate::datasets_cmd::ensure_cached(&settings.source, settings.load.cache.as_deref(), settings.load.offline)?;
        let loaded = load(&settings.source, &settings.load)?;
        let (train, validation) = if settings.validation_fraction > 0.0 {
            let (fit, held) = loaded.encoded.train.split_off(settings.validation_fraction, settings.load.split_seed)?;
            (fit, Some(Arc::new(held)))
        } else {
            (loaded.encoded.train, None)
        };
        Ok(RunData {
            name: loaded.name,
            sha256: loaded.sha256,
            group_columns: loaded.group_columns,
            report: loaded.encoded.report,
            train: Arc::new(train),
            validation,
            test: Arc::new(loaded.encoded.test),
        })
    }
}

/// How a run reports itself.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Print the setup, the per-group table and the verdicts.
    pub print: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Evaluate the full train and test splits on this schedule into
    /// `evaluations.csv` (the time is not training time).
    pub evaluate_every: Option<Budget>,
    /// Prune a dense model instead of training from the initialization.
    pub prune: Option<PruneStage>,
    /// The processes of a data-parallel run (`mpirun`); `None` alone.
    pub group: Option<Arc<dyn Collective>>,
}

impl RunOptions {
    /// True on the process that reports and writes the outputs.
    fn reports(&self) -> bool {
        self.group.as_ref().is_none_or(|g| g.rank() == 0)
    }
}

/// The pruning stage of `fairtrain prune`: the dense model and how to prune it.
#[derive(Debug, Clone)]
pub struct PruneStage {
    /// The dense model's parameters.
    pub dense: Vec<f32>,
    /// How to prune.
    pub method: fairtrain::methods::prune::PruneMethod,
    /// The fraction of weights to remove.
    pub sparsity: f64,
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

/// Runs `fairtrain train`, alone or as one process of a data-parallel run
/// over `group`.
pub fn run(args: TrainArgs, group: Option<Arc<dyn Collective>>) -> Result<()> {
    let started = Instant::now();
    if args.resume {
        if group.is_some() {
            bail!(
                "--resume continues a run on one process: a checkpoint of a data-parallel run is the state of one \
                 process on the whole minibatches, so `fairtrain train --resume --out DIR` without mpirun continues \
                 it exactly"
            );
        }
        return resume(args, started);
    }
    let args = args.merged_with_config()?;
    let settings = TrainSettings::resolve(&args)?;
    if group.is_some() {
        check_data_parallel(&settings)?;
    }
    // Every process of a data-parallel run runs the same code, so that all
    // take the same decisions (margins, selection); the first writes the
    // outputs, the others a scratch directory removed at the end.
    let root = group.as_ref().is_none_or(|g| g.rank() == 0);
    let out = match &group {
        Some(g) if !root => std::env::temp_dir().join(format!("fairtrain-process-{}-{}", g.rank(), std::process::id())),
        _ => output::choose_dir(settings.out.as_deref(), settings.overwrite)?,
    };
    let data = RunData::load(&settings)?;
    let options = RunOptions {
        print: root && !args.quiet,
        progress: root && !args.quiet,
        evaluate_every: settings.eval_every,
        group,
        ..RunOptions::default()
    };
    let result = execute(&settings, &data, &out, &options, started, None).map(|_| ());
    if !root {
        let _ = std::fs::remove_dir_all(&out);
    }
    result
}

/// The settings a data-parallel run cannot take, as errors: its processes'
/// clocks differ, and the fairness methods read rows directly.
fn check_data_parallel(settings: &TrainSettings) -> Result<()> {
    if let BudgetSetting::Seconds(_) = settings.budget {
        bail!("--time-budget: a data-parallel run needs --iterations or --epochs (its processes' clocks differ)");
    }
    if let Some(Budget::Seconds(_)) = settings.eval_every {
        bail!("--eval-every: a data-parallel run evaluates every so many iterations, not seconds");
    }
    if settings.algorithm.name().is_method() {
        bail!(
            "--method {}: the fairness methods do not run data-parallel; run them without mpirun",
            settings.algorithm.name()
        );
    }
    Ok(())
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
    let options = RunOptions {
        print: !args.quiet,
        progress: !args.quiet,
        evaluate_every: settings.eval_every,
        ..Default::default()
    };
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

/// The run's problem on the chosen backend: the native MLP, or the same
/// MLP as a burn module (the same parameter layout, so evaluation, saving
/// and every algorithm read the flat parameters as before).
fn tabular_problem(
    settings: &TrainSettings,
    mlp: &Mlp,
    params: Vec<f32>,
    train_data: &Arc<fairtrain::data::Dataset>,
    constraints: ConstraintSet,
    group: Option<Arc<dyn Collective>>,
) -> Result<Box<dyn TabularRun>> {
    let (batch, seed) = (settings.batch, settings.seed);
    fn joined<M: fairtrain::model::TabularModel>(
        p: TabularProblem<M>,
        group: Option<Arc<dyn Collective>>,
    ) -> TabularProblem<M> {
        match group {
            Some(g) => p.with_collective(g),
            None => p,
        }
    }
    match &settings.burn_device {
        None => {
            let p = TabularProblem::new(mlp.clone(), params, train_data.clone(), constraints, batch, seed)?;
            Ok(Box::new(joined(p, group)))
        }
        #[cfg(feature = "burn")]
        Some(name) => {
            use fairtrain::model::burn::{BurnMlp, BurnModel, device};
            let dev = device(name)?;
            let n = train_data.n_inputs();
            let model = BurnModel::new(BurnMlp::new(n, &settings.hidden, &dev), n, dev);
            let mut p = TabularProblem::new(model, params, train_data.clone(), constraints, batch, seed)?;
            // A checkpoint holds the optimizer's state as the algorithm
            // keeps it, on the host.
            if settings.checkpoint_every.is_some() {
                p = p.keep_params_on_host();
            }
            Ok(Box::new(joined(p, group)))
        }
        #[cfg(not(feature = "burn"))]
        Some(_) => unreachable!("settings reject the burn backend in a build without it"),
    }
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
    // A fixed margin applies from the start; an auto one once measured.
    let train_constraints: Vec<FairnessConstraint> = settings
        .constraints
        .iter()
        .map(|c| {
            let mut t = c.clone();
            if let Margin::Fixed(m) = settings.margin {
                if c.kind != fairtrain::constraints::ConstraintKind::WeightNorm {
                    t.bound = match c.sense() {
                        fairtrain::constraints::Sense::AtMost => (c.bound - m).max(0.0),
                        fairtrain::constraints::Sense::AtLeast => c.bound + m,
                    };
                }
            }
            t
        })
        .collect();
    let constraints = ConstraintSet::new(train_constraints.clone(), &train_data)?;
    let n_constraints = constraints.len();
    let mlp = Mlp::new(train_data.n_inputs(), &settings.hidden)?;
    let params = match &options.prune {
        Some(p) => p.dense.clone(),
        None => mlp.init_params(settings.seed),
    };
    let mut problem = tabular_problem(settings, &mlp, params, &train_data, constraints, options.group.clone())?;
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
    if let Some(p) = &options.prune {
        use fairtrain::methods::prune::{MaskSearch, Pruning};
        // BiFP's mask is fixed before the window the returned model comes
        // from (the selection's, from a quarter of the budget on).
        let search = match budget {
            Budget::Iterations(n) => MaskSearch::Steps(n / 4),
            Budget::Seconds(s) => MaskSearch::Seconds(s / 4.0),
        };
        algorithm = Box::new(Pruning::new(algorithm, mlp.clone(), &p.dense, p.method, p.sparsity, search)?);
    }
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

    // Inputs are valid: from here on, outputs are written.
    output::create_dir(out)?;
    let manifest_start =
        crate::manifest::Manifest::start(settings, data, kernels(settings, &mlp), resumed_from.is_some())?;
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
        if let Some(g) = &options.group {
            println!(
                "data-parallel over {} processes: each forwards 1/{} of every minibatch; group sums and gradients \
                 are summed across processes before any ratio is formed",
                g.size(),
                g.size()
            );
        }
    }
    if options.reports() {
        print_warnings(data);
    }

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
    let select = settings.select == crate::args::Select::BestFeasible;
    let budget_size = match budget {
        Budget::Iterations(n) => n as f64,
        Budget::Seconds(s) => s,
    };
    let mut generalization = data.validation.as_deref().map(|validation| Generalization {
        mlp: &mlp,
        data,
        validation,
        constraints: &settings.constraints,
        threads: settings.threads,
        auto_at: (settings.margin == Margin::Auto && resumed_from.is_none()).then_some(0.25 * budget_size),
        time_budget: matches!(budget, Budget::Seconds(_)),
        // (A resumed run trains against the bounds its checkpoint restored.)
        train_bounds: problem.constraints().constraints().iter().map(|c| c.bound).collect(),
        margin_report: Vec::new(),
        select,
        snapshots: Default::default(),
        candidate: Vec::new(),
        select_from: 0.25 * budget_size,
        tolerance: None,
        best: None,
        least_violation: None,
    });
    // Selection needs evaluations: the asked schedule, or 40 over the budget.
    let evaluate_every = options.evaluate_every.or(select.then(|| match budget {
        Budget::Iterations(n) => Budget::Iterations((n / 40).max(1)),
        Budget::Seconds(s) => Budget::Seconds(s / 40.0),
    }));
    let trainer = TrainerConfig {
        budget,
        log_every: settings.log_every,
        average: settings.average,
        evaluate_every,
        checkpoint_every: settings.checkpoint_every,
        interrupt: Some(&INTERRUPTED),
    };
    let summary = {
        let mut none = ();
        let evaluation: &mut dyn Observer = match evaluations.as_mut() {
            Some(e) => e,
            None => &mut none,
        };
        let mut none2 = ();
        let general: &mut dyn Observer = match generalization.as_mut() {
            Some(g) => g,
            None => &mut none2,
        };
        let mut observers = Observers(&mut [&mut history, &mut progress, evaluation, &mut checkpointer, general]);
        train_from(problem.as_mut(), algorithm.as_mut(), &trainer, &mut observers, resume_state)
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
    for w in summary.warnings.iter().filter(|_| options.reports()) {
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

    // The generalization controls: the margin, and the returned model.
    let mut warnings = summary.warnings.clone();
    let mut selected = None;
    let bounds_used: Vec<f64> = match &generalization {
        Some(g) => g.train_bounds.clone(),
        None => problem.constraints().constraints().iter().map(|c| c.bound).collect(),
    };
    let train_bounds = bounds_used.iter().zip(&settings.constraints).any(|(t, c)| *t != c.bound).then_some(bounds_used);
    if let Some(g) = &generalization {
        if options.print {
            for line in &g.margin_report {
                println!("generalization margin: {line}");
            }
        }
        if select {
            match &g.best {
                Some((objective, iteration, best)) => {
                    problem.params_mut().copy_from_slice(best);
                    selected = Some(serde_json::json!({
                        "rule": "best-feasible",
                        "iteration": iteration,
                        "validation_objective": objective,
                    }));
                    if options.print {
                        println!(
                            "returned model: the average of the evaluated iterates up to iteration {iteration}, the \
                             best validation objective ({objective:.4}) among candidates feasible on validation"
                        );
                    }
                }
                None => {
                    let (v, at) = g.least_violation.unwrap_or((f64::NAN, 0));
                    warnings.push(fairtrain::train::Warning {
                        iteration: summary.iterations,
                        kind: "infeasible",
                        message: format!(
                            "no evaluated model met the bound(s) on validation (smallest violation {v:+.4}, at \
                             iteration {at}); returning the last model. The bound may be tighter than these data \
                             allow: try a looser bound or more iterations"
                        ),
                    });
                }
            }
        }
    }
    algorithm.finalize(problem.params_mut());
    let params = problem.params();
    let constraints = &settings.constraints;
    let n_run_warnings = warnings.len();
    let train_report =
        SplitReport::new(&GroupFrame::from_model(&mlp, params, &train_data, settings.threads), constraints, params);
    let test_logits = mlp.logits(params, test_data, settings.threads);
    let test_frame = GroupFrame::from_logits(test_data, &test_logits);
    let mut test_report = SplitReport::new(&test_frame, constraints, params);
    let mut validation_report = data
        .validation
        .as_deref()
        .map(|v| SplitReport::new(&GroupFrame::from_model(&mlp, params, v, settings.threads), constraints, params));
    let certificates = certify_dataset(
        test_data,
        &test_logits,
        constraints,
        params,
        &CertifyOptions { seed: settings.seed, ..CertifyOptions::default() },
    );
    for (entry, cert) in test_report.constraints.iter_mut().zip(&certificates) {
        entry.ci_half_width = cert.ci_half_width;
    }
    let mut train_report = train_report;
    if let Some(tb) = &train_bounds {
        for report in
            [Some(&mut train_report), validation_report.as_mut(), Some(&mut test_report)].into_iter().flatten()
        {
            for (entry, &b) in report.constraints.iter_mut().zip(tb) {
                entry.train_bound = Some(b);
            }
        }
    }
    // Unconstrained baselines and the fairness methods (which have no
    // bound) do not try to meet the bounds: no warning.
    let constrained = settings.algorithm.name().pursues_bounds();
    if let Some(v) = train_report.max_violation.filter(|v| constrained && *v > 1e-12) {
        warnings.push(fairtrain::train::Warning {
            iteration: summary.iterations,
            kind: "infeasible",
            message: format!(
                "the returned model violates the constraints on the training data by {v:.4}; the bound may be \
                 tighter than the data allow (a looser bound, more iterations, or a larger --penalty)"
            ),
        });
    }
    for w in warnings[n_run_warnings..].iter().filter(|_| options.reports()) {
        eprintln!("warning ({}): {}", w.kind, w.message);
    }
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
        processes: options.group.as_ref().map_or(1, |g| g.size()),
        kernels: kernels(settings, &mlp),
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
        warnings: warnings.clone(),
        validation: validation_report,
        selected,
        sparsity: options.prune.as_ref().map(|_| fairtrain::methods::prune::sparsity(&mlp, params)),
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
        print!("{}", render(&metrics.train, metrics.validation.as_ref(), &metrics.test));
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
        kernels(settings, mlp),
    );
}

/// What computes the training steps: the native kernels' instruction set,
/// or the burn backend and its device.
fn kernels(settings: &TrainSettings, mlp: &Mlp) -> &'static str {
    match settings.burn_device.as_deref() {
        None => mlp.isa().name(),
        Some("cuda") => "burn cuda",
        Some("wgpu") => "burn wgpu",
        Some(_) => "burn flex (cpu)",
    }
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

/// Evaluation snapshots averaged into a selection candidate (a tenth of
/// the budget at the default 40 evaluations).
const SNAPSHOTS: usize = 4;

/// The generalization controls of a run with a validation split: the
/// margin (the tighter bound training aims at) and the choice of the
/// returned model.
pub struct Generalization<'a> {
    mlp: &'a Mlp,
    data: &'a RunData,
    validation: &'a Dataset,
    constraints: &'a [FairnessConstraint],
    threads: usize,
    /// Auto margin: measured once the run reaches this point of its budget.
    auto_at: Option<f64>,
    time_budget: bool,
    /// The bounds training aims at (the user's, until a margin applies).
    pub train_bounds: Vec<f64>,
    /// What the margin measurement found, for the console.
    pub margin_report: Vec<String>,
    select: bool,
    /// The last parameter snapshots seen at evaluations: candidates for the
    /// returned model are their mean, since a single iterate carries the
    /// minibatch noise (validation would select the luckiest draw).
    snapshots: std::collections::VecDeque<Vec<f32>>,
    candidate: Vec<f32>,
    /// Candidates are eligible from this point of the budget on (earlier
    /// models are feasible only because they have not learned yet).
    select_from: f64,
    /// Per constraint, the tolerance of "feasible on validation": the 95%
    /// half-width of its validation estimate, measured at the first
    /// eligible evaluation (a smaller difference is noise).
    tolerance: Option<Vec<f64>>,
    /// Best feasible model on validation: (objective, iteration, params).
    pub best: Option<(f64, u64, Vec<f32>)>,
    /// Smallest largest-violation seen on validation, and where.
    pub least_violation: Option<(f64, u64)>,
}

impl<'a> Generalization<'a> {
    fn frame(&self, params: &[f32], data: &Dataset) -> GroupFrame {
        GroupFrame::from_model(self.mlp, params, data, self.threads)
    }

    /// The auto margin at the current parameters: the part of the
    /// validation value's excess over the train value (overfitting so far)
    /// beyond the 95% half-width of the validation estimate, i.e. the
    /// overfitting the validation split can tell from its noise. (The
    /// noise itself is not added: the reported test interval accounts for
    /// it, and on small groups a noise-sized margin cost up to 3.8 points
    /// of accuracy, Adult equal opportunity at 0.02, for held-out values
    /// no closer to the bound.)
    fn measure_margin(&mut self, params: &[f32]) -> fairtrain::Result<()> {
        let v = self.validation;
        let logits = self.mlp.logits(params, v, self.threads);
        let certs = certify_dataset(
            v,
            &logits,
            self.constraints,
            params,
            &CertifyOptions { resamples: 400, ..Default::default() },
        );
        let train = SplitReport::new(&self.frame(params, &self.data.train), self.constraints, params);
        for (k, c) in self.constraints.iter().enumerate() {
            if c.kind == fairtrain::constraints::ConstraintKind::WeightNorm {
                continue;
            }
            let (Some(val), Some(tr), Some(h)) = (certs[k].value, train.constraints[k].value, certs[k].ci_half_width)
            else {
                continue;
            };
            let at_most = c.sense() == fairtrain::constraints::Sense::AtMost;
            let excess = if at_most { val - tr } else { tr - val };
            let margin = (excess - h).max(0.0);
            let bound = if at_most { (c.bound - margin).max(0.25 * c.bound) } else { (c.bound + margin).min(1.0) };
            self.train_bounds[k] = bound;
            self.margin_report.push(format!(
                "{}: training against {bound:.4} (bound {}; validation {:+.4} from train, 95% half-width {h:.4}){}",
                c.name(),
                c.bound,
                val - tr,
                if at_most && c.bound - margin < 0.25 * c.bound {
                    "; the data leave almost no room: held-out values may exceed the bound"
                } else {
                    ""
                }
            ));
        }
        Ok(())
    }
}

impl Observer for Generalization<'_> {
    fn between_steps(
        &mut self,
        iteration: u64,
        seconds: f64,
        problem: &mut dyn fairtrain::problem::Problem,
    ) -> fairtrain::Result<()> {
        let progress = if self.time_budget { seconds } else { iteration as f64 };
        if let Some(at) = self.auto_at.filter(|&at| progress >= at) {
            let _ = at;
            self.auto_at = None;
            let params = problem.params().to_vec();
            self.measure_margin(&params)?;
            problem.set_bounds(&self.train_bounds)?;
        }
        Ok(())
    }

    fn evaluate(&mut self, iteration: u64, seconds: f64, params: &[f32]) -> fairtrain::Result<()> {
        let progress = if self.time_budget { seconds } else { iteration as f64 };
        if !self.select || progress < self.select_from {
            return Ok(());
        }
        if self.snapshots.len() == SNAPSHOTS {
            self.snapshots.pop_front();
        }
        self.snapshots.push_back(params.to_vec());
        self.candidate.clear();
        self.candidate.resize(params.len(), 0.0);
        for snapshot in &self.snapshots {
            for (c, &p) in self.candidate.iter_mut().zip(snapshot) {
                *c += p / self.snapshots.len() as f32;
            }
        }
        let candidate = &self.candidate;
        let v = self.validation;
        if self.tolerance.is_none() {
            let logits = self.mlp.logits(candidate, v, self.threads);
            let options = CertifyOptions { resamples: 200, ..CertifyOptions::default() };
            let certs = certify_dataset(v, &logits, self.constraints, candidate, &options);
            self.tolerance = Some(certs.iter().map(|c| c.ci_half_width.unwrap_or(0.0)).collect());
        }
        let tolerance = self.tolerance.as_deref().unwrap_or(&[]);
        let report = SplitReport::new(&self.frame(candidate, v), self.constraints, candidate);
        let Some(objective) = report.objective else { return Ok(()) };
        // Feasible on the training data too: a model that meets the bound
        // on validation only by the luck of its noise is not one.
        let on_train = SplitReport::new(&self.frame(candidate, &self.data.train), self.constraints, candidate);
        let train_violation = on_train.max_violation.unwrap_or(f64::INFINITY);
        // The largest violation beyond the noise of the validation estimate.
        let violation = self
            .constraints
            .iter()
            .zip(&report.constraints)
            .zip(tolerance.iter().chain(std::iter::repeat(&0.0)))
            .filter_map(|((c, r), &t)| r.value.map(|value| c.violation(value) - t))
            .fold(f64::NEG_INFINITY, f64::max)
            .max(train_violation);
        if violation <= 0.0 {
            if self.best.as_ref().is_none_or(|b| objective < b.0) {
                self.best = Some((objective, iteration, candidate.clone()));
            }
        } else if self.least_violation.is_none_or(|l| violation < l.0) {
            self.least_violation = Some((violation, iteration));
        }
        Ok(())
    }
}
