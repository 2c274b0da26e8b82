//! [`RowLoss`]: the per-row loss a [`BurnModel`](super::BurnModel) trains
//! under, as tensors on the device, and [`BinaryCrossEntropy`], the default.

use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;

use crate::model::loss::bce_with_logits;

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
