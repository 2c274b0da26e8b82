//! Helpers shared by the command-line tests (each test file is its own
//! crate and uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Runs the real binary with `args`.
pub fn fairtrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fairtrain")).args(args).output().expect("the fairtrain binary runs")
}

/// A run's `metrics.json`.
pub fn metrics(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).expect("metrics.json exists"))
        .expect("metrics.json parses")
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The shared data sets beside the project (CI has them), or `None` with a
/// note that the test is skipped.
pub fn shared_datasets() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent (the shared data sets sit beside the project in CI)", dir.display());
        None
    }
}
