//! [`DeviceStatistics`] for [`BurnModel`]: the training set uploaded once,
//! the minibatch parts gathered, forwarded and reduced to basis sums on the
//! device, and the gradient of a weighted combination of parts from a few
//! coefficients per part.

use burn::tensor::activation::sigmoid;
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData};

use super::flat::{LoadFlat, add_downloaded, flat_gradients};
use super::{BurnModel, BurnWorkspace, LogitModule, RowLoss};
use crate::data::{Dataset, NO_INPUT};
use crate::model::BASIS_DERIVATIVES;
use crate::model::DeviceStatistics;
use crate::model::PrimalStep;

/// A training set on the device: numeric inputs `[N, n_numeric]`, one-hot
/// input indices `[N, n_categorical]` (a missing one points one past the
/// inputs), labels and sample weights `[N]`.
#[derive(Debug, Clone)]
pub(super) struct DeviceData {
    /// Which data set (its address and size): a problem keeps one.
    pub(super) key: (usize, usize),
    pub(super) numeric: Tensor<2>,
    pub(super) categorical: Option<Tensor<2, Int>>,
    pub(super) labels: Tensor<1>,
    pub(super) weights: Tensor<1>,
}

/// The device side of the last forward of [`DeviceStatistics`].
#[derive(Debug, Clone)]
pub(super) struct DeviceStep {
    pub(super) data: DeviceData,
    /// Rows forwarded, and their inputs.
    pub(super) n_rows: usize,
    pub(super) inputs: Option<Tensor<2>>,
    /// Their logits with the forward's graph, until a backward consumes it.
    pub(super) logits: Option<Tensor<1>>,
    /// Weighted basis `[B, BASIS_LEN]` and basis derivatives `[B, BASIS_DERIVATIVES]`.
    pub(super) basis: Option<Tensor<2>>,
    pub(super) derivatives: Option<Tensor<2>>,
    /// The parts' sizes, membership `[P, B]` (0/1) and each row's part `[B]`.
    pub(super) part_lens: Vec<usize>,
    pub(super) membership: Option<Tensor<2>>,
    pub(super) part_of_row: Option<Tensor<1, Int>>,
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
