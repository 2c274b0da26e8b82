//! Parameters as one flat `f32` vector in the module's visiting order (for
//! [`BurnMlp`](super::BurnMlp), the native [`Mlp`](crate::model::Mlp)
//! layout): reading, loading and reading gradients through burn's module
//! visitors and mappers.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Gradients, Tensor, TensorData};

/// Every float parameter of `module` in visiting order, as one flat tensor
/// on the device (empty for a module without parameters).
pub(super) fn flat_values<M: Module>(module: &M) -> Tensor<1> {
    let mut values = FlatValues(Vec::new());
    module.visit(&mut values);
    if values.0.is_empty() { Tensor::zeros([0], &Device::flex()) } else { Tensor::cat(values.0, 0) }
}

/// Collects every float parameter, flat, on the device.
pub(super) struct FlatValues(Vec<Tensor<1>>);

impl ModuleVisitor for FlatValues {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().inner();
        let n = value.shape().num_elements();
        self.0.push(value.reshape([n]));
    }
}

/// Replaces every float parameter by the next values of a flat tensor on
/// the device.
pub(super) struct LoadFlat<'a> {
    pub(super) values: &'a Tensor<1>,
    pub(super) at: usize,
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
pub(super) struct Load<'a> {
    pub(super) values: &'a [f32],
    pub(super) at: usize,
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
pub(super) fn flat_gradients<M: Module>(module: &M, grads: &Gradients) -> Option<Tensor<1>> {
    let mut flat = FlatGradients { grads, parts: Vec::new() };
    module.visit(&mut flat);
    (!flat.parts.is_empty()).then(|| Tensor::cat(flat.parts, 0))
}

/// Adds a flat device tensor to `out`, in one download.
pub(super) fn add_downloaded(values: Tensor<1>, out: &mut [f32]) {
    let data = values.into_data();
    for (o, &v) in out.iter_mut().zip(data.as_slice::<f32>().expect("f32 values")) {
        *o += v;
    }
}

/// Collects every float parameter's gradient, flat (zeros without one).
pub(super) struct FlatGradients<'a> {
    pub(super) grads: &'a Gradients,
    pub(super) parts: Vec<Tensor<1>>,
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
