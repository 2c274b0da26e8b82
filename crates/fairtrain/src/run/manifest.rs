//! `manifest.json`: what produced a run directory. The fairtrain version,
//! the command line, the resolved settings, the seeds, the data (name and
//! sha256 of the files read), the threads and kernels, and one entry per
//! session (start, end, status, iterations reached), so a resumed run
//! records each of its sessions.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::data::RunData;
use super::files::write_atomic;
use super::plan::RunPlan;
use crate::error::{Error, Result};

/// The manifest's file name.
pub const MANIFEST_FILE: &str = "manifest.json";

/// One session (a start or a resumption) of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The command line.
    pub command: Vec<String>,
    /// When it started (UTC, RFC 3339).
    pub started: String,
    /// When it ended.
    pub finished: Option<String>,
    /// `running`, `completed` or `interrupted`.
    pub status: String,
    /// Iterations reached.
    pub iterations: Option<u64>,
    /// Evaluation threads.
    pub threads: usize,
}

/// The data a run read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataRecord {
    /// The data set's name.
    pub name: String,
    /// sha256 of the files read (of the table's contents, for in-memory data).
    pub sha256: Vec<String>,
    /// Training rows (after the validation split).
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The fairtrain version that started the run.
    pub fairtrain_version: String,
    /// The seed.
    pub seed: u64,
    /// The train/test split's seed.
    pub split_seed: u64,
    /// The data read.
    pub data: DataRecord,
    /// What computes the training steps.
    pub kernels: String,
    /// The resolved settings (the contents of config.toml).
    pub config: toml::Table,
    /// One entry per start or resumption.
    pub sessions: Vec<SessionRecord>,
}

/// The current UTC time, RFC 3339.
pub fn now_rfc3339() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A manifest being written by this process.
pub struct ManifestWriter {
    manifest: Manifest,
}

impl Manifest {
    /// Reads the manifest of the run in `dir`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Data(format!("{}: not a fairtrain run manifest ({e})", path.display())))
    }

    /// Whether the run's last session ran to the end of its budget.
    pub fn completed(&self) -> bool {
        self.sessions.last().is_some_and(|s| s.status == "completed")
    }

    /// The manifest of a run in `dir` starting (or, with `resuming`,
    /// continuing) now, by `command`.
    pub fn start(
        dir: &Path,
        plan: &RunPlan,
        data: &RunData,
        kernels: &str,
        resuming: bool,
        command: Vec<String>,
    ) -> Result<ManifestWriter> {
        // A resumed run continues its manifest; one that is missing or
        // damaged is an error, not replaced by a new history.
        let previous = if resuming { Some(Manifest::read(dir)?) } else { None };
        let session = SessionRecord {
            command,
            started: now_rfc3339(),
            finished: None,
            status: "running".into(),
            iterations: None,
            threads: plan.threads,
        };
        let manifest = match previous {
            Some(mut m) => {
                m.sessions.push(session);
                m
            }
            None => Manifest {
                fairtrain_version: env!("CARGO_PKG_VERSION").to_string(),
                seed: plan.seed,
                split_seed: plan.load.split_seed,
                data: DataRecord {
                    name: data.name.clone(),
                    sha256: data.sha256.clone(),
                    train_rows: data.train.n_rows(),
                    test_rows: data.test.n_rows(),
                },
                kernels: kernels.to_string(),
                config: toml::Table::try_from(plan.config())
                    .map_err(|e| Error::Data(format!("internal: the configuration does not serialize: {e}")))?,
                sessions: vec![session],
            },
        };
        Ok(ManifestWriter { manifest })
    }
}

impl ManifestWriter {
    /// Writes the manifest with the current session's status.
    pub fn write(&self, dir: &Path, status: &str, iterations: Option<u64>) -> Result<()> {
        let mut m = self.manifest.clone();
        if let Some(s) = m.sessions.last_mut() {
            s.status = status.to_string();
            s.iterations = iterations;
            if status != "running" {
                s.finished = Some(now_rfc3339());
            }
        }
        let json = serde_json::to_vec_pretty(&m)
            .map_err(|e| Error::Data(format!("internal: the manifest does not serialize: {e}")))?;
        write_atomic(dir, MANIFEST_FILE, &json)
    }
}
