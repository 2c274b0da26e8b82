//! Data-parallel training from the library: every MPI process builds the
//! same problem, joins it to the world with `with_collective`, and runs the
//! same algorithm; each forwards its share of every minibatch, and the
//! group statistics and gradients are summed across processes, so the run
//! is the single-process run on the whole minibatches. The first process
//! prints the per-group results.
//!
//! ```sh
//! cargo build --release -p fairtrain --features mpi --example mpi_data_parallel
//! mpirun -np 2 target/release/examples/mpi_data_parallel
//! ```
//! (As root, Open MPI also needs `--allow-run-as-root`.)

use std::sync::Arc;

use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName, Preset};
use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
use fairtrain::data::{DataSource, LoadOptions, load};
use fairtrain::distributed::Collective;
use fairtrain::distributed::mpi::MpiSession;
use fairtrain::evaluation::{GroupFrame, SplitReport};
use fairtrain::model::Mlp;
use fairtrain::problem::{BatchSizes, Problem, TabularProblem};
use fairtrain::train::{Budget, TrainerConfig, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let session = MpiSession::start()?;
    let world = Arc::new(session.world());
    let (rank, size) = (world.rank(), world.size());

    // Every process: the same data, model, start, batch sizes and seed.
    let loaded = load(&DataSource::Adult, &LoadOptions::default())?;
    let (train_data, test_data) = (Arc::new(loaded.encoded.train), loaded.encoded.test);
    let parity = FairnessConstraint::new(Notion::DemographicParity, 0.05)?;
    let constraints = ConstraintSet::new(vec![parity.clone()], &train_data)?;
    let mlp = Mlp::new(train_data.n_inputs(), &[64, 32])?;
    let batches = BatchSizes { objective: 1024, per_group: 512 };
    let mut problem =
        TabularProblem::new(mlp.clone(), mlp.init_params(0), train_data.clone(), constraints, batches, 0)?
            .with_collective(world);
    let mut ssl_alm = AlgorithmConfig::preset(AlgorithmName::SslAlm, Preset::Default).build()?;
    let summary = train(&mut problem, ssl_alm.as_mut(), &TrainerConfig::new(Budget::Iterations(2_000)), &mut ())?;

    if rank == 0 {
        println!(
            "{size} process{}: {} iterations in {:.2} s ({:.0} it/s); multipliers {:?}",
            if size == 1 { "" } else { "es" },
            summary.iterations,
            summary.wall_seconds,
            summary.iterations as f64 / summary.wall_seconds,
            ssl_alm.multipliers()
        );
        for (name, data) in [("train", train_data.as_ref()), ("test", &test_data)] {
            let frame = GroupFrame::from_model(&mlp, problem.params(), data, 1);
            let report = SplitReport::new(&frame, std::slice::from_ref(&parity), problem.params());
            let groups: Vec<String> = report
                .groups
                .0
                .iter()
                .map(|(group, g)| {
                    let (accuracy, rate) = (g.accuracy.unwrap_or(f64::NAN), g.positive_rate.unwrap_or(f64::NAN));
                    format!("{group} accuracy {accuracy:.4} positive rate {rate:.4}")
                })
                .collect();
            let gap = report.constraints[0].value.unwrap_or(f64::NAN);
            println!("{name}: {}; DP gap {gap:.4}", groups.join(", "));
        }
    }
    Ok(())
}
