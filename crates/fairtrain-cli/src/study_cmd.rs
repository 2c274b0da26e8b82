//! `fairtrain study optimizers`: the optimizer-fairness study. The same
//! model, data and seed trained with SGD, SGD with momentum, RMSProp and
//! Adam (nothing else changes); per data set, the accuracy and the DP,
//! equal-opportunity and equalized-odds gaps with 95% intervals over the
//! seeds, and the Wilcoxon signed-rank test of each optimizer against SGD,
//! paired by seed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName, PrimalConfig, PrimalKind};
use fairtrain::evaluation::stats::{mean_ci, wilcoxon_signed_rank};

use fairtrain::run::{choose_dir, write_atomic};

use crate::args::{RunFlags, TrainArgs};
use crate::train_cmd::{execute_quietly, load_data};

/// Flags of `fairtrain study optimizers`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// Data sets, comma-separated (as `train --data`; synthetic variants such as synthetic:minority=0.1 set the group imbalance) [default: synthetic]
    #[arg(long, value_delimiter = ',')]
    pub data: Option<Vec<String>>,
    /// Number of seeds (0..N) per optimizer and data set [default: 5]
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Iterations per run [default: 20000]
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Minibatch size [default: 64]
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Hidden layer widths [default: 64,32]
    #[arg(long)]
    pub hidden: Option<String>,
    /// Output directory: results.csv, summary.csv, summary.md, and each run in runs/
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing study in --out
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

/// The optimizers and their step sizes: each the usual default of its kind
/// (PyTorch's for Adam and RMSProp; SGD at 0.05, momentum 0.9 at 0.005 for
/// the same effective step).
const OPTIMIZERS: [(&str, PrimalKind, f32, f32); 4] = [
    ("sgd", PrimalKind::Sgd, 0.05, 0.0),
    ("momentum", PrimalKind::Sgd, 0.005, 0.9),
    ("rmsprop", PrimalKind::RmsProp, 1e-3, 0.0),
    ("adam", PrimalKind::Adam, 1e-3, 0.0),
];

const METRICS: [&str; 4] = ["accuracy", "dp_gap", "eopp_gap", "eo_gap"];

/// The output directory of a study: a new one, or `out` when it holds no
/// study yet (or `overwrite`).
pub(crate) fn study_dir(out: Option<&std::path::Path>, overwrite: bool) -> Result<PathBuf> {
    let out = choose_dir(out, overwrite)?;
    if !overwrite && out.join("results.csv").exists() {
        bail!(
            "output directory {} already holds a study (results.csv); choose another --out or pass --overwrite",
            out.display()
        );
    }
    Ok(out)
}

/// The progress bar over a study's `total` runs (hidden when `quiet`).
pub(crate) fn study_bar(total: u64, quiet: bool) -> indicatif::ProgressBar {
    let bar = crate::bench_cmd::overall_bar(total);
    if quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// Runs `fairtrain study optimizers`.
pub fn run(args: StudyArgs) -> Result<()> {
    let started = Instant::now();
    let seeds = args.seeds.unwrap_or(5);
    if seeds == 0 {
        bail!(fairtrain::Error::config("seeds", "0 (must be at least 1)"));
    }
    let datasets = args.data.clone().unwrap_or_else(|| vec!["synthetic".into()]);
    let out = study_dir(args.out.as_deref(), args.overwrite)?;
    // (data, optimizer) -> per-seed metric values.
    let mut rows: Vec<(String, &str, u64, [f64; 4])> = Vec::new();
    let total = datasets.len() as u64 * seeds * OPTIMIZERS.len() as u64;
    let bar = study_bar(total, args.run.quiet);
    for data_name in &datasets {
        let base = TrainArgs {
            input: crate::args::DataArgs { data: Some(data_name.clone()), ..Default::default() },
            algorithm: Some(AlgorithmName::Sgd),
            iterations: args.iterations,
            batch_size: Some(args.batch_size.unwrap_or(64)),
            hidden: args.hidden.clone(),
            // Unconstrained runs: the returned model is the last one.
            validation_fraction: Some(0.0),
            checkpoint_every: Some("off".into()),
            ..TrainArgs::default()
        };
        let plan = base.run_config().and_then(|c| Ok(c.resolve()?)).with_context(|| format!("data {data_name}"))?;
        let data = load_data(&plan, args.run.cache.as_deref(), args.run.offline)?;
        for seed in 0..seeds {
            for (name, kind, lr, momentum) in OPTIMIZERS {
                let mut p = plan.clone();
                p.seed = seed;
                p.algorithm = AlgorithmConfig::Unconstrained {
                    name: if kind == PrimalKind::Adam { AlgorithmName::Adam } else { AlgorithmName::Sgd },
                    primal: PrimalConfig { kind, lr, momentum, ..PrimalConfig::sgd(lr) },
                };
                let dir =
                    out.join("runs").join(crate::bench_cmd::slug(data_name)).join(name).join(format!("seed{seed}"));
                let m =
                    execute_quietly(&p, &data, &dir).with_context(|| format!("{name} on {data_name}, seed {seed}"))?;
                let t = &m.metrics.test;
                let v = [
                    t.accuracy.unwrap_or(f64::NAN),
                    t.dp_gap.unwrap_or(f64::NAN),
                    t.eopp_gap.unwrap_or(f64::NAN),
                    t.eo_gap.unwrap_or(f64::NAN),
                ];
                rows.push((data_name.clone(), name, seed, v));
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();

    let mut csv = String::from("data,optimizer,seed,accuracy,dp_gap,eopp_gap,eo_gap\n");
    for (d, o, s, v) in &rows {
        let _ = writeln!(csv, "{d},{o},{s},{},{},{},{}", v[0], v[1], v[2], v[3]);
    }
    let mut summary = String::from("data,optimizer,metric,mean,ci95_half_width,wilcoxon_p_vs_sgd\n");
    let mut md = String::from(
        "# Optimizer study\n\nTest metrics, mean ± 95% t-interval over seeds; p: two-sided Wilcoxon signed-rank test \
         against SGD, paired by seed.\n\n| data | optimizer | accuracy | DP gap | EOpp gap | EOdds gap |\n| --- | --- \
         | --- | --- | --- | --- |\n",
    );
    for d in &datasets {
        let values =
            |o: &str, k: usize| -> Vec<f64> { rows.iter().filter(|r| &r.0 == d && r.1 == o).map(|r| r.3[k]).collect() };
        for (o, ..) in OPTIMIZERS {
            let mut cells = Vec::new();
            for (k, metric) in METRICS.iter().enumerate() {
                let x = values(o, k);
                let (mean, half) = mean_ci(&x);
                let p = if o == "sgd" { f64::NAN } else { wilcoxon_signed_rank(&x, &values("sgd", k)) };
                let _ = writeln!(summary, "{d},{o},{metric},{mean},{half},{p}");
                cells.push(if p.is_nan() {
                    format!("{mean:.4} ± {half:.4}")
                } else {
                    format!("{mean:.4} ± {half:.4} (p {p:.3})")
                });
            }
            let _ = writeln!(md, "| {d} | {o} | {} |", cells.join(" | "));
        }
    }
    write_atomic(&out, "results.csv", csv.as_bytes())?;
    write_atomic(&out, "summary.csv", summary.as_bytes())?;
    write_atomic(&out, "summary.md", md.as_bytes())?;
    if !args.run.quiet {
        out!("{md}");
        outln!(
            "\n{} runs in {:.1} s; outputs in {}: results.csv, summary.csv, summary.md, runs/",
            rows.len(),
            started.elapsed().as_secs_f64(),
            out.display()
        );
    }
    Ok(())
}
