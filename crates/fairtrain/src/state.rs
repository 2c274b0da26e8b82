//! Encoding of a component's state for checkpoints: every part of a run
//! (problem, algorithm, observers, the training loop) saves its own state
//! as bytes with [`encode`] and restores it with [`decode`]; the checkpoint
//! file ([`crate::train::checkpoint`]) frames and checks those bytes.
//!
//! postcard: compact, and exact for every float including non-finite ones.
//!
//! ```
//! let bytes = fairtrain::state::encode(&(3u64, vec![0.5f32, f32::NAN])).unwrap();
//! let (n, values): (u64, Vec<f32>) = fairtrain::state::decode(&bytes).unwrap();
//! assert_eq!(n, 3);
//! assert!(values[1].is_nan());
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

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
/// in its `impl Algorithm` block, or `checkpoint_self!(name);` to keep
/// fields the encoding skips (`Copy` ones, such as a `&'static str` name)
/// as they are.
macro_rules! checkpoint_self {
    ($($keep:ident),*) => {
        fn save_state(&self) -> $crate::error::Result<Vec<u8>> {
            $crate::state::encode(self)
        }

        fn load_state(&mut self, state: &[u8]) -> $crate::error::Result<()> {
            $(let $keep = self.$keep;)*
            *self = $crate::state::decode(state)?;
            $(self.$keep = $keep;)*
            Ok(())
        }
    };
}
pub(crate) use checkpoint_self;
