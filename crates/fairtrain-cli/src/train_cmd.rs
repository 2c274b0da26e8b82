//! `fairtrain train`: load, validate, train with history and progress,
//! evaluate, write outputs, print per-group results.

use std::fs::File;
use std::io::BufWriter;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use fairtrain::constraints::ConstraintSet;
use fairtrain::data::load;
use fairtrain::evaluation::{GroupFrame, SplitReport};
use fairtrain::model::Mlp;
use fairtrain::problem::{Problem, TabularProblem};
use fairtrain::train::{Budget, HistoryWriter, Observers, TrainerConfig, train};

use crate::args::TrainArgs;
use crate::output;
use crate::progress::Progress;
use crate::report::{DataSummary, Metrics, Named, peak_rss_mb, render};
use crate::settings::{BudgetSetting, TrainSettings};

/// Groups with fewer training rows get a warning.
const MIN_GROUP_ROWS: usize = 50;

/// Runs `fairtrain train`.
pub fn run(args: TrainArgs) -> Result<()> {
    let started = Instant::now();
    let args = args.merged_with_config()?;
    let settings = TrainSettings::resolve(&args)?;
    let out = output::choose_dir(settings.out.as_deref(), settings.overwrite)?;

    crate::datasets_cmd::ensure_cached(&settings.source, settings.load.cache.as_deref(), settings.load.offline)?;
    let loaded = load(&settings.source, &settings.load)?;
    let encoded = loaded.encoded;
    let (train_data, test_data) = (Arc::new(encoded.train), encoded.test);
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
    output::create_dir(&out)?;
    let config_text = toml::to_string(&settings.to_args()).context("internal: settings do not serialize")?;
    let header = "# fairtrain train: the resolved settings of this run. Re-run with --config config.toml.\n";
    output::write_atomic(&out, "config.toml", format!("{header}{config_text}").as_bytes())?;
    let history_path = out.join("history.csv");
    let history_file =
        File::create(&history_path).with_context(|| format!("cannot create {}", history_path.display()))?;
    let mut history = HistoryWriter::new(BufWriter::new(history_file), history_path.display().to_string());

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
        loaded.name,
        loaded.group_columns.join(","),
    );
    let dropped = if encoded.report.rows_dropped > 0 {
        let by_column =
            encoded.report.missing_by_column.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ");
        format!("; dropped {} rows with missing values ({by_column})", encoded.report.rows_dropped)
    } else {
        String::new()
    };
    println!(
        "data: {} train / {} test rows, {} inputs, positive class '{}'{dropped}",
        train_data.n_rows(),
        test_data.n_rows(),
        train_data.n_inputs(),
        encoded.report.positive,
    );
    for w in &encoded.report.warnings {
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

    let mut progress = Progress::new(budget);
    let trainer = TrainerConfig { budget, log_every: settings.log_every, average: settings.average };
    let summary = {
        let mut observers = Observers(&mut [&mut history, &mut progress]);
        train(&mut problem, algorithm.as_mut(), &trainer, &mut observers)
    };
    progress.finish();
    let summary = summary?;
    history.into_inner()?;
    let rate = summary.iterations as f64 / summary.wall_seconds.max(1e-12);
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

    let params = problem.params();
    let constraints = &settings.constraints;
    let train_report =
        SplitReport::new(&GroupFrame::from_model(&mlp, params, &train_data, settings.threads), constraints, params);
    let test_report =
        SplitReport::new(&GroupFrame::from_model(&mlp, params, &test_data, settings.threads), constraints, params);
    let multipliers = Named(
        problem.constraint_names().iter().cloned().zip(algorithm.multipliers().iter().map(|&v| v as f64)).collect(),
    );
    let mut metrics = Metrics {
        schema_version: 1,
        fairtrain_version: fairtrain::VERSION,
        status: "completed",
        algorithm: algorithm_name.to_string(),
        preset: preset.to_string(),
        dataset: loaded.name.clone(),
        group: loaded.group_columns.clone(),
        seed: settings.seed,
        iterations: summary.iterations,
        epochs: problem.epochs(),
        wall_seconds: summary.wall_seconds,
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
            positive_label: encoded.report.positive.clone(),
            rows_dropped: encoded.report.rows_dropped,
            weight: settings.load.weight.clone(),
            sha256: loaded.sha256.clone(),
            warnings: encoded.report.warnings.clone(),
        },
        train: train_report,
        test: test_report,
    };
    metrics.total_seconds = started.elapsed().as_secs_f64();
    metrics.peak_rss_mb = peak_rss_mb();
    let json = serde_json::to_vec_pretty(&metrics).context("internal: metrics do not serialize")?;
    output::write_atomic(&out, "metrics.json", &json)?;

    println!();
    print!("{}", render(&metrics.train, &metrics.test));
    println!();
    if let Some(mb) = metrics.peak_rss_mb {
        println!("peak memory {mb:.0} MB; total time {:.2} s", metrics.total_seconds);
    }
    println!("outputs in {}: metrics.json, history.csv, config.toml", out.display());
    Ok(())
}

fn describe_model(hidden: &[usize]) -> String {
    if hidden.is_empty() {
        "logistic regression".into()
    } else {
        format!("MLP {}", hidden.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-"))
    }
}
