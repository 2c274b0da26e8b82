//! The primal step on the device: the algorithms' [`PrimalStep`] (SGD,
//! momentum, Adam, RMSProp, and the SSL-ALM smoothing anchor) on flat
//! parameter tensors, so a GPU run keeps the parameters and the optimizer's
//! state there.

use burn::tensor::Tensor;

use crate::model::{PrimalStep, PrimalUpdate};

/// The state of a [`PrimalStep`] on the device: its moments and the Moreau
/// anchor, flat.
#[derive(Debug, Clone, Default)]
pub(super) struct DeviceOptimizer {
    pub(super) moments: Vec<Tensor<1>>,
    pub(super) anchor: Option<Tensor<1>>,
}

impl DeviceOptimizer {
    /// Applies `step` to the parameters `x` with gradient `g` (both flat);
    /// returns the new parameters.
    pub(super) fn apply(&mut self, x: Tensor<1>, mut g: Tensor<1>, step: &PrimalStep) -> Tensor<1> {
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
