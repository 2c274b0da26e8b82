//! The whole run, as a library: what `fairtrain train` does, reachable
//! from Rust (and from Python through the same calls).
//!
//! * [`RunConfig`]: the typed configuration (the TOML file's sections, flat
//!   keys laid over them, defaults and presets defined once);
//! * [`RunConfig::resolve`] gives the [`RunPlan`]: every default filled,
//!   every value checked, every key that does not apply refused;
//! * [`RunData`]: the encoded splits, with the validation split held out;
//! * [`Session`]: the model, problem and algorithm; it trains under the
//!   generalization controls (validation margin, model selection) and
//!   evaluates and certifies the returned model ([`RunOutcome`], whose
//!   [`Metrics`] are `metrics.json`);
//! * [`RunFolder`]: the optional output step (`config.toml`, history,
//!   checkpoints, `metrics.json`, the model).
//!
//! [`run`] does it all in one call, without writing anything:
//!
//! ```
//! use fairtrain::run::{RunConfig, run};
//! let config = RunConfig::from_toml(
//!     "[data]\nsource = \"synthetic\"\n[training]\niterations = 300\n\
//!      [[constraint]]\nnotion = \"demographic-parity\"\nbound = 0.1\n",
//! )
//! .unwrap();
//! let outcome = run(&config, &mut ()).unwrap();
//! let test = &outcome.metrics.test;
//! println!("{}", outcome.table());
//! assert!(test.accuracy.unwrap() > 0.5);
//! assert_eq!(outcome.metrics.certificates.len(), 1);
//! ```

mod algorithm_keys;
pub mod applicability;
mod checkpointer;
pub mod config;
mod constraint_spec;
mod data;
mod evaluation_log;
mod files;
mod folder;
mod generalization;
pub mod keys;
mod lock;
mod manifest;
mod metrics;
mod origin;
mod outcome;
mod plan;
pub mod resolve;
mod resume;
mod session;
mod split_rows;
mod table;

pub use algorithm_keys::{applicable as algorithm_keys, keys_of as algorithm_keys_of};
pub use checkpointer::{CHECKPOINT_FILE, Checkpointer};
pub use config::{
    AlgorithmKeys, ConstraintSpec, DataKeys, GeneralizationKeys, KindName, Margin, ModelKeys, OutputKeys, Preset,
    RunConfig, Select, SenseName, TrainingKeys,
};
pub use data::{MIN_GROUP_ROWS, RunData};
pub use evaluation_log::{EVALUATIONS_FILE, EvaluationLog};
pub use files::{CONFIG_FILE, HISTORY_FILE, choose_dir, create_dir, timestamp, write_atomic};
pub use folder::RunFolder;
pub use lock::{DirLock, LOCK_FILE};
pub use manifest::{MANIFEST_FILE, Manifest};
pub use metrics::{DataSummary, METRICS_FILE, Metrics, Named, Selected, TIMING_FIELDS, peak_rss_mb};
pub use origin::{KeyOrigins, Origin};
pub use outcome::RunOutcome;
pub use plan::{BudgetSetting, RunPlan};
pub use resume::Resumable;
pub use session::{PruneStage, RunOptions, Session};
pub use split_rows::SplitRows;
pub use table::{render, render_split};

use crate::error::Result;
use crate::train::Observer;

/// Runs `config` from start to finish: resolves it, loads its data
/// (fetching what the cache lacks), trains, selects, evaluates and
/// certifies. Writes nothing; `observers` see the training loop (pass
/// `&mut ()` for none), and [`RunFolder`] writes a run directory.
pub fn run(config: &RunConfig, observers: &mut dyn Observer) -> Result<RunOutcome> {
    let plan = config.resolve()?;
    let data = RunData::load(&plan, None, false)?;
    Session::new(&plan, &data, RunOptions::default())?.train(observers)
}

/// Runs `config` on data built in memory (e.g. with
/// [`Dataset::from_dense`](crate::data::Dataset::from_dense)): the
/// configuration's `[data]` section is not read; the validation split is
/// held out of `train` as the configuration says.
///
/// ```
/// use fairtrain::data::Dataset;
/// use fairtrain::run::{RunConfig, run_with_data};
/// let rows = |n: usize, shift: usize| {
///     let x: Vec<f32> = (0..n).map(|i| ((i * 7 + shift) % 11) as f32 / 11.0).collect();
///     let y: Vec<f32> = x.iter().map(|&v| (v > 0.4) as u8 as f32).collect();
///     let g: Vec<u32> = (0..n).map(|i| (i % 3 == 0) as u32).collect();
///     Dataset::from_dense(x, 1, y, g, vec!["a".into(), "b".into()]).unwrap()
/// };
/// let mut config = RunConfig::default();
/// config.set("iterations", 300).unwrap();
/// let outcome = run_with_data(&config, rows(900, 0), rows(300, 5), &mut ()).unwrap();
/// assert_eq!(outcome.metrics.data.train_rows + outcome.metrics.validation.unwrap().groups.0.iter().map(|(_, g)| g.n as usize).sum::<usize>(), 900);
/// ```
pub fn run_with_data(
    config: &RunConfig,
    train: crate::data::Dataset,
    test: crate::data::Dataset,
    observers: &mut dyn Observer,
) -> Result<RunOutcome> {
    let plan = config.resolve()?;
    let data = RunData::from_splits("in-memory".into(), train, test, plan.validation_fraction, plan.load.split_seed)?;
    Session::new(&plan, &data, RunOptions::default())?.train(observers)
}
