//! [`BurnMlp`]: the default MLP as a burn module, parameter for parameter
//! the native [`Mlp`](crate::model::Mlp).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Tensor};

use super::LogitModule;

/// The native MLP's architecture as a burn module: dense layers with ReLU
/// between them and one output logit. Its flat parameters (each layer's
/// `[n_in, n_out]` weights row by row, then its biases) are laid out as
/// the native [`Mlp`](crate::model::Mlp)'s, so the two backends can start from
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
