//! Helpers shared by the command-line tests (each test file is its own
//! crate and uses some of them).
#![allow(dead_code)]

use std::path::Path;
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
