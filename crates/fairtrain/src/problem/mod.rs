//! The interface between algorithms and models: a stochastic constrained
//! problem `min E[f(x)] s.t. E[c_i(x)] <= 0` over one flat `f32` parameter
//! vector, seen only through minibatch estimates.
//!
//! Algorithms ask a [`Problem`] for estimates of the objective and the
//! constraints on freshly drawn minibatches, then for the gradient of a
//! weighted combination `w0 * f + sum_i w_i * c_i` on those same
//! minibatches. Every first-order method (Lagrangian, augmented Lagrangian,
//! switching subgradient, penalty methods) needs nothing more; the weights
//! are computed from the constraint values alone. Model details (layers,
//! tensors, devices) stay behind this trait, so a GPU backend can implement
//! it too.
//!
//! The trait's core is those estimates and gradients (plus the primal step
//! a device may take whole); what only some algorithms or runs need is an
//! optional capability with a trait of its own, which a problem offers
//! through a query: [`MinibatchControl`] (Stochastic Ghost),
//! [`BoundControl`] (a tightened training bound), [`ProblemState`]
//! (checkpoints), a process group ([`Problem::collective`]) and the native
//! backend's rows ([`Problem::native`], the fairness methods).

mod capabilities;
mod tabular;

pub use capabilities::{
    BoundControl, MinibatchControl, ProblemState, require_bound_control, require_minibatch_control, require_state,
    require_state_mut,
};
pub use tabular::{BatchSizes, TabularProblem, TabularRun};

use crate::constraints::ConstraintFactors;
use crate::data::Dataset;
use crate::error::Result;
use crate::model::{Mlp, PrimalRule};

/// Which minibatches [`Problem::estimate`] draws and evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A fresh objective minibatch only.
    Objective,
    /// Fresh constraint minibatches only.
    Constraints,
    /// Both.
    Both,
}

impl Request {
    /// True when the objective is requested.
    pub fn objective(self) -> bool {
        matches!(self, Request::Objective | Request::Both)
    }

    /// True when the constraints are requested.
    pub fn constraints(self) -> bool {
        matches!(self, Request::Constraints | Request::Both)
    }
}

/// Which rows of the current minibatches estimates and gradients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum RowSelection {
    /// All rows.
    #[default]
    All,
    /// The even-numbered rows of each minibatch.
    Even,
    /// The odd-numbered rows of each minibatch.
    Odd,
}

/// Minibatch estimates at the current parameters.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// Estimate of the objective `f`.
    pub objective: f32,
    /// Smooth (differentiable) estimates of the constraint functions `c_i`
    /// (satisfied when `<= 0`); their gradients are what
    /// [`Problem::add_gradient`] combines.
    pub constraints: Vec<f32>,
    /// Exact estimates of the same constraints on the same minibatches
    /// (rates from hard predictions). They equal the smooth ones for
    /// loss-based constraints; methods that update multipliers from true
    /// rates (the proxy-Lagrangian) use them.
    pub exact_constraints: Vec<f32>,
}

/// Direct access to a native-backend problem's model, training rows and
/// parameters, for the methods that need more than weighted gradients:
/// FairBatch composes its own batches and evaluates every training row once
/// per epoch, FORML takes per-example gradient dot products, FERMI puts each
/// row's predicted probability into its regularizer.
pub struct NativeView<'a> {
    /// The model.
    pub model: &'a Mlp,
    /// The training rows.
    pub data: &'a Dataset,
    /// The parameters (changes take effect at the next estimate).
    pub params: &'a mut [f32],
    /// The objective estimate the trainer logs; a method that draws its own
    /// batches writes its batch loss here.
    pub objective: &'a mut f32,
}

/// A stochastic constrained optimization problem over flat parameters.
pub trait Problem {
    /// Number of parameters.
    fn num_params(&self) -> usize;

    /// Number of scalar constraints `c_i`.
    fn num_constraints(&self) -> usize;

    /// Names of the scalar constraints, for logs.
    fn constraint_names(&self) -> &[String];

    /// The parameters (after [`Problem::sync_params`] where primal steps
    /// ran on a device).
    fn params(&self) -> &[f32];

    /// The parameters, for an update (current, also after steps on a
    /// device). Gradients asked for afterwards are taken at the updated
    /// parameters.
    fn params_mut(&mut self) -> &mut [f32];

    /// Draws fresh minibatches for `request` and evaluates the estimates at
    /// the current parameters; the parts not requested keep their last
    /// values. Read them with [`Problem::last_estimate`].
    fn estimate(&mut self, request: Request) -> Result<()>;

    /// The most recent estimates.
    fn last_estimate(&self) -> &Estimate;

    /// Adds the gradient of `objective_weight * f + sum_i constraint_weights[i] * c_i`,
    /// on the minibatches of the most recent estimates, to `grad`.
    fn add_gradient(&mut self, objective_weight: f32, constraint_weights: &[f32], grad: &mut [f32]) -> Result<()>;

    /// One primal step: adds the gradient of `objective_weight * f + sum_i
    /// constraint_weights[i] * c_i` (as [`Problem::add_gradient`]) to
    /// `grad`, then applies `primal`'s update to the parameters, which
    /// leaves `grad` zeroed.
    ///
    /// A problem that keeps its parameters on a device overrides it to take
    /// the whole step there ([`PrimalRule::device_step`]): the gradient, the
    /// optimizer's state and the parameters stay on the device, `grad` is
    /// not touched, and [`Problem::params`] is current again only after
    /// [`Problem::sync_params`] (or [`Problem::params_mut`]).
    fn primal_step(
        &mut self,
        objective_weight: f32,
        constraint_weights: &[f32],
        primal: &mut dyn PrimalRule,
        grad: &mut [f32],
    ) -> Result<()> {
        host_primal_step(self, objective_weight, constraint_weights, primal, grad)
    }

    /// Makes [`Problem::params`] current after [`Problem::primal_step`]s
    /// taken on a device (one download); the default, for problems whose
    /// parameters live on the host, does nothing.
    fn sync_params(&mut self) -> Result<()> {
        Ok(())
    }

    /// Adds the gradient of the single constraint `c_i` (a row of the
    /// Jacobian) to `grad`, on the most recent constraint minibatches.
    fn add_constraint_gradient(&mut self, i: usize, grad: &mut [f32]) -> Result<()> {
        let mut w = vec![0.0; self.num_constraints()];
        w[i] = 1.0;
        self.add_gradient(0.0, &w, grad)
    }

    /// The constraints as a sparse matrix `T` over fewer statistics, `c =
    /// T s + offset`, where the problem computes them that way (pairwise
    /// gaps over `k` groups: `k (k - 1)` rows over `k` statistics), so a
    /// method that needs the whole Jacobian can take the statistics'
    /// gradients ([`Problem::add_statistic_gradient`]) and combine them.
    /// Optional: the default is `None` (use
    /// [`Problem::add_constraint_gradient`] per row).
    fn constraint_factors(&self) -> Option<&ConstraintFactors> {
        None
    }

    /// Adds the gradient of statistic `k` of [`Problem::constraint_factors`]
    /// to `grad`, on the most recent constraint minibatches.
    fn add_statistic_gradient(&mut self, k: usize, grad: &mut [f32]) -> Result<()> {
        let _ = (k, grad);
        Err(crate::error::Error::unsupported("this problem", "per-statistic gradients"))
    }

    /// The problem's minibatch control ([`MinibatchControl`]: varying
    /// sizes, half selections), where it has one. Optional: the default is
    /// `None` (Stochastic Ghost then stops with an error saying so).
    fn minibatch_control(&mut self) -> Option<&mut dyn MinibatchControl> {
        None
    }

    /// The problem's bound control ([`BoundControl`]), where its bounds can
    /// change during training. Optional: the default is `None`.
    fn bound_control(&mut self) -> Option<&mut dyn BoundControl> {
        None
    }

    /// The process group a data-parallel problem spreads its minibatches
    /// over (see [`crate::distributed`]); `None` for one process. The
    /// training loop uses it to agree on when to stop.
    fn collective(&self) -> Option<std::sync::Arc<dyn crate::distributed::Collective>> {
        None
    }

    /// The native backend's model, data and parameters, where the problem
    /// has them (see [`NativeView`]). Optional: the default is `None`.
    fn native(&mut self) -> Option<NativeView<'_>> {
        None
    }

    /// The problem's checkpoint state ([`ProblemState`]), where it has
    /// one. Optional: the default is `None` (a checkpointed run then stops
    /// with an error saying so).
    fn state(&self) -> Option<&dyn ProblemState> {
        None
    }

    /// [`Problem::state`], for restoring.
    fn state_mut(&mut self) -> Option<&mut dyn ProblemState> {
        None
    }
}

/// [`Problem::primal_step`] on the host: the weighted gradient into
/// `grad`, then `primal`'s update of the parameters.
pub(crate) fn host_primal_step<P: Problem + ?Sized>(
    problem: &mut P,
    objective_weight: f32,
    constraint_weights: &[f32],
    primal: &mut dyn PrimalRule,
    grad: &mut [f32],
) -> Result<()> {
    problem.add_gradient(objective_weight, constraint_weights, grad)?;
    primal.step(problem.params_mut(), grad);
    Ok(())
}
