//! Primal steps as a model's device takes them: [`PrimalRule`] is what a
//! problem needs of a primal optimizer (the host step, or its description
//! for a device that keeps the parameters), [`PrimalStep`] that
//! description. The optimizers themselves (SGD, Adam, RMSProp, the Moreau
//! envelope) are the algorithms' primal optimizers, which implement
//! [`PrimalRule`].

/// A primal optimizer as a [`Problem`](crate::problem::Problem) applies it:
/// on the host, to the parameters and the gradient; or, where a device
/// keeps the parameters and the optimizer's state, as the [`PrimalStep`]
/// the device applies.
///
/// ```
/// use fairtrain::algorithms::optim::{Primal, PrimalConfig};
/// use fairtrain::model::{PrimalRule, PrimalUpdate};
/// let mut primal = Primal::new(PrimalConfig::sgd(0.1)).unwrap();
/// let rule: &mut dyn PrimalRule = &mut primal;
/// let (mut x, mut g) = (vec![1.0f32], vec![2.0f32]);
/// rule.step(&mut x, &mut g);
/// assert!((x[0] - 0.8).abs() < 1e-7);
/// assert_eq!(rule.device_step().update, PrimalUpdate::Sgd { lr: 0.1 });
/// ```
pub trait PrimalRule {
    /// Applies `grad` to `params` and zeroes `grad`.
    fn step(&mut self, params: &mut [f32], grad: &mut [f32]);

    /// The next step's rule, for a device that keeps the parameters and
    /// the optimizer's state and applies it there; counts the step as
    /// [`PrimalRule::step`] does.
    fn device_step(&mut self) -> PrimalStep;
}

/// One step of a primal optimizer as a device applies it, element by element, to
/// the parameters `x` it holds, the gradient `g` it computed and its own
/// optimizer state (moments start at zero).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrimalStep {
    /// The optimizer's update.
    pub update: PrimalUpdate,
    /// The Moreau envelope's `(mu, beta)`, applied first: with the anchor
    /// `z` (which starts at `x`), `d = x - z`, `g += mu d`, `z += beta d`.
    pub smoothing: Option<(f32, f32)>,
}

/// The optimizer's part of a [`PrimalStep`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PrimalUpdate {
    /// `x -= lr g`.
    Sgd {
        /// Step size.
        lr: f32,
    },
    /// `v = momentum v + g`, `x -= lr v`.
    Momentum {
        /// Step size.
        lr: f32,
        /// Momentum.
        momentum: f32,
    },
    /// `m = beta1 m + (1 - beta1) g`, `v = beta2 v + (1 - beta2) g^2`,
    /// `x -= step m / (sqrt(v) / c2_sqrt + eps)` (the bias corrections
    /// are folded into `step` and `c2_sqrt`).
    Adam {
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Step size over the first moment's bias correction.
        step: f32,
        /// Square root of the second moment's bias correction.
        c2_sqrt: f32,
        /// Denominator offset.
        eps: f32,
    },
    /// `v = alpha v + (1 - alpha) g^2`, `x -= lr g / (sqrt(v) + eps)`.
    RmsProp {
        /// Step size.
        lr: f32,
        /// Second-moment decay.
        alpha: f32,
        /// Denominator offset.
        eps: f32,
    },
}

impl PrimalUpdate {
    /// How many state vectors (moments) the device keeps for it.
    pub fn state_len(&self) -> usize {
        match self {
            PrimalUpdate::Sgd { .. } => 0,
            PrimalUpdate::Momentum { .. } | PrimalUpdate::RmsProp { .. } => 1,
            PrimalUpdate::Adam { .. } => 2,
        }
    }
}
