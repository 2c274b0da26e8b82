//! Checkpoints: the complete state of a run (parameters, the primal
//! optimizer's moments, multipliers and every algorithm's own state, the
//! samplers' positions and random generators, the iteration count, the
//! elapsed training time, the iterate average and the resolved settings),
//! so that a resumed run continues exactly where it stopped: with
//! deterministic kernels, N iterations then N more give the same bits as
//! 2N in one go.
//!
//! The file is a fixed header (magic bytes, format version, payload
//! length, SHA-256 of the payload) and the payload, postcard-encoded
//! (compact, exact for every float including non-finite ones). Reading
//! checks all of it before decoding anything: a damaged, truncated or
//! extended file is an error naming it, never a silent resume. Files are
//! written to a temporary name and renamed, so a crash while writing
//! leaves the previous checkpoint intact.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::average::Averager;
use super::diagnostics::Diagnostics;
use crate::error::{Error, Result};

/// The checkpoint format; a reader refuses other versions.
pub const FORMAT: u32 = 6;

/// The first bytes of a checkpoint file.
const MAGIC: &[u8; 8] = b"FTCKPT\0\n";
/// Magic, format (u32), payload length (u64), SHA-256 of the payload.
const HEADER: usize = 8 + 4 + 8 + 32;

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
    /// The log window in progress: the next record averages over every
    /// iteration since the previous one, across the interruption.
    pub window: WindowSums,
    /// The diagnostics' state: the warnings raised so far and what they
    /// watch (`None` before the loop starts).
    pub diagnostics: Option<Diagnostics>,
    /// The observers' states, by name ([`Observer::save_state`]): what
    /// decides the returned model (the model selection's candidates, the
    /// margin) and how far the logs were written.
    ///
    /// [`Observer::save_state`]: super::Observer::save_state
    pub observers: ObserverStates,
}

/// Observers' checkpointed states, by name.
pub type ObserverStates = std::collections::BTreeMap<String, Vec<u8>>;

/// The sums of a log window in progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WindowSums {
    /// Sum of the objective estimates.
    pub objective: f64,
    /// Their count.
    pub n_objective: u64,
    /// Per scalar constraint, the sum of its estimates.
    pub constraints: Vec<f64>,
    /// Their count.
    pub n_constraints: u64,
    /// Sums of the algorithm's per-step values
    /// ([`Algorithm::step_values`](crate::algorithms::Algorithm::step_values))
    /// over the window's steps (`n_objective` of them).
    pub step_values: Vec<f64>,
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
    /// The problem's state ([`crate::problem::ProblemState::save_state`]).
    pub problem: Vec<u8>,
    /// The algorithm's state ([`crate::algorithms::Algorithm::save_state`]).
    pub algorithm_state: Vec<u8>,
}

impl Checkpoint {
    /// The checkpoint as file bytes: header, then payload.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        use sha2::Digest;
        let payload = crate::state::encode(self)?;
        let mut bytes = Vec::with_capacity(HEADER + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&sha2::Sha256::digest(&payload));
        bytes.extend_from_slice(&payload);
        Ok(bytes)
    }

    /// Reads file bytes written by [`Checkpoint::to_bytes`]; `path` names
    /// the file in errors. Every check runs before the payload is decoded.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        use sha2::Digest;
        let bad = |why: String| Error::Data(format!("{}: not a usable checkpoint: {why}", path.display()));
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(bad("it does not start with a fairtrain checkpoint header".into()));
        }
        let format = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if format != FORMAT {
            return Err(bad(format!("format {format} (this fairtrain reads format {FORMAT})")));
        }
        let length = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        let payload = &bytes[HEADER..];
        if length != payload.len() as u64 {
            return Err(bad(format!(
                "the header says {length} bytes of state, the file holds {} (truncated or extended)",
                payload.len()
            )));
        }
        if sha2::Sha256::digest(payload).as_slice() != &bytes[20..HEADER] {
            return Err(bad("its checksum does not match its contents (the file is damaged)".into()));
        }
        let c: Checkpoint =
            postcard::from_bytes(payload).map_err(|e| bad(format!("its state does not decode ({e})")))?;
        if c.format != FORMAT {
            return Err(bad(format!("format {} (this fairtrain reads format {FORMAT})", c.format)));
        }
        Ok(c)
    }

    /// Writes the checkpoint to `path` atomically; returns its size.
    pub fn write(&self, path: &Path) -> Result<u64> {
        let bytes = self.to_bytes()?;
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, &bytes).map_err(|e| Error::io(&temp, e))?;
        std::fs::rename(&temp, path).map_err(|e| Error::io(path, e))?;
        Ok(bytes.len() as u64)
    }

    /// Reads a checkpoint written by [`Checkpoint::write`].
    pub fn read(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Checkpoint::from_bytes(&bytes, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            format: FORMAT,
            version: "test".into(),
            settings: "seed = 3".into(),
            algorithm: "ssl-alm".into(),
            loop_state: LoopState { iteration: 42, seconds: 0.5, ..LoopState::default() },
            problem: vec![1, 2, 3, 4, 5],
            algorithm_state: vec![9; 40],
        }
    }

    #[test]
    fn every_single_byte_flip_truncation_and_extension_is_refused() {
        let path = Path::new("checkpoint.bin");
        let bytes = sample().to_bytes().unwrap();
        let back = Checkpoint::from_bytes(&bytes, path).unwrap();
        assert_eq!(back.loop_state.iteration, 42);
        assert_eq!(back.algorithm_state, vec![9; 40]);
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[i] ^= bit;
                let e = Checkpoint::from_bytes(&damaged, path).unwrap_err().to_string();
                assert!(e.contains("checkpoint.bin: not a usable checkpoint"), "byte {i}: {e}");
            }
        }
        for n in 0..bytes.len() {
            assert!(Checkpoint::from_bytes(&bytes[..n], path).is_err(), "truncated to {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let e = Checkpoint::from_bytes(&longer, path).unwrap_err().to_string();
        assert!(e.contains("truncated or extended"), "{e}");
    }
}
