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

mod devices;
mod flat;
mod loss;
mod mlp;
mod optimizer;
mod statistics;
#[cfg(test)]
mod tests;

pub use self::devices::device;
use self::flat::{Load, add_downloaded, flat_gradients, flat_values};
pub use self::loss::{BinaryCrossEntropy, RowLoss};
pub use self::mlp::BurnMlp;
use self::optimizer::DeviceOptimizer;
use self::statistics::DeviceStep;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use super::{DeviceStatistics, TabularModel};
use crate::data::{Dataset, NO_INPUT};
use crate::model::loss::row_losses;

/// A burn module that scores encoded rows: logits `[B]` of inputs
/// `[B, n_inputs]` (numeric columns, then one one-hot unit per category,
/// as [`Dataset`] encodes them). A module for other inputs (images)
/// reshapes the rows itself.
pub trait LogitModule: Module {
    /// The logits of a batch.
    fn logits(&self, inputs: Tensor<2>) -> Tensor<1>;
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
        if let Some(params) = params
            && (ws.module.is_none() || ws.loaded != params)
        {
            ws.module = Some(self.module_with(params));
            ws.loaded.clear();
            ws.loaded.extend_from_slice(params);
            ws.flat = None;
            ws.transfers += 1;
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
