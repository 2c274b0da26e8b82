//! The stochastic augmented Lagrangian (ALM) dual rule, as
//! humancompatible-train 0.4.2's `ALM` runs it. With a Moreau-smoothed SGD
//! primal step it is SSL-ALM, the smoothed stochastic linearized ALM of
//! Huang, Zhang & Alacaoglu (arXiv 2504.07607); without smoothing, plain
//! stochastic ALM.
//!
//! One step, with minibatch estimates `c` (one sample serves both the
//! multiplier update and the gradient):
//! * slack-minimized ("HPR") augmentation:
//!   `lambda <- clamp(lambda + eta * ([lambda + rho c]_+ - lambda) / rho, 0, lambda_max)`,
//!   and the gradient weight of `c_j` is `[lambda_j + rho c_j]_+` (with the
//!   updated `lambda`);
//! * quadratic augmentation (`(rho/2) ||[c]_+||^2`):
//!   `lambda <- clamp(lambda + eta c, 0, lambda_max)`, weight
//!   `lambda_j + rho [c_j]_+`.
//!
//! The paper's own benchmark code differs (see the README): it carries
//! explicit slack variables, takes the penalty term's constraint value from
//! an independent second sample, resets `lambda` to 0 when its norm reaches
//! the bound instead of clamping, and adds one full-batch step at the end.
//! The package form is used here because its multipliers stay bounded and
//! it needs one constraint sample per step.

use serde::{Deserialize, Serialize};

use super::lagrangian::{ConstraintAverage, DualRule, averaging_weight, positive};
use crate::error::Result;
use crate::problem::Estimate;

/// How the penalty augments the Lagrangian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Augmentation {
    /// The slack-minimized (Hestenes-Powell-Rockafellar) form.
    Hpr,
    /// `(rho/2) ||[c]_+||^2`.
    Quadratic,
}

/// Settings of the ALM dual rule. The default is the paper's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlmConfig {
    /// Dual step size `eta`.
    pub dual_lr: f32,
    /// Penalty `rho` (> 0).
    pub penalty: f32,
    /// Augmentation.
    pub augmentation: Augmentation,
    /// Multipliers are clamped to `[0, dual_bound]`.
    pub dual_bound: f32,
    /// Double a multiplier's bound when the multiplier has sat at it for
    /// [`BOUND_PATIENCE`] steps while its constraint stayed violated on
    /// average: the multiplier a constraint needs scales with how steep
    /// the objective is against it, which no fixed bound fits on every
    /// data set (a bound below it leaves the run infeasible for good).
    /// `false` keeps the bound fixed, as the paper.
    #[serde(default)]
    pub grow_bound: bool,
    /// Weight of the newest estimate in the running average of each
    /// constraint that the multiplier update reads (1: this step's
    /// estimate alone, as the paper). On a few rows per group a rate
    /// estimate's noise dwarfs the bound, and the update's positive part
    /// turns that noise into a multiplier that pushes while the constraint
    /// is slack. The penalty term reads this step's estimate unless
    /// `average_penalty`.
    #[serde(default = "no_averaging")]
    pub constraint_averaging: f32,
    /// The penalty term of rate constraints reads the running average too
    /// (loss constraints always read this step's estimate, which must react
    /// at once: on averages the loop lags, and loss parity on Law school
    /// diverged). Off, the single-batch noise in `[lambda + rho c]_+` acts
    /// as a penalty on the rates' variance: it keeps equalized odds on
    /// small groups from overfitting its training rates, but with many
    /// pairwise constraints it adds up to a push toward one class for
    /// everyone. `None` lets a run choose by the number of groups (see
    /// [`crate::algorithms::AlgorithmConfig::first_attempt`]); the
    /// algorithm built from it reads it as off.
    #[serde(default)]
    pub average_penalty: Option<bool>,
}

fn no_averaging() -> f32 {
    1.0
}

/// Steps a multiplier sits at its bound, its constraint violated on
/// average, before the bound doubles.
pub const BOUND_PATIENCE: u32 = 500;

/// Weight of the newest estimate in the running average of each constraint
/// that decides whether it is violated (about the last 50 steps).
const VIOLATION_AVERAGING: f32 = 0.02;

impl Default for AlmConfig {
    fn default() -> Self {
        AlmConfig {
            dual_lr: 0.05,
            penalty: 1.0,
            augmentation: Augmentation::Hpr,
            dual_bound: 10.0,
            grow_bound: false,
            constraint_averaging: 1.0,
            average_penalty: None,
        }
    }
}

impl AlmConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        positive("dual-lr", self.dual_lr)?;
        positive("penalty", self.penalty)?;
        positive("dual-bound", self.dual_bound)?;
        averaging_weight("constraint-averaging", self.constraint_averaging)
    }
}

/// The ALM dual state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Alm {
    config: AlmConfig,
    multipliers: Vec<f32>,
    /// Each multiplier's bound (they grow with `grow_bound`).
    #[serde(default)]
    bounds: Vec<f32>,
    /// Running average of each constraint estimate.
    #[serde(default)]
    average: Vec<f32>,
    /// Consecutive steps each multiplier has sat at its bound while violated.
    #[serde(default)]
    saturated: Vec<u32>,
    /// Running averages the dual update reads (`constraint_averaging`).
    #[serde(default = "fresh_average")]
    estimates: ConstraintAverage,
}

fn fresh_average() -> ConstraintAverage {
    ConstraintAverage::new(1.0)
}

impl Alm {
    /// Multipliers starting at 0.
    pub fn new(config: AlmConfig) -> Result<Self> {
        config.validate()?;
        Ok(Alm {
            config,
            multipliers: Vec::new(),
            bounds: Vec::new(),
            average: Vec::new(),
            saturated: Vec::new(),
            estimates: ConstraintAverage::new(config.constraint_averaging),
        })
    }

    /// The current bound of each multiplier.
    pub fn bounds(&self) -> &[f32] {
        &self.bounds
    }
}

impl DualRule for Alm {
    fn reset(&mut self, m: usize) {
        self.multipliers = vec![0.0; m];
        self.bounds = vec![self.config.dual_bound; m];
        self.average = vec![0.0; m];
        self.saturated = vec![0; m];
        self.estimates.reset();
    }

    fn update(&mut self, estimate: &Estimate, weights: &mut [f32]) -> f32 {
        let AlmConfig { dual_lr: eta, penalty: rho, augmentation, grow_bound, .. } = self.config;
        let m = self.multipliers.len();
        if self.bounds.len() != m {
            // (Sized by `reset`; a rule used without it starts here.)
            self.bounds = vec![self.config.dual_bound; m];
            self.average = vec![0.0; m];
            self.saturated = vec![0; m];
        }
        // (Weight 1 reads this step's estimates as they are: the paper's rule,
        // bit for bit.)
        let estimates = if self.config.constraint_averaging < 1.0 {
            self.estimates.update(&estimate.exact_constraints)
        } else {
            &estimate.exact_constraints
        };
        for (i, (((lambda, w), &c), (&exact, &smooth))) in self
            .multipliers
            .iter_mut()
            .zip(weights.iter_mut())
            .zip(estimates)
            .zip(estimate.exact_constraints.iter().zip(&estimate.constraints))
            .enumerate()
        {
            // A rate of hard predictions is the constraint whose exact
            // estimate is not its smooth one.
            let now = if self.config.average_penalty == Some(true) && exact != smooth { c } else { exact };
            let dual_bound = self.bounds[i];
            if grow_bound {
                let avg = &mut self.average[i];
                *avg += VIOLATION_AVERAGING * (c - *avg);
                if *lambda >= dual_bound && *avg > 0.0 {
                    self.saturated[i] += 1;
                    if self.saturated[i] >= BOUND_PATIENCE {
                        self.bounds[i] = 2.0 * dual_bound;
                        self.saturated[i] = 0;
                    }
                } else {
                    self.saturated[i] = 0;
                }
            }
            let dual_bound = self.bounds[i];
            match augmentation {
                Augmentation::Hpr => {
                    let direction = ((*lambda + rho * c).max(0.0) - *lambda) / rho;
                    *lambda = (*lambda + eta * direction).clamp(0.0, dual_bound);
                    *w = (*lambda + rho * now).max(0.0);
                }
                Augmentation::Quadratic => {
                    *lambda = (*lambda + eta * c).clamp(0.0, dual_bound);
                    *w = *lambda + rho * now.max(0.0);
                }
            }
        }
        1.0
    }

    fn multipliers(&self) -> &[f32] {
        &self.multipliers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::Algorithm;
    use crate::algorithms::lagrangian::Lagrangian;
    use crate::algorithms::optim::PrimalConfig;
    use crate::algorithms::testing::{QuadraticProblem, assert_reaches_optimum, tail_means};
    use crate::problem::Problem;

    /// min (x-3)^2 s.t. x - 1 <= 0 (noisy): optimum x = 1, lambda = 4.
    #[test]
    fn ssl_alm_converges_to_the_constrained_optimum() {
        for (augmentation, constraint_averaging) in
            [(Augmentation::Hpr, 1.0), (Augmentation::Quadratic, 1.0), (Augmentation::Hpr, 0.02)]
        {
            let config = AlmConfig { augmentation, constraint_averaging, ..AlmConfig::default() };
            let primal = PrimalConfig::sgd(0.02).smoothed(0.5, 0.5);
            let mut alg = Lagrangian::new("ssl-alm", Alm::new(config).unwrap(), primal).unwrap();
            assert_reaches_optimum(&mut alg, 1, 20_000, 0.02, 0.2);
        }
    }

    #[test]
    fn multipliers_stay_in_their_bounds() {
        // A constraint that cannot be met (x + 10 <= 0 from x = 3 with tiny
        // steps) drives lambda to its bound and no further.
        let config = AlmConfig { dual_bound: 2.0, ..AlmConfig::default() };
        let mut alg = Lagrangian::new("alm", Alm::new(config).unwrap(), PrimalConfig::sgd(1e-6)).unwrap();
        let mut problem = QuadraticProblem::new(3.0, -10.0, 0.0, 3);
        for _ in 0..1_000 {
            alg.step(&mut problem).unwrap();
        }
        assert_eq!(alg.multipliers()[0], 2.0);
    }

    /// min (x-30)^2 s.t. x - 1 <= 0: the multiplier the constraint needs is
    /// 58, beyond the default bound of 10. With the bound fixed the run
    /// ends far from feasible (near x = 20); a bound that doubles while it
    /// binds reaches the optimum.
    #[test]
    fn a_binding_multiplier_bound_grows_until_the_constraint_holds() {
        let run = |grow_bound: bool| {
            let config = AlmConfig { grow_bound, ..AlmConfig::default() };
            let primal = PrimalConfig::sgd(0.002).smoothed(0.5, 0.5);
            let mut alg = Lagrangian::new("ssl-alm", Alm::new(config).unwrap(), primal).unwrap();
            let mut problem = QuadraticProblem::new(30.0, 1.0, 0.1, 5);
            for _ in 0..30_000 {
                alg.step(&mut problem).unwrap();
            }
            (problem.params()[0], alg.multipliers()[0])
        };
        let (x_fixed, lambda_fixed) = run(false);
        assert_eq!(lambda_fixed, 10.0);
        assert!(x_fixed > 15.0, "fixed bound: x = {x_fixed}");
        let (x, lambda) = run(true);
        assert!((x - 1.0).abs() < 0.5, "growing bound: x = {x}");
        assert!((lambda - 58.0).abs() < 8.0, "growing bound: lambda = {lambda}");
    }

    /// min (x-3)^2 s.t. x - 3.3 <= 0, estimates with noise 1: the bound is
    /// slack at the optimum x = 3, but on single noisy estimates the HPR
    /// multiplier update `([lambda + rho c]_+ - lambda) / rho` is positive
    /// on average at `lambda = 0` (`E[[c]_+] > [E c]_+`), so the multiplier
    /// settles well above 0 and pulls x below 3. On averaged estimates it
    /// stays at 0; what pull remains is the penalty term's, on this step's
    /// estimate.
    #[test]
    fn averaged_estimates_leave_a_slack_multiplier_at_zero() {
        let mean_x = |constraint_averaging: f32| {
            let config = AlmConfig { constraint_averaging, ..AlmConfig::default() };
            let primal = PrimalConfig::sgd(0.01).smoothed(0.5, 0.5);
            let mut alg = Lagrangian::new("ssl-alm", Alm::new(config).unwrap(), primal).unwrap();
            let mut problem = QuadraticProblem::new(3.0, 3.3, 1.0, 7);
            tail_means(&mut alg, &mut problem, 20_000)
        };
        let (x_single, lambda_single) = mean_x(1.0);
        let (x, lambda) = mean_x(0.02);
        assert!(lambda_single > 0.2, "single estimates: lambda = {lambda_single}");
        assert!(lambda < 0.01, "averaged estimates: lambda = {lambda}");
        assert!(x - x_single > 0.04 && x < 3.0, "x = {x} averaged, {x_single} single");
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let err = Alm::new(AlmConfig { penalty: 0.0, ..AlmConfig::default() }).unwrap_err();
        assert_eq!(err.to_string(), "invalid value for penalty: 0 (must be a positive number)");
    }
}
