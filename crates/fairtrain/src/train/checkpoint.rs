//! Checkpoints: the complete state of a run (parameters, the primal
//! optimizer's moments, multipliers and every algorithm's own state, the
//! samplers' positions and random generators, the iteration count, the
//! elapsed training time, the iterate average and the resolved settings),
//! so that a resumed run continues exactly where it stopped: with
//! deterministic kernels, N iterations then N more give the same bits as
//! 2N in one go.
//!
//! The encoding is postcard (compact, exact for every float including
//! non-finite ones). Files are written to a temporary name and renamed, so
//! a crash while writing leaves the previous checkpoint intact.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::average::Averager;
use crate::error::{Error, Result};

/// The checkpoint format; a reader refuses other versions.
pub const FORMAT: u32 = 1;

/// Encodes a state.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| Error::Data(format!("cannot encode a checkpoint: {e}")))
}

/// Decodes a state.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Data(format!("corrupt or incompatible checkpoint state: {e}")))
}

/// `save_state` and `load_state` of an [`Algorithm`](crate::algorithms::Algorithm)
/// whose whole state is the value itself (serde): put `checkpoint_self!();`
/// in its `impl Algorithm` block.
macro_rules! checkpoint_self {
    () => {
        fn save_state(&self) -> $crate::Result<Vec<u8>> {
            $crate::train::checkpoint::encode(self)
        }

        fn load_state(&mut self, state: &[u8]) -> $crate::Result<()> {
            *self = $crate::train::checkpoint::decode(state)?;
            Ok(())
        }
    };
}
pub(crate) use checkpoint_self;

/// The training loop's own state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoopState {
    /// Iterations done.
    pub iteration: u64,
    /// Seconds of training done.
    pub seconds: f64,
    /// The running average of the tail iterates.
    pub averager: Averager,
    /// Where the averaged tail starts and its stride.
    pub tail: Option<(u64, u64)>,
    /// The next evaluation point (iterations or seconds).
    pub next_evaluation: f64,
}

/// A complete checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// [`FORMAT`].
    pub format: u32,
    /// The fairtrain version that wrote it.
    pub version: String,
    /// The run's resolved settings (as the caller serialized them).
    pub settings: String,
    /// The algorithm's name.
    pub algorithm: String,
    /// The loop's state.
    pub loop_state: LoopState,
    /// The problem's state ([`crate::problem::Problem::save_state`]).
    pub problem: Vec<u8>,
    /// The algorithm's state ([`crate::algorithms::Algorithm::save_state`]).
    pub algorithm_state: Vec<u8>,
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<u64> {
        let bytes = encode(self)?;
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, &bytes).map_err(|e| Error::io(&temp, e))?;
        std::fs::rename(&temp, path).map_err(|e| Error::io(path, e))?;
        Ok(bytes.len() as u64)
    }

    /// Reads a checkpoint written by [`Checkpoint::write`].
    pub fn read(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let c: Checkpoint = postcard::from_bytes(&bytes)
            .map_err(|e| Error::Data(format!("{}: not a readable checkpoint ({e})", path.display())))?;
        if c.format != FORMAT {
            return Err(Error::Data(format!(
                "{}: checkpoint format {} (this fairtrain reads format {FORMAT})",
                path.display(),
                c.format
            )));
        }
        Ok(c)
    }
}
