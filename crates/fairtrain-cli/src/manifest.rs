//! `manifest.json`: what produced a run directory. The fairtrain version,
//! the command line, the resolved settings, the seeds, the data (name and
//! sha256 of the files read), the threads and kernels, and one entry per
//! session (start, end, status, iterations reached), so a resumed run
//! records each of its sessions.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::output;
use crate::settings::TrainSettings;
use crate::train_cmd::RunData;

/// The manifest's file name.
pub const MANIFEST_FILE: &str = "manifest.json";

/// One process's share of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub command: Vec<String>,
    pub started: String,
    pub finished: Option<String>,
    pub status: String,
    pub iterations: Option<u64>,
    pub threads: usize,
}

/// The data a run read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataRecord {
    pub name: String,
    pub sha256: Vec<String>,
    pub train_rows: usize,
    pub test_rows: usize,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub fairtrain_version: String,
    pub seed: u64,
    pub split_seed: u64,
    pub data: DataRecord,
    pub kernels: String,
    /// The resolved settings (the contents of config.toml).
    pub config: toml::Table,
    pub sessions: Vec<Session>,
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
    /// The manifest of a run starting (or, with `resuming`, continuing) now.
    pub fn start(settings: &TrainSettings, data: &RunData, kernels: &str, resuming: bool) -> Result<ManifestWriter> {
        let out = settings.out.as_deref();
        let previous: Option<Manifest> = out
            .and_then(|d| std::fs::read_to_string(d.join(MANIFEST_FILE)).ok())
            .and_then(|t| serde_json::from_str(&t).ok());
        let session = Session {
            command: std::env::args().collect(),
            started: now_rfc3339(),
            finished: None,
            status: "running".into(),
            iterations: None,
            threads: settings.threads,
        };
        let manifest = match previous.filter(|_| resuming) {
            Some(mut m) => {
                m.sessions.push(session);
                m
            }
            None => Manifest {
                fairtrain_version: fairtrain::VERSION.to_string(),
                seed: settings.seed,
                split_seed: settings.load.split_seed,
                data: DataRecord {
                    name: data.name.clone(),
                    sha256: data.sha256.clone(),
                    train_rows: data.train.n_rows(),
                    test_rows: data.test.n_rows(),
                },
                kernels: kernels.to_string(),
                config: toml::Table::try_from(settings.to_args()).context("internal: settings do not serialize")?,
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
        let json = serde_json::to_vec_pretty(&m).context("internal: manifest does not serialize")?;
        output::write_atomic(dir, MANIFEST_FILE, &json)
    }
}
