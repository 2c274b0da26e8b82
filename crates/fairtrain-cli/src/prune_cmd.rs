//! `fairtrain prune`: train a dense model under the fairness constraint,
//! then prune it to a target sparsity (BiFP, magnitude pruning, or
//! magnitude pruning with constrained fine-tuning).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use clap::builder::TypedValueParser;
use fairtrain::algorithms::AlgorithmName;
use fairtrain::constraints::Notion;
use fairtrain::methods::prune::PruneMethod;

use crate::args::{ConstraintSpec, Preset, TrainArgs, algorithm_parser, constraint_parser, preset_parser};
use crate::output;
use crate::settings::{BudgetSetting, TrainSettings};
use crate::train_cmd::{PruneStage, RunData, RunOptions, execute};

/// Flags of `fairtrain prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Data (as `train --data`) [default: adult]
    #[arg(long)]
    pub data: Option<String>,
    /// Sensitive column(s) defining the groups
    #[arg(long, value_delimiter = ',')]
    pub group: Option<Vec<String>>,
    /// Target fraction of the weights to remove, in [0, 1)
    #[arg(long)]
    pub sparsity: f64,
    /// How to prune: bifp (mask and weights jointly under the constraint), magnitude (largest weights, no training), magnitude-finetune (magnitude, then constrained fine-tuning) [default: bifp]
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(PruneMethod::NAMES).map(|s| s.parse::<PruneMethod>().expect("listed")))]
    pub method: Option<PruneMethod>,
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

/// Runs `fairtrain prune`.
pub fn run(args: PruneArgs) -> Result<()> {
    let started = Instant::now();
    if !(0.0..1.0).contains(&args.sparsity) {
        return Err(fairtrain::Error::config("sparsity", format!("{} (must be in [0, 1))", args.sparsity)).into());
    }
    let method = args.method.unwrap_or(PruneMethod::Bifp);
    let train_args = TrainArgs {
        data: args.data.clone(),
        group: args.group.clone(),
        constraint: Some(
            args.constraint.clone().unwrap_or_else(|| vec![ConstraintSpec::notion(Notion::AccuracyParity)]),
        ),
        bound: args.bound.clone(),
        algorithm: args.algorithm,
        preset: args.preset,
        hidden: args.hidden.clone(),
        iterations: args.iterations,
        seed: args.seed,
        cache: args.cache.clone(),
        offline: args.offline,
        quiet: args.quiet,
        out: args.out.clone(),
        overwrite: args.overwrite,
        ..TrainArgs::default()
    };
    let dense_settings = TrainSettings::resolve(&train_args)?;
    let mut prune_settings = dense_settings.clone();
    prune_settings.budget = match (method, args.prune_iterations) {
        // Magnitude pruning trains nothing: one no-op step evaluates it.
        (PruneMethod::Magnitude, _) => BudgetSetting::Iterations(1),
        (_, Some(0)) => return Err(fairtrain::Error::config("prune-iterations", "0 (must be at least 1)").into()),
        (_, Some(n)) => BudgetSetting::Iterations(n),
        (_, None) => dense_settings.budget,
    };
    let out = output::choose_dir(dense_settings.out.as_deref(), dense_settings.overwrite)?;
    let data = RunData::load(&dense_settings)?;
    let print = !args.quiet;
    let options = RunOptions { print: false, progress: print, evaluate_every: None, prune: None };
    if print {
        println!(
            "fairtrain prune: dense training ({}) into {}",
            dense_settings.algorithm.name(),
            out.join("dense").display()
        );
    }
    let dense_dir = out.join("dense");
    execute(&dense_settings, &data, &dense_dir, &options, started, None)?;
    let dense = fairtrain::model::saved::load(&dense_dir)?.params;
    if print {
        println!("pruning to sparsity {} with {}", args.sparsity, method.name());
    }
    let options = RunOptions {
        print,
        progress: print,
        evaluate_every: None,
        prune: Some(PruneStage { dense, method, sparsity: args.sparsity }),
    };
    let metrics = execute(&prune_settings, &data, &out, &options, started, None)?;
    if print {
        println!("sparsity {:.4} ({} pruning)", metrics.sparsity.unwrap_or(0.0), method.name());
    }
    Ok(())
}
