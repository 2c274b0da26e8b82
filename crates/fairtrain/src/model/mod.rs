//! Models. The native backend is a multilayer perceptron for tabular data
//! (ReLU hidden layers, one logit output) whose parameters are one flat
//! `f32` vector; the algorithms never see more than that vector.

#[cfg(feature = "burn")]
pub mod burn;
pub mod decision;
mod kernels;
pub mod loss;
pub mod saved;
mod step;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::Dataset;
use crate::error::{Error, Result};
pub use crate::simd::Isa;
use kernels::Net;
pub use kernels::Workspace;
pub use step::{PrimalRule, PrimalStep, PrimalUpdate};

/// Buffers of [`Mlp::jvp`], reused across calls.
#[derive(Debug, Clone, Default)]
pub struct JvpScratch {
    h: Vec<f32>,
    dh: Vec<f32>,
    out: Vec<f32>,
    dout: Vec<f32>,
}

impl JvpScratch {
    fn resize(&mut self, width: usize) {
        for b in [&mut self.h, &mut self.dh, &mut self.out, &mut self.dout] {
            if b.len() < width {
                b.resize(width, 0.0);
            }
        }
    }
}

/// A model that [`TabularProblem`](crate::problem::TabularProblem) can
/// train: per-row logits of a [`Dataset`]'s rows at flat parameters, and
/// the vector-Jacobian product of those logits. Constraints and losses are
/// functions of the logits, so the problem computes their derivatives with
/// respect to each logit itself and needs from the model only one backward
/// pass per gradient. The native [`Mlp`] implements it; with the `burn`
/// feature, so does any burn module (`fairtrain::model::burn`).
pub trait TabularModel: Clone + std::fmt::Debug + Send {
    /// Buffers of the forward and backward passes.
    type Workspace: Clone + std::fmt::Debug + Send;

    /// Number of parameters.
    fn n_params(&self) -> usize;

    /// Number of inputs (the data set's encoded width).
    fn n_inputs(&self) -> usize;

    /// Buffers for up to `rows` rows.
    fn workspace(&self, rows: usize) -> Self::Workspace;

    /// Makes `ws` hold up to `rows` rows (minibatches grew). The default
    /// makes a new one; a backend whose workspace keeps state (parameters
    /// and optimizer moments on a device) keeps it.
    fn grow_workspace(&self, ws: &mut Self::Workspace, rows: usize) {
        *ws = self.workspace(rows);
    }

    /// Forward pass of `rows` of `data` into workspace slots
    /// `slot_offset..slot_offset + rows.len()`, writing one logit per row.
    fn forward(
        &self,
        params: &[f32],
        data: &Dataset,
        rows: &[u32],
        ws: &mut Self::Workspace,
        slot_offset: usize,
        logits: &mut [f32],
    );

    /// Adds `sum_i dz[i] * d logit_i / d params` over `rows` to `grad`, the
    /// rows' forward pass sitting in slots `slot_offset..` (a backend
    /// without retained activations may recompute it).
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        params: &[f32],
        data: &Dataset,
        rows: &[u32],
        ws: &mut Self::Workspace,
        slot_offset: usize,
        dz: &[f32],
        grad: &mut [f32],
    );

    /// Each row's loss and its derivative in the logit, from the logits
    /// and labels of a batch. The default is binary cross-entropy on the
    /// logits ([`loss::bce_with_logits`]); a model trained under a loss of
    /// its own (the burn backend's `RowLoss`, feature `burn`) overrides
    /// it.
    fn losses(&self, logits: &[f32], labels: &[f32], losses: &mut [f32], dlosses: &mut [f32]) {
        loss::row_losses(logits, labels, losses, dlosses, loss::bce_with_logits);
    }

    /// The native MLP, when this is one (the fairness methods need its
    /// per-row access).
    fn as_mlp(&self) -> Option<&Mlp> {
        None
    }

    /// The backend's own evaluation of a step on its device, when it has
    /// one: the problem then sends row indices and a few coefficients and
    /// gets back per-block sums and the gradient, instead of exchanging
    /// per-row logits and derivatives with [`Self::forward`] and
    /// [`Self::backward`].
    fn device_statistics(&self) -> Option<&dyn DeviceStatistics<Self::Workspace>> {
        None
    }
}

/// Number of per-row basis functions a device sums (see
/// [`DeviceStatistics::part_sums`] and
/// [`Statistic::from_basis_sums`](crate::constraints::Statistic::from_basis_sums)).
pub const BASIS_LEN: usize = 8;

/// Number of per-row basis derivatives (see
/// [`DeviceStatistics::add_part_gradient`] and
/// [`Statistic::derivative_coefficients`](crate::constraints::Statistic::derivative_coefficients)).
pub const BASIS_DERIVATIVES: usize = 4;

/// Index of `d loss / dz` among the basis derivatives.
pub const DLOSS: usize = 2;

/// A step's statistics computed where the model runs (a GPU), so that per
/// row nothing crosses to the host.
///
/// The problem lays a step's rows out as consecutive *parts* (the
/// objective's minibatch, then each group cell's minibatch). The backend
/// forwards them, computes for every row the weighted basis of
/// [`Statistic::from_basis_sums`](crate::constraints::Statistic::from_basis_sums)
/// and its derivatives, and returns per part the sums of that basis: with
/// them the problem forms every objective and constraint estimate. For a
/// gradient the problem sends, per part, coefficients of the basis
/// derivatives; the backend forms each row's `dz` from them on the device
/// and runs one backward pass.
///
/// The backend may also keep the parameters: [`Self::step_parts`] takes a
/// whole primal step on the device (gradient, optimizer state, update),
/// after which the device's parameters are newer than the host's. Every
/// call then says which parameters to use: `Some(params)`, the host's
/// (loaded when they differ from what the device holds), or `None`, the
/// device's own, until [`Self::download_params`] brings them back.
pub trait DeviceStatistics<W> {
    /// Forwards `rows` of `data` (parts of `part_lens` rows each, in
    /// order) at `params` (see the trait's documentation) and keeps on the
    /// device what [`Self::part_sums`] and the gradients need, with rate
    /// surrogates `sigmoid(z / temperature)`.
    #[allow(clippy::too_many_arguments)]
    fn forward_parts(
        &self,
        params: Option<&[f32]>,
        data: &Dataset,
        rows: &[u32],
        part_lens: &[usize],
        temperature: f32,
        ws: &mut W,
    );

    /// Per part of the last forward, the sample-weighted sums over its rows
    /// of the basis `[1, y, s, y s, loss, sigmoid(z), p, y p]`: `out[part *
    /// BASIS_LEN + j]` ([`BASIS_LEN`]).
    fn part_sums(&self, ws: &mut W, out: &mut [f32]);

    /// Adds to `grad` the gradient of `sum_i z_i dz_i` over the last
    /// forward's rows, `dz_i = w_i sum_j coefficients[part(i) *
    /// BASIS_DERIVATIVES + j] * d_j(i)` with `w_i` the sample weight and
    /// `d(i) = [ds/dz, y ds/dz, d loss/dz, d sigmoid(z)/dz]`
    /// ([`BASIS_DERIVATIVES`]),
    /// at `params`, the last forward's (the problem forwards again when
    /// they change).
    fn add_part_gradient(&self, params: Option<&[f32]>, coefficients: &[f32], ws: &mut W, grad: &mut [f32]);

    /// One primal step on the device: the gradient of
    /// [`Self::add_part_gradient`] (none when `coefficients` is empty) plus
    /// `2 norm_weight x`, then `step` applied to the parameters `x` and to
    /// the optimizer state the device keeps. The device's parameters are
    /// newer than the host's afterwards.
    fn step_parts(&self, params: Option<&[f32]>, coefficients: &[f32], norm_weight: f32, step: &PrimalStep, ws: &mut W);

    /// True when primal steps should run on the device ([`Self::step_parts`])
    /// unless the problem is told otherwise: where the device has memory
    /// of its own (a GPU). On a CPU backend nothing crosses a bus and the
    /// host's fused update is at least as fast.
    fn keeps_params(&self) -> bool;

    /// Copies the device's parameters to `out` (one download).
    fn download_params(&self, ws: &mut W, out: &mut [f32]);

    /// The squared norm of the device's parameters (for the weight-norm
    /// constraint), one number back.
    fn params_norm2(&self, ws: &mut W) -> f32;
}

impl TabularModel for Mlp {
    type Workspace = Workspace;

    fn n_params(&self) -> usize {
        Mlp::n_params(self)
    }

    fn n_inputs(&self) -> usize {
        Mlp::n_inputs(self)
    }

    fn workspace(&self, rows: usize) -> Workspace {
        Mlp::workspace(self, rows)
    }

    fn forward(
        &self,
        params: &[f32],
        data: &Dataset,
        rows: &[u32],
        ws: &mut Workspace,
        slot_offset: usize,
        logits: &mut [f32],
    ) {
        Mlp::forward(self, params, data, rows, ws, slot_offset, logits)
    }

    fn backward(
        &self,
        params: &[f32],
        data: &Dataset,
        rows: &[u32],
        ws: &mut Workspace,
        slot_offset: usize,
        dz: &[f32],
        grad: &mut [f32],
    ) {
        Mlp::backward(self, params, data, rows, ws, slot_offset, dz, grad)
    }

    fn as_mlp(&self) -> Option<&Mlp> {
        Some(self)
    }
}

/// Position of one dense layer in the flat parameter vector. Weights are
/// stored input-major: the `n_out` weights leaving input `i` are
/// `params[w + i * n_out..w + (i + 1) * n_out]`; the biases follow at `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// Input width.
    pub n_in: usize,
    /// Output width.
    pub n_out: usize,
    /// Offset of the weights.
    pub w: usize,
    /// Offset of the biases.
    pub b: usize,
}

/// A multilayer perceptron: inputs -> hidden ReLU layers -> one logit.
///
/// ```
/// use fairtrain::model::Mlp;
/// let mlp = Mlp::new(82, &[64, 32]).unwrap();
/// assert_eq!(mlp.n_params(), 82 * 64 + 64 + 64 * 32 + 32 + 32 + 1);
/// let params = mlp.init_params(0);
/// assert_eq!(params.len(), mlp.n_params());
/// ```
#[derive(Debug, Clone)]
pub struct Mlp {
    n_inputs: usize,
    hidden: Vec<usize>,
    layers: Vec<Layer>,
    n_params: usize,
    act_stride: usize,
    isa: Isa,
}

impl Mlp {
    /// An MLP with `n_inputs` inputs and the given hidden widths (none: a
    /// logistic regression).
    pub fn new(n_inputs: usize, hidden: &[usize]) -> Result<Self> {
        if n_inputs == 0 {
            return Err(Error::Data("the model needs at least one input feature".into()));
        }
        if let Some(&w) = hidden.iter().find(|&&w| w == 0 || w > u16::MAX as usize) {
            return Err(Error::config("hidden", format!("layer width {w} (must be between 1 and {})", u16::MAX)));
        }
        let mut layers = Vec::with_capacity(hidden.len() + 1);
        let mut offset = 0;
        let mut n_in = n_inputs;
        for &n_out in hidden.iter().chain(std::iter::once(&1)) {
            let w = offset;
            let b = w + n_in * n_out;
            offset = b + n_out;
            layers.push(Layer { n_in, n_out, w, b });
            n_in = n_out;
        }
        Ok(Mlp {
            n_inputs,
            hidden: hidden.to_vec(),
            act_stride: hidden.iter().sum(),
            layers,
            n_params: offset,
            isa: crate::simd::isa(),
        })
    }

    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// Number of inputs.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Hidden layer widths.
    pub fn hidden(&self) -> &[usize] {
        &self.hidden
    }

    /// The layers, input first, the output unit last.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The instruction set the kernels run with.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Uses the given instruction set (e.g. [`Isa::generic`] for results
    /// that do not depend on the CPU).
    pub fn with_isa(mut self, isa: Isa) -> Self {
        self.isa = isa;
        self
    }

    fn net(&self) -> Net<'_> {
        Net { layers: &self.layers, act_stride: self.act_stride }
    }

    /// Seeded initial parameters, as PyTorch's `nn.Linear` default: every
    /// weight and bias uniform in `±1/sqrt(fan_in)`.
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = vec![0.0; self.n_params];
        for layer in &self.layers {
            let bound = 1.0 / (layer.n_in as f32).sqrt();
            let end = layer.b + layer.n_out;
            for p in &mut params[layer.w..end] {
                *p = rng.random_range(-bound..bound);
            }
        }
        params
    }

    /// Storage for the forward pass of up to `rows` rows.
    pub fn workspace(&self, rows: usize) -> Workspace {
        Workspace::new(rows.max(1), &self.layers)
    }

    /// Forward pass of `rows` of `data` into workspace slots
    /// `slot_offset..slot_offset + rows.len()`, writing one logit per row.
    pub fn forward(
        &self,
        params: &[f32],
        data: &Dataset,
        rows: &[u32],
        ws: &mut Workspace,
        slot_offset: usize,
        logits: &mut [f32],
    ) {
        debug_assert!(slot_offset + rows.len() <= ws.capacity() && logits.len() >= rows.len());
        debug_assert_eq!(params.len(), self.n_params);
        kernels::forward_rows(self.isa, self.net(), params, data, rows, ws, slot_offset, logits);
    }

    /// Backward pass of `rows` of `data`, whose forward pass
    /// ([`Mlp::forward`]) sits in workspace slots
    /// `slot_offset..slot_offset + rows.len()`: adds
    /// `sum_i dz[i] * d logit_i / d params` to `grad`. Rows with `dz == 0`
    /// cost nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        params: &[f32],
        data: &Dataset,
        rows: &[u32],
        ws: &mut Workspace,
        slot_offset: usize,
        dz: &[f32],
        grad: &mut [f32],
    ) {
        debug_assert!(slot_offset + rows.len() <= ws.capacity());
        debug_assert_eq!(grad.len(), self.n_params);
        kernels::backward_rows(self.isa, self.net(), params, data, rows, ws, slot_offset, dz, grad);
    }

    /// Forward-mode derivative: for each row, its logit `z_i` and the
    /// directional derivative `<d z_i / d params, tangent>` (a
    /// Jacobian-vector product). With `tangent` a reference gradient `v`,
    /// `dloss_i/dz_i * tangents[i]` is the dot product of row `i`'s
    /// per-example gradient with `v`, at the cost of two forward passes and
    /// without forming any per-example gradient (FORML's meta-weights).
    ///
    /// ```
    /// use fairtrain::data::{load, DataSource, LoadOptions};
    /// use fairtrain::model::{JvpScratch, Mlp};
    /// let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
    /// let mlp = Mlp::new(data.n_inputs(), &[8]).unwrap();
    /// let p = mlp.init_params(0);
    /// let v = vec![0.0; mlp.n_params()];
    /// let (mut z, mut t) = (vec![0.0; 2], vec![0.0; 2]);
    /// mlp.jvp(&p, &v, &data, &[0, 1], &mut JvpScratch::default(), &mut z, &mut t);
    /// assert_eq!(t, vec![0.0, 0.0]); // a zero direction changes nothing
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn jvp(
        &self,
        params: &[f32],
        tangent: &[f32],
        data: &Dataset,
        rows: &[u32],
        scratch: &mut JvpScratch,
        logits: &mut [f32],
        tangents: &mut [f32],
    ) {
        debug_assert_eq!(params.len(), self.n_params);
        debug_assert_eq!(tangent.len(), self.n_params);
        let width = self.layers.iter().map(|l| l.n_out.max(l.n_in)).max().unwrap_or(1);
        scratch.resize(width);
        let JvpScratch { h, dh, out, dout } = scratch;
        for (k, &row) in rows.iter().enumerate() {
            let row = row as usize;
            // The first layer reads the sparse input: numeric values, then
            // one one-hot unit per categorical feature.
            let first = self.layers[0];
            let (o, d) = (&mut out[..first.n_out], &mut dout[..first.n_out]);
            o.copy_from_slice(&params[first.b..first.b + first.n_out]);
            d.copy_from_slice(&tangent[first.b..first.b + first.n_out]);
            for (i, &x) in data.dense_row(row).iter().enumerate() {
                let w = first.w + i * first.n_out;
                for j in 0..first.n_out {
                    o[j] += x * params[w + j];
                    d[j] += x * tangent[w + j];
                }
            }
            for &c in data.cat_row(row) {
                if c != crate::data::NO_INPUT {
                    let w = first.w + c as usize * first.n_out;
                    for j in 0..first.n_out {
                        o[j] += params[w + j];
                        d[j] += tangent[w + j];
                    }
                }
            }
            for layer in &self.layers[1..] {
                // ReLU of the previous layer (its derivative gates the tangent).
                for i in 0..layer.n_in {
                    let active = out[i] > 0.0;
                    h[i] = if active { out[i] } else { 0.0 };
                    dh[i] = if active { dout[i] } else { 0.0 };
                }
                let (o, d) = (&mut out[..layer.n_out], &mut dout[..layer.n_out]);
                o.copy_from_slice(&params[layer.b..layer.b + layer.n_out]);
                d.copy_from_slice(&tangent[layer.b..layer.b + layer.n_out]);
                for i in 0..layer.n_in {
                    let w = layer.w + i * layer.n_out;
                    let (hi, dhi) = (h[i], dh[i]);
                    for j in 0..layer.n_out {
                        o[j] += hi * params[w + j];
                        d[j] += hi * tangent[w + j] + dhi * params[w + j];
                    }
                }
            }
            logits[k] = out[0];
            tangents[k] = dout[0];
        }
    }

    /// Logits of every row of `data`, computed on `threads` threads (the
    /// result does not depend on the thread count).
    pub fn logits(&self, params: &[f32], data: &Dataset, threads: usize) -> Vec<f32> {
        let mut out = vec![0.0; data.n_rows()];
        let chunk = data.n_rows().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            for (k, part) in out.chunks_mut(chunk).enumerate() {
                let net = self.net();
                let isa = self.isa;
                let layers = &self.layers;
                let mut work = move || {
                    let mut ws = Workspace::new(1, layers);
                    kernels::logits_range(isa, net, params, data, k * chunk, &mut ws, part);
                };
                if threads <= 1 {
                    work();
                } else {
                    scope.spawn(work);
                }
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{CategoricalFeature, Dataset, FeatureLayout};
    use std::sync::Arc;

    /// A tiny data set with 3 numeric inputs and a categorical of 4 levels.
    fn data() -> Dataset {
        let layout = FeatureLayout {
            numeric: vec!["a".into(), "b".into(), "c".into()],
            means: vec![0.0; 3],
            stds: vec![1.0; 3],
            categorical: vec![CategoricalFeature {
                name: "k".into(),
                categories: vec!["p".into(), "q".into(), "r".into(), "s".into()],
                offset: 3,
            }],
        };
        let dense = vec![0.5, -1.0, 2.0, 1.5, 0.3, -0.7, -0.2, 0.8, 0.1, 1.0, 1.0, -1.0];
        let cats = vec![3, 5, crate::data::NO_INPUT, 6];
        Dataset::new(
            Arc::new(layout),
            Arc::new(vec!["g0".into(), "g1".into()]),
            dense,
            cats,
            vec![1.0, 0.0, 1.0, 0.0],
            vec![0, 1, 0, 1],
        )
        .unwrap()
    }

    /// Logit of one row computed naively in f64 from the dense input.
    fn reference_logit(mlp: &Mlp, p: &[f64], x: &[f32]) -> f64 {
        let mut h: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        for (li, l) in mlp.layers().iter().enumerate() {
            let mut out = vec![0.0f64; l.n_out];
            for (o, v) in out.iter_mut().enumerate() {
                *v = p[l.b + o];
                for (i, hi) in h.iter().enumerate() {
                    *v += hi * p[l.w + i * l.n_out + o];
                }
                if li + 1 < mlp.layers().len() {
                    *v = v.max(0.0);
                }
            }
            h = out;
        }
        h[0]
    }

    fn check_forward(hidden: &[usize]) {
        let d = data();
        let mlp = Mlp::new(d.n_inputs(), hidden).unwrap();
        let p = mlp.init_params(7);
        let rows: Vec<u32> = (0..4).collect();
        let mut ws = mlp.workspace(4);
        let mut z = vec![0.0; 4];
        mlp.forward(&p, &d, &rows, &mut ws, 0, &mut z);
        let all = mlp.logits(&p, &d, 2);
        let p64: Vec<f64> = p.iter().map(|&v| v as f64).collect();
        for i in 0..4 {
            let r = reference_logit(&mlp, &p64, &d.dense_input(i));
            assert!((z[i] as f64 - r).abs() < 1e-5, "{hidden:?} row {i}: {} vs {r}", z[i]);
            assert_eq!(z[i], all[i]);
        }
    }

    #[test]
    fn forward_matches_dense_reference() {
        check_forward(&[]);
        check_forward(&[5]);
        check_forward(&[9, 6]);
        check_forward(&[20, 11, 3]);
        // Register blocks of 32 and 8 columns plus a scalar tail.
        check_forward(&[41, 70]);
    }

    /// d/dp of sum_i dz_i * logit_i against central finite differences in
    /// f64 (the reference forward), for every parameter.
    fn check_gradient(hidden: &[usize], isa: Isa) {
        let d = data();
        let mlp = Mlp::new(d.n_inputs(), hidden).unwrap().with_isa(isa);
        let p = mlp.init_params(3);
        let rows: Vec<u32> = vec![0, 1, 2, 3, 1];
        let dz = [0.7f32, -1.3, 0.4, 0.0, 2.0];
        let mut ws = mlp.workspace(rows.len());
        let mut z = vec![0.0; rows.len()];
        mlp.forward(&p, &d, &rows, &mut ws, 0, &mut z);
        let mut g = vec![0.0; mlp.n_params()];
        mlp.backward(&p, &d, &rows, &mut ws, 0, &dz, &mut g);
        let objective = |q: &[f64]| -> f64 {
            rows.iter().zip(&dz).map(|(&r, &w)| w as f64 * reference_logit(&mlp, q, &d.dense_input(r as usize))).sum()
        };
        let scale = g.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        let p64: Vec<f64> = p.iter().map(|&v| v as f64).collect();
        let mut q = p64.clone();
        for k in 0..p.len() {
            // In f64 a step this small crosses no ReLU kink.
            let h = 1e-6;
            q[k] = p64[k] + h;
            let up = objective(&q);
            q[k] = p64[k] - h;
            let down = objective(&q);
            q[k] = p64[k];
            let fd = (up - down) / (2.0 * h);
            assert!(
                (g[k] as f64 - fd).abs() <= 1e-5 * scale.max(1.0),
                "{hidden:?} param {k}: analytic {} vs finite difference {fd}",
                g[k]
            );
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        for isa in [Isa::generic(), Isa::detect()] {
            check_gradient(&[], isa);
            check_gradient(&[6], isa);
            check_gradient(&[8, 5], isa);
            check_gradient(&[7, 6, 4], isa);
            check_gradient(&[41, 33], isa);
        }
    }

    #[test]
    fn jvp_is_the_gradient_dotted_with_the_tangent() {
        let d = data();
        for hidden in [&[][..], &[6], &[9, 5]] {
            let mlp = Mlp::new(d.n_inputs(), hidden).unwrap();
            let p = mlp.init_params(5);
            let v: Vec<f32> = mlp.init_params(9);
            let rows: Vec<u32> = vec![0, 1, 2, 3];
            let (mut z, mut t) = (vec![0.0; 4], vec![0.0; 4]);
            mlp.jvp(&p, &v, &d, &rows, &mut JvpScratch::default(), &mut z, &mut t);
            let mut ws = mlp.workspace(4);
            let mut z2 = vec![0.0; 4];
            mlp.forward(&p, &d, &rows, &mut ws, 0, &mut z2);
            for i in 0..4 {
                // <grad z_i, v> from the backward pass of row i alone.
                let mut dz = [0.0f32; 4];
                dz[i] = 1.0;
                let mut g = vec![0.0; mlp.n_params()];
                mlp.backward(&p, &d, &rows, &mut ws, 0, &dz, &mut g);
                let dot: f32 = g.iter().zip(&v).map(|(a, b)| a * b).sum();
                assert!((z[i] - z2[i]).abs() < 1e-5, "{hidden:?} row {i}: {} vs {}", z[i], z2[i]);
                assert!((t[i] - dot).abs() < 1e-4 * dot.abs().max(1.0), "{hidden:?} row {i}: {} vs {dot}", t[i]);
            }
        }
    }

    #[test]
    fn init_is_seeded_and_bounded() {
        let mlp = Mlp::new(16, &[8]).unwrap();
        assert_eq!(mlp.init_params(1), mlp.init_params(1));
        assert_ne!(mlp.init_params(1), mlp.init_params(2));
        let p = mlp.init_params(1);
        let l0 = mlp.layers()[0];
        assert!(p[l0.w..l0.b + l0.n_out].iter().all(|v| v.abs() <= 0.25));
        let l1 = mlp.layers()[1];
        let bound = 1.0 / (8f32).sqrt();
        assert!(p[l1.w..].iter().all(|v| v.abs() <= bound));
    }

    #[test]
    fn rejects_bad_widths() {
        assert!(Mlp::new(3, &[0]).is_err());
        assert!(Mlp::new(0, &[4]).is_err());
    }
}
