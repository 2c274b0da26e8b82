//! The burn backend (cargo feature `burn`): any burn module that maps a
//! batch of encoded rows `[B, n_inputs]` to logits `[B]` trains under
//! every algorithm and fairness constraint, unchanged.
//!
//! [`BurnModel`] is a [`TabularModel`] that evaluates training steps on its
//! device ([`DeviceStatistics`]): the training set is uploaded once; per
//! step the problem sends the minibatch's row indices, burn gathers and
//! encodes the rows, forwards them and computes every row's weighted
//! basis of the group statistics and its derivatives, and sends back eight
//! sums per minibatch part (objective, each group cell); for a gradient the
//! problem sends a few coefficients per part, burn forms each row's `dz`
//! and runs one backward pass through the forward's graph (burn keeps a
//! graph for one backward: a second gradient of the same rows forwards
//! them again).
//!
//! On a GPU (CUDA, wgpu) the primal step runs there too
//! ([`DeviceStatistics::step_parts`]): the gradient, the optimizer's
//! moments, the SSL-ALM anchor and the parameters stay on the device, so
//! per step only the row indices and coefficients go out and the sums come
//! back; the parameters come to the host for evaluations, iterate
//! averaging and the end of the run. On the CPU (Flex) the host takes the
//! primal step instead (its fused update is faster where memory is shared):
//! the parameters go out when they changed and the gradient comes back,
//! one download per step ([`BurnModel::with_params_on_device`] chooses).
//! Either way parameters cross as one flat `f32` vector in the module's
//! visiting order (for [`BurnMlp`], exactly the native
//! [`Mlp`](super::Mlp) layout), which is what the algorithms' dual,
//! proximal and averaging steps work on. [`BurnModel::with_host_statistics`]
//! uses the generic path instead (logits to the host, `dz` back, a second
//! forward in the vector-Jacobian product); evaluation uses it too.
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
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Gradients, IndexingUpdateOp, Int, Tensor, TensorData};

use super::{DeviceStatistics, TabularModel};
use crate::algorithms::optim::{PrimalStep, PrimalUpdate};
use crate::constraints::BASIS_DERIVATIVES;
use crate::data::{Dataset, NO_INPUT};
use crate::error::{Error, Result};
use crate::evaluation::GroupFrame;
use crate::evaluation::certificate::RowOutcome;
use crate::model::loss::{bce_with_logits, row_losses};

/// A burn module that scores encoded rows: logits `[B]` of inputs
/// `[B, n_inputs]` (numeric columns, then one one-hot unit per category,
/// as [`Dataset`] encodes them). A module for other inputs (images)
/// reshapes the rows itself.
pub trait LogitModule: Module {
    /// The logits of a batch.
    fn logits(&self, inputs: Tensor<2>) -> Tensor<1>;
}

/// The training loss of one row, on the device: the objective is its
/// sample-weighted mean and the loss-based constraints (loss parity) its
/// per-group means. Any function of a row's logit and label that is
/// differentiable in the logit (class-weighted or focal cross-entropy,
/// a margin loss...).
///
/// ```
/// use fairtrain::model::burn::{BurnMlp, BurnModel, RowLoss, device};
/// use burn::tensor::Tensor;
/// use burn::tensor::activation::softplus;
///
/// /// Cross-entropy with positives weighing `pos_weight`.
/// #[derive(Debug, Clone)]
/// struct WeightedBce { pos_weight: f32 }
///
/// impl RowLoss for WeightedBce {
///     fn losses(&self, z: Tensor<1>, y: Tensor<1>) -> Tensor<1> {
///         // -log sigmoid(z) = softplus(-z), -log(1 - sigmoid(z)) = softplus(z)
///         softplus(z.clone().neg(), 1.0) * y.clone() * self.pos_weight + softplus(z, 1.0) * (y.neg() + 1.0)
///     }
/// }
///
/// let dev = device("cpu").unwrap();
/// let model = BurnModel::new(BurnMlp::new(4, &[8], &dev), 4, dev).with_loss(WeightedBce { pos_weight: 3.0 });
/// # let _ = model;
/// ```
pub trait RowLoss: Clone + std::fmt::Debug + Send + 'static {
    /// The losses `[B]` of logits `[B]` against labels `[B]` (0 or 1).
    fn losses(&self, logits: Tensor<1>, labels: Tensor<1>) -> Tensor<1>;

    /// The losses and their derivatives in the logits, `[B]` each. The
    /// default differentiates [`Self::losses`] with burn's autodiff (rows
    /// are independent, so the gradient of their sum is each row's
    /// derivative); a loss with a closed-form derivative may give it.
    fn losses_and_derivatives(&self, logits: Tensor<1>, labels: Tensor<1>) -> (Tensor<1>, Tensor<1>) {
        let z = logits.inner().autodiff().require_grad();
        let losses = self.losses(z.clone(), labels.inner());
        let grads = losses.clone().sum().backward();
        let derivatives = z.grad(&grads).unwrap_or_else(|| z.clone().inner().zeros_like());
        (losses.inner(), derivatives)
    }

    /// One row's loss and derivative on the host, where the loss has a
    /// closed form there (`None`, the default: the host asks the device).
    fn row(&self, _logit: f32, _label: f32) -> Option<(f32, f32)> {
        None
    }
}

/// Binary cross-entropy on the logits, the default loss (the native
/// backend's): `max(z, 0) - z y + ln(1 + exp(-|z|))`, derivative
/// `sigmoid(z) - y`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinaryCrossEntropy;

impl RowLoss for BinaryCrossEntropy {
    fn losses(&self, z: Tensor<1>, y: Tensor<1>) -> Tensor<1> {
        z.clone().clamp_min(0.0) - z.clone() * y + z.abs().neg().exp().log1p()
    }

    fn losses_and_derivatives(&self, z: Tensor<1>, y: Tensor<1>) -> (Tensor<1>, Tensor<1>) {
        (self.losses(z.clone(), y.clone()), sigmoid(z) - y)
    }

    fn row(&self, z: f32, y: f32) -> Option<(f32, f32)> {
        Some(bce_with_logits(z, y))
    }
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
        #[cfg(not(feature = "cuda"))]
        "cuda" => Err(missing_device(name)),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" => Err(missing_device(name)),
        other => Err(Error::config("device", format!("'{other}' (known: cpu, cuda, wgpu)"))),
    }
}

/// The error for a device this build was made without.
#[cfg(not(all(feature = "cuda", feature = "wgpu")))]
fn missing_device(name: &str) -> Error {
    Error::config("device", format!("{name}: this build has no {name} support (build with `--features {name}`)"))
}

/// A [`LogitModule`] as a [`TabularModel`], trained under the loss `L`
/// (binary cross-entropy unless [`BurnModel::with_loss`] says otherwise).
///
/// In training the data set lives on the device: each step uploads the
/// minibatch's row indices, gathers and one-hot encodes the rows there,
/// and computes the objective's and every group statistic's sums and the
/// per-row derivatives there too ([`DeviceStatistics`]); what comes back is
/// eight sums per minibatch part, what goes out a few coefficients. On a
/// GPU the parameters and the optimizer's state stay on the device as
/// well; on the CPU the gradient comes back and the parameters go out (see
/// the module's documentation).
#[derive(Debug, Clone)]
pub struct BurnModel<M: LogitModule, L: RowLoss = BinaryCrossEntropy> {
    module: M,
    loss: L,
    device: Device,
    n_inputs: usize,
    n_params: usize,
    statistics_on_device: bool,
    params_on_device: bool,
}

/// State of [`BurnModel`] between calls: the module with the current
/// parameters (loaded from the host only when they change, or updated on
/// the device by [`DeviceStatistics::step_parts`]), the optimizer's state
/// on the device, and the device side of the last step.
#[derive(Debug, Clone)]
pub struct BurnWorkspace<M: LogitModule> {
    module: Option<M>,
    /// The host parameters the module holds; empty when the device's are
    /// newer (after a step on the device).
    loaded: Vec<f32>,
    /// The module's parameters as one flat tensor, when the last device
    /// step left them so (saves flattening them again).
    flat: Option<Tensor<1>>,
    optimizer: DeviceOptimizer,
    step: Option<DeviceStep>,
    /// Parameter vectors and gradients that crossed between host and device.
    transfers: u64,
}

impl<M: LogitModule> BurnWorkspace<M> {
    /// How many parameter vectors and gradients crossed between the host
    /// and the device so far (uploads of changed parameters, downloads of
    /// gradients and parameters); constant while steps run on the device.
    pub fn parameter_transfers(&self) -> u64 {
        self.transfers
    }
}

/// The state of a [`PrimalStep`] on the device: its moments and the Moreau
/// anchor, flat.
#[derive(Debug, Clone, Default)]
struct DeviceOptimizer {
    moments: Vec<Tensor<1>>,
    anchor: Option<Tensor<1>>,
}

impl DeviceOptimizer {
    /// Applies `step` to the parameters `x` with gradient `g` (both flat);
    /// returns the new parameters.
    fn apply(&mut self, x: Tensor<1>, mut g: Tensor<1>, step: &PrimalStep) -> Tensor<1> {
        if let Some((mu, beta)) = step.smoothing {
            let z = self.anchor.take().unwrap_or_else(|| x.clone());
            let d = x.clone() - z.clone();
            g = g + d.clone() * mu;
            self.anchor = Some(z + d * beta);
        }
        if self.moments.len() != step.update.state_len() {
            self.moments = (0..step.update.state_len()).map(|_| x.zeros_like()).collect();
        }
        match step.update {
            PrimalUpdate::Sgd { lr } => x - g * lr,
            PrimalUpdate::Momentum { lr, momentum } => {
                let v = self.moments[0].clone() * momentum + g;
                self.moments[0] = v.clone();
                x - v * lr
            }
            PrimalUpdate::Adam { beta1, beta2, step, c2_sqrt, eps } => {
                let m = self.moments[0].clone() * beta1 + g.clone() * (1.0 - beta1);
                let v = self.moments[1].clone() * beta2 + g.clone() * g * (1.0 - beta2);
                self.moments[0] = m.clone();
                self.moments[1] = v.clone();
                x - m * step / (v.sqrt() / c2_sqrt + eps)
            }
            PrimalUpdate::RmsProp { lr, alpha, eps } => {
                let v = self.moments[0].clone() * alpha + g.clone() * g.clone() * (1.0 - alpha);
                self.moments[0] = v.clone();
                x - g * lr / (v.sqrt() + eps)
            }
        }
    }
}

/// A training set on the device: numeric inputs `[N, n_numeric]`, one-hot
/// input indices `[N, n_categorical]` (a missing one points one past the
/// inputs), labels and sample weights `[N]`.
#[derive(Debug, Clone)]
struct DeviceData {
    /// Which data set (its address and size): a problem keeps one.
    key: (usize, usize),
    numeric: Tensor<2>,
    categorical: Option<Tensor<2, Int>>,
    labels: Tensor<1>,
    weights: Tensor<1>,
}

/// The device side of the last forward of [`DeviceStatistics`].
#[derive(Debug, Clone)]
struct DeviceStep {
    data: DeviceData,
    /// Rows forwarded, and their inputs.
    n_rows: usize,
    inputs: Option<Tensor<2>>,
    /// Their logits with the forward's graph, until a backward consumes it.
    logits: Option<Tensor<1>>,
    /// Weighted basis `[B, BASIS_LEN]` and basis derivatives `[B, BASIS_DERIVATIVES]`.
    basis: Option<Tensor<2>>,
    derivatives: Option<Tensor<2>>,
    /// The parts' sizes, membership `[P, B]` (0/1) and each row's part `[B]`.
    part_lens: Vec<usize>,
    membership: Option<Tensor<2>>,
    part_of_row: Option<Tensor<1, Int>>,
}

impl<M: LogitModule> BurnModel<M> {
    /// Wraps `module`, which reads `n_inputs` inputs, on `device`, trained
    /// under binary cross-entropy.
    pub fn new(module: M, n_inputs: usize, device: Device) -> Self {
        let module = module.fork(&device);
        let n_params = flat_values(&module).dims()[0];
        // Flex runs on the host's memory: nothing to save by keeping the
        // parameters there, and the host's fused update is faster.
        let params_on_device = device.clone().inner() != Device::flex();
        BurnModel {
            n_params,
            module,
            loss: BinaryCrossEntropy,
            device,
            n_inputs,
            statistics_on_device: true,
            params_on_device,
        }
    }
}

impl<M: LogitModule, L: RowLoss> BurnModel<M, L> {
    /// The same model trained under `loss` instead.
    pub fn with_loss<L2: RowLoss>(self, loss: L2) -> BurnModel<M, L2> {
        BurnModel {
            module: self.module,
            loss,
            device: self.device,
            n_inputs: self.n_inputs,
            n_params: self.n_params,
            statistics_on_device: self.statistics_on_device,
            params_on_device: self.params_on_device,
        }
    }

    /// The loss trained under.
    pub fn loss(&self) -> &L {
        &self.loss
    }

    /// Whether primal steps run on the device (parameters, gradient and
    /// optimizer state stay there; see [`DeviceStatistics::step_parts`]).
    /// The default: on a device with memory of its own (CUDA, wgpu), not on
    /// the CPU (Flex), where the host's fused update is faster.
    pub fn with_params_on_device(mut self, on_device: bool) -> Self {
        self.params_on_device = on_device;
        self
    }

    /// The same model computing the statistics on the host instead: logits
    /// come back per row and each row's derivative goes out (the generic
    /// [`TabularModel`] path), the batch's inputs are built on the host.
    /// For comparison; the default keeps the rows and statistics on the
    /// device.
    pub fn with_host_statistics(mut self) -> Self {
        self.statistics_on_device = false;
        self
    }

    /// The module's own (initial) parameters, flat.
    pub fn initial_params(&self) -> Vec<f32> {
        flat_values(&self.module).into_data().try_into_vec().expect("f32 parameters")
    }

    /// Per-group results of the model at `params` on `data` under its own
    /// loss (a [`GroupFrame`] of [`GroupFrame::from_logits`] counts
    /// cross-entropy): accuracy, rates and each group's mean training
    /// loss, weighted when `data` has sample weights.
    pub fn group_frame(&self, params: &[f32], data: &Dataset) -> GroupFrame {
        let logits = self.logits(params, data);
        let (mut losses, mut derivatives) = (vec![0.0; logits.len()], vec![0.0; logits.len()]);
        for ((z, y), (l, d)) in logits
            .chunks(1_024)
            .zip(data.labels().chunks(1_024))
            .zip(losses.chunks_mut(1_024).zip(derivatives.chunks_mut(1_024)))
        {
            self.losses(z, y, l, d);
        }
        let outcomes: Vec<RowOutcome> = logits
            .iter()
            .zip(data.labels())
            .zip(&losses)
            .enumerate()
            .map(|(i, ((&z, &y), &loss))| RowOutcome {
                loss: loss as f64,
                ..RowOutcome::from_logit(z, y, data.weight(i) as f64)
            })
            .collect();
        GroupFrame::from_outcomes(data.group_names(), &outcomes, data.groups())
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

    /// The workspace's module, with `params` loaded first unless they
    /// are (`None`: the device's own parameters, newer than the host's).
    fn sync<'a>(&self, params: Option<&[f32]>, ws: &'a mut BurnWorkspace<M>) -> &'a M {
        if let Some(params) = params {
            if ws.module.is_none() || ws.loaded != params {
                ws.module = Some(self.module_with(params));
                ws.loaded.clear();
                ws.loaded.extend_from_slice(params);
                ws.flat = None;
                ws.transfers += 1;
            }
        }
        ws.module.as_ref().expect("parameters are loaded before the device's own are used")
    }

    /// The module's current parameters as one flat tensor on the device.
    fn flat_params(&self, ws: &mut BurnWorkspace<M>) -> Tensor<1> {
        if let Some(flat) = &ws.flat {
            return flat.clone();
        }
        let flat = flat_values(self.sync(None, ws));
        ws.flat = Some(flat.clone());
        flat
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

impl<M: LogitModule, L: RowLoss> TabularModel for BurnModel<M, L> {
    type Workspace = BurnWorkspace<M>;

    fn n_params(&self) -> usize {
        self.n_params
    }

    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    fn workspace(&self, _rows: usize) -> BurnWorkspace<M> {
        BurnWorkspace {
            module: None,
            loaded: Vec::with_capacity(self.n_params),
            flat: None,
            optimizer: DeviceOptimizer::default(),
            step: None,
            transfers: 0,
        }
    }

    fn losses(&self, logits: &[f32], labels: &[f32], losses: &mut [f32], dlosses: &mut [f32]) {
        let Some(&first) = logits.first() else { return };
        if self.loss.row(first, labels[0]).is_some() {
            let row = |z, y| self.loss.row(z, y).unwrap_or((f32::NAN, f32::NAN));
            return row_losses(logits, labels, losses, dlosses, row);
        }
        let inner = self.device.clone().inner();
        let n = logits.len();
        let z = Tensor::<1>::from_data(TensorData::new(logits.to_vec(), [n]), &inner);
        let y = Tensor::<1>::from_data(TensorData::new(labels.to_vec(), [n]), &inner);
        let (l, d) = self.loss.losses_and_derivatives(z, y);
        losses.copy_from_slice(l.into_data().as_slice::<f32>().expect("f32 losses"));
        dlosses.copy_from_slice(d.into_data().as_slice::<f32>().expect("f32 derivatives"));
    }

    /// Nothing to grow (the device allocates per batch), and the
    /// parameters and optimizer state it holds stay.
    fn grow_workspace(&self, _ws: &mut BurnWorkspace<M>, _rows: usize) {}

    fn device_statistics(&self) -> Option<&dyn DeviceStatistics<BurnWorkspace<M>>> {
        if self.statistics_on_device { Some(self) } else { None }
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
        let z = self.sync(Some(params), ws).logits(x).into_data();
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
        let module = self.sync(Some(params), ws);
        let grads = (module.logits(x) * weights).sum().backward();
        if let Some(all) = flat_gradients(module, &grads) {
            ws.transfers += 1;
            add_downloaded(all, grad);
        }
    }
}

impl<M: LogitModule, L: RowLoss> BurnModel<M, L> {
    /// `data` uploaded to the device, under `key`.
    fn upload(&self, data: &Dataset, key: (usize, usize)) -> DeviceData {
        let inner = self.device.clone().inner();
        let (n, n_numeric, n_cat) = (data.n_rows(), data.layout().numeric.len(), data.layout().categorical.len());
        let mut numeric = Vec::with_capacity(n * n_numeric);
        let mut categorical = Vec::with_capacity(n * n_cat);
        for i in 0..n {
            numeric.extend_from_slice(data.dense_row(i));
            let missing = self.n_inputs as i64;
            categorical.extend(data.cat_row(i).iter().map(|&c| if c == NO_INPUT { missing } else { c as i64 }));
        }
        let weights = data.weights().map(<[f32]>::to_vec).unwrap_or_else(|| vec![1.0; n]);
        DeviceData {
            key,
            numeric: Tensor::from_data(TensorData::new(numeric, [n, n_numeric]), &inner),
            categorical: (n_cat > 0).then(|| Tensor::from_data(TensorData::new(categorical, [n, n_cat]), &inner)),
            labels: Tensor::from_data(TensorData::new(data.labels().to_vec(), [n]), &inner),
            weights: Tensor::from_data(TensorData::new(weights, [n]), &inner),
        }
    }

    /// The encoded inputs `[B, n_inputs]` of the rows `index` of `data`,
    /// built on the device: numeric columns, then ones at the one-hot
    /// indices (a missing category lands in a spare column, cut off).
    fn gather_inputs(&self, data: &DeviceData, index: &Tensor<1, Int>) -> Tensor<2> {
        let numeric = data.numeric.clone().select(0, index.clone());
        let Some(categorical) = &data.categorical else { return numeric };
        let [b, n_numeric] = numeric.dims();
        let device = numeric.device();
        let spare = Tensor::<2>::zeros([b, self.n_inputs + 1 - n_numeric], &device);
        let cats = categorical.clone().select(0, index.clone());
        let ones = Tensor::<2>::ones(cats.dims(), &device);
        Tensor::cat(vec![numeric, spare], 1).scatter(1, cats, ones, IndexingUpdateOp::Add).narrow(1, 0, self.n_inputs)
    }
}

impl<M: LogitModule, L: RowLoss> DeviceStatistics<BurnWorkspace<M>> for BurnModel<M, L> {
    fn forward_parts(
        &self,
        params: Option<&[f32]>,
        data: &Dataset,
        rows: &[u32],
        part_lens: &[usize],
        temperature: f32,
        ws: &mut BurnWorkspace<M>,
    ) {
        // The data set stays on the device while the problem's is the same.
        let key = (data as *const Dataset as usize, data.n_rows());
        let mut step = match ws.step.take() {
            Some(step) if step.data.key == key => step,
            _ => DeviceStep {
                data: self.upload(data, key),
                n_rows: 0,
                inputs: None,
                logits: None,
                basis: None,
                derivatives: None,
                part_lens: Vec::new(),
                membership: None,
                part_of_row: None,
            },
        };
        step.n_rows = rows.len();
        step.logits = None;
        if rows.is_empty() {
            ws.step = Some(step);
            return;
        }
        let inner = self.device.clone().inner();
        let b = rows.len();
        if step.part_lens != part_lens || step.membership.is_none() {
            let mut membership = vec![0.0f32; part_lens.len() * b];
            let mut part_of_row = Vec::with_capacity(b);
            let mut at = 0;
            for (p, &len) in part_lens.iter().enumerate() {
                membership[p * b + at..p * b + at + len].fill(1.0);
                part_of_row.extend(std::iter::repeat_n(p as i64, len));
                at += len;
            }
            step.membership = Some(Tensor::from_data(TensorData::new(membership, [part_lens.len(), b]), &inner));
            step.part_of_row = Some(Tensor::from_data(TensorData::new(part_of_row, [b]), &inner));
            step.part_lens = part_lens.to_vec();
        }
        let index: Tensor<1, Int> =
            Tensor::from_data(TensorData::new(rows.iter().map(|&r| r as i64).collect::<Vec<_>>(), [b]), &inner);
        let inputs = self.gather_inputs(&step.data, &index);
        let logits = self.sync(params, ws).logits(inputs.clone());
        let y = step.data.labels.clone().select(0, index.clone());
        let w = step.data.weights.clone().select(0, index).unsqueeze_dim::<2>(1);
        // The basis of `Statistic::from_basis_sums`, weighted, and its derivatives.
        let z = logits.clone().inner();
        let s = sigmoid(z.clone() / temperature);
        let ds = s.clone() * (s.clone().neg() + 1.0) / temperature;
        let sig = sigmoid(z.clone());
        let dsig = sig.clone() * (sig.clone().neg() + 1.0);
        let p = z.clone().greater_elem(0.0).float();
        let (loss, dloss) = self.loss.losses_and_derivatives(z.clone(), y.clone());
        let basis = Tensor::stack::<2>(
            vec![y.ones_like(), y.clone(), s.clone(), y.clone() * s, loss, sig, p.clone(), y.clone() * p],
            1,
        ) * w.clone();
        let derivatives = Tensor::stack::<2>(vec![ds.clone(), y * ds, dloss, dsig], 1) * w;
        step.inputs = Some(inputs);
        step.logits = Some(logits);
        step.basis = Some(basis);
        step.derivatives = Some(derivatives);
        ws.step = Some(step);
    }

    fn part_sums(&self, ws: &mut BurnWorkspace<M>, out: &mut [f32]) {
        out.fill(0.0);
        let Some(step) = &ws.step else { return };
        let (Some(membership), Some(basis)) = (&step.membership, &step.basis) else { return };
        if step.n_rows == 0 {
            return;
        }
        let sums = membership.clone().matmul(basis.clone()).into_data();
        out.copy_from_slice(&sums.as_slice::<f32>().expect("f32 sums")[..out.len()]);
    }

    fn add_part_gradient(
        &self,
        params: Option<&[f32]>,
        coefficients: &[f32],
        ws: &mut BurnWorkspace<M>,
        grad: &mut [f32],
    ) {
        if let Some(all) = self.part_gradient(params, coefficients, ws) {
            ws.transfers += 1;
            add_downloaded(all, grad);
        }
    }

    fn step_parts(
        &self,
        params: Option<&[f32]>,
        coefficients: &[f32],
        norm_weight: f32,
        step: &PrimalStep,
        ws: &mut BurnWorkspace<M>,
    ) {
        let gradient = if coefficients.is_empty() { None } else { self.part_gradient(params, coefficients, ws) };
        self.sync(params, ws);
        let x = self.flat_params(ws);
        let mut g = gradient.unwrap_or_else(|| x.zeros_like());
        if norm_weight != 0.0 {
            g = g + x.clone() * (2.0 * norm_weight);
        }
        let x = ws.optimizer.apply(x, g, step);
        ws.module = Some(self.module.clone().map(&mut LoadFlat { values: &x, at: 0 }));
        ws.flat = Some(x);
        ws.loaded.clear();
    }

    fn keeps_params(&self) -> bool {
        self.params_on_device
    }

    fn download_params(&self, ws: &mut BurnWorkspace<M>, out: &mut [f32]) {
        let data = self.flat_params(ws).into_data();
        out.copy_from_slice(data.as_slice::<f32>().expect("f32 parameters"));
        ws.loaded.clear();
        ws.loaded.extend_from_slice(out);
        ws.transfers += 1;
    }

    fn params_norm2(&self, ws: &mut BurnWorkspace<M>) -> f32 {
        let x = self.flat_params(ws);
        (x.clone() * x).sum().into_data().as_slice::<f32>().expect("f32 norm")[0]
    }
}

impl<M: LogitModule, L: RowLoss> BurnModel<M, L> {
    /// The gradient of [`DeviceStatistics::add_part_gradient`], flat, on the
    /// device (`None` without rows).
    fn part_gradient(
        &self,
        params: Option<&[f32]>,
        coefficients: &[f32],
        ws: &mut BurnWorkspace<M>,
    ) -> Option<Tensor<1>> {
        let mut step = ws.step.take()?;
        let (Some(part_of_row), Some(derivatives), Some(inputs)) = (&step.part_of_row, &step.derivatives, &step.inputs)
        else {
            ws.step = Some(step);
            return None;
        };
        if step.n_rows == 0 {
            ws.step = Some(step);
            return None;
        }
        let inner = self.device.clone().inner();
        let n_parts = coefficients.len() / BASIS_DERIVATIVES;
        let coefficients =
            Tensor::<2>::from_data(TensorData::new(coefficients.to_vec(), [n_parts, BASIS_DERIVATIVES]), &inner);
        let dz = (coefficients.select(0, part_of_row.clone()) * derivatives.clone()).sum_dim(1).reshape([step.n_rows]);
        // burn keeps no graph after a backward: the first gradient after a
        // forward uses its graph, later ones forward again.
        let logits = match step.logits.take() {
            Some(logits) => logits,
            None => self.sync(params, ws).logits(inputs.clone()),
        };
        let grads = (logits * dz).sum().backward();
        let gradient = flat_gradients(self.sync(params, ws), &grads);
        ws.step = Some(step);
        gradient
    }
}

/// Every float parameter of `module` in visiting order, as one flat tensor
/// on the device (empty for a module without parameters).
fn flat_values<M: Module>(module: &M) -> Tensor<1> {
    let mut values = FlatValues(Vec::new());
    module.visit(&mut values);
    if values.0.is_empty() { Tensor::zeros([0], &Device::flex()) } else { Tensor::cat(values.0, 0) }
}

/// Collects every float parameter, flat, on the device.
struct FlatValues(Vec<Tensor<1>>);

impl ModuleVisitor for FlatValues {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().inner();
        let n = value.shape().num_elements();
        self.0.push(value.reshape([n]));
    }
}

/// Replaces every float parameter by the next values of a flat tensor on
/// the device.
struct LoadFlat<'a> {
    values: &'a Tensor<1>,
    at: usize,
}

impl ModuleMapper for LoadFlat<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (values, at) = (self.values, &mut self.at);
        param.map(|tensor| {
            let shape = tensor.shape();
            let n = shape.num_elements();
            let value = values.clone().narrow(0, *at, n).reshape(shape);
            *at += n;
            value.autodiff().require_grad()
        })
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

/// The gradient of every float parameter of `module`, as one flat tensor
/// on the device (`None` for a module without parameters).
fn flat_gradients<M: Module>(module: &M, grads: &Gradients) -> Option<Tensor<1>> {
    let mut flat = FlatGradients { grads, parts: Vec::new() };
    module.visit(&mut flat);
    (!flat.parts.is_empty()).then(|| Tensor::cat(flat.parts, 0))
}

/// Adds a flat device tensor to `out`, in one download.
fn add_downloaded(values: Tensor<1>, out: &mut [f32]) {
    let data = values.into_data();
    for (o, &v) in out.iter_mut().zip(data.as_slice::<f32>().expect("f32 values")) {
        *o += v;
    }
}

/// Collects every float parameter's gradient, flat (zeros without one).
struct FlatGradients<'a> {
    grads: &'a Gradients,
    parts: Vec<Tensor<1>>,
}

impl ModuleVisitor for FlatGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let n = value.shape().num_elements();
        let flat = match value.grad(self.grads) {
            Some(g) => g.reshape([n]),
            None => Tensor::zeros([n], &value.device().inner()),
        };
        self.parts.push(flat);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::algorithms::{AlgorithmConfig, AlgorithmName, PrimalConfig, PrimalKind};
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

    /// Statistics on the device give the estimates and gradients of the
    /// host path, for every statistic (every notion and a custom gap of
    /// FNR and error rate), with sample weights, through the problem's
    /// whole protocol: fresh estimates, several gradients of one forward
    /// (burn's graph serves one backward, later ones forward again), moved
    /// parameters, half-row selections, objective-only and
    /// constraint-only estimates. `FAIRTRAIN_TEST_DEVICE=wgpu` (or `cuda`)
    /// runs both paths on that device (with its cargo feature).
    #[test]
    fn device_statistics_match_the_host_path() {
        use crate::constraints::{Comparison, ConstraintKind, Statistic};
        use crate::problem::RowSelection;
        let plain = synthetic();
        let weights: Vec<f32> = (0..plain.n_rows()).map(|i| 0.25 + (i % 7) as f32 * 0.3).collect();
        let data = Arc::new(plain.with_weights(weights).unwrap());
        let mut bounds: Vec<FairnessConstraint> = Notion::ALL
            .iter()
            .map(|&n| {
                let bound = n.default_bound().unwrap_or(if n == Notion::WeightNorm { 50.0 } else { 0.6 });
                FairnessConstraint::new(n, bound).unwrap()
            })
            .collect();
        let kind = ConstraintKind::Gap {
            statistics: vec![Statistic::Fnr, Statistic::ErrorRate],
            comparison: Comparison::Pairwise,
        };
        bounds.push(FairnessConstraint::custom("fnr-and-error-gap", kind, 0.05).unwrap());
        let batches = BatchSizes { objective: 40, per_group: 12 };
        let params = Mlp::new(data.n_inputs(), &[8]).unwrap().init_params(9);
        let device_name = std::env::var("FAIRTRAIN_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
        let build = |on_device: bool| {
            let dev = device(&device_name).unwrap();
            let mut model = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev);
            if !on_device {
                model = model.with_host_statistics();
            }
            assert_eq!(model.device_statistics().is_some(), on_device);
            let set = ConstraintSet::new(bounds.clone(), &data).unwrap();
            TabularProblem::new(model, params.clone(), data.clone(), set, batches, 6).unwrap()
        };
        let (mut host, mut dev) = (build(false), build(true));
        let m = host.num_constraints();
        let close = |what: &str, a: &[f32], b: &[f32]| {
            let scale = a.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
            for (k, (x, y)) in a.iter().zip(b).enumerate() {
                assert!((x - y).abs() <= 2e-5 * scale, "{what}[{k}]: host {x} vs device {y}");
            }
        };
        let same_estimates = |what: &str, h: &TabularProblem<_>, d: &TabularProblem<_>| {
            let (a, b) = (h.last_estimate(), d.last_estimate());
            close(&format!("{what}: objective"), &[a.objective], &[b.objective]);
            close(&format!("{what}: constraints"), &a.constraints, &b.constraints);
            close(&format!("{what}: exact constraints"), &a.exact_constraints, &b.exact_constraints);
        };
        let weights: Vec<f32> = (0..m).map(|i| 0.2 + 0.1 * i as f32).collect();
        let gradient = |p: &mut dyn Problem, objective: f32, constraints: &[f32]| {
            let mut g = vec![0.0; p.num_params()];
            p.add_gradient(objective, constraints, &mut g).unwrap();
            g
        };
        for round in 0..3 {
            for p in [&mut host as &mut dyn Problem, &mut dev] {
                p.estimate(Request::Both).unwrap();
            }
            same_estimates("fresh", &host, &dev);
            close("combined gradient", &gradient(&mut host, 0.7, &weights), &gradient(&mut dev, 0.7, &weights));
            for i in [0, 3, m - 1] {
                let (mut a, mut b) = (vec![0.0; host.num_params()], vec![0.0; host.num_params()]);
                host.add_constraint_gradient(i, &mut a).unwrap();
                dev.add_constraint_gradient(i, &mut b).unwrap();
                close(&format!("gradient of constraint {i}"), &a, &b);
            }
            // A step moves the parameters: the next gradient forwards again.
            let g = gradient(&mut host, 1.0, &weights);
            for p in [&mut host as &mut dyn Problem, &mut dev] {
                for (x, d) in p.params_mut().iter_mut().zip(&g) {
                    *x -= 0.05 * d;
                }
            }
            close("gradient after a step", &gradient(&mut host, 1.0, &weights), &gradient(&mut dev, 1.0, &weights));
            same_estimates("after a step", &host, &dev);
            if round == 1 {
                for selection in [RowSelection::Even, RowSelection::Odd, RowSelection::All] {
                    host.select_rows(selection).unwrap();
                    dev.select_rows(selection).unwrap();
                    same_estimates(&format!("{selection:?} rows"), &host, &dev);
                    close("selected gradient", &gradient(&mut host, 0.3, &weights), &gradient(&mut dev, 0.3, &weights));
                }
            }
            if round == 2 {
                host.estimate(Request::Objective).unwrap();
                dev.estimate(Request::Objective).unwrap();
                same_estimates("objective only", &host, &dev);
                close(
                    "objective gradient",
                    &gradient(&mut host, 1.0, &vec![0.0; m]),
                    &gradient(&mut dev, 1.0, &vec![0.0; m]),
                );
                host.estimate(Request::Constraints).unwrap();
                dev.estimate(Request::Constraints).unwrap();
                same_estimates("constraints only", &host, &dev);
                close("constraint gradient", &gradient(&mut host, 0.0, &weights), &gradient(&mut dev, 0.0, &weights));
            }
        }
    }

    /// The paper's configuration of `name` with its primal step replaced.
    fn with_primal(name: AlgorithmName, primal: PrimalConfig) -> AlgorithmConfig {
        match AlgorithmConfig::paper(name) {
            AlgorithmConfig::Lagrangian { name, dual, .. } => AlgorithmConfig::Lagrangian { name, dual, primal },
            AlgorithmConfig::Unconstrained { name, .. } => AlgorithmConfig::Unconstrained { name, primal },
            other => other,
        }
    }

    /// Primal steps taken on the device (gradient, optimizer state and
    /// parameters all stay there) follow the same steps taken on the host,
    /// for every optimizer (SGD with the SSL-ALM smoothing, momentum, Adam,
    /// RMSProp), the switching subgradient and a weight-norm constraint
    /// (its norm is computed on the device); parameters edited on the host
    /// in between are honoured. Meanwhile no parameter vector or gradient
    /// crosses: one upload at the start, one download at the end.
    #[test]
    fn primal_steps_on_the_device_follow_the_host() {
        let data = Arc::new(synthetic());
        let bounds = vec![
            FairnessConstraint::new(Notion::DemographicParity, 0.05).unwrap(),
            FairnessConstraint::new(Notion::WeightNorm, 4.0).unwrap(),
        ];
        let params = Mlp::new(data.n_inputs(), &[8]).unwrap().init_params(4);
        let device_name = std::env::var("FAIRTRAIN_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
        let build = || {
            let dev = device(&device_name).unwrap();
            let model = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev)
                .with_params_on_device(true);
            let set = ConstraintSet::new(bounds.clone(), &data).unwrap();
            TabularProblem::new(
                model,
                params.clone(),
                data.clone(),
                set,
                BatchSizes { objective: 32, per_group: 16 },
                2,
            )
            .unwrap()
        };
        let configs = [
            AlgorithmConfig::paper(AlgorithmName::SslAlm),
            with_primal(AlgorithmName::Gda, PrimalConfig { momentum: 0.9, ..PrimalConfig::sgd(0.01) }),
            with_primal(AlgorithmName::Alm, PrimalConfig::adam(0.005)),
            with_primal(AlgorithmName::Nupi, PrimalConfig { kind: PrimalKind::RmsProp, ..PrimalConfig::sgd(0.002) }),
            AlgorithmConfig::paper(AlgorithmName::Ssw),
            AlgorithmConfig::paper(AlgorithmName::Adam),
        ];
        for config in configs {
            let (mut host, mut dev) = (build().keep_params_on_host(), build());
            assert!(!host.params_on_device() && dev.params_on_device());
            let (mut a, mut b) = (config.build().unwrap(), config.build().unwrap());
            let name = a.name();
            for step in 0..120 {
                a.step(&mut host).unwrap();
                b.step(&mut dev).unwrap();
                if step == 60 {
                    host.params_mut()[3] += 0.25;
                    dev.params_mut()[3] += 0.25;
                }
            }
            assert_eq!(
                dev.workspace().parameter_transfers(),
                3,
                "{name}: an upload, then the edit's download and upload"
            );
            dev.sync_params().unwrap();
            assert_eq!(dev.workspace().parameter_transfers(), 4, "{name}: and one download at the end");
            assert!(host.workspace().parameter_transfers() >= 240, "{name}: the host path crosses every step");
            let scale = host.params().iter().fold(1.0f32, |m, v| m.max(v.abs()));
            for (k, (x, y)) in host.params().iter().zip(dev.params()).enumerate() {
                assert!((x - y).abs() <= 2e-4 * scale, "{name}: parameter {k}: host {x}, device {y}");
            }
            let (e, f) = (host.last_estimate(), dev.last_estimate());
            assert!((e.objective - f.objective).abs() < 1e-4, "{name}: {} vs {}", e.objective, f.objective);
            // The unconstrained baseline never estimates the constraints.
            for (c, d) in e.constraints.iter().zip(&f.constraints).filter(|_| a.uses_constraints()) {
                assert!((c - d).abs() < 1e-3, "{name}: constraints {e:?} vs {f:?}");
            }
        }
        let err = build().save_state().unwrap_err().to_string();
        assert!(err.contains("keep_params_on_host"), "{err}");
    }

    /// Cross-entropy with positives weighing `pos_weight`, given by its
    /// losses alone (the derivative comes from autodiff).
    #[derive(Debug, Clone)]
    struct WeightedBce {
        pos_weight: f32,
    }

    impl RowLoss for WeightedBce {
        fn losses(&self, z: Tensor<1>, y: Tensor<1>) -> Tensor<1> {
            use burn::tensor::activation::softplus;
            softplus(z.clone().neg(), 1.0) * y.clone() * self.pos_weight + softplus(z, 1.0) * (y.neg() + 1.0)
        }
    }

    /// Binary cross-entropy given by its losses alone, `softplus(z) - z y`
    /// (smooth everywhere, unlike the stable form's `|z|`, whose autodiff
    /// derivative at 0 is a subgradient).
    #[derive(Debug, Clone)]
    struct PlainBce;

    impl RowLoss for PlainBce {
        fn losses(&self, z: Tensor<1>, y: Tensor<1>) -> Tensor<1> {
            burn::tensor::activation::softplus(z.clone(), 1.0) - z * y
        }
    }

    /// A loss of the user's own: autodiff gives its derivatives (checked
    /// against the closed forms), the objective and loss parity are its
    /// means (checked against a hand computation over all rows), the
    /// device and host paths agree, and the per-group report uses it.
    #[test]
    fn a_loss_of_ones_own_trains_and_reports() {
        let inner = device("cpu").unwrap().inner();
        let zs = [-3.0f32, -0.5, 0.0, 0.7, 4.0, 1.5];
        let ys = [1.0f32, 0.0, 1.0, 0.0, 1.0, 1.0];
        let tensor = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &inner);
        let download = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        let sig = |z: f32| 1.0 / (1.0 + (-z).exp());
        let weighted = WeightedBce { pos_weight: 3.0 };
        let (l, d) = weighted.losses_and_derivatives(tensor(&zs), tensor(&ys));
        let (l, d) = (download(l), download(d));
        let (pl, pd) = PlainBce.losses_and_derivatives(tensor(&zs), tensor(&ys));
        let (pl, pd) = (download(pl), download(pd));
        for i in 0..zs.len() {
            let (z, y) = (zs[i], ys[i]);
            let expected = 3.0 * y * -(sig(z).ln()) + (1.0 - y) * -((1.0 - sig(z)).ln());
            assert!((l[i] - expected).abs() < 1e-5, "loss at z={z}, y={y}: {} vs {expected}", l[i]);
            let slope = 3.0 * y * (sig(z) - 1.0) + (1.0 - y) * sig(z);
            assert!((d[i] - slope).abs() < 1e-5, "derivative at z={z}, y={y}: {} vs {slope}", d[i]);
            let (bl, bd) = bce_with_logits(z, y);
            assert!((pl[i] - bl).abs() < 1e-5 && (pd[i] - bd).abs() < 1e-5, "autodiff BCE at z={z}");
        }

        let data = Arc::new(synthetic());
        let n = data.n_rows();
        let params = Mlp::new(data.n_inputs(), &[8]).unwrap().init_params(3);
        let bound = vec![FairnessConstraint::new(Notion::LossParity, 0.05).unwrap()];
        let build = |host: bool| {
            let dev = device("cpu").unwrap();
            let mut model = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev)
                .with_loss(weighted.clone());
            if host {
                model = model.with_host_statistics();
            }
            let set = ConstraintSet::new(bound.clone(), &data).unwrap();
            TabularProblem::new(model, params.clone(), data.clone(), set, BatchSizes { objective: n, per_group: 40 }, 1)
                .unwrap()
        };
        let (mut dev, mut host) = (build(false), build(true));
        let logits = dev.model().logits(&params, &data);
        let row_loss = |i: usize| {
            let (z, y) = (logits[i], data.labels()[i]);
            3.0 * y * -(sig(z).ln()) + (1.0 - y) * -((1.0 - sig(z)).ln())
        };
        let expected = (0..n).map(row_loss).sum::<f32>() / n as f32;
        for p in [&mut dev as &mut dyn Problem, &mut host] {
            p.estimate(Request::Both).unwrap();
            let objective = p.last_estimate().objective;
            assert!((objective - expected).abs() < 1e-4 * expected, "objective {objective} vs {expected}");
        }
        let (a, b) = (dev.last_estimate(), host.last_estimate());
        for (x, y) in a.constraints.iter().zip(&b.constraints) {
            assert!((x - y).abs() < 1e-4, "loss parity: device {x} vs host {y}");
        }
        let (mut ga, mut gb) = (vec![0.0; dev.num_params()], vec![0.0; dev.num_params()]);
        dev.add_gradient(1.0, &[0.5, 0.5], &mut ga).unwrap();
        host.add_gradient(1.0, &[0.5, 0.5], &mut gb).unwrap();
        let scale = ga.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for (x, y) in ga.iter().zip(&gb) {
            assert!((x - y).abs() < 1e-4 * scale, "gradient: device {x} vs host {y}");
        }
        let frame = dev.model().group_frame(&params, &data);
        for g in 0..data.n_groups() {
            let rows = data.group_rows(g);
            let mean = rows.iter().map(|&r| row_loss(r as usize) as f64).sum::<f64>() / rows.len() as f64;
            let reported = frame.group(g).loss().unwrap();
            assert!((reported - mean).abs() < 1e-4 * mean, "group {g}: reported loss {reported} vs {mean}");
        }
    }

    /// On the CPU the parameters stay on the host unless asked; a device
    /// with memory of its own keeps them.
    #[test]
    fn parameters_stay_where_the_update_is_fastest() {
        let dev = device("cpu").unwrap();
        let model = BurnModel::new(BurnMlp::new(4, &[2], &dev), 4, dev);
        assert!(!model.keeps_params());
        assert!(model.with_params_on_device(true).keeps_params());
        #[cfg(feature = "wgpu")]
        if std::env::var("FAIRTRAIN_TEST_DEVICE").as_deref() == Ok("wgpu") {
            let dev = device("wgpu").unwrap();
            assert!(BurnModel::new(BurnMlp::new(4, &[2], &dev), 4, dev).keeps_params());
        }
    }

    #[test]
    fn unknown_and_missing_devices_are_named() {
        assert_eq!(device("tpu").unwrap_err().to_string(), "invalid value for device: 'tpu' (known: cpu, cuda, wgpu)");
        #[cfg(not(feature = "cuda"))]
        assert!(device("cuda").unwrap_err().to_string().contains("build with `--features cuda`"));
    }
}
