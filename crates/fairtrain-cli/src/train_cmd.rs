//! `fairtrain train`: the library's run ([`fairtrain::run`]) with a
//! progress bar, printed results and a run directory. Parsing the flags,
//! printing and the files are all this command adds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fairtrain::distributed::Collective;
use fairtrain::run::{
    BudgetSetting, CHECKPOINT_FILE, CONFIG_FILE, Origin, Resumable, RunConfig, RunData, RunFolder, RunOptions,
    RunOutcome, RunPlan, Session, choose_dir,
};
use fairtrain::train::{Budget, Observers, StopReason};

use crate::args::TrainArgs;
use crate::progress::Progress;

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

/// A run that stopped early on a signal.
#[derive(Debug)]
pub struct Interrupted {
    pub iteration: u64,
    pub out: PathBuf,
    /// Whether a checkpoint was written (not with `--checkpoint-every off`).
    pub resumable: bool,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.resumable {
            return write!(
                f,
                "interrupted at iteration {}; outputs are in {} (no checkpoint: the run had --checkpoint-every off, \
                 so it cannot be resumed)",
                self.iteration,
                self.out.display()
            );
        }
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

/// Where the resume tests stop a run as SIGKILL would (no destructor, no
/// flush): `FAIRTRAIN_TEST_KILL=record:N` right after the history row of
/// iteration N, `checkpoint:N` right after the checkpoint of iteration N,
/// `finish` after training, before the model and metrics are written; a
/// suffix `/K` stops at the K-th time the point is reached (a restarted
/// run passes iteration N twice). A fixed list of such points makes the
/// kill-and-resume test deterministic; unset, nothing happens.
#[derive(Debug, Default)]
struct TestKill {
    point: Option<KillPoint>,
    /// The point is the `occurrence`-th time it is reached.
    occurrence: u32,
    seen: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillPoint {
    Record(u64),
    Checkpoint(u64),
    Finish,
}

impl TestKill {
    fn from_env() -> Self {
        let Ok(spec) = std::env::var("FAIRTRAIN_TEST_KILL") else { return TestKill::default() };
        let (spec, occurrence) = match spec.split_once('/') {
            Some((s, k)) => (s.to_string(), k.parse().unwrap_or(1)),
            None => (spec, 1),
        };
        let point = match spec.split_once(':') {
            Some(("record", n)) => n.parse().ok().map(KillPoint::Record),
            Some(("checkpoint", n)) => n.parse().ok().map(KillPoint::Checkpoint),
            None if spec == "finish" => Some(KillPoint::Finish),
            _ => None,
        };
        TestKill { point, occurrence, seen: 0 }
    }

    fn at(&mut self, point: KillPoint) {
        if self.point == Some(point) {
            self.seen += 1;
            if self.seen == self.occurrence {
                std::process::abort();
            }
        }
    }
}

impl fairtrain::train::Observer for TestKill {
    fn record(&mut self, record: &fairtrain::train::LogRecord) -> fairtrain::Result<()> {
        self.at(KillPoint::Record(record.iteration));
        Ok(())
    }

    fn checkpoint(
        &mut self,
        state: &fairtrain::train::LoopState,
        _: &dyn fairtrain::problem::Problem,
        _: &dyn fairtrain::algorithms::Algorithm,
    ) -> fairtrain::Result<()> {
        self.at(KillPoint::Checkpoint(state.iteration));
        Ok(())
    }
}

/// How `fairtrain train` shows a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Console {
    /// Print the setup, the per-group table and the verdicts.
    pub print: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Print warnings (every process but the first of a data-parallel run
    /// stays silent).
    pub warnings: bool,
}

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
    let plan = args.run_config()?.resolve()?;
    if group.is_some() {
        check_data_parallel(&plan)?;
    }
    // Every process of a data-parallel run runs the same code, so that all
    // take the same decisions (margins, selection); the first writes the
    // outputs.
    let root = group.as_ref().is_none_or(|g| g.rank() == 0);
    let out = if root { Some(choose_dir(plan.out.as_deref(), args.overwrite)?) } else { None };
    // Each process of a data-parallel run reads and holds its share of the rows.
    let data = match &group {
        Some(g) => {
            crate::datasets_cmd::ensure_cached(&plan.source, args.cache.as_deref(), args.offline)?;
            RunData::load_among(&plan, args.cache.as_deref(), args.offline, g.clone())?
        }
        None => load_data(&plan, args.cache.as_deref(), args.offline)?,
    };
    let console = Console { print: root && !args.quiet, progress: root && !args.quiet, warnings: root };
    let options = RunOptions { collective: group, started: Some(started), ..RunOptions::default() };
    execute(&plan, &data, out.as_deref(), options, console).map(|_| ())
}

/// Fetches what the cache lacks (with a progress bar) and loads the data.
pub fn load_data(plan: &RunPlan, cache: Option<&Path>, offline: bool) -> Result<RunData> {
    crate::datasets_cmd::ensure_cached(&plan.source, cache, offline)?;
    Ok(RunData::load(plan, cache, offline)?)
}

/// The settings a data-parallel run cannot take, as errors: its processes'
/// clocks differ, and the fairness methods read rows directly.
fn check_data_parallel(plan: &RunPlan) -> Result<()> {
    if let BudgetSetting::Seconds(_) = plan.budget {
        bail!("--time-budget: a data-parallel run needs --iterations or --epochs (its processes' clocks differ)");
    }
    if let Some(Budget::Seconds(_)) = plan.eval_every {
        bail!("--eval-every: a data-parallel run evaluates every so many iterations, not seconds");
    }
    if plan.algorithm.name().is_method() {
        bail!(
            "--method {}: the fairness methods do not run data-parallel; run them without mpirun",
            plan.algorithm.name()
        );
    }
    if plan.postprocess != fairtrain::postprocess::Postprocess::Off {
        bail!(
            "--postprocess: post-processing does not run data-parallel (each process holds only its share of the \
             rows, and the decisions hash every row's inputs); run it without mpirun"
        );
    }
    Ok(())
}

/// Keys that a resumed run may change: the budget and how it runs.
const RESUMABLE_CHANGES: [&str; 6] =
    ["iterations", "time-budget", "epochs", "threads", "checkpoint-every", "memory-budget"];

/// `fairtrain train --resume --out DIR`.
fn resume(args: TrainArgs, started: Instant) -> Result<()> {
    let Some(out) = args.out.clone() else { bail!("--resume needs --out DIR (the run to continue)") };
    if args.config.is_some() {
        bail!("--resume continues the run in {} with its own settings; --config does not apply", out.display());
    }
    let given = toml::Table::try_from(&args).context("internal: flags do not serialize")?;
    if !out.join(CHECKPOINT_FILE).exists() {
        bail!(
            "nothing to resume in {}: no {CHECKPOINT_FILE} (the run had --checkpoint-every off, or is not a run \
             directory)",
            out.display()
        );
    }
    let mut config = RunConfig::from_file(&out.join(CONFIG_FILE))?;
    // Only the budget (and how the run executes) may change; other flags
    // may be given if they say what the run already has.
    let settled = config.resolve()?.config().to_toml();
    for (key, value) in given.iter().filter(|(k, _)| *k != "out" && !RESUMABLE_CHANGES.contains(&k.as_str())) {
        let mut probe = config.clone();
        let one = toml::Table::from_iter([(key.clone(), value.clone())]);
        probe.overlay(RunConfig::from_table(one, Origin::CommandLine)?);
        if probe.resolve().map(|p| p.config().to_toml()).ok().as_ref() != Some(&settled) {
            bail!(
                "--resume continues the run in {} with its own settings; --{key} cannot change (only --iterations, \
                 --time-budget, --epochs, --threads, --checkpoint-every, --memory-budget)",
                out.display()
            );
        }
    }
    config.overlay(RunConfig::from_table(given, Origin::CommandLine)?);
    let plan = config.resolve()?;
    let data = load_data(&plan, args.cache.as_deref(), args.offline)?;
    let Resumable { checkpoint, complete } = Resumable::open(&out, &plan, &data)?;
    // A completed run whose budget did not grow: nothing to do, and its
    // results stay as they are.
    if complete {
        outln!(
            "the run in {} is complete ({} iterations): nothing to resume; give a larger --iterations, --epochs or \
             --time-budget with --resume to continue it",
            out.display(),
            checkpoint.loop_state.iteration
        );
        return Ok(());
    }
    let console = Console { print: !args.quiet, progress: !args.quiet, warnings: true };
    let options = RunOptions { resume: Some(checkpoint), started: Some(started), ..RunOptions::default() };
    execute(&plan, &data, Some(&out), options, console).map(|_| ())
}

/// One run of `plan` on loaded data, writing its directory `out` (none on
/// the processes of a data-parallel run that do not report) and printing
/// as `display` says. An interrupted run ends in an [`Interrupted`] error
/// after its outputs are written.
pub fn execute(
    plan: &RunPlan,
    data: &RunData,
    out: Option<&Path>,
    mut options: RunOptions,
    console: Console,
) -> Result<RunOutcome> {
    options.interrupt = Some(&INTERRUPTED);
    let session = Session::new(plan, data, options)?;
    // Inputs are valid: from here on, outputs are written.
    let mut folder = match out {
        Some(dir) => Some(RunFolder::create(dir, plan, data, &session, std::env::args().collect())?),
        None => None,
    };
    if console.print {
        // (The notes quote the configuration's keys where it set them; the
        // run's own lines name settings, which are flags here.)
        for note in &plan.notes {
            outln!("note: {note}");
        }
        for line in session.describe() {
            outln!("{}", crate::console::with_flags(&line));
        }
    }
    if console.warnings {
        for w in data.warnings() {
            errln!("warning: {w}");
        }
    }
    let mut progress = Progress::new(session.budget(), console.progress);
    let mut kill = TestKill::from_env();
    let result = {
        let mut observers = folder.as_mut().map(RunFolder::observers).unwrap_or_default();
        observers.push(&mut progress);
        observers.push(&mut kill);
        session.train(&mut Observers(&mut observers))
    };
    progress.finish();
    let mut outcome = result?;
    kill.at(KillPoint::Finish);
    if console.print {
        for line in outcome.training_lines() {
            outln!("{}", crate::console::with_flags(&line));
        }
    }
    if console.warnings {
        for line in outcome.warning_lines() {
            errln!("{line}");
        }
    }
    let dir = folder.as_ref().map(|f| f.dir().to_path_buf()).unwrap_or_default();
    if let Some(folder) = folder {
        folder.finish(&mut outcome)?;
        if console.print {
            outln!();
            out!("{}", outcome.table());
            for line in outcome.certificate_lines() {
                outln!("{line}");
            }
            outln!();
            if let Some(mb) = outcome.metrics.peak_rss_mb {
                outln!("peak memory {mb:.0} MB; total time {:.2} s", outcome.metrics.total_seconds);
            }
            let written: Vec<&str> = [
                "metrics.json",
                "history.csv",
                "evaluations.csv",
                "config.toml",
                "manifest.json",
                "checkpoint.bin",
                "model.safetensors",
                "model.json",
            ]
            .into_iter()
            .filter(|f| dir.join(f).exists())
            .collect();
            outln!("outputs in {}: {}", dir.display(), written.join(", "));
        }
    }
    if outcome.summary.stop == StopReason::Interrupted {
        let resumable = plan.checkpoint_every.is_some();
        return Err(Interrupted { iteration: outcome.summary.iterations, out: dir, resumable }.into());
    }
    Ok(outcome)
}

/// One run of a study or a pruning grid: its directory written, nothing
/// printed but warnings.
pub fn execute_quietly(plan: &RunPlan, data: &RunData, dir: &Path) -> Result<RunOutcome> {
    let console = Console { warnings: true, ..Console::default() };
    execute(plan, data, Some(dir), RunOptions::default(), console)
}
