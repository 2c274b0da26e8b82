//! Primal optimizers over flat parameter vectors. Each `step` consumes the
//! gradient: it applies it and leaves `grad` zeroed for the next
//! accumulation, in the same pass over memory. The update loops run with the
//! CPU's vector instructions ([`crate::simd`]).

use serde::{Deserialize, Serialize};

use crate::buffer::AlignedVec;
use crate::model::{PrimalRule, PrimalStep, PrimalUpdate};
use crate::simd::{dispatched, fmadd, isa};

#[inline(always)]
fn sgd_impl<const FMA: bool>(x: &mut [f32], g: &mut [f32], lr: f32) {
    for (x, g) in x.iter_mut().zip(g.iter_mut()) {
        *x = fmadd::<FMA>(-lr, *g, *x);
        *g = 0.0;
    }
}

#[inline(always)]
fn momentum_impl<const FMA: bool>(x: &mut [f32], g: &mut [f32], v: &mut [f32], lr: f32, m: f32) {
    for ((x, g), v) in x.iter_mut().zip(g.iter_mut()).zip(v.iter_mut()) {
        *v = fmadd::<FMA>(m, *v, *g);
        *x = fmadd::<FMA>(-lr, *v, *x);
        *g = 0.0;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn adam_impl<const FMA: bool>(
    x: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    b1: f32,
    b2: f32,
    step: f32,
    c2_sqrt: f32,
    eps: f32,
) {
    for (((x, g), m), v) in x.iter_mut().zip(g.iter_mut()).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = fmadd::<FMA>(b1, *m, (1.0 - b1) * *g);
        *v = fmadd::<FMA>(b2, *v, (1.0 - b2) * *g * *g);
        *x -= step * *m / (v.sqrt() / c2_sqrt + eps);
        *g = 0.0;
    }
}

#[inline(always)]
fn rmsprop_impl<const FMA: bool>(x: &mut [f32], g: &mut [f32], v: &mut [f32], lr: f32, alpha: f32, eps: f32) {
    for ((x, g), v) in x.iter_mut().zip(g.iter_mut()).zip(v.iter_mut()) {
        *v = fmadd::<FMA>(alpha, *v, (1.0 - alpha) * *g * *g);
        *x -= lr * *g / (v.sqrt() + eps);
        *g = 0.0;
    }
}

#[inline(always)]
fn moreau_apply_impl<const FMA: bool>(x: &[f32], g: &mut [f32], z: &mut [f32], mu: f32, beta: f32) {
    for ((&x, g), z) in x.iter().zip(g.iter_mut()).zip(z.iter_mut()) {
        let d = x - *z;
        *g = fmadd::<FMA>(mu, d, *g);
        *z = fmadd::<FMA>(beta, d, *z);
    }
}

#[inline(always)]
fn moreau_sgd_impl<const FMA: bool>(x: &mut [f32], g: &mut [f32], z: &mut [f32], mu: f32, beta: f32, lr: f32) {
    for ((x, g), z) in x.iter_mut().zip(g.iter_mut()).zip(z.iter_mut()) {
        let d = *x - *z;
        *z = fmadd::<FMA>(beta, d, *z);
        *x = fmadd::<FMA>(-lr, fmadd::<FMA>(mu, d, *g), *x);
        *g = 0.0;
    }
}

dispatched! {
    /// `x -= lr g; g = 0`
    fn sgd_update(x: &mut [f32], g: &mut [f32], lr: f32) => sgd_impl;
}
dispatched! {
    /// Heavy-ball momentum step.
    fn momentum_update(x: &mut [f32], g: &mut [f32], v: &mut [f32], lr: f32, m: f32) => momentum_impl;
}
dispatched! {
    /// Adam step (bias corrections folded into `step` and `c2_sqrt`).
    fn adam_update(x: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32], b1: f32, b2: f32, step: f32, c2_sqrt: f32, eps: f32) => adam_impl;
}
dispatched! {
    /// RMSProp step.
    fn rmsprop_update(x: &mut [f32], g: &mut [f32], v: &mut [f32], lr: f32, alpha: f32, eps: f32) => rmsprop_impl;
}
dispatched! {
    /// Moreau proximal term and anchor update.
    fn moreau_apply(x: &[f32], g: &mut [f32], z: &mut [f32], mu: f32, beta: f32) => moreau_apply_impl;
}
dispatched! {
    /// Moreau term, anchor update and SGD step in one pass.
    fn moreau_sgd_update(x: &mut [f32], g: &mut [f32], z: &mut [f32], mu: f32, beta: f32, lr: f32) => moreau_sgd_impl;
}

/// An optimizer of the parameters (the primal variables).
pub trait PrimalOptimizer {
    /// Applies `grad` to `params` and zeroes `grad`.
    fn step(&mut self, params: &mut [f32], grad: &mut [f32]);
    /// The current step size (for logs).
    fn learning_rate(&self) -> f32;
}

/// Which primal optimizer to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrimalKind {
    /// Stochastic gradient descent (optionally with heavy-ball momentum).
    Sgd,
    /// Adam.
    Adam,
    /// RMSProp.
    RmsProp,
}

impl PrimalKind {
    /// Every optimizer's command-line name.
    pub const NAMES: [&'static str; 3] = ["sgd", "adam", "rmsprop"];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            PrimalKind::Sgd => "sgd",
            PrimalKind::Adam => "adam",
            PrimalKind::RmsProp => "rmsprop",
        }
    }
}

impl std::str::FromStr for PrimalKind {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> crate::error::Result<Self> {
        match s {
            "sgd" => Ok(PrimalKind::Sgd),
            "adam" => Ok(PrimalKind::Adam),
            "rmsprop" => Ok(PrimalKind::RmsProp),
            _ => Err(crate::error::Error::config("primal", format!("'{s}' (known: sgd, adam, rmsprop)"))),
        }
    }
}

/// Stochastic gradient descent with optional heavy-ball momentum:
/// `v <- m v + g`, `x <- x - lr v`.
///
/// ```
/// use fairtrain::algorithms::optim::{PrimalOptimizer, Sgd};
/// let mut sgd = Sgd::new(0.1, 0.0);
/// let (mut x, mut g) = (vec![1.0f32], vec![2.0f32]);
/// sgd.step(&mut x, &mut g);
/// assert!((x[0] - 0.8).abs() < 1e-7);
/// assert_eq!(g[0], 0.0);
/// ```
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Sgd {
    /// Step size.
    pub lr: f32,
    /// Momentum (0: none).
    pub momentum: f32,
    velocity: AlignedVec,
}

impl Sgd {
    /// SGD with step size `lr` and `momentum`.
    pub fn new(lr: f32, momentum: f32) -> Self {
        Sgd { lr, momentum, velocity: AlignedVec::default() }
    }
}

impl PrimalOptimizer for Sgd {
    fn step(&mut self, params: &mut [f32], grad: &mut [f32]) {
        if self.momentum == 0.0 {
            sgd_update(isa(), params, grad, self.lr);
        } else {
            if self.velocity.len() != params.len() {
                self.velocity = AlignedVec::zeros(params.len());
            }
            momentum_update(isa(), params, grad, &mut self.velocity, self.lr, self.momentum);
        }
    }

    fn learning_rate(&self) -> f32 {
        self.lr
    }
}

/// Adam (Kingma & Ba) with bias correction, as PyTorch's default.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Adam {
    /// Step size.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator guard.
    pub eps: f32,
    m: AlignedVec,
    v: AlignedVec,
    t: i32,
}

impl Adam {
    /// Adam with step size `lr` and PyTorch's defaults otherwise.
    pub fn new(lr: f32) -> Self {
        Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, m: AlignedVec::default(), v: AlignedVec::default(), t: 0 }
    }
}

impl Adam {
    /// Counts one more step and returns its step size with the first
    /// moment's bias correction folded in, and the square root of the
    /// second moment's correction.
    fn next_scalars(&mut self) -> (f32, f32) {
        self.t = self.t.saturating_add(1);
        let c1 = 1.0 - self.beta1.powi(self.t);
        let c2 = 1.0 - self.beta2.powi(self.t);
        (self.lr / c1, c2.sqrt())
    }
}

impl PrimalOptimizer for Adam {
    fn step(&mut self, params: &mut [f32], grad: &mut [f32]) {
        if self.m.len() != params.len() {
            self.m = AlignedVec::zeros(params.len());
            self.v = AlignedVec::zeros(params.len());
            self.t = 0;
        }
        let (step, c2_sqrt) = self.next_scalars();
        adam_update(isa(), params, grad, &mut self.m, &mut self.v, self.beta1, self.beta2, step, c2_sqrt, self.eps);
    }

    fn learning_rate(&self) -> f32 {
        self.lr
    }
}

/// RMSProp as PyTorch's default: `v <- alpha v + (1 - alpha) g^2`,
/// `x <- x - lr g / (sqrt(v) + eps)`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RmsProp {
    /// Step size.
    pub lr: f32,
    /// Decay of the squared-gradient average.
    pub alpha: f32,
    /// Denominator guard.
    pub eps: f32,
    v: AlignedVec,
}

impl RmsProp {
    /// RMSProp with step size `lr`, `alpha` 0.99 and `eps` 1e-8.
    pub fn new(lr: f32) -> Self {
        RmsProp { lr, alpha: 0.99, eps: 1e-8, v: AlignedVec::default() }
    }
}

impl PrimalOptimizer for RmsProp {
    fn step(&mut self, params: &mut [f32], grad: &mut [f32]) {
        if self.v.len() != params.len() {
            self.v = AlignedVec::zeros(params.len());
        }
        rmsprop_update(isa(), params, grad, &mut self.v, self.lr, self.alpha, self.eps);
    }

    fn learning_rate(&self) -> f32 {
        self.lr
    }
}

/// Moreau-envelope smoothing of the primal step (SSL-ALM's "smoothed"
/// part): adds `mu (x - z)` to the gradient and moves the anchor `z` toward
/// the pre-step parameters, `z <- z + beta (x - z)`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MoreauEnvelope {
    /// Proximal weight.
    pub mu: f32,
    /// Anchor rate.
    pub beta: f32,
    anchor: AlignedVec,
}

impl MoreauEnvelope {
    /// Smoothing with weight `mu` and anchor rate `beta`.
    pub fn new(mu: f32, beta: f32) -> Self {
        MoreauEnvelope { mu, beta, anchor: AlignedVec::default() }
    }

    /// Adds the proximal term to `grad` and updates the anchor (which starts
    /// at the first parameters seen).
    pub fn apply(&mut self, params: &[f32], grad: &mut [f32]) {
        if self.anchor.len() != params.len() {
            self.anchor = AlignedVec::from_slice(params);
        }
        moreau_apply(isa(), params, grad, &mut self.anchor, self.mu, self.beta);
    }

    /// `apply` followed by an SGD step with step size `lr`, in one pass
    /// over memory (the SSL-ALM primal step); zeroes `grad`.
    pub fn sgd_step(&mut self, params: &mut [f32], grad: &mut [f32], lr: f32) {
        if self.anchor.len() != params.len() {
            self.anchor = AlignedVec::from_slice(params);
        }
        moreau_sgd_update(isa(), params, grad, &mut self.anchor, self.mu, self.beta, lr);
    }

    /// The anchor.
    pub fn anchor(&self) -> &[f32] {
        &self.anchor
    }
}

/// The primal step of a Lagrangian method: an optimizer, optionally with
/// Moreau-envelope smoothing.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrimalConfig {
    /// The optimizer.
    pub kind: PrimalKind,
    /// Its step size.
    pub lr: f32,
    /// Heavy-ball momentum (SGD only).
    pub momentum: f32,
    /// Moreau proximal weight (0: no smoothing).
    pub mu: f32,
    /// Moreau anchor rate.
    pub beta: f32,
}

impl PrimalConfig {
    /// Plain SGD with step size `lr`.
    pub fn sgd(lr: f32) -> Self {
        PrimalConfig { kind: PrimalKind::Sgd, lr, momentum: 0.0, mu: 0.0, beta: 0.5 }
    }

    /// Adam with step size `lr`.
    pub fn adam(lr: f32) -> Self {
        PrimalConfig { kind: PrimalKind::Adam, ..Self::sgd(lr) }
    }

    /// Adds Moreau smoothing with weight `mu` and anchor rate `beta`.
    pub fn smoothed(self, mu: f32, beta: f32) -> Self {
        PrimalConfig { mu, beta, ..self }
    }

    /// Checks the values.
    pub fn validate(&self) -> crate::error::Result<()> {
        use crate::error::Error;
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config("lr", format!("{} (must be a positive number)", self.lr)));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::config("momentum", format!("{} (must be in [0, 1))", self.momentum)));
        }
        if self.momentum != 0.0 && self.kind != PrimalKind::Sgd {
            return Err(Error::config("momentum", format!("applies to the sgd optimizer, not {}", self.kind.name())));
        }
        if !(self.mu.is_finite() && self.mu >= 0.0) {
            return Err(Error::config("mu", format!("{} (must be a non-negative number)", self.mu)));
        }
        if !(self.beta > 0.0 && self.beta <= 1.0) {
            return Err(Error::config("beta", format!("{} (must be in (0, 1])", self.beta)));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Optimizer {
    Sgd(Sgd),
    Adam(Adam),
    RmsProp(RmsProp),
}

/// A configured primal step (see [`PrimalConfig`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Primal {
    optimizer: Optimizer,
    smoothing: Option<MoreauEnvelope>,
}

impl Primal {
    /// The primal step of `config`.
    pub fn new(config: PrimalConfig) -> crate::error::Result<Self> {
        config.validate()?;
        let optimizer = match config.kind {
            PrimalKind::Sgd => Optimizer::Sgd(Sgd::new(config.lr, config.momentum)),
            PrimalKind::Adam => Optimizer::Adam(Adam::new(config.lr)),
            PrimalKind::RmsProp => Optimizer::RmsProp(RmsProp::new(config.lr)),
        };
        let smoothing = (config.mu > 0.0).then(|| MoreauEnvelope::new(config.mu, config.beta));
        Ok(Primal { optimizer, smoothing })
    }

    /// Applies `grad` (plus the Moreau term) to `params` and zeroes `grad`.
    pub fn step(&mut self, params: &mut [f32], grad: &mut [f32]) {
        match (&mut self.smoothing, &mut self.optimizer) {
            // SSL-ALM's step: smoothing and plain SGD fused in one pass.
            (Some(m), Optimizer::Sgd(sgd)) if sgd.momentum == 0.0 => m.sgd_step(params, grad, sgd.lr),
            (smoothing, optimizer) => {
                if let Some(m) = smoothing {
                    m.apply(params, grad);
                }
                match optimizer {
                    Optimizer::Sgd(o) => o.step(params, grad),
                    Optimizer::Adam(o) => o.step(params, grad),
                    Optimizer::RmsProp(o) => o.step(params, grad),
                }
            }
        }
    }

    /// This step's rule, for a device that keeps the parameters and the
    /// optimizer's state itself and applies it there (see
    /// [`Problem::primal_step`](crate::problem::Problem::primal_step)).
    /// Counts the step (Adam's bias corrections), as [`Primal::step`]
    /// does; the state buffers here stay unused.
    pub fn device_step(&mut self) -> PrimalStep {
        let update = match &mut self.optimizer {
            Optimizer::Sgd(o) if o.momentum == 0.0 => PrimalUpdate::Sgd { lr: o.lr },
            Optimizer::Sgd(o) => PrimalUpdate::Momentum { lr: o.lr, momentum: o.momentum },
            Optimizer::Adam(o) => {
                let (step, c2_sqrt) = o.next_scalars();
                PrimalUpdate::Adam { beta1: o.beta1, beta2: o.beta2, step, c2_sqrt, eps: o.eps }
            }
            Optimizer::RmsProp(o) => PrimalUpdate::RmsProp { lr: o.lr, alpha: o.alpha, eps: o.eps },
        };
        PrimalStep { update, smoothing: self.smoothing.as_ref().map(|m| (m.mu, m.beta)) }
    }
}

impl PrimalRule for Primal {
    fn step(&mut self, params: &mut [f32], grad: &mut [f32]) {
        Primal::step(self, params, grad)
    }

    fn device_step(&mut self) -> PrimalStep {
        Primal::device_step(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`PrimalStep`] as its documentation describes it, one element at a
    /// time: what a device must compute.
    fn described_step(step: &PrimalStep, x: &mut [f32], g: &[f32], state: &mut [Vec<f32>], anchor: &mut Vec<f32>) {
        if anchor.is_empty() {
            anchor.extend_from_slice(x);
        }
        for i in 0..x.len() {
            let mut gi = g[i];
            if let Some((mu, beta)) = step.smoothing {
                let d = x[i] - anchor[i];
                gi += mu * d;
                anchor[i] += beta * d;
            }
            match step.update {
                PrimalUpdate::Sgd { lr } => x[i] -= lr * gi,
                PrimalUpdate::Momentum { lr, momentum } => {
                    state[0][i] = momentum * state[0][i] + gi;
                    x[i] -= lr * state[0][i];
                }
                PrimalUpdate::Adam { beta1, beta2, step, c2_sqrt, eps } => {
                    state[0][i] = beta1 * state[0][i] + (1.0 - beta1) * gi;
                    state[1][i] = beta2 * state[1][i] + (1.0 - beta2) * gi * gi;
                    x[i] -= step * state[0][i] / (state[1][i].sqrt() / c2_sqrt + eps);
                }
                PrimalUpdate::RmsProp { lr, alpha, eps } => {
                    state[0][i] = alpha * state[0][i] + (1.0 - alpha) * gi * gi;
                    x[i] -= lr * gi / (state[0][i].sqrt() + eps);
                }
            }
        }
    }

    /// Every optimizer, with and without smoothing and momentum: the device
    /// description, applied for 50 steps, follows the host's steps.
    #[test]
    fn device_steps_describe_the_host_steps() {
        let configs = [
            PrimalConfig::sgd(0.05),
            PrimalConfig { momentum: 0.9, ..PrimalConfig::sgd(0.05) },
            PrimalConfig::adam(0.05),
            PrimalConfig { kind: PrimalKind::RmsProp, ..PrimalConfig::sgd(0.01) },
        ];
        for base in configs {
            for config in [base, base.smoothed(2.0, 0.3)] {
                let (mut host, mut device) = (Primal::new(config).unwrap(), Primal::new(config).unwrap());
                let (mut x, mut y) = (vec![3.0f32, -2.0, 0.5], vec![3.0f32, -2.0, 0.5]);
                let (mut state, mut anchor) = (vec![vec![0.0f32; 3]; 2], Vec::new());
                for _ in 0..50 {
                    let mut g: Vec<f32> = x.iter().map(|v| 2.0 * (v - 1.0) + v * v * 0.1).collect();
                    let gy: Vec<f32> = y.iter().map(|v| 2.0 * (v - 1.0) + v * v * 0.1).collect();
                    host.step(&mut x, &mut g);
                    let step = device.device_step();
                    assert!(step.update.state_len() <= 2);
                    described_step(&step, &mut y, &gy, &mut state, &mut anchor);
                }
                for (a, b) in x.iter().zip(&y) {
                    assert!((a - b).abs() < 1e-5, "{config:?}: host {x:?}, described {y:?}");
                }
            }
        }
    }

    #[test]
    fn rmsprop_first_step() {
        let mut r = RmsProp::new(0.01);
        let (mut x, mut g) = (vec![1.0f32], vec![2.0f32]);
        r.step(&mut x, &mut g);
        // v = 0.01 * 4; step = 0.01 * 2 / 0.2 = 0.1
        assert!((x[0] - 0.9).abs() < 1e-5, "{}", x[0]);
    }

    #[test]
    fn primal_combinations_minimize_a_quadratic() {
        for kind in [PrimalKind::Sgd, PrimalKind::Adam, PrimalKind::RmsProp] {
            for mu in [0.0, 1.0] {
                let config = PrimalConfig { kind, lr: 0.02, momentum: 0.0, mu, beta: 0.5 };
                let mut primal = Primal::new(config).unwrap();
                let mut x = vec![3.0f32, -2.0];
                for _ in 0..5_000 {
                    let mut g: Vec<f32> = x.iter().map(|v| 2.0 * (v - 1.0)).collect();
                    primal.step(&mut x, &mut g);
                }
                assert!(x.iter().all(|v| (v - 1.0).abs() < 2e-2), "{kind:?} mu {mu}: {x:?}");
            }
        }
        let bad = PrimalConfig { momentum: 0.9, ..PrimalConfig::adam(0.01) };
        assert!(Primal::new(bad).unwrap_err().to_string().contains("applies to the sgd optimizer"));
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let mut adam = Adam::new(0.01);
        let mut x = vec![1.0f32, -2.0];
        let mut g = vec![3.0f32, -0.5];
        adam.step(&mut x, &mut g);
        assert!((x[0] - 0.99).abs() < 1e-6 && (x[1] + 1.99).abs() < 1e-6);
        assert_eq!(g, [0.0, 0.0]);
    }

    #[test]
    fn sgd_momentum_accumulates() {
        let mut sgd = Sgd::new(0.1, 0.5);
        let mut x = vec![0.0f32];
        for _ in 0..2 {
            let mut g = vec![1.0f32];
            sgd.step(&mut x, &mut g);
        }
        // v1 = 1, v2 = 1.5: x = -0.1 - 0.15
        assert!((x[0] + 0.25).abs() < 1e-6);
    }

    #[test]
    fn moreau_adds_proximal_term_and_moves_anchor() {
        let mut m = MoreauEnvelope::new(2.0, 0.5);
        let mut g = vec![0.0f32];
        m.apply(&[1.0], &mut g); // anchor starts at x
        assert_eq!(g[0], 0.0);
        let mut g = vec![1.0f32];
        m.apply(&[3.0], &mut g);
        assert!((g[0] - 5.0).abs() < 1e-6); // 1 + 2 * (3 - 1)
        assert!((m.anchor()[0] - 2.0).abs() < 1e-6); // 1 + 0.5 * 2
    }

    #[test]
    fn fused_sgd_step_equals_apply_then_sgd() {
        let (x0, g0) = (vec![1.0f32, -2.0, 0.5], vec![0.3f32, 0.1, -0.7]);
        let mut a = MoreauEnvelope::new(2.0, 0.5);
        let mut b = a.clone();
        let (mut xa, mut ga) = (x0.clone(), g0.clone());
        let (mut xb, mut gb) = (x0.clone(), g0.clone());
        for _ in 0..3 {
            a.apply(&xa, &mut ga);
            Sgd::new(0.1, 0.0).step(&mut xa, &mut ga);
            b.sgd_step(&mut xb, &mut gb, 0.1);
            ga.copy_from_slice(&g0);
            gb.copy_from_slice(&g0);
        }
        for (p, q) in xa.iter().zip(&xb) {
            assert!((p - q).abs() < 1e-6);
        }
        assert_eq!(a.anchor(), b.anchor());
    }

    #[test]
    fn adam_minimizes_a_quadratic() {
        let mut adam = Adam::new(0.05);
        let mut x = vec![3.0f32, -2.0];
        for _ in 0..2_000 {
            let mut g: Vec<f32> = x.iter().map(|v| 2.0 * (v - 1.0)).collect();
            adam.step(&mut x, &mut g);
        }
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-3), "{x:?}");
    }
}
