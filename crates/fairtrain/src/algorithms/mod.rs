//! Constrained (and baseline) training algorithms, each one step over the
//! [`Problem`] interface. An algorithm owns its multipliers and optimizer
//! state; budgets, logging and evaluation belong to the trainer
//! ([`crate::train`]).

pub mod optim;
pub mod ssl_alm;
pub mod switching;
#[cfg(test)]
pub(crate) mod testing;
pub mod unconstrained;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::problem::{BatchSizes, Problem};
pub use ssl_alm::{Augmentation, SslAlm, SslAlmConfig};
pub use switching::{SwitchingConfig, SwitchingSubgradient};
pub use unconstrained::Unconstrained;

/// One training algorithm: `step` does exactly one iteration.
pub trait Algorithm {
    /// The command-line name.
    fn name(&self) -> &'static str;

    /// One iteration: draw estimates from `problem`, update the algorithm's
    /// own state and the parameters.
    fn step(&mut self, problem: &mut dyn Problem) -> Result<()>;

    /// True when each step estimates the constraints (so the trainer can
    /// log them without drawing extra samples).
    fn uses_constraints(&self) -> bool {
        false
    }

    /// True for methods with Lagrange multipliers.
    fn has_multipliers(&self) -> bool {
        false
    }

    /// The Lagrange multipliers, one per scalar constraint (empty for
    /// methods without multipliers, and before the first step).
    fn multipliers(&self) -> &[f32] {
        &[]
    }

    /// Names of extra per-log values (step sizes, penalties, switching
    /// rates...).
    fn log_columns(&self) -> Vec<String> {
        Vec::new()
    }

    /// Appends the extra values for the log window just ended, parallel to
    /// [`Algorithm::log_columns`], and starts a new window.
    fn log_values(&mut self, _out: &mut Vec<f64>) {}
}

/// The algorithms by command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlgorithmName {
    /// Smoothed stochastic linearized ALM.
    SslAlm,
    /// Stochastic switching subgradient.
    Ssw,
    /// Unconstrained SGD.
    Sgd,
    /// Unconstrained Adam.
    Adam,
}

impl AlgorithmName {
    /// Every algorithm.
    pub const ALL: [AlgorithmName; 4] =
        [AlgorithmName::SslAlm, AlgorithmName::Ssw, AlgorithmName::Sgd, AlgorithmName::Adam];

    /// Every command-line name.
    pub const NAMES: [&'static str; 4] = ["ssl-alm", "ssw", "sgd", "adam"];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|&a| a == self).unwrap_or(0)]
    }

    /// True for the methods that enforce the constraints.
    pub fn is_constrained(self) -> bool {
        matches!(self, AlgorithmName::SslAlm | AlgorithmName::Ssw)
    }
}

impl fmt::Display for AlgorithmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlgorithmName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::NAMES
            .iter()
            .position(|&n| n == s)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| Error::config("algorithm", format!("'{s}' (known: {})", Self::NAMES.join(", "))))
    }
}

/// An algorithm with its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AlgorithmConfig {
    /// SSL-ALM.
    SslAlm(SslAlmConfig),
    /// Switching subgradient.
    Switching(SwitchingConfig),
    /// Unconstrained SGD.
    Sgd {
        /// Step size.
        lr: f32,
        /// Momentum.
        momentum: f32,
    },
    /// Unconstrained Adam.
    Adam {
        /// Step size.
        lr: f32,
    },
}

impl AlgorithmConfig {
    /// The settings of the humancompatible.train paper (and of
    /// humancompatible-train 0.4.2 run with them).
    pub fn paper(name: AlgorithmName) -> Self {
        match name {
            AlgorithmName::SslAlm => AlgorithmConfig::SslAlm(SslAlmConfig::default()),
            AlgorithmName::Ssw => AlgorithmConfig::Switching(SwitchingConfig::default()),
            AlgorithmName::Sgd => AlgorithmConfig::Sgd { lr: 1e-3, momentum: 0.0 },
            AlgorithmName::Adam => AlgorithmConfig::Adam { lr: 1e-3 },
        }
    }

    /// The paper's minibatch sizes for an algorithm: 8 / 8 for SSL-ALM,
    /// 16 / 16 otherwise.
    pub fn paper_batch_sizes(name: AlgorithmName) -> BatchSizes {
        match name {
            AlgorithmName::SslAlm => BatchSizes { objective: 8, per_group: 8 },
            _ => BatchSizes { objective: 16, per_group: 16 },
        }
    }

    /// The algorithm's name.
    pub fn name(&self) -> AlgorithmName {
        match self {
            AlgorithmConfig::SslAlm(_) => AlgorithmName::SslAlm,
            AlgorithmConfig::Switching(_) => AlgorithmName::Ssw,
            AlgorithmConfig::Sgd { .. } => AlgorithmName::Sgd,
            AlgorithmConfig::Adam { .. } => AlgorithmName::Adam,
        }
    }

    /// A fresh algorithm with these settings.
    pub fn build(&self) -> Result<Box<dyn Algorithm>> {
        Ok(match *self {
            AlgorithmConfig::SslAlm(c) => Box::new(SslAlm::new(c)?),
            AlgorithmConfig::Switching(c) => Box::new(SwitchingSubgradient::new(c)?),
            AlgorithmConfig::Sgd { lr, momentum } => {
                ssl_alm::positive("lr", lr)?;
                if !(0.0..1.0).contains(&momentum) {
                    return Err(Error::config("momentum", format!("{momentum} (must be in [0, 1))")));
                }
                Box::new(Unconstrained::new("sgd", optim::Sgd::new(lr, momentum)))
            }
            AlgorithmConfig::Adam { lr } => {
                ssl_alm::positive("lr", lr)?;
                Box::new(Unconstrained::new("adam", optim::Adam::new(lr)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in AlgorithmName::ALL {
            assert_eq!(a.as_str().parse::<AlgorithmName>().unwrap(), a);
            assert_eq!(AlgorithmConfig::paper(a).name(), a);
            assert_eq!(AlgorithmConfig::paper(a).build().unwrap().name(), a.as_str());
        }
        let err = "alm2".parse::<AlgorithmName>().unwrap_err();
        assert_eq!(err.to_string(), "invalid value for algorithm: 'alm2' (known: ssl-alm, ssw, sgd, adam)");
    }
}
