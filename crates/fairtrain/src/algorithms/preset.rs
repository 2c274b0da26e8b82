//! [`Preset`]: a named set of hyperparameters and batch sizes.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A named set of hyperparameters and batch sizes for every algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The humancompatible.train paper's settings where it has them, else
    /// the reference packages' (see [`AlgorithmConfig::paper`](super::AlgorithmConfig::paper)).
    Paper,
    /// fairtrain's defaults (see [`AlgorithmConfig::preset`](super::AlgorithmConfig::preset)).
    Default,
}

impl Preset {
    /// Every preset's name.
    pub const NAMES: [&'static str; 2] = ["paper", "default"];

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::Default => "default",
        }
    }
}

impl FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "paper" => Ok(Preset::Paper),
            "default" => Ok(Preset::Default),
            _ => Err(Error::config("preset", format!("'{s}' (known: paper, default)"))),
        }
    }
}
