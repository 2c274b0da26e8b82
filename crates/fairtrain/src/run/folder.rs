//! [`RunFolder`]: a run's output directory as it is written:
//! `config.toml`, `manifest.json`, `history.csv` (streamed),
//! `evaluations.csv`, `checkpoint.bin`, and at the end `metrics.json` and
//! the model. Nothing is created before the inputs are validated, and
//! finished files appear atomically.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::checkpointer::{CHECKPOINT_FILE, Checkpointer};
use super::data::RunData;
use super::evaluation_log::{EVALUATION_LINES, EVALUATIONS_FILE, EvaluationLog};
use super::files::{CONFIG_FILE, HISTORY_FILE, RUN_FILES, create_dir, open_log, write_atomic};
use super::lock::{DirLock, LOCK_FILE};
use super::manifest::{MANIFEST_FILE, Manifest, ManifestWriter};
use super::metrics::METRICS_FILE;
use super::outcome::RunOutcome;
use super::plan::RunPlan;
use super::session::Session;
use crate::error::{Error, Result};
use crate::train::{HISTORY_LINES, HistoryWriter, Observer};

/// The files of one run being written: the configuration and manifest at
/// the start, the history, evaluations and checkpoints while it trains
/// ([`RunFolder::observers`]), the metrics and model at the end
/// ([`RunFolder::finish`]).
pub struct RunFolder<'a> {
    dir: PathBuf,
    manifest: ManifestWriter,
    history: HistoryWriter<BufWriter<File>>,
    evaluations: Option<EvaluationLog<'a>>,
    checkpointer: Checkpointer,
    /// Held while the run writes: a second process on `dir` fails at once.
    _lock: DirLock,
}

impl<'a> RunFolder<'a> {
    /// Creates `dir` (validated by [`choose_dir`](super::choose_dir)) for the run of `session`
    /// and writes its `config.toml` and `manifest.json`; `command` is the
    /// command line recorded in the manifest.
    pub fn create(
        dir: &Path,
        plan: &'a RunPlan,
        data: &'a RunData,
        session: &Session,
        command: Vec<String>,
    ) -> Result<RunFolder<'a>> {
        create_dir(dir)?;
        let lock = DirLock::acquire(dir)?;
        let resumed_from = session.resumed_from();
        if resumed_from.is_none() {
            clear_previous_run(dir)?;
        }
        let manifest = Manifest::start(dir, plan, data, session.kernels(), resumed_from.is_some(), command)?;
        // (A resumed run rewrites it too: its budget may have changed.)
        let header = "# fairtrain train: the resolved configuration of this run. Re-run it with \
                      `fairtrain train --config config.toml`.\n";
        let text = format!("{header}{}", plan.config().to_toml());
        write_atomic(dir, CONFIG_FILE, text.as_bytes())?;
        // A resumed run continues its logs from the lines its checkpoint
        // counted (rows written after it are dropped).
        let lines = |key: &str| -> Result<Option<u64>> {
            match session.resume_state().and_then(|s| s.observers.get(key)) {
                Some(bytes) => Ok(Some(crate::state::decode(bytes)?)),
                None => Ok(None),
            }
        };
        let history_path = dir.join(HISTORY_FILE);
        let (writer, kept) = open_log(&history_path, lines(HISTORY_LINES)?)?;
        let name = history_path.display().to_string();
        let history = match kept {
            Some(n) => HistoryWriter::appending(writer, name, n),
            None => HistoryWriter::new(writer, name),
        };
        manifest.write(dir, "running", None)?;
        let evaluations = match plan.eval_every {
            Some(_) => Some(EvaluationLog::create(
                dir,
                session.mlp().clone(),
                data,
                &plan.constraints,
                plan.threads,
                lines(EVALUATION_LINES)?,
            )?),
            None => None,
        };
        let checkpointer = Checkpointer::new(dir.join(CHECKPOINT_FILE), plan);
        Ok(RunFolder { dir: dir.to_path_buf(), manifest, history, evaluations, checkpointer, _lock: lock })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The observers that write while training: history, evaluations,
    /// checkpoints.
    pub fn observers(&mut self) -> Vec<&mut dyn Observer> {
        let mut observers: Vec<&mut dyn Observer> = vec![&mut self.history];
        if let Some(e) = self.evaluations.as_mut() {
            observers.push(e);
        }
        observers.push(&mut self.checkpointer);
        observers
    }

    /// Finishes the logs and writes the model, `metrics.json` (with this
    /// folder's checkpoint figures) and the manifest's final status.
    pub fn finish(self, outcome: &mut RunOutcome) -> Result<()> {
        self.history.into_inner()?;
        if let Some(e) = self.evaluations {
            e.finish()?;
        }
        let m = &mut outcome.metrics;
        m.checkpoints = self.checkpointer.written;
        m.checkpoint_bytes = self.checkpointer.bytes;
        m.checkpoint_seconds = self.checkpointer.seconds;
        outcome.save_model(&self.dir)?;
        let json = serde_json::to_vec_pretty(&outcome.metrics)
            .map_err(|e| Error::Data(format!("internal: metrics do not serialize: {e}")))?;
        write_atomic(&self.dir, METRICS_FILE, &json)?;
        self.manifest.write(&self.dir, &outcome.metrics.status, Some(outcome.metrics.iterations))
    }
}

/// Every file a run writes into its directory (temporaries aside).
const PROJECT_FILES: [&str; 9] = [
    METRICS_FILE,
    HISTORY_FILE,
    CONFIG_FILE,
    MANIFEST_FILE,
    EVALUATIONS_FILE,
    CHECKPOINT_FILE,
    "checkpoint.tmp",
    crate::model::saved::WEIGHTS_FILE,
    crate::model::saved::CARD_FILE,
];

/// Removes the files of the run `dir` holds, before a new run (started with
/// `--overwrite`) writes there: none of them is left to look like the new
/// run's. Files the project does not write make it refuse, named: they are
/// the user's, and the directory is not a run's alone. A directory without
/// a run is left as it is.
fn clear_previous_run(dir: &Path) -> Result<()> {
    if !RUN_FILES.iter().any(|f| dir.join(f).exists()) {
        return Ok(());
    }
    let ours = |name: &str| {
        PROJECT_FILES.contains(&name)
            || name == LOCK_FILE
            || name == ".fairtrain-write-test"
            || (name.starts_with('.') && name.ends_with(".tmp"))
    };
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let foreign: Vec<&String> = names.iter().filter(|n| !ours(n)).collect();
    if !foreign.is_empty() {
        let shown: Vec<&str> = foreign.iter().take(3).map(|s| s.as_str()).collect();
        return Err(Error::Data(format!(
            "`overwrite` replaces the run in {}, but it also holds files fairtrain did not write ({}{}); move them, \
             or choose another `out`",
            dir.display(),
            shown.join(", "),
            if foreign.len() > 3 { format!(" and {} more", foreign.len() - 3) } else { String::new() }
        )));
    }
    for name in names.iter().filter(|n| n.as_str() != LOCK_FILE) {
        let path = dir.join(name);
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}
