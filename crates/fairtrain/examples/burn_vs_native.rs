//! The same MLP on the native backend and on the burn backend (Flex CPU):
//! SSL-ALM under loss parity on Adult from the same initial parameters and
//! the same minibatches, at several batch sizes. Prints each backend's
//! speed and the solution it reaches (train and test accuracy and loss
//! gap). `burn` is the backend's default: the data stay on the device and
//! the statistics are computed there; the parameters and the optimizer
//! state stay there too on a GPU, while on the CPU the primal step runs on
//! the host (faster there). For comparison, `burn-params-device` and
//! `burn-params-host` force the primal steps onto the device or the host,
//! and `burn-host-statistics` computes the statistics on the host from
//! per-row logits (the generic path).
//!
//! Run with `cargo run --release -p fairtrain --features burn --example burn_vs_native [iterations] [batches] [device]`,
//! e.g. `... -- 5000 16,256` (the default), `... -- 300 4096`, or with
//! `--features cuda` `... -- 300 4096,16384 cuda`.

use std::sync::Arc;

use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName, Preset};
use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
use fairtrain::data::{DataSource, LoadOptions, load};
use fairtrain::evaluation::{GroupFrame, SplitReport};
use fairtrain::model::burn::{BurnMlp, BurnModel, device};
use fairtrain::model::{Mlp, TabularModel};
use fairtrain::problem::{BatchSizes, Problem, TabularProblem};
use fairtrain::train::{Budget, TrainerConfig, train};

/// Trains `model` from `start`; returns (iterations per second, parameters).
fn run<M: TabularModel>(
    model: M,
    start: &[f32],
    data: &Arc<fairtrain::data::Dataset>,
    parity: &FairnessConstraint,
    batch: usize,
    iterations: u64,
) -> Result<(f64, Vec<f32>), Box<dyn std::error::Error>> {
    let constraints = ConstraintSet::new(vec![parity.clone()], data)?;
    let batches = BatchSizes { objective: batch, per_group: batch };
    let mut problem = TabularProblem::new(model, start.to_vec(), data.clone(), constraints, batches, 0)?;
    let mut alg = AlgorithmConfig::preset(AlgorithmName::SslAlm, Preset::Default).build()?;
    let summary = train(&mut problem, alg.as_mut(), &TrainerConfig::new(Budget::Iterations(iterations)), &mut ())?;
    Ok((summary.iterations as f64 / summary.wall_seconds, problem.params().to_vec()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: u64 = std::env::args().nth(1).map_or(Ok(5_000), |a| a.parse())?;
    let batches: Vec<usize> = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "16,256".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let loaded = load(&DataSource::Adult, &LoadOptions::default())?;
    let (train_data, test_data) = (Arc::new(loaded.encoded.train), loaded.encoded.test);
    let parity = FairnessConstraint::new(Notion::LossParity, 0.01)?;
    let native = Mlp::new(train_data.n_inputs(), &[64, 32])?;
    let start = native.init_params(0);
    let device_name = std::env::args().nth(3).unwrap_or_else(|| "cpu".into());
    let dev = device(&device_name)?;
    let burn = BurnModel::new(BurnMlp::new(train_data.n_inputs(), &[64, 32], &dev), train_data.n_inputs(), dev);
    println!(
        "SSL-ALM, loss parity <= 0.01 on Adult, {iterations} iterations from the same start; burn on {device_name}"
    );
    println!("batch | backend | it/s | train acc | train gap | test acc | test gap");
    for batch in batches {
        let mut speeds = Vec::new();
        for backend in ["native", "burn", "burn-params-device", "burn-params-host", "burn-host-statistics"] {
            let model = match backend {
                "burn" => burn.clone(),
                "burn-params-device" => burn.clone().with_params_on_device(true),
                "burn-params-host" => burn.clone().with_params_on_device(false),
                _ => burn.clone().with_params_on_device(false).with_host_statistics(),
            };
            let (speed, params) = match backend {
                "native" => run(native.clone(), &start, &train_data, &parity, batch, iterations)?,
                _ => run(model, &start, &train_data, &parity, batch, iterations)?,
            };
            speeds.push(speed);
            let report = |data: &fairtrain::data::Dataset| {
                let frame = GroupFrame::from_model(&native, &params, data, 1);
                SplitReport::new(&frame, std::slice::from_ref(&parity), &params)
            };
            let (tr, te) = (report(&train_data), report(&test_data));
            println!(
                "{batch} | {backend} | {speed:.0} | {:.4} | {:.4} | {:.4} | {:.4}",
                tr.accuracy.unwrap_or(f64::NAN),
                tr.constraints[0].value.unwrap_or(f64::NAN),
                te.accuracy.unwrap_or(f64::NAN),
                te.constraints[0].value.unwrap_or(f64::NAN)
            );
        }
        println!(
            "batch {batch}: native is {:.1}x the burn backend's speed; primal steps on the device are {:.2}x those \
             on the host, statistics on the device {:.2}x those on the host",
            speeds[0] / speeds[1],
            speeds[2] / speeds[3],
            speeds[3] / speeds[4]
        );
    }
    Ok(())
}
