//! Using fairtrain as a library: load data, set a fairness constraint,
//! train with SSL-ALM, stream the history, and read per-group results.
//!
//! Run with `cargo run --release -p fairtrain --example library_quickstart`.

use std::sync::Arc;

use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName, Alm, AlmConfig, Lagrangian, PrimalConfig};
use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
use fairtrain::data::{DataSource, LoadOptions, load};
use fairtrain::evaluation::{GroupFrame, SplitReport};
use fairtrain::model::Mlp;
use fairtrain::problem::{Problem, TabularProblem};
use fairtrain::train::{Budget, HistoryWriter, TrainerConfig, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The built-in synthetic data: groups A and B with a known disparity.
    let loaded = load(&DataSource::Synthetic, &LoadOptions::default())?;
    let (train_data, test_data) = (Arc::new(loaded.encoded.train), loaded.encoded.test);

    // |mean loss(A) - mean loss(B)| <= 0.01, as two inequality constraints.
    let parity = FairnessConstraint::new(Notion::LossParity, 0.01)?;
    let constraints = ConstraintSet::new(vec![parity.clone()], &train_data)?;

    let model = Mlp::new(train_data.n_inputs(), &[64, 32])?;
    let seed = 0;
    let batches = AlgorithmConfig::paper_batch_sizes(AlgorithmName::SslAlm);
    let mut problem =
        TabularProblem::new(model.clone(), model.init_params(seed), train_data.clone(), constraints, batches, seed)?;

    // SSL-ALM is the ALM dual rule over a Moreau-smoothed SGD step; any
    // hyperparameter can be set directly.
    let dual = Alm::new(AlmConfig { dual_lr: 0.1, ..AlmConfig::default() })?;
    let mut algorithm = Lagrangian::new("ssl-alm", dual, PrimalConfig::sgd(0.01).smoothed(2.0, 0.5))?;

    // History rows (estimates, multipliers) go to any writer: here stdout.
    let mut history = HistoryWriter::new(std::io::stdout(), "stdout");
    let config = TrainerConfig { log_every: 2_000, ..TrainerConfig::new(Budget::Iterations(10_000)) };
    let summary = train(&mut problem, &mut algorithm, &config, &mut history)?;
    println!("{} iterations in {:.3} s", summary.iterations, summary.wall_seconds);

    // The problem now holds the returned (averaged) model.
    for (name, data) in [("train", &*train_data), ("test", &test_data)] {
        let report = SplitReport::new(
            &GroupFrame::from_model(&model, problem.params(), data, 1),
            std::slice::from_ref(&parity),
            problem.params(),
        );
        let c = &report.constraints[0];
        println!(
            "{name}: accuracy {:.3}, loss gap {:.4} (bound {}), satisfied: {}",
            report.accuracy.unwrap_or(f64::NAN),
            c.value.unwrap_or(f64::NAN),
            c.bound,
            c.satisfied
        );
    }
    Ok(())
}
