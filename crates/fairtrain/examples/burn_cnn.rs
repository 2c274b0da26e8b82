//! A small convolutional network (a burn module) trained under equalized
//! odds with SSL-ALM: the burn backend runs every algorithm and constraint
//! on any burn module that scores rows.
//!
//! The data are generated here: 8x8 images of a horizontal bar (label 1)
//! or a vertical one (label 0) in noise; group B's images (30%) have half
//! the contrast, so an unconstrained model makes more mistakes on them and
//! its true and false positive rates differ between the groups.
//!
//! Run with `cargo run --release -p fairtrain --features burn --example burn_cnn`.

use std::sync::Arc;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::Tensor;
use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName, Preset};
use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
use fairtrain::data::Dataset;
use fairtrain::evaluation::{GroupFrame, SplitReport};
use fairtrain::model::burn::{BurnModel, LogitModule, device};
use fairtrain::problem::{BatchSizes, Problem, TabularProblem};
use fairtrain::train::{Budget, TrainerConfig, train};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIDE: usize = 8;

/// conv 3x3 (4 channels) -> ReLU -> dense -> one logit.
#[derive(Module, Debug)]
struct SmallCnn {
    conv: Conv2d,
    relu: Relu,
    out: Linear,
}

impl SmallCnn {
    fn new(device: &burn::tensor::Device) -> Self {
        let conv = Conv2dConfig::new([1, 4], [3, 3]).init(device);
        let out = LinearConfig::new(4 * (SIDE - 2) * (SIDE - 2), 1).init(device);
        SmallCnn { conv, relu: Relu::new(), out }
    }
}

impl LogitModule for SmallCnn {
    fn logits(&self, inputs: Tensor<2>) -> Tensor<1> {
        let [batch, _] = inputs.dims();
        let images = inputs.reshape([batch, 1, SIDE, SIDE]);
        let h = self.relu.forward(self.conv.forward(images));
        self.out.forward(h.reshape([batch, 4 * (SIDE - 2) * (SIDE - 2)])).reshape([batch])
    }
}

/// `n` images, labels and groups.
fn images(n: usize, seed: u64) -> Result<Dataset, fairtrain::Error> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut x, mut y, mut g) = (Vec::with_capacity(n * SIDE * SIDE), Vec::new(), Vec::new());
    for _ in 0..n {
        let label = rng.random_bool(0.5);
        let group_b = rng.random_bool(0.3);
        let contrast = if group_b { 0.35 } else { 0.7 };
        let line = rng.random_range(1..SIDE - 1);
        for r in 0..SIDE {
            for c in 0..SIDE {
                let on = if label { r == line } else { c == line };
                let noise: f32 = rng.random_range(-1.0..1.0);
                x.push(if on { contrast } else { 0.0 } + 0.6 * noise);
            }
        }
        y.push(label as u8 as f32);
        g.push(group_b as u32);
    }
    Dataset::from_dense(x, SIDE * SIDE, y, g, vec!["A".into(), "B".into()])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (train_data, test_data) = (Arc::new(images(6_000, 1)?), images(4_000, 2)?);
    let dev = device("cpu")?;
    let model = BurnModel::new(SmallCnn::new(&dev), SIDE * SIDE, dev);
    let odds = FairnessConstraint::new(Notion::EqualizedOdds, 0.1)?;
    let batches = BatchSizes { objective: 32, per_group: 32 };
    for (name, algorithm) in [("adam (unconstrained)", AlgorithmName::Adam), ("ssl-alm", AlgorithmName::SslAlm)] {
        let constraints = ConstraintSet::new(vec![odds.clone()], &train_data)?;
        let start = model.initial_params();
        let mut problem = TabularProblem::new(model.clone(), start, train_data.clone(), constraints, batches, 0)?;
        let mut alg = AlgorithmConfig::preset(algorithm, Preset::Default).build()?;
        let summary = train(&mut problem, alg.as_mut(), &TrainerConfig::new(Budget::Iterations(4_000)), &mut ())?;
        println!("{name}: {} iterations in {:.1} s", summary.iterations, summary.wall_seconds);
        let params = problem.params().to_vec();
        for (split, data) in [("train", &*train_data), ("test", &test_data)] {
            let frame = GroupFrame::from_logits(data, &model.logits(&params, data));
            let report = SplitReport::new(&frame, std::slice::from_ref(&odds), &params);
            for (group, r) in &report.groups.0 {
                println!(
                    "  {split} {group}: accuracy {:.3}, TPR {:.3}, FPR {:.3}",
                    r.accuracy.unwrap_or(f64::NAN),
                    r.tpr.unwrap_or(f64::NAN),
                    r.fpr.unwrap_or(f64::NAN)
                );
            }
            println!(
                "  {split}: accuracy {:.3}, equalized-odds gap {:.4} (bound {})",
                report.accuracy.unwrap_or(f64::NAN),
                report.eo_gap.unwrap_or(f64::NAN),
                odds.bound
            );
        }
    }
    Ok(())
}
