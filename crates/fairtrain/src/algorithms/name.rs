//! [`AlgorithmName`]: the algorithms and fairness methods by command-line
//! name, with what each one is (constrained, Lagrangian, a method).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::problem::BatchSizes;

/// The algorithms by command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlgorithmName {
    /// Smoothed stochastic linearized augmented Lagrangian.
    SslAlm,
    /// Stochastic switching subgradient.
    Ssw,
    /// Stochastic augmented Lagrangian (no smoothing).
    Alm,
    /// Inexact augmented Lagrangian with adaptive dual steps.
    Ialm,
    /// Stochastic penalty-barrier multiplier method.
    Spbm,
    /// PI-controlled multipliers.
    Nupi,
    /// Stochastic Ghost (SQP with multilevel Monte Carlo).
    Ghost,
    /// Proxy-Lagrangian (true rates for the multipliers).
    ProxyLagrangian,
    /// Plain Lagrangian gradient descent-ascent.
    Gda,
    /// Quadratic penalty.
    Penalty,
    /// Unconstrained SGD.
    Sgd,
    /// Unconstrained Adam.
    Adam,
    /// FairBatch's adaptive batch sampler (a method, see [`crate::algorithms::methods`]).
    #[serde(rename = "fairbatch")]
    FairBatch,
    /// FORML's meta-learned sample weights (a method).
    Forml,
    /// FERMI's exponential Renyi mutual information regularizer (a method).
    Fermi,
}

impl AlgorithmName {
    /// The paper's minibatch sizes: 8 / 8 for SSL-ALM and ALM, 16 / 16
    /// otherwise.
    pub fn paper_batch_sizes(self) -> BatchSizes {
        match self {
            AlgorithmName::SslAlm | AlgorithmName::Alm | AlgorithmName::Ialm => {
                BatchSizes { objective: 8, per_group: 8 }
            }
            // The methods' reference batches: FairBatch's notebook 100,
            // FERMI's 64; FORML as FERMI.
            AlgorithmName::FairBatch => BatchSizes { objective: 100, per_group: 16 },
            AlgorithmName::Forml | AlgorithmName::Fermi => BatchSizes { objective: 64, per_group: 16 },
            _ => BatchSizes { objective: 16, per_group: 16 },
        }
    }

    /// Every algorithm.
    pub const ALL: [AlgorithmName; 12] = [
        AlgorithmName::SslAlm,
        AlgorithmName::Ssw,
        AlgorithmName::Alm,
        AlgorithmName::Ialm,
        AlgorithmName::Spbm,
        AlgorithmName::Nupi,
        AlgorithmName::Ghost,
        AlgorithmName::ProxyLagrangian,
        AlgorithmName::Gda,
        AlgorithmName::Penalty,
        AlgorithmName::Sgd,
        AlgorithmName::Adam,
    ];

    /// Every command-line name, in the order of [`AlgorithmName::ALL`].
    pub const NAMES: [&'static str; 12] =
        ["ssl-alm", "ssw", "alm", "ialm", "spbm", "nupi", "ghost", "proxy-lagrangian", "gda", "penalty", "sgd", "adam"];

    /// The fairness methods of [`crate::algorithms::methods`] (`--method`), which take
    /// the place of an algorithm.
    pub const METHODS: [AlgorithmName; 3] = [AlgorithmName::FairBatch, AlgorithmName::Forml, AlgorithmName::Fermi];

    /// The methods' command-line names, in the order of [`AlgorithmName::METHODS`].
    pub const METHOD_NAMES: [&'static str; 3] = ["fairbatch", "forml", "fermi"];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match Self::METHODS.iter().position(|&a| a == self) {
            Some(i) => Self::METHOD_NAMES[i],
            None => Self::NAMES[Self::ALL.iter().position(|&a| a == self).unwrap_or(0)],
        }
    }

    /// True for the fairness methods (`--method`).
    pub fn is_method(self) -> bool {
        Self::METHODS.contains(&self)
    }

    /// Parses a method name (`fairbatch`, `forml`, `fermi`).
    pub fn parse_method(s: &str) -> Result<Self> {
        Self::METHOD_NAMES
            .iter()
            .position(|&n| n == s)
            .map(|i| Self::METHODS[i])
            .ok_or_else(|| Error::config("method", format!("'{s}' (known: {})", Self::METHOD_NAMES.join(", "))))
    }

    /// True for the methods that enforce the constraints (through
    /// multipliers, switching or a fairness method).
    pub fn is_constrained(self) -> bool {
        !matches!(self, AlgorithmName::Sgd | AlgorithmName::Adam)
    }

    /// True for the algorithms that train toward the bounds (the constrained
    /// ones; not the unconstrained baselines, nor the fairness methods,
    /// which have no bound): the ones a validation margin, a feasibility
    /// selection and infeasibility warnings are for.
    pub fn pursues_bounds(self) -> bool {
        self.is_constrained() && !self.is_method()
    }

    /// True for the methods whose gradient weights come from a dual rule
    /// (they accept any primal optimizer).
    pub fn is_lagrangian(self) -> bool {
        self.is_constrained() && !self.is_method() && !matches!(self, AlgorithmName::Ssw | AlgorithmName::Ghost)
    }
}

impl fmt::Display for AlgorithmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses an algorithm's or a method's name.
impl FromStr for AlgorithmName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::NAMES
            .iter()
            .position(|&n| n == s)
            .map(|i| Self::ALL[i])
            .or_else(|| Self::parse_method(s).ok())
            .ok_or_else(|| {
                Error::config(
                    "algorithm",
                    format!("'{s}' (known: {}; methods: {})", Self::NAMES.join(", "), Self::METHOD_NAMES.join(", ")),
                )
            })
    }
}
