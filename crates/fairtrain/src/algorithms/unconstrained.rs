//! Unconstrained baselines: minimize the objective alone with SGD or Adam.
//! They show the disparity the constraints remove.

use super::Algorithm;
use super::optim::PrimalOptimizer;
use crate::error::Result;
use crate::problem::{Problem, Request};

/// Unconstrained training with a primal optimizer.
#[derive(Debug, Clone)]
pub struct Unconstrained<O> {
    name: &'static str,
    optimizer: O,
    zeros: Vec<f32>,
    grad: Vec<f32>,
}

impl<O: PrimalOptimizer> Unconstrained<O> {
    /// Training with `optimizer`, reported under `name` (`sgd`, `adam`).
    pub fn new(name: &'static str, optimizer: O) -> Self {
        Unconstrained { name, optimizer, zeros: Vec::new(), grad: Vec::new() }
    }
}

impl<O: PrimalOptimizer> Algorithm for Unconstrained<O> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn step(&mut self, problem: &mut dyn Problem) -> Result<()> {
        if self.grad.len() != problem.num_params() {
            self.grad = vec![0.0; problem.num_params()];
            self.zeros = vec![0.0; problem.num_constraints()];
        }
        problem.estimate(Request::Objective)?;
        problem.add_gradient(1.0, &self.zeros, &mut self.grad)?;
        self.optimizer.step(problem.params_mut(), &mut self.grad);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::optim::{Adam, Sgd};
    use crate::algorithms::testing::QuadraticProblem;

    #[test]
    fn reaches_the_unconstrained_optimum() {
        // The constraint x <= 1 is ignored: the optimum of (x-3)^2 is 3.
        let mut problem = QuadraticProblem::new(3.0, 1.0, 0.0, 1);
        let mut sgd = Unconstrained::new("sgd", Sgd::new(0.1, 0.0));
        for _ in 0..200 {
            sgd.step(&mut problem).unwrap();
        }
        assert!((problem.params()[0] - 3.0).abs() < 1e-4);
        let mut problem = QuadraticProblem::new(3.0, 1.0, 0.0, 1);
        let mut adam = Unconstrained::new("adam", Adam::new(0.05));
        for _ in 0..3_000 {
            adam.step(&mut problem).unwrap();
        }
        assert!((problem.params()[0] - 3.0).abs() < 1e-3);
    }
}
