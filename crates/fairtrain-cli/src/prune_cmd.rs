//! `fairtrain prune`: train a dense model under the fairness constraint,
//! then prune it to a target sparsity (BiFP, magnitude pruning, or
//! magnitude pruning with constrained fine-tuning).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use clap::builder::TypedValueParser;
use fairtrain::algorithms::AlgorithmName;
use fairtrain::constraints::Notion;
use fairtrain::methods::prune::PruneMethod;

use fairtrain::run::{
    BudgetSetting, ConstraintSpec, Metrics, Preset, PruneStage, RunOptions, choose_dir, write_atomic,
};

use crate::args::{DataArgs, RunFlags, TrainArgs, algorithm_parser, constraint_parser, preset_parser};
use crate::train_cmd::{Console, execute, load_data};

/// Flags of `fairtrain prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub input: DataArgs,
    /// Target fraction of the weights to remove, in [0, 1); several (0.5,0.8,0.9) prune the one dense model to each
    #[arg(long, value_delimiter = ',', required = true)]
    pub sparsity: Vec<f64>,
    /// How to prune: bifp (mask and weights jointly under the constraint), magnitude (largest weights, no training), magnitude-finetune (magnitude, then constrained fine-tuning); several compare them [default: bifp]
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(PruneMethod::NAMES).map(|s| s.parse::<PruneMethod>().expect("listed")))]
    pub method: Option<Vec<PruneMethod>>,
    /// Fairness constraint of the dense training and the pruning [default: accuracy-parity, BiFP's]
    #[arg(long, value_parser = constraint_parser())]
    pub constraint: Option<Vec<ConstraintSpec>>,
    /// Bound of each --constraint
    #[arg(long, allow_hyphen_values = true)]
    pub bound: Option<Vec<f64>>,
    /// Constrained algorithm of the dense training and the pruning [default: ssl-alm]
    #[arg(long, value_parser = algorithm_parser())]
    pub algorithm: Option<AlgorithmName>,
    /// Settings preset [default: default]
    #[arg(long, value_parser = preset_parser())]
    pub preset: Option<Preset>,
    /// Hidden layer widths [default: 64,32]
    #[arg(long)]
    pub hidden: Option<String>,
    /// Iterations of the dense training [default: 20000]
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Iterations of the pruning stage [default: --iterations]
    #[arg(long)]
    pub prune_iterations: Option<u64>,
    /// Seed [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory: the pruned model's run; the dense one in DIR/dense
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing run in --out
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

/// Runs `fairtrain prune`.
pub fn run(args: PruneArgs) -> Result<()> {
    let started = Instant::now();
    if let Some(bad) = args.sparsity.iter().find(|s| !(0.0..1.0).contains(*s)) {
        return Err(fairtrain::Error::config("sparsity", format!("{bad} (must be in [0, 1))")).into());
    }
    let mut methods = args.method.clone().unwrap_or_else(|| vec![PruneMethod::Bifp]);
    let mut sparsities = args.sparsity.clone();
    // A value given twice is pruned once.
    let mut seen = Vec::new();
    methods.retain(|m| {
        !seen.contains(m) && {
            seen.push(*m);
            true
        }
    });
    let mut seen = Vec::new();
    sparsities.retain(|s| {
        !seen.contains(s) && {
            seen.push(*s);
            true
        }
    });
    let train_args = TrainArgs {
        input: args.input.clone(),
        constraint: Some(
            args.constraint.clone().unwrap_or_else(|| vec![ConstraintSpec::notion(Notion::AccuracyParity)]),
        ),
        bound: args.bound.clone(),
        algorithm: args.algorithm,
        preset: args.preset,
        hidden: args.hidden.clone(),
        iterations: args.iterations,
        seed: args.seed,
        out: args.out.clone(),
        ..TrainArgs::default()
    };
    let dense_plan = train_args.run_config()?.resolve()?;
    if args.prune_iterations == Some(0) {
        return Err(fairtrain::Error::config("prune-iterations", "0 (must be at least 1)").into());
    }
    let out = choose_dir(dense_plan.out.as_deref(), args.overwrite)?;
    let data = load_data(&dense_plan, args.run.cache.as_deref(), args.run.offline)?;
    let print = !args.run.quiet;
    let console = Console { print: false, progress: print, warnings: true };
    if print {
        outln!(
            "fairtrain prune: dense training ({}) into {}",
            dense_plan.algorithm.name(),
            out.join("dense").display()
        );
    }
    let dense_dir = out.join("dense");
    let options = RunOptions { started: Some(started), ..RunOptions::default() };
    let dense_metrics = execute(&dense_plan, &data, Some(&dense_dir), options, console)?.metrics;
    let dense = fairtrain::model::saved::load(&dense_dir)?.params;
    // One (method, sparsity) prunes into --out itself; several each into
    // their own folder, with a table of them all.
    let single = methods.len() == 1 && sparsities.len() == 1;
    let mut table = vec![Row::of("dense", 0.0, &dense_metrics, "dense")];
    for &method in &methods {
        for &sparsity in &sparsities {
            let mut plan = dense_plan.clone();
            plan.budget = match (method, args.prune_iterations) {
                // Magnitude pruning trains nothing: one no-op step evaluates it.
                (PruneMethod::Magnitude, _) => BudgetSetting::Iterations(1),
                (_, Some(n)) => BudgetSetting::Iterations(n),
                (_, None) => dense_plan.budget,
            };
            let folder = format!("{}-{sparsity}", method.name());
            let dir = if single { out.clone() } else { out.join(&folder) };
            if print {
                outln!("pruning to sparsity {sparsity} with {}", method.name());
            }
            let options = RunOptions {
                prune: Some(PruneStage { dense: dense.clone(), method, sparsity }),
                started: Some(started),
                ..RunOptions::default()
            };
            let console = Console { print: print && single, progress: print, warnings: true };
            let metrics = execute(&plan, &data, Some(&dir), options, console)?.metrics;
            if print && single {
                outln!("sparsity {:.4} ({} pruning)", metrics.sparsity.unwrap_or(0.0), method.name());
            }
            table.push(Row::of(method.name(), metrics.sparsity.unwrap_or(0.0), &metrics, &folder));
        }
    }
    if !single {
        let mut csv = String::from(
            "method,sparsity,test_accuracy,test_constraint,test_dp_gap,test_eopp_gap,test_eo_gap,folder\n",
        );
        let mut md = String::from(
            "| method | sparsity | test accuracy | test constraint | DP gap | EOpp gap | EOdds gap |\n| --- | --- | --- \
             | --- | --- | --- | --- |\n",
        );
        for r in &table {
            let v = r.values.map(|x| x.map_or(String::new(), |x| format!("{x}")));
            let _ =
                writeln!(csv, "{},{},{},{},{},{},{},{}", r.method, r.sparsity, v[0], v[1], v[2], v[3], v[4], r.folder);
            let f = r.values.map(|x| x.map_or("-".to_string(), |x| format!("{x:.4}")));
            let _ = writeln!(
                md,
                "| {} | {:.4} | {} | {} | {} | {} | {} |",
                r.method, r.sparsity, f[0], f[1], f[2], f[3], f[4]
            );
        }
        write_atomic(&out, "summary.csv", csv.as_bytes())?;
        write_atomic(&out, "summary.md", md.as_bytes())?;
        if print {
            out!("{md}");
            outln!(
                "outputs in {}: summary.csv, summary.md, dense/ and one folder per method and sparsity",
                out.display()
            );
        }
    }
    Ok(())
}

/// A line of the comparison table.
struct Row {
    method: &'static str,
    sparsity: f64,
    /// Test accuracy, the first constraint's value, DP, EOpp and EOdds gaps.
    values: [Option<f64>; 5],
    folder: String,
}

impl Row {
    fn of(method: &'static str, sparsity: f64, m: &Metrics, folder: &str) -> Self {
        let t = &m.test;
        let constraint = t.constraints.first().and_then(|c| c.value);
        Row {
            method,
            sparsity,
            values: [t.accuracy, constraint, t.dp_gap, t.eopp_gap, t.eo_gap],
            folder: folder.to_string(),
        }
    }
}
