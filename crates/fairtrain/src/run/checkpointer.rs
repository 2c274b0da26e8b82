//! [`Checkpointer`]: the observer that writes a run's checkpoints.

use std::path::PathBuf;
use std::time::Instant;

use super::plan::RunPlan;
use crate::algorithms::Algorithm;
use crate::error::Result;
use crate::problem::Problem;
use crate::train::{Checkpoint, LoopState, Observer};

/// The checkpoint's file name.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";

/// Writes checkpoints for the training loop.
pub struct Checkpointer {
    path: PathBuf,
    settings: String,
    algorithm: String,
    /// Checkpoints written.
    pub written: u64,
    /// The size of the last one.
    pub bytes: u64,
    /// Seconds spent writing them.
    pub seconds: f64,
}

impl Checkpointer {
    /// Checkpoints of `plan`'s run to `path`.
    pub fn new(path: PathBuf, plan: &RunPlan) -> Self {
        Checkpointer {
            path,
            settings: plan.identity(),
            algorithm: plan.algorithm.name().to_string(),
            written: 0,
            bytes: 0,
            seconds: 0.0,
        }
    }
}

impl Observer for Checkpointer {
    fn checkpoint(&mut self, state: &LoopState, problem: &dyn Problem, algorithm: &dyn Algorithm) -> Result<()> {
        let t = Instant::now();
        let checkpoint = Checkpoint {
            format: crate::train::checkpoint::FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            settings: self.settings.clone(),
            algorithm: self.algorithm.clone(),
            loop_state: state.clone(),
            problem: crate::problem::require_state(problem)?.save_state()?,
            algorithm_state: algorithm.save_state()?,
        };
        self.bytes = checkpoint.write(&self.path)?;
        self.written += 1;
        self.seconds += t.elapsed().as_secs_f64();
        Ok(())
    }
}
