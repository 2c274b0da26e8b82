//! Unconstrained baselines: minimize the objective alone (SGD, Adam or
//! RMSProp). They show the disparity the constraints remove.

use super::Algorithm;
use super::optim::{Primal, PrimalConfig};
use crate::buffer::AlignedVec;
use crate::error::Result;
use crate::problem::{Problem, Request};

/// Unconstrained training with a primal optimizer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Unconstrained {
    // Restored from the running instance, not from a checkpoint.
    #[serde(skip)]
    name: &'static str,
    primal: Primal,
    zeros: Vec<f32>,
    grad: AlignedVec,
}

impl Unconstrained {
    /// Training with `primal`, reported under `name` (`sgd`, `adam`).
    pub fn new(name: &'static str, primal: PrimalConfig) -> Result<Self> {
        Ok(Unconstrained { name, primal: Primal::new(primal)?, zeros: Vec::new(), grad: AlignedVec::default() })
    }
}

impl Algorithm for Unconstrained {
    crate::state::checkpoint_self!(name);

    fn name(&self) -> &'static str {
        self.name
    }

    fn step(&mut self, problem: &mut dyn Problem) -> Result<()> {
        if self.grad.len() != problem.num_params() {
            self.grad = AlignedVec::zeros(problem.num_params());
            self.zeros = vec![0.0; problem.num_constraints()];
        }
        problem.estimate(Request::Objective)?;
        problem.primal_step(1.0, &self.zeros, &mut self.primal, &mut self.grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testing::QuadraticProblem;

    #[test]
    fn reaches_the_unconstrained_optimum() {
        // The constraint x <= 1 is ignored: the optimum of (x-3)^2 is 3.
        for (config, steps) in [(PrimalConfig::sgd(0.1), 200), (PrimalConfig::adam(0.05), 3_000)] {
            let mut problem = QuadraticProblem::new(3.0, 1.0, 0.0, 1);
            let mut alg = Unconstrained::new("baseline", config).unwrap();
            for _ in 0..steps {
                alg.step(&mut problem).unwrap();
            }
            assert!((problem.params()[0] - 3.0).abs() < 1e-3, "{config:?}");
        }
    }
}
