//! The shared step of the Lagrangian family. Every method of the family
//! (gradient descent-ascent, ALM and SSL-ALM, iALM, nuPI, SPBM, penalty,
//! proxy-Lagrangian) takes the primal gradient of
//! `w0 * f + sum_i w_i * c_i`, with weights that depend on the constraint
//! values alone: one estimate, one dual update, one weighted gradient, one
//! primal step. What differs is the [`DualRule`]: how the dual state moves
//! and which weights it gives; each rule is one file of this module.
//!
//! Dual rules read the *exact* constraint estimates (rates of hard
//! predictions), while the gradient they weigh is that of the smooth
//! surrogates ("proxy constraints", as in TFCO and Cooper's strict
//! violations). For loss-based constraints the two coincide. For rates they
//! do not: with the smooth values on both sides, training settles where the
//! mean sigmoid rates meet the bound while the true rates do not (on the
//! synthetic data, an equalized-odds gap of 0.11 against a bound of 0.05);
//! with the exact values, the multipliers keep growing until the true rates
//! meet it.

use super::Algorithm;
use super::optim::{Primal, PrimalConfig};
use crate::buffer::AlignedVec;
use crate::error::Result;
use crate::problem::{Estimate, Problem, Request};

/// How a Lagrangian method's dual state moves and weighs the constraints.
pub trait DualRule {
    /// Whether the rule can handle `m` constraints (checked before
    /// [`DualRule::reset`]); an error says why not.
    fn supports(&self, _m: usize) -> Result<()> {
        Ok(())
    }

    /// Sizes the state for `m` constraints (called before the first step).
    fn reset(&mut self, m: usize);

    /// Updates the dual state from this step's estimates (its exact
    /// constraint values) and writes the weight of each constraint's
    /// gradient into `weights`; returns the objective's weight.
    fn update(&mut self, estimate: &Estimate, weights: &mut [f32]) -> f32;

    /// The multipliers, one per constraint.
    fn multipliers(&self) -> &[f32];

    /// Names of extra per-log values (penalties, step sizes...).
    fn log_columns(&self, _constraint_names: &[String]) -> Vec<String> {
        Vec::new()
    }

    /// The extra values, parallel to [`DualRule::log_columns`].
    fn log_values(&mut self, _out: &mut Vec<f64>) {}
}

/// A Lagrangian method: a dual rule over a primal step.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Lagrangian<D> {
    // Restored from the running instance, not from a checkpoint.
    #[serde(skip)]
    name: &'static str,
    dual: D,
    primal: Primal,
    weights: Vec<f32>,
    grad: AlignedVec,
    ready: bool,
}

impl<D: DualRule> Lagrangian<D> {
    /// The method `name` (its command-line name) with dual rule `dual` and
    /// primal step `primal`.
    pub fn new(name: &'static str, dual: D, primal: PrimalConfig) -> Result<Self> {
        Ok(Lagrangian {
            name,
            dual,
            primal: Primal::new(primal)?,
            weights: Vec::new(),
            grad: AlignedVec::default(),
            ready: false,
        })
    }

    /// The dual rule.
    pub fn dual(&self) -> &D {
        &self.dual
    }
}

impl<D: DualRule + serde::Serialize + serde::de::DeserializeOwned> Algorithm for Lagrangian<D> {
    crate::state::checkpoint_self!(name);

    fn name(&self) -> &'static str {
        self.name
    }

    fn step(&mut self, problem: &mut dyn Problem) -> Result<()> {
        if !self.ready {
            let m = problem.num_constraints();
            self.dual.supports(m)?;
            self.dual.reset(m);
            self.weights = vec![0.0; m];
            self.grad = AlignedVec::zeros(problem.num_params());
            self.ready = true;
        }
        problem.estimate(Request::Both)?;
        let objective_weight = self.dual.update(problem.last_estimate(), &mut self.weights);
        problem.primal_step(objective_weight, &self.weights, &mut self.primal, &mut self.grad)
    }

    fn supports(&self, m: usize) -> Result<()> {
        self.dual.supports(m)
    }

    fn uses_constraints(&self) -> bool {
        true
    }

    fn has_multipliers(&self) -> bool {
        true
    }

    fn multipliers(&self) -> &[f32] {
        self.dual.multipliers()
    }

    fn log_columns(&self, constraint_names: &[String]) -> Vec<String> {
        self.dual.log_columns(constraint_names)
    }

    fn log_values(&mut self, out: &mut Vec<f64>) {
        self.dual.log_values(out);
    }
}

/// Checks a hyperparameter is a positive finite number.
pub(crate) fn positive(field: &str, v: f32) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(crate::error::Error::config(field, format!("{v} (must be a positive number)")))
    }
}

/// Checks a hyperparameter is a non-negative finite number.
pub(crate) fn non_negative(field: &str, v: f32) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(crate::error::Error::config(field, format!("{v} (must be a non-negative number)")))
    }
}

/// Checks an averaging weight lies in `(0, 1]` (1: no averaging).
pub(crate) fn averaging_weight(field: &str, v: f32) -> Result<()> {
    if v > 0.0 && v <= 1.0 {
        Ok(())
    } else {
        Err(crate::error::Error::config(field, format!("{v} (must be in (0, 1])")))
    }
}

/// Exponential running averages of the constraint estimates, starting at
/// the first estimate: `avg += weight * (c - avg)`. Rules that act on the
/// sign of `c` use them, because on small batches a rate estimate's noise
/// exceeds its distance to the bound.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct ConstraintAverage {
    weight: f32,
    values: Vec<f32>,
}

impl ConstraintAverage {
    /// Averages with `weight` on the newest estimate (checked by
    /// [`averaging_weight`]).
    pub(crate) fn new(weight: f32) -> Self {
        ConstraintAverage { weight, values: Vec::new() }
    }

    /// Forgets the estimates seen: the next one starts the averages.
    pub(crate) fn reset(&mut self) {
        self.values.clear();
    }

    /// Folds in the estimates `c` and returns the averages.
    pub(crate) fn update(&mut self, c: &[f32]) -> &[f32] {
        if self.values.len() == c.len() {
            for (avg, &ci) in self.values.iter_mut().zip(c) {
                *avg += self.weight * (ci - *avg);
            }
        } else {
            self.values.clear();
            self.values.extend_from_slice(c);
        }
        &self.values
    }
}

/// Checks a hyperparameter lies in `[0, 1)`.
pub(crate) fn fraction(field: &str, v: f32) -> Result<()> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(crate::error::Error::config(field, format!("{v} (must be in [0, 1))")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first estimate starts the averages; later ones move them by
    /// `weight` of the difference; a reset starts over.
    #[test]
    fn constraint_average_starts_at_the_first_estimate() {
        let mut avg = ConstraintAverage::new(0.25);
        assert_eq!(avg.update(&[1.0, -2.0]), &[1.0, -2.0]);
        assert_eq!(avg.update(&[5.0, 2.0]), &[2.0, -1.0]);
        avg.reset();
        assert_eq!(avg.update(&[3.0, 0.0]), &[3.0, 0.0]);
        assert!(averaging_weight("constraint-averaging", 1.5).unwrap_err().to_string().contains("(0, 1]"));
    }
}
