//! The burn backend (cargo feature `burn`): any burn module that maps a
//! batch of encoded rows `[B, n_inputs]` to logits `[B]` trains under
//! every algorithm and fairness constraint, unchanged.
//!
//! [`BurnModel`] is a [`TabularModel`]: the problem asks it for the logits
//! of its minibatch rows and for one vector-Jacobian product per gradient
//! (`sum_i dz_i * d logit_i / d params`, with `dz` the derivatives of the
//! weighted objective and constraints with respect to each logit). burn
//! records no graph to keep between calls, so the product re-runs the
//! forward pass on the rows with a non-zero `dz` only. Parameters cross as
//! one flat `f32` vector in the module's visiting order (for [`BurnMlp`],
//! exactly the native [`Mlp`](super::Mlp) layout), which is what the
//! algorithms' dual, proximal and averaging steps work on.
//!
//! Devices: [`device`] resolves `cpu` (burn's Flex backend), `cuda` and
//! `wgpu` (the cargo features of the same names).
//!
//! ```
//! use fairtrain::data::{DataSource, LoadOptions, load};
//! use fairtrain::model::burn::{BurnMlp, BurnModel, device};
//! use fairtrain::model::TabularModel;
//! let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
//! let dev = device("cpu").unwrap();
//! let model = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev);
//! let params = model.initial_params();
//! assert_eq!(params.len(), model.n_params());
//! let mut ws = model.workspace(2);
//! let mut logits = [0.0; 2];
//! model.forward(&params, &data, &[0, 1], &mut ws, 0, &mut logits);
//! assert!(logits.iter().all(|z| z.is_finite()));
//! ```

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Gradients, Tensor, TensorData};

use super::TabularModel;
use crate::data::{Dataset, NO_INPUT};
use crate::error::{Error, Result};

/// A burn module that scores encoded rows: logits `[B]` of inputs
/// `[B, n_inputs]` (numeric columns, then one one-hot unit per category,
/// as [`Dataset`] encodes them). A module for other inputs (images)
/// reshapes the rows itself.
pub trait LogitModule: Module {
    /// The logits of a batch.
    fn logits(&self, inputs: Tensor<2>) -> Tensor<1>;
}

/// The native MLP's architecture as a burn module: dense layers with ReLU
/// between them and one output logit. Its flat parameters (each layer's
/// `[n_in, n_out]` weights row by row, then its biases) are laid out as
/// the native [`Mlp`](super::Mlp)'s, so the two backends can start from
/// the same point.
#[derive(Module, Debug)]
pub struct BurnMlp {
    layers: Vec<Linear>,
    relu: Relu,
}

impl BurnMlp {
    /// An MLP with `hidden` widths on `device`, burn's default initialization.
    pub fn new(n_inputs: usize, hidden: &[usize], device: &Device) -> Self {
        let mut widths = vec![n_inputs];
        widths.extend_from_slice(hidden);
        widths.push(1);
        let layers = widths.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        BurnMlp { layers, relu: Relu::new() }
    }
}

impl LogitModule for BurnMlp {
    fn logits(&self, inputs: Tensor<2>) -> Tensor<1> {
        let [batch, _] = inputs.dims();
        let mut x = inputs;
        for (k, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if k + 1 < self.layers.len() {
                x = self.relu.forward(x);
            }
        }
        x.reshape([batch])
    }
}

/// The burn device named `name`: `cpu` (Flex), `cuda` or `wgpu` (each needs
/// its cargo feature), with autodiff.
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::flex().autodiff()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0).autodiff()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice).autodiff()),
        "cuda" | "wgpu" => Err(Error::config(
            "device",
            format!("{name}: this build has no {name} support (build with `--features {name}`)"),
        )),
        other => Err(Error::config("device", format!("'{other}' (known: cpu, cuda, wgpu)"))),
    }
}

/// A [`LogitModule`] as a [`TabularModel`].
#[derive(Debug, Clone)]
pub struct BurnModel<M: LogitModule> {
    module: M,
    device: Device,
    n_inputs: usize,
    n_params: usize,
}

/// State of [`BurnModel`] between calls: the module with the parameters
/// last loaded (loading again only when they change). Batches go to burn
/// as owned tensors, so they are built afresh each call.
#[derive(Debug, Clone)]
pub struct BurnWorkspace<M: LogitModule> {
    module: Option<M>,
    loaded: Vec<f32>,
}

impl<M: LogitModule> BurnModel<M> {
    /// Wraps `module`, which reads `n_inputs` inputs, on `device`.
    pub fn new(module: M, n_inputs: usize, device: Device) -> Self {
        let module = module.fork(&device);
        let mut count = Flatten(Vec::new());
        module.visit(&mut count);
        BurnModel { n_params: count.0.len(), module, device, n_inputs }
    }

    /// The module's own (initial) parameters, flat.
    pub fn initial_params(&self) -> Vec<f32> {
        let mut flat = Flatten(Vec::with_capacity(self.n_params));
        self.module.visit(&mut flat);
        flat.0
    }

    /// The module with `params` loaded (e.g. the trained parameters).
    pub fn module_with(&self, params: &[f32]) -> M {
        self.module.clone().map(&mut Load { values: params, at: 0 })
    }

    /// The device the module lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The logits of every row of `data` at `params` (in batches of 1,024
    /// rows), for evaluation with
    /// [`GroupFrame::from_logits`](crate::evaluation::GroupFrame::from_logits).
    pub fn logits(&self, params: &[f32], data: &Dataset) -> Vec<f32> {
        let mut out = vec![0.0; data.n_rows()];
        let mut ws = self.workspace(1_024);
        let rows: Vec<u32> = (0..data.n_rows() as u32).collect();
        for (chunk, logits) in rows.chunks(1_024).zip(out.chunks_mut(1_024)) {
            self.forward(params, data, chunk, &mut ws, 0, logits);
        }
        out
    }

    /// Loads `params` into the workspace's module unless they are loaded.
    fn sync<'a>(&self, params: &[f32], ws: &'a mut BurnWorkspace<M>) -> &'a M {
        if ws.module.is_none() || ws.loaded != params {
            ws.module = Some(self.module_with(params));
            ws.loaded.clear();
            ws.loaded.extend_from_slice(params);
        }
        ws.module.as_ref().expect("loaded above")
    }

    /// The dense `[rows, n_inputs]` batch of `rows` of `data`.
    fn inputs(&self, data: &Dataset, rows: impl ExactSizeIterator<Item = u32>) -> Tensor<2> {
        let (n, count) = (self.n_inputs, rows.len());
        let mut buffer = vec![0.0; count * n];
        for (k, row) in rows.enumerate() {
            let out = &mut buffer[k * n..(k + 1) * n];
            let dense = data.dense_row(row as usize);
            out[..dense.len()].copy_from_slice(dense);
            for &c in data.cat_row(row as usize) {
                if c != NO_INPUT {
                    out[c as usize] = 1.0;
                }
            }
        }
        Tensor::from_data(TensorData::new(buffer, [count, n]), &self.device)
    }
}

impl<M: LogitModule> TabularModel for BurnModel<M> {
    type Workspace = BurnWorkspace<M>;

    fn n_params(&self) -> usize {
        self.n_params
    }

    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    fn workspace(&self, _rows: usize) -> BurnWorkspace<M> {
        BurnWorkspace { module: None, loaded: Vec::with_capacity(self.n_params) }
    }

    fn forward(
        &self,
        params: &[f32],
        data: &Dataset,
        rows: &[u32],
        ws: &mut BurnWorkspace<M>,
        _slot_offset: usize,
        logits: &mut [f32],
    ) {
        if rows.is_empty() {
            return;
        }
        let x = self.inputs(data, rows.iter().copied());
        let z = self.sync(params, ws).logits(x).into_data();
        let z = z.as_slice::<f32>().expect("f32 logits");
        logits[..rows.len()].copy_from_slice(z);
    }

    fn backward(
        &self,
        params: &[f32],
        data: &Dataset,
        rows: &[u32],
        ws: &mut BurnWorkspace<M>,
        _slot_offset: usize,
        dz: &[f32],
        grad: &mut [f32],
    ) {
        // Only rows that contribute: the product is re-run on them.
        let (rows, dz): (Vec<u32>, Vec<f32>) =
            rows.iter().copied().zip(dz.iter().copied()).filter(|p| p.1 != 0.0).unzip();
        if rows.is_empty() {
            return;
        }
        let x = self.inputs(data, rows.into_iter());
        let n = dz.len();
        let weights = Tensor::<1>::from_data(TensorData::new(dz, [n]), &self.device);
        let module = self.sync(params, ws);
        let grads = (module.logits(x) * weights).sum().backward();
        module.visit(&mut AddGradients { grads: &grads, out: grad, at: 0 });
    }
}

/// Appends every float parameter to a flat vector.
struct Flatten(Vec<f32>);

impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data();
        self.0.extend_from_slice(data.as_slice::<f32>().expect("f32 parameters"));
    }
}

/// Replaces every float parameter by the next values of a flat vector.
struct Load<'a> {
    values: &'a [f32],
    at: usize,
}

impl ModuleMapper for Load<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (values, at) = (self.values, &mut self.at);
        param.map(|tensor| {
            let (shape, device) = (tensor.shape(), tensor.device());
            let n = shape.num_elements();
            let data = TensorData::new(values[*at..*at + n].to_vec(), shape);
            *at += n;
            Tensor::from_data(data, &device).require_grad()
        })
    }
}

/// Adds every float parameter's gradient to a flat vector.
struct AddGradients<'a> {
    grads: &'a Gradients,
    out: &'a mut [f32],
    at: usize,
}

impl ModuleVisitor for AddGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let n = value.shape().num_elements();
        if let Some(g) = value.grad(self.grads) {
            let g = g.into_data();
            for (o, &v) in self.out[self.at..self.at + n].iter_mut().zip(g.as_slice::<f32>().expect("f32 gradients")) {
                *o += v;
            }
        }
        self.at += n;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::algorithms::{AlgorithmConfig, AlgorithmName};
    use crate::constraints::{ConstraintSet, FairnessConstraint, Notion};
    use crate::data::{DataSource, LoadOptions, load};
    use crate::model::Mlp;
    use crate::problem::{BatchSizes, Problem, Request, TabularProblem};
    use crate::train::{Budget, TrainerConfig, train};

    fn synthetic() -> Dataset {
        load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train
    }

    /// The same parameters give the native MLP's logits and gradients.
    #[test]
    fn matches_the_native_mlp() {
        let data = synthetic();
        let native = Mlp::new(data.n_inputs(), &[8, 4]).unwrap();
        let params = native.init_params(7);
        let dev = device("cpu").unwrap();
        let burn = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8, 4], &dev), data.n_inputs(), dev);
        assert_eq!(burn.n_params(), native.n_params());
        let rows: Vec<u32> = (0..40).map(|i| i * 13).collect();
        let dz: Vec<f32> = (0..40).map(|i| if i % 5 == 0 { 0.0 } else { (i as f32 - 20.0) / 10.0 }).collect();
        let (mut a, mut b) = (vec![0.0; 40], vec![0.0; 40]);
        let mut ws = native.workspace(40);
        native.forward(&params, &data, &rows, &mut ws, 0, &mut a);
        let mut bws = burn.workspace(40);
        burn.forward(&params, &data, &rows, &mut bws, 0, &mut b);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-4, "logits {x} vs {y}");
        }
        let (mut ga, mut gb) = (vec![0.0; params.len()], vec![0.0; params.len()]);
        native.backward(&params, &data, &rows, &mut ws, 0, &dz, &mut ga);
        burn.backward(&params, &data, &rows, &mut bws, 0, &dz, &mut gb);
        let scale = ga.iter().map(|g| g.abs()).fold(0.0f32, f32::max);
        for (k, (x, y)) in ga.iter().zip(&gb).enumerate() {
            assert!((x - y).abs() <= 1e-4 * scale.max(1.0), "gradient {k}: {x} vs {y}");
        }
    }

    /// SSL-ALM trains a burn MLP under loss parity and ends where the
    /// native backend does from the same start: the two compute the same
    /// functions, so only float rounding separates their trajectories.
    #[test]
    fn ssl_alm_reaches_the_native_solution() {
        let data = Arc::new(synthetic());
        let bound = FairnessConstraint::new(Notion::LossParity, 0.02).unwrap();
        let batches = BatchSizes { objective: 16, per_group: 16 };
        let native = Mlp::new(data.n_inputs(), &[8]).unwrap();
        let params = native.init_params(3);
        let run = |problem: &mut dyn Problem| {
            let mut alg = AlgorithmConfig::paper(AlgorithmName::SslAlm).build().unwrap();
            train(problem, alg.as_mut(), &TrainerConfig::new(Budget::Iterations(1_500)), &mut ()).unwrap();
            problem.estimate(Request::Both).unwrap();
            problem.params().to_vec()
        };
        let constraints = || ConstraintSet::new(vec![bound.clone()], &data).unwrap();
        let mut p1 =
            TabularProblem::new(native.clone(), params.clone(), data.clone(), constraints(), batches, 3).unwrap();
        let a = run(&mut p1);
        let dev = device("cpu").unwrap();
        let model = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev);
        let mut p2 = TabularProblem::new(model, params, data.clone(), constraints(), batches, 3).unwrap();
        let b = run(&mut p2);
        let frame = |p: &[f32]| crate::evaluation::GroupFrame::from_model(&native, p, &data, 1);
        let (fa, fb) = (frame(&a), frame(&b));
        let gap = |f: &crate::evaluation::GroupFrame| (f.group(0).loss().unwrap() - f.group(1).loss().unwrap()).abs();
        assert!((fa.overall().loss().unwrap() - fb.overall().loss().unwrap()).abs() < 0.01);
        assert!((gap(&fa) - gap(&fb)).abs() < 0.01, "loss gaps {} vs {}", gap(&fa), gap(&fb));
        assert!(gap(&fb) < 0.02 + 0.01, "burn run's train loss gap {}", gap(&fb));
    }

    /// Data-parallel on burn: two members (threads) forward half the rows
    /// each and get the estimates and gradient of the whole minibatch.
    #[test]
    fn members_of_a_group_split_the_minibatch() {
        use crate::distributed::ThreadGroup;
        let data = Arc::new(synthetic());
        let bound = FairnessConstraint::new(Notion::EqualizedOdds, 0.05).unwrap();
        let batches = BatchSizes { objective: 24, per_group: 11 };
        let params = Mlp::new(data.n_inputs(), &[8]).unwrap().init_params(4);
        let build = || {
            let dev = device("cpu").unwrap();
            let model = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev);
            let set = ConstraintSet::new(vec![bound.clone()], &data).unwrap();
            TabularProblem::new(model, params.clone(), data.clone(), set, batches, 4).unwrap()
        };
        let step = |p: &mut dyn Problem| {
            p.estimate(Request::Both).unwrap();
            let weights: Vec<f32> = (0..p.num_constraints()).map(|i| 0.5 + i as f32).collect();
            let mut grad = vec![0.0; p.num_params()];
            p.add_gradient(1.0, &weights, &mut grad).unwrap();
            (p.last_estimate().constraints.clone(), grad)
        };
        let (values, grad) = step(&mut build());
        let members: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = ThreadGroup::new(2)
                .into_iter()
                .map(|m| {
                    let mut p = build().with_collective(Arc::new(m));
                    s.spawn(move || step(&mut p))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (v, g) in members {
            for (a, b) in v.iter().zip(&values) {
                assert!((a - b).abs() < 1e-5, "constraint {a} vs {b}");
            }
            for (a, b) in g.iter().zip(&grad) {
                assert!((a - b).abs() < 1e-5, "gradient {a} vs {b}");
            }
        }
    }

    #[test]
    fn unknown_and_missing_devices_are_named() {
        assert_eq!(device("tpu").unwrap_err().to_string(), "invalid value for device: 'tpu' (known: cpu, cuda, wgpu)");
        #[cfg(not(feature = "cuda"))]
        assert!(device("cuda").unwrap_err().to_string().contains("build with `--features cuda`"));
    }
}
