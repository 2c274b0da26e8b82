//! `fairtrain bench --speed`: iterations per second and peak memory of
//! each algorithm on one data set, at the paper preset's batch sizes and at
//! batch 256, with one thread and with all threads. Every measurement is a
//! `fairtrain train` process, so the figures are exactly what `train`
//! reports for the same settings (`iterations / wall_seconds` and the
//! process's peak resident memory).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use fairtrain::run::{CONFIG_FILE, Metrics, RunConfig, create_dir, timestamp, write_atomic};

use crate::bench_cmd::BenchArgs;

/// The algorithms measured when none are given: every constrained method
/// and the unconstrained baseline.
const DEFAULT_ALGORITHMS: [&str; 11] =
    ["ssl-alm", "alm", "ialm", "gda", "nupi", "spbm", "penalty", "proxy-lagrangian", "ssw", "ghost", "adam"];

/// Runs the speed benchmark.
pub fn run(args: &BenchArgs) -> Result<()> {
    let grid = &args.grid()?;
    let dataset = grid.datasets.first().cloned().unwrap_or_else(|| "adult".into());
    let algorithms: Vec<String> = match &args.algorithms {
        Some(a) => a.clone(),
        None => DEFAULT_ALGORITHMS.iter().map(|s| s.to_string()).collect(),
    };
    let iterations = grid.iterations.unwrap_or(20_000);
    if args.time_budget.is_some() {
        bail!("--speed measures a fixed number of iterations; give --iterations (default 20000), not --time-budget");
    }
    let all_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let out = match &args.out {
        Some(d) => d.clone(),
        None => PathBuf::from("benches").join(format!("{}-speed", timestamp())),
    };
    if out.join("speed.csv").exists() && !args.overwrite {
        bail!("{} already holds a speed benchmark; pass --overwrite or choose another --out", out.display());
    }
    create_dir(&out)?;
    let exe = std::env::current_exe().context("cannot find the fairtrain executable")?;
    let mut threads = vec![1];
    if all_threads > 1 {
        threads.push(all_threads);
    }
    outln!(
        "speed on {dataset}: {iterations} iterations per run, one process each; it/s = iterations / wall_seconds \
         of metrics.json"
    );
    outln!("{:<18} {:>10} {:>8} {:>12} {:>10}", "algorithm", "batch", "threads", "it/s", "peak MB");
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "algorithm",
        "dataset",
        "batch",
        "threads",
        "iterations",
        "wall_seconds",
        "iterations_per_second",
        "peak_rss_mb",
    ])?;
    for algorithm in &algorithms {
        // The batch sizes an algorithm's steps use (Stochastic Ghost draws
        // its own; baselines draw group batches only for their history).
        let (objective, groups) = fairtrain::run::applicability::batch_keys(algorithm.parse()?);
        let batches: &[&str] = if objective { &["paper", "256"] } else { &["paper"] };
        for &batch in batches {
            for &t in &threads {
                let id = format!("{algorithm}_batch-{batch}_threads-{t}");
                let dir = out.join("runs").join(&id);
                let _ = std::fs::remove_dir_all(&dir);
                let mut command = Command::new(&exe);
                command.args(["train", "--data", &dataset, "--algorithm", algorithm, "--preset", "paper", "--quiet"]);
                command.args(["--iterations", &iterations.to_string(), "--threads", &t.to_string()]);
                command.arg("--out").arg(&dir);
                if batch != "paper" {
                    command.args(["--batch-size", batch]);
                    if groups {
                        command.args(["--group-batch-size", batch]);
                    }
                }
                if args.offline {
                    command.arg("--offline");
                }
                if let Some(c) = &args.cache {
                    command.arg("--cache").arg(c);
                }
                let o = command.output().with_context(|| format!("cannot start {}", exe.display()))?;
                if !o.status.success() {
                    let stderr = String::from_utf8_lossy(&o.stderr);
                    bail!("{id} failed: {}", stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("no message"));
                }
                let m = Metrics::completed(&dir).ok_or_else(|| anyhow!("{id} wrote no metrics.json"))?;
                let batch_label =
                    if batch == "paper" { format!("paper ({})", batch_of(&dir)) } else { batch.to_string() };
                let rate = m.iterations_per_second;
                let mem = m.peak_rss_mb;
                outln!(
                    "{:<18} {:>10} {:>8} {:>12.0} {:>10}",
                    algorithm,
                    batch_label,
                    t,
                    rate,
                    mem.map_or("-".to_string(), |m| format!("{m:.0}"))
                );
                w.write_record([
                    algorithm.clone(),
                    dataset.clone(),
                    batch_label,
                    t.to_string(),
                    m.iterations.to_string(),
                    m.wall_seconds.to_string(),
                    rate.to_string(),
                    mem.map_or(String::new(), |m| m.to_string()),
                ])?;
            }
        }
    }
    let bytes = w.into_inner().map_err(|e| anyhow!("internal: {e}"))?;
    write_atomic(&out, "speed.csv", &bytes)?;
    outln!("saved {}", out.join("speed.csv").display());
    Ok(())
}

/// The objective/group batch sizes a run used, from its config.toml.
fn batch_of(dir: &std::path::Path) -> String {
    let training = RunConfig::from_file(&dir.join(CONFIG_FILE)).map(|c| c.training).unwrap_or_default();
    match (training.batch_size, training.group_batch_size) {
        (Some(a), Some(b)) => format!("{a}/{b}"),
        _ => "?".into(),
    }
}
