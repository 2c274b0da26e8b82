//! # fairtrain
//!
//! Training neural networks under stochastic constraints, fairness
//! constraints first: minimize `E[f(x)]` subject to `E[c_i(x)] <= 0` when
//! both are only seen through minibatches.
//!
//! The crate follows the pipeline of a run:
//!
//! * [`data`]: tables, encoding, the built-in data sets, minibatch sampling;
//! * [`model`]: the native MLP backend (flat `f32` parameters, fast kernels);
//! * [`constraints`]: fairness notions as constraints on group statistics;
//! * [`problem`]: the backend-neutral interface algorithms work against;
//! * [`algorithms`]: SSL-ALM, switching subgradient and baselines, one
//!   step each;
//! * [`methods`]: the fairness methods beside the Lagrangian family
//!   (FairBatch, FORML, FERMI) and fair pruning;
//! * [`train`]: the loop (budgets, logging, divergence checks);
//! * [`distributed`]: data-parallel training, exact across processes;
//! * [`evaluation`]: per-group metrics, gaps and constraint values;
//! * [`run`]: the whole run from one typed configuration: validation
//!   split, margin, training, model selection, evaluation, certificate,
//!   and the optional run directory.
//!
//! The whole run, as `fairtrain train` does it, is one call:
//!
//! ```
//! use fairtrain::run::{RunConfig, run};
//! let mut config = RunConfig::default();
//! config.set("data", "synthetic").unwrap();
//! config.set("constraint", "demographic-parity").unwrap();
//! config.set("iterations", 500).unwrap();
//! let outcome = run(&config, &mut ()).unwrap();
//! println!("{}", outcome.table());
//! ```
//!
//! and each stage can be used on its own:
//!
//! ```
//! use std::sync::Arc;
//! use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName};
//! use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
//! use fairtrain::data::{load, DataSource, LoadOptions};
//! use fairtrain::evaluation::{GroupFrame, SplitReport};
//! use fairtrain::model::Mlp;
//! use fairtrain::problem::{Problem, TabularProblem};
//! use fairtrain::train::{train, Budget, TrainerConfig};
//!
//! let loaded = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap();
//! let (train_data, test_data) = (loaded.encoded.train, loaded.encoded.test);
//! let bound = FairnessConstraint::new(Notion::LossParity, 0.02).unwrap();
//! let constraints = ConstraintSet::new(vec![bound.clone()], &train_data).unwrap();
//! let mlp = Mlp::new(train_data.n_inputs(), &[64, 32]).unwrap();
//! let params = mlp.init_params(0);
//! let batches = AlgorithmConfig::paper_batch_sizes(AlgorithmName::SslAlm);
//! let mut problem =
//!     TabularProblem::new(mlp.clone(), params, Arc::new(train_data), constraints, batches, 0).unwrap();
//! let mut ssl_alm = AlgorithmConfig::paper(AlgorithmName::SslAlm).build().unwrap();
//! let config = TrainerConfig::new(Budget::Iterations(2_000));
//! train(&mut problem, ssl_alm.as_mut(), &config, &mut ()).unwrap();
//!
//! let frame = GroupFrame::from_model(&mlp, problem.params(), &test_data, 1);
//! let report = SplitReport::new(&frame, &[bound], problem.params());
//! println!("test loss gap: {:?}", report.constraints[0].value);
//! ```

#![warn(missing_docs)]

pub mod algorithms;
pub mod buffer;
pub mod constraints;
pub mod data;
pub mod distributed;
pub mod error;
pub mod evaluation;
pub mod model;
pub mod postprocess;
pub mod problem;
pub mod run;
pub mod simd;
pub mod state;
pub mod train;

pub use algorithms::methods;
pub use error::{Error, Result};

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
