//! `fairtrain bench`: the paper's protocol with one command. A grid of
//! data sets, groups, constraints, bounds, presets, algorithms and seeds;
//! every cell is a `fairtrain train` run in its own process (so memory is
//! measured per run and a crash stays in its run), in parallel over
//! `--jobs`, each evaluating the full train and test splits at regular
//! points of its budget (not counted as training time) and streaming its
//! history to disk. `results.csv` gets one row per run, rewritten after
//! every finished run, and `--resume` continues an interrupted bench.
//! `--speed` measures iterations per second and peak memory instead.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use fairtrain::algorithms::{AlgorithmName, Preset};
use fairtrain::constraints::{Notion, Sense};
use fairtrain::data::DataSource;
use fairtrain::postprocess::Postprocess;
use fairtrain::run::{
    CHECKPOINT_FILE, CONFIG_FILE, ConstraintSpec, Metrics, Origin, RunConfig, timestamp, write_atomic,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::args::{DataArgs, TrainArgs};

/// Options of `fairtrain bench`; the same names are the keys of a
/// `--config` file (flags override it).
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BenchArgs {
    /// Data sets, as `train --data` takes them [default: adult]
    #[arg(long, value_delimiter = ',', help_heading = "Grid")]
    #[serde(rename = "datasets", default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<String>>,

    /// Group columns, each a `train --group` value (a;b for intersections) [default: each data set's]
    #[arg(long, value_delimiter = ',', help_heading = "Grid")]
    #[serde(rename = "groups", default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Vec<String>>,

    /// Constraints (notion names) [default: loss-parity]
    #[arg(long, value_delimiter = ',', help_heading = "Grid")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<String>>,

    /// Bounds; each constraint is run at each bound (a list gives the accuracy-fairness trade-off) [default: the notion's]
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, help_heading = "Grid")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Vec<f64>>,

    /// Algorithms (train --algorithm names) or methods (fairbatch, forml, fermi; with --constraints equal-opportunity, equalized-odds or demographic-parity); NAME+group-thresholds is NAME post-processed with train --postprocess group-thresholds (e.g. adam+group-thresholds) [default: ssl-alm,ssw,adam]
    #[arg(long, value_delimiter = ',', help_heading = "Grid")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<String>>,

    /// Settings presets to compare [default: paper]
    #[arg(long, value_delimiter = ',', help_heading = "Grid")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presets: Option<Vec<String>>,

    /// One preset (the same as --presets NAME); --preset paper runs the paper's grid with the paper's settings
    #[arg(long, help_heading = "Grid")]
    #[serde(skip)]
    pub preset: Option<String>,

    /// Seeds 0..N-1 for each cell [default: 10]
    #[arg(long, help_heading = "Grid")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeds: Option<u64>,

    /// Budget of each run in iterations
    #[arg(long, help_heading = "Budget")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,

    /// Budget of each run in seconds of training [default: 30]
    #[arg(long, help_heading = "Budget")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_budget: Option<f64>,

    /// Full train/test evaluations per run, evenly spaced over the budget [default: 40]
    #[arg(long, help_heading = "Budget")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_points: Option<u64>,

    /// Runs at a time [default: 1; timings are cleanest with 1]
    #[arg(long, help_heading = "Execution")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs: Option<usize>,

    /// Evaluation threads per run [default: 1]
    #[arg(long, help_heading = "Execution")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,

    /// Output directory [default: benches/<UTC timestamp>]
    #[arg(long, help_heading = "Execution")]
    #[serde(skip)]
    pub out: Option<PathBuf>,

    /// Continue the bench in --out: finished runs are kept, the rest run
    #[arg(long, help_heading = "Execution")]
    #[serde(skip)]
    pub resume: bool,

    /// Replace a previous bench in --out
    #[arg(long, help_heading = "Execution")]
    #[serde(skip)]
    pub overwrite: bool,

    /// Never touch the network (data must be in the cache)
    #[arg(long, help_heading = "Execution")]
    #[serde(skip)]
    pub offline: bool,

    /// Data cache directory
    #[arg(long, value_name = "DIR", help_heading = "Execution")]
    #[serde(skip)]
    pub cache: Option<PathBuf>,

    /// Speed benchmark: iterations/s and peak memory per algorithm on the first data set (paper batches and batch 256; 1 and all threads)
    #[arg(long, help_heading = "Execution")]
    #[serde(skip)]
    pub speed: bool,

    /// Read the grid from a TOML file with these keys (datasets, groups, constraints, bounds, algorithms, presets, seeds, iterations or time-budget) and [hyperparameters.ALGORITHM] tables of train keys
    #[arg(long, value_name = "FILE.toml", help_heading = "Execution")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Per-algorithm hyperparameters (config file only): train keys such as lr = 0.01
    #[arg(skip)]
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hyperparameters: BTreeMap<String, toml::Table>,
}

/// The bench's resolved grid, written to `bench.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Grid {
    pub datasets: Vec<String>,
    /// Per data set: the groups (empty: the data set's default).
    pub groups: Vec<String>,
    pub constraints: Vec<String>,
    /// Empty: each notion's default bound.
    pub bounds: Vec<f64>,
    pub algorithms: Vec<String>,
    pub presets: Vec<String>,
    pub seeds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_budget: Option<f64>,
    pub eval_points: u64,
    pub threads: usize,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hyperparameters: BTreeMap<String, toml::Table>,
}

/// The grid file's name in the output directory.
pub const GRID_FILE: &str = "bench.toml";
/// The results file's name.
pub const RESULTS_FILE: &str = "results.csv";

/// One run of the grid.
#[derive(Debug, Clone)]
pub struct Run {
    /// Directory name under `runs/`.
    pub id: String,
    /// The run's configuration (`train --config` reads it).
    pub config: RunConfig,
    pub algorithm: String,
    pub preset: String,
    pub dataset: String,
    pub group: String,
    pub constraint: String,
    /// The bounds this run reports against (several for an unconstrained
    /// run, which does not depend on the bound).
    pub bounds: Vec<f64>,
    pub seed: u64,
}

fn read_bench_config(path: &Path) -> Result<BenchArgs> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start].lines().count().max(1));
        match line {
            Some(line) => anyhow!("config file {}, line {line}: {}", path.display(), e.message().trim()),
            None => anyhow!("config file {}: {}", path.display(), e.message().trim()),
        }
    })
}

impl BenchArgs {
    /// The grid: flags over the config file over the paper's defaults.
    pub fn grid(&self) -> Result<Grid> {
        let file = match &self.config {
            Some(p) => read_bench_config(p)?,
            None => BenchArgs::default(),
        };
        let pick = |flag: &Option<Vec<String>>, key: &Option<Vec<String>>| flag.clone().or_else(|| key.clone());
        let presets = match (&self.preset, &self.presets) {
            (Some(_), Some(_)) => bail!("give --preset or --presets, not both"),
            (Some(p), None) => Some(vec![p.clone()]),
            (None, p) => pick(p, &file.presets),
        }
        .unwrap_or_else(|| vec!["paper".into()]);
        for p in &presets {
            p.parse::<Preset>()?;
        }
        let (iterations, time_budget) = match (self.iterations, self.time_budget) {
            (Some(n), None) => (Some(n), None),
            (None, Some(s)) => (None, Some(s)),
            (Some(_), Some(_)) => bail!("give only one of --iterations, --time-budget"),
            (None, None) => match (file.iterations, file.time_budget) {
                (Some(_), Some(_)) => bail!("the config file gives both iterations and time-budget"),
                (None, None) => (None, Some(30.0)),
                other => other,
            },
        };
        if iterations == Some(0) {
            bail!("invalid value for iterations: 0 (must be at least 1)");
        }
        if let Some(s) = time_budget.filter(|s| !(s.is_finite() && *s > 0.0)) {
            bail!("invalid value for time-budget: {s} (must be a positive number of seconds)");
        }
        let algorithms = pick(&self.algorithms, &file.algorithms)
            .unwrap_or_else(|| vec!["ssl-alm".into(), "ssw".into(), "adam".into()]);
        for a in &algorithms {
            variant(a)?;
        }
        let constraints = pick(&self.constraints, &file.constraints).unwrap_or_else(|| vec!["loss-parity".into()]);
        for c in &constraints {
            c.parse::<Notion>()?;
        }
        let bounds = self.bounds.clone().or_else(|| file.bounds.clone()).unwrap_or_default();
        if let Some(b) = bounds.iter().find(|b| !(b.is_finite() && **b >= 0.0)) {
            bail!("invalid value for bounds: {b} (must be a non-negative number)");
        }
        let seeds = self.seeds.or(file.seeds).unwrap_or(10);
        if seeds == 0 {
            bail!("invalid value for seeds: 0 (must be at least 1)");
        }
        let eval_points = self.eval_points.or(file.eval_points).unwrap_or(40);
        if eval_points == 0 {
            bail!("invalid value for eval-points: 0 (must be at least 1)");
        }
        let mut hyperparameters = file.hyperparameters.clone();
        for name in hyperparameters.keys() {
            name.parse::<AlgorithmName>().map_err(|e| anyhow!("[hyperparameters.{name}]: {e}"))?;
        }
        hyperparameters.extend(self.hyperparameters.clone());
        Ok(Grid {
            datasets: pick(&self.data, &file.data).unwrap_or_else(|| vec!["adult".into()]),
            groups: pick(&self.group, &file.group).unwrap_or_default(),
            constraints,
            bounds,
            algorithms,
            presets,
            seeds,
            iterations,
            time_budget,
            eval_points,
            threads: self.threads.or(file.threads).unwrap_or(1).max(1),
            hyperparameters,
        })
    }
}

pub(crate) fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

/// A grid entry: an algorithm (or method) name, and the post-processing
/// after it (`NAME+group-thresholds`).
fn variant(entry: &str) -> Result<(AlgorithmName, Postprocess)> {
    let (name, postprocess) = match entry.split_once('+') {
        None => (entry, Postprocess::Off),
        Some((name, "group-thresholds")) => (name, Postprocess::GroupThresholds),
        Some((_, other)) => {
            bail!("'{entry}': unknown post-processing '{other}' after '+' (the one there is: group-thresholds)")
        }
    };
    Ok((name.parse()?, postprocess))
}

/// Runs that do not depend on the bound: unconstrained and not
/// post-processed (post-processing fits each bound).
fn is_unconstrained(entry: &str) -> bool {
    matches!(entry, "sgd" | "adam")
}

impl Grid {
    /// Every run, validated: each one's settings resolve as `train` would.
    pub fn runs(&self) -> Result<Vec<Run>> {
        let mut runs = Vec::new();
        for dataset in &self.datasets {
            let source = DataSource::parse(dataset)?;
            let groups: Vec<Option<String>> =
                if self.groups.is_empty() { vec![None] } else { self.groups.iter().cloned().map(Some).collect() };
            for group in &groups {
                let group_label = group
                    .clone()
                    .unwrap_or_else(|| source.default_groups().map(|g| g.join(";")).unwrap_or_else(|| "(none)".into()));
                for constraint in &self.constraints {
                    let notion: Notion = constraint.parse()?;
                    let bounds: Vec<Option<f64>> = if self.bounds.is_empty() {
                        vec![None]
                    } else {
                        self.bounds.iter().copied().map(Some).collect()
                    };
                    for preset in &self.presets {
                        for algorithm in &self.algorithms {
                            // An unconstrained run does not depend on the bound: one run reports all.
                            let cells: Vec<Vec<Option<f64>>> = if is_unconstrained(algorithm) {
                                vec![bounds.clone()]
                            } else {
                                bounds.iter().map(|b| vec![*b]).collect()
                            };
                            for cell in cells {
                                for seed in 0..self.seeds {
                                    let run =
                                        self.run(dataset, group, &group_label, notion, &cell, preset, algorithm, seed)?;
                                    runs.push(run);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(runs)
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        dataset: &str,
        group: &Option<String>,
        group_label: &str,
        notion: Notion,
        bounds: &[Option<f64>],
        preset: &str,
        algorithm: &str,
        seed: u64,
    ) -> Result<Run> {
        let first_bound = bounds[0];
        let (name, postprocess) = variant(algorithm)?;
        let args = TrainArgs {
            input: DataArgs {
                data: Some(dataset.to_string()),
                group: group.as_ref().map(|g| g.split(';').map(|p| p.trim().to_string()).collect()),
                ..DataArgs::default()
            },
            constraint: Some(vec![ConstraintSpec::notion(notion)]),
            bound: first_bound.map(|b| vec![b]),
            // A method name runs as `--method` (it takes the algorithm's place).
            algorithm: (!name.is_method()).then_some(name),
            method: name.is_method().then_some(name),
            preset: Some(preset.parse()?),
            postprocess: Some(postprocess).filter(|p| *p != Postprocess::Off),
            seed: Some(seed),
            iterations: self.iterations,
            time_budget: self.time_budget,
            threads: Some(self.threads),
            eval_every: Some(match (self.iterations, self.time_budget) {
                (Some(n), _) => (n / self.eval_points).max(1).to_string(),
                (_, Some(s)) => format!("{}s", s / self.eval_points as f64),
                _ => unreachable!("a budget is set"),
            }),
            ..TrainArgs::default()
        };
        let mut config = args.run_config()?;
        if let Some(h) = self.hyperparameters.get(name.as_str()) {
            let keys = RunConfig::from_table(h.clone(), Origin::Api)
                .map_err(|e| anyhow!("[hyperparameters.{algorithm}]: {}", message(&e)))?;
            config.overlay(keys);
        }
        let plan =
            config.resolve().map_err(|e| anyhow!("run {algorithm} on {dataset} ({preset}, seed {seed}): {e}"))?;
        let bounds: Vec<f64> = match first_bound {
            Some(_) => bounds.iter().map(|b| b.expect("all given")).collect(),
            None => vec![plan.constraints[0].bound],
        };
        let bound_part = if is_unconstrained(algorithm) { String::new() } else { format!("_b{}", bounds[0]) };
        let id = slug(&format!(
            "{}_{}_{}{bound_part}_{algorithm}_{preset}_s{seed}",
            plan.source.data_value(),
            group_label,
            notion.name()
        ));
        Ok(Run {
            id,
            config,
            algorithm: algorithm.to_string(),
            preset: preset.to_string(),
            dataset: plan.source.name(),
            group: group_label.to_string(),
            constraint: notion.name().to_string(),
            bounds,
            seed,
        })
    }
}

/// Runs `fairtrain bench` (`--speed` is [`crate::speed::run`]).
pub fn run(args: BenchArgs) -> Result<()> {
    let grid = args.grid()?;
    let runs = grid.runs()?;
    // Every data set loads (and its groups exist) before anything runs.
    let mut checked = std::collections::HashSet::new();
    for run in &runs {
        let key = (run.config.data.source.clone(), run.config.data.group.clone());
        if checked.insert(key) {
            let plan = run.config.resolve()?;
            crate::train_cmd::load_data(&plan, args.cache.as_deref(), args.offline)
                .map_err(|e| anyhow!("{}: {e}", run.dataset))?;
        }
    }
    let out = bench_dir(args.out.as_deref(), &grid, args.resume, args.overwrite)?;
    let runs_dir = out.join("runs");
    std::fs::create_dir_all(&runs_dir).with_context(|| format!("cannot create {}", runs_dir.display()))?;
    // One bench at a time in a directory: a second one would run the same
    // runs again and collide on their files.
    let _lock = fairtrain::run::DirLock::acquire(&out)?;
    let header = "# fairtrain bench: the resolved grid. Re-run with `fairtrain bench --config bench.toml`.\n";
    let text = toml::to_string(&grid).context("internal: grid does not serialize")?;
    write_atomic(&out, GRID_FILE, format!("{header}{text}").as_bytes())?;

    let budget = match (grid.iterations, grid.time_budget) {
        (Some(n), _) => format!("{n} iterations"),
        (_, Some(s)) => format!("{s} s"),
        _ => unreachable!(),
    };
    let jobs = args.jobs.unwrap_or(1).max(1);
    errln!(
        "fairtrain bench: {} runs ({} algorithms x {} presets x {} seeds ...), {budget} each, {jobs} at a time; \
         full-split evaluations {} per run, not counted as training time; output {}",
        runs.len(),
        grid.algorithms.len(),
        grid.presets.len(),
        grid.seeds,
        grid.eval_points,
        out.display()
    );
    let results: Mutex<Vec<Option<Metrics>>> = Mutex::new(vec![None; runs.len()]);
    let mut todo = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        match Metrics::completed(&runs_dir.join(&run.id)) {
            Some(m) if args.resume => results.lock().expect("not poisoned")[i] = Some(m),
            _ => todo.push(i),
        }
    }
    let skipped = runs.len() - todo.len();
    if skipped > 0 {
        errln!("resuming: {skipped} finished runs kept, {} to run", todo.len());
    }
    write_results(&out, &runs, &results.lock().expect("not poisoned"))?;

    let bar = overall_bar(todo.len() as u64);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let exe = std::env::current_exe().context("cannot find the fairtrain executable")?;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(todo.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = todo.get(k) else { break };
                    let run = &runs[i];
                    bar.set_message(run.id.clone());
                    match execute_run(&exe, &runs_dir, run, &args) {
                        Ok(metrics) => {
                            let line = describe(run, &metrics);
                            let mut all = results.lock().expect("not poisoned");
                            all[i] = Some(metrics);
                            if let Err(e) = write_results(&out, &runs, &all) {
                                failed.store(true, Ordering::Relaxed);
                                first_error.lock().expect("not poisoned").get_or_insert(e);
                            }
                            drop(all);
                            if bar.is_hidden() {
                                errln!("[{}/{}] {line}", bar.position() + 1, todo.len());
                            }
                            bar.inc(1);
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            first_error.lock().expect("not poisoned").get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = first_error.into_inner().expect("not poisoned") {
        return Err(
            e.context(format!("the bench stopped; finished runs are in {} (continue with --resume)", out.display()))
        );
    }
    errln!(
        "finished {} runs in {:.0} s; results in {}; `fairtrain report {}` writes report.html and report.md",
        todo.len(),
        started.elapsed().as_secs_f64(),
        out.join(RESULTS_FILE).display(),
        out.display()
    );
    Ok(())
}

/// The output directory: refuses an existing bench unless resuming (with
/// the same grid) or overwriting.
fn bench_dir(out: Option<&Path>, grid: &Grid, resume: bool, overwrite: bool) -> Result<PathBuf> {
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => {
            if resume {
                bail!("--resume needs --out DIR (the bench to continue)");
            }
            PathBuf::from("benches").join(timestamp())
        }
    };
    let existing = dir.join(GRID_FILE);
    if existing.exists() {
        if resume {
            let text =
                std::fs::read_to_string(&existing).with_context(|| format!("cannot read {}", existing.display()))?;
            let old: Grid = toml::from_str(&text).map_err(|e| anyhow!("{}: {}", existing.display(), e.message()))?;
            if &old != grid {
                bail!(
                    "{} holds a bench with another grid (budget, seeds, algorithms...); resume it with the same \
                     settings (`--config {}`), or choose another --out",
                    dir.display(),
                    existing.display()
                );
            }
        } else if overwrite {
            let _ = std::fs::remove_dir_all(dir.join("runs"));
            let _ = std::fs::remove_file(dir.join(RESULTS_FILE));
        } else {
            bail!(
                "output directory {} already holds a bench; continue it with --resume, replace it with \
                 --overwrite, or choose another --out",
                dir.display()
            );
        }
    } else if resume {
        bail!("nothing to resume: {} holds no bench ({GRID_FILE} is missing)", dir.display());
    }
    fairtrain::run::create_dir(&dir)?;
    Ok(dir)
}

/// The message of an error without its `invalid value for KEY:` prefix
/// when the key is already in the message.
fn message(e: &fairtrain::Error) -> String {
    match e {
        fairtrain::Error::Config { field, message } if message.contains(field.as_str()) => message.clone(),
        other => other.to_string(),
    }
}

/// Runs one cell as `fairtrain train` in a child process; with `--resume`,
/// a run interrupted after a checkpoint continues from it.
fn execute_run(exe: &Path, runs_dir: &Path, run: &Run, bench: &BenchArgs) -> Result<Metrics> {
    let dir = runs_dir.join(&run.id);
    let mut command = Command::new(exe);
    if bench.resume && dir.join(CHECKPOINT_FILE).exists() && dir.join(CONFIG_FILE).exists() {
        command.arg("train").arg("--resume").arg("--out").arg(&dir).arg("--quiet");
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let request = dir.join("request.toml");
        std::fs::write(&request, run.config.to_toml())
            .with_context(|| format!("cannot write {}", request.display()))?;
        command.arg("train").arg("--config").arg(&request).arg("--out").arg(&dir).arg("--quiet");
    }
    if bench.offline {
        command.arg("--offline");
    }
    if let Some(c) = &bench.cache {
        command.arg("--cache").arg(c);
    }
    let output = command.output().with_context(|| format!("cannot start {}", exe.display()))?;
    let log = dir.join("log.txt");
    let _ = std::fs::write(&log, [output.stdout.as_slice(), output.stderr.as_slice()].concat());
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("no message");
        bail!("run {} failed: {last} (log: {})", run.id, log.display());
    }
    Metrics::completed(&dir).ok_or_else(|| anyhow!("run {} wrote no completed metrics.json", run.id))
}

pub(crate) fn overall_bar(n: u64) -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(n), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:32} {pos}/{len} runs · {elapsed} elapsed, eta {eta} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn describe(run: &Run, m: &Metrics) -> String {
    let first = |r: &fairtrain::evaluation::SplitReport| r.constraints.first().and_then(|c| c.value);
    format!(
        "{} {} seed {}: {} it in {:.1} s, test objective {:.4}, test {} {:.4}",
        run.algorithm,
        run.preset,
        run.seed,
        m.iterations,
        m.wall_seconds,
        m.test.objective.unwrap_or(f64::NAN),
        run.constraint,
        first(&m.test).unwrap_or(f64::NAN),
    )
}

/// The columns of `results.csv`.
pub const RESULT_COLUMNS: [&str; 29] = [
    "algorithm",
    "preset",
    "dataset",
    "group",
    "constraint",
    "bound",
    "seed",
    "iterations",
    "wall_seconds",
    "iterations_per_second",
    "peak_rss_mb",
    "train_objective",
    "train_accuracy",
    "train_constraint_value",
    "train_max_violation",
    "test_objective",
    "test_accuracy",
    "test_constraint_value",
    "test_max_violation",
    "test_dp_gap",
    "test_eopp_gap",
    "test_eo_gap",
    "certificate_confidence",
    "certificate_bound",
    "certified",
    "near_constant",
    "evaluation_seconds",
    "stop_reason",
    "run_dir",
];

/// Rewrites `results.csv` (atomically) from the finished runs.
fn write_results(out: &Path, runs: &[Run], results: &[Option<Metrics>]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(RESULT_COLUMNS)?;
    let num = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x}"));
    for (run, m) in runs.iter().zip(results) {
        let Some(m) = m else { continue };
        let (train_c, test_c) = (m.train.constraints.first(), m.test.constraints.first());
        let cert = m.certificates.first();
        for &bound in &run.bounds {
            // Violations against this row's bound (the run's own for
            // constrained runs; each bound for an unconstrained one).
            let at_least = test_c.is_some_and(|c| c.sense == Sense::AtLeast);
            let violation = |value: Option<f64>| {
                value.map(|v| if at_least { bound - v } else { v - bound }).map_or(String::new(), |x| x.to_string())
            };
            let train_value = train_c.and_then(|c| c.value);
            let test_value = test_c.and_then(|c| c.value);
            let cert_bound = cert.and_then(|c| c.value_bound);
            let certified = cert_bound.map(|b| if at_least { b >= bound } else { b <= bound });
            w.write_record([
                run.algorithm.clone(),
                run.preset.clone(),
                run.dataset.clone(),
                run.group.clone(),
                run.constraint.clone(),
                bound.to_string(),
                run.seed.to_string(),
                m.iterations.to_string(),
                num(Some(m.wall_seconds)),
                num(Some(m.iterations_per_second)),
                num(m.peak_rss_mb),
                num(m.train.objective),
                num(m.train.accuracy),
                num(train_value),
                violation(train_value),
                num(m.test.objective),
                num(m.test.accuracy),
                num(test_value),
                violation(test_value),
                num(m.test.dp_gap),
                num(m.test.eopp_gap),
                num(m.test.eo_gap),
                num(cert.map(|c| c.confidence)),
                cert_bound.map_or(String::new(), |b| b.to_string()),
                certified.map_or(String::new(), |c| c.to_string()),
                m.warnings.iter().any(|w| w.kind == "near-constant").to_string(),
                num(Some(m.evaluation_seconds)),
                serde_json::to_value(m.stop_reason).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                format!("runs/{}", run.id),
            ])?;
        }
    }
    let bytes = w.into_inner().map_err(|e| anyhow!("internal: {e}"))?;
    Ok(write_atomic(out, RESULTS_FILE, &bytes)?)
}
