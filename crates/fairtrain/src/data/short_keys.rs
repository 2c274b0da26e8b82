//! The part of a column's dictionary that holds short values (numbers,
//! most category names): an open-addressing table whose slots hold the
//! value's bytes themselves, so a lookup touches one slot and nothing
//! else, and a reader can prefetch the slots of a whole row's cells before
//! looking any of them up. On a column of tens of thousands of distinct
//! numbers each lookup is a cache miss; issued together, the misses of a
//! row overlap instead of queueing.

use std::hash::BuildHasher;

/// Values of at most this many bytes are keyed in place.
pub const SHORT: usize = 16;

/// A short value with its hash, ready to prefetch and look up.
#[derive(Debug, Clone, Copy)]
pub struct ShortKey {
    bytes: [u8; SHORT],
    len: u8,
    hash: u64,
}

impl ShortKey {
    /// The key of `v`, or `None` when it is empty or longer than [`SHORT`].
    pub fn new(v: &[u8]) -> Option<ShortKey> {
        if v.is_empty() || v.len() > SHORT {
            return None;
        }
        let mut bytes = [0u8; SHORT];
        bytes[..v.len()].copy_from_slice(v);
        let (lo, hi) = bytes.split_at(8);
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let hash = foldhash::fast::FixedState::with_seed(0x5eed).hash_one((word(lo), word(hi), v.len() as u8));
        Some(ShortKey { bytes, len: v.len() as u8, hash })
    }
}

/// One slot: a value's bytes (zero-padded), its length (0: an empty slot,
/// as no stored value is empty) and its code.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    bytes: [u8; SHORT],
    len: u8,
    code: u32,
}

/// Codes of short values, by linear probing at most half full.
///
/// ```
/// use fairtrain::data::short_keys::{ShortKey, ShortKeys};
/// let mut keys = ShortKeys::default();
/// let one = ShortKey::new(b"1.5").unwrap();
/// assert_eq!(keys.get(&one), None);
/// keys.insert(&one, 7);
/// keys.prefetch(&one);
/// assert_eq!((keys.get(&one), keys.get(&ShortKey::new(b"1.50").unwrap())), (Some(7), None));
/// assert!(ShortKey::new(b"seventeen bytes!!").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ShortKeys {
    slots: Vec<Slot>,
    len: usize,
}

impl ShortKeys {
    fn home(&self, key: &ShortKey) -> usize {
        key.hash as usize & (self.slots.len() - 1)
    }

    /// Asks the processor to start loading `key`'s slot: a hint, with no
    /// effect on results.
    pub fn prefetch(&self, key: &ShortKey) {
        if self.slots.is_empty() {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let slot: *const Slot = &self.slots[self.home(key)];
            // SAFETY: a prefetch reads nothing the program sees and cannot
            // fault; the address is that of a live slot. (SSE is part of
            // every x86-64 processor.)
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(slot.cast()) };
        }
    }

    /// The code of `key`, if stored.
    pub fn get(&self, key: &ShortKey) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let slot = &self.slots[i];
            if slot.len == 0 {
                return None;
            }
            if slot.len == key.len && slot.bytes == key.bytes {
                return Some(slot.code);
            }
            i = (i + 1) & mask;
        }
    }

    /// Stores `key` (not stored yet) with `code`.
    pub fn insert(&mut self, key: &ShortKey, code: u32) {
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        self.place(key.bytes, key.len, key.hash, code);
        self.len += 1;
    }

    fn place(&mut self, bytes: [u8; SHORT], len: u8, hash: u64, code: u32) {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i].len != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot { bytes, len, code };
    }

    fn grow(&mut self) {
        let size = (2 * self.slots.len()).max(64);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        for s in old.into_iter().filter(|s| s.len != 0) {
            let key = ShortKey::new(&s.bytes[..s.len as usize]).expect("a stored value is short");
            self.place(s.bytes, s.len, key.hash, s.code);
        }
    }
}
