//! One column of a raw table, in the form that suits its values: a
//! dictionary (a code per row into the distinct values, each stored once)
//! while the column has few distinct values or any that is not a number,
//! and the numbers themselves, one per row, once a column of numbers has
//! more distinct values than a dictionary can look up from cache.
//!
//! Categories, labels and group names stay text exactly as written; a
//! measurement with a million distinct values costs one parse per cell
//! instead of one cache miss per cell, and no per-value storage.

use std::borrow::Cow;

use hashbrown::HashTable;

use super::short_keys::{ShortKey, ShortKeys};

/// Marks a missing cell in [`RawColumn::codes`].
pub const MISSING: u32 = u32::MAX;

/// A column of numbers becomes numeric past this many distinct values:
/// its dictionary's tables then outgrow the processor's second-level cache.
pub const NUMERIC_AFTER: usize = 4096;

/// True for the spellings of a missing value: an empty field, `NA`, `?` or
/// `NaN` (case-insensitive), after trimming.
pub fn is_missing_token(value: &str) -> bool {
    is_missing_bytes(value.trim().as_bytes())
}

/// True for a missing cell's bytes (see [`is_missing_token`]), already trimmed.
pub(crate) fn is_missing_bytes(v: &[u8]) -> bool {
    v.is_empty() || v == b"?" || v.eq_ignore_ascii_case(b"na") || v.eq_ignore_ascii_case(b"nan")
}

/// The finite number `v` reads as, if any (as `str::parse` reads it).
fn finite_number(v: &[u8]) -> Option<f64> {
    if let Some(x) = plain_decimal(v) {
        return Some(x);
    }
    std::str::from_utf8(v).ok()?.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Powers of ten exact in an f64.
const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// A plain decimal (`-12.3450`: a sign, at most 15 digits, a point) read
/// in a few instructions: its digits as an integer over a power of ten,
/// both exact in an f64, so the one rounding of the division gives the
/// correctly rounded value, the one `str::parse` gives (Clinger's fast
/// path). `None` for anything else (exponents, more digits), which
/// `str::parse` reads.
fn plain_decimal(v: &[u8]) -> Option<f64> {
    let (negative, digits) = match v.first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let (mut mantissa, mut n_digits, mut point) = (0u64, 0usize, None);
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                n_digits += 1;
                if n_digits > 15 {
                    return None;
                }
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    if n_digits == 0 {
        return None;
    }
    let x = mantissa as f64 / POW10[point.map_or(0, |i| digits.len() - i - 1)];
    Some(if negative { -x } else { x })
}

/// The dictionary's hash of a long value: fast and fixed (codes follow
/// first appearance, so the hash never shows in results).
fn hash_of(v: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x5eed).hash_one(v)
}

/// One column of cells.
///
/// In dictionary form `codes` holds a code per row into `values`; in
/// numeric form (see [`numbers`](Self::numbers)) both are empty.
#[derive(Debug, Clone, Default)]
pub struct RawColumn {
    /// Per row, an index into `values`, or [`MISSING`] (dictionary form).
    pub codes: Vec<u32>,
    /// The distinct (trimmed) non-missing values, in order of first
    /// appearance (dictionary form).
    pub values: Vec<String>,
    /// Codes of the values of at most [`SHORT`](super::short_keys::SHORT)
    /// bytes, keyed in place.
    short: ShortKeys,
    /// Codes of the longer values, compared with `values`.
    long: HashTable<u32>,
    /// Per value, the finite number it reads as (NaN: none).
    value_numbers: Vec<f64>,
    /// Values that are not finite numbers.
    non_numbers: usize,
    /// Numeric form: per row, its number (NaN where missing).
    numbers: Option<Vec<f64>>,
    /// Kept in dictionary form (it was numeric, then met a non-number).
    pinned: bool,
}

impl RawColumn {
    /// Appends one cell.
    ///
    /// ```
    /// use fairtrain::data::table::{MISSING, RawColumn};
    /// let mut c = RawColumn::default();
    /// for cell in ["b", " a ", "NA", "b"] {
    ///     c.push(cell);
    /// }
    /// assert_eq!((c.codes, c.values), (vec![0, 1, MISSING, 0], vec!["b".to_string(), "a".to_string()]));
    /// ```
    pub fn push(&mut self, value: &str) {
        let v = value.trim();
        // Text is UTF-8 already.
        let _ = self.push_trimmed(v.as_bytes(), None);
    }

    /// Appends one cell given as bytes; bytes that are not UTF-8 are an
    /// error (checked once per distinct value, not per cell).
    pub fn push_bytes(&mut self, value: &[u8]) -> std::result::Result<(), std::str::Utf8Error> {
        self.push_trimmed(value.trim_ascii(), None)
    }

    /// Appends a missing cell.
    pub fn push_missing(&mut self) {
        match &mut self.numbers {
            Some(numbers) => numbers.push(f64::NAN),
            None => self.codes.push(MISSING),
        }
    }

    /// An empty column that keeps its cells' text exactly, whatever they
    /// hold (never in numeric form).
    pub fn text_only() -> RawColumn {
        RawColumn { pinned: true, ..RawColumn::default() }
    }

    /// A column of `rows` missing cells (one a reader skipped).
    pub fn all_missing(rows: usize) -> RawColumn {
        RawColumn { codes: vec![MISSING; rows], ..RawColumn::default() }
    }

    /// A column of numbers, in numeric form (NaN: missing), as a binary
    /// file stores them.
    ///
    /// ```
    /// use fairtrain::data::table::RawColumn;
    /// let c = RawColumn::from_numbers(vec![0.5, f64::NAN]);
    /// assert_eq!((c.text(0).as_deref(), c.text(1), c.number(0)), (Some("0.5"), None, Some(0.5)));
    /// ```
    pub fn from_numbers(numbers: Vec<f64>) -> RawColumn {
        RawColumn { numbers: Some(numbers), ..RawColumn::default() }
    }

    /// Appends a number (NaN: missing), as a binary file stores it; an
    /// infinite one is text (`inf`), as a CSV file would spell it.
    ///
    /// ```
    /// use fairtrain::data::table::RawColumn;
    /// let mut c = RawColumn::default();
    /// c.push_number(3.0);
    /// c.push_number(f64::NAN);
    /// assert_eq!((c.values, c.codes.len()), (vec!["3".to_string()], 2));
    /// ```
    pub fn push_number(&mut self, x: f64) {
        if x.is_nan() {
            return self.push_missing();
        }
        match &mut self.numbers {
            Some(numbers) if x.is_finite() => numbers.push(x),
            // A whole number (a count, a 0/1 label) spelled without
            // allocating.
            _ if x.fract() == 0.0 && x.abs() < 1e15 => {
                use std::io::Write;
                let mut buf = [0u8; 24];
                let mut rest = &mut buf[..];
                write!(rest, "{}", x as i64).expect("24 bytes hold 16 digits");
                let len = 24 - rest.len();
                // Digits are UTF-8.
                let _ = self.push_present(&buf[..len], None);
            }
            _ => {
                let text = x.to_string();
                let _ = self.push_present(text.as_bytes(), None);
            }
        }
    }

    /// The key a reader prefetches before [`push_present`](Self::push_present),
    /// for a trimmed, non-missing cell; `None` when there is nothing to
    /// prefetch (a long value, or numeric form).
    pub(crate) fn prefetch_key(&self, v: &[u8]) -> Option<ShortKey> {
        if self.numbers.is_some() {
            return None;
        }
        let key = ShortKey::new(v)?;
        self.short.prefetch(&key);
        Some(key)
    }

    /// Appends a trimmed cell (missing or not) with its prefetched key.
    fn push_trimmed(&mut self, v: &[u8], key: Option<&ShortKey>) -> std::result::Result<(), std::str::Utf8Error> {
        if is_missing_bytes(v) {
            self.push_missing();
            Ok(())
        } else {
            self.push_present(v, key)
        }
    }

    /// Appends a trimmed, non-missing cell; `key` is its short key when the
    /// reader took it to prefetch (else it is taken here).
    pub(crate) fn push_present(
        &mut self,
        v: &[u8],
        key: Option<&ShortKey>,
    ) -> std::result::Result<(), std::str::Utf8Error> {
        if let Some(numbers) = &mut self.numbers {
            match finite_number(v) {
                Some(x) => {
                    numbers.push(x);
                    return Ok(());
                }
                // Not a number after all: text from here on.
                None => {
                    self.to_dictionary();
                    self.pinned = true;
                }
            }
        }
        let own_key;
        let key = match key {
            Some(k) => Some(k),
            None => {
                own_key = ShortKey::new(v);
                own_key.as_ref()
            }
        };
        let (code, new) = self.intern(v, key)?;
        self.codes.push(code);
        if new && !self.pinned && self.non_numbers == 0 && self.values.len() > NUMERIC_AFTER {
            self.switch_to_numbers();
        }
        Ok(())
    }

    /// The code of the trimmed, non-missing `v` (short key `key`), and
    /// whether it is new.
    fn intern(&mut self, v: &[u8], key: Option<&ShortKey>) -> std::result::Result<(u32, bool), std::str::Utf8Error> {
        let RawColumn { values, short, long, .. } = self;
        let code = values.len() as u32;
        match key {
            Some(key) => {
                if let Some(c) = short.get(key) {
                    return Ok((c, false));
                }
                values.push(std::str::from_utf8(v)?.to_string());
                short.insert(key, code);
            }
            None => {
                let hash = hash_of(v);
                if let Some(&c) = long.find(hash, |&c| values[c as usize].as_bytes() == v) {
                    return Ok((c, false));
                }
                values.push(std::str::from_utf8(v)?.to_string());
                long.insert_unique(hash, code, |&c| hash_of(values[c as usize].as_bytes()));
            }
        }
        let number = finite_number(v);
        self.non_numbers += number.is_none() as usize;
        self.value_numbers.push(number.unwrap_or(f64::NAN));
        Ok((code, true))
    }

    /// Into numeric form (every value is a finite number).
    fn switch_to_numbers(&mut self) {
        let numbers =
            self.codes.iter().map(|&c| if c == MISSING { f64::NAN } else { self.value_numbers[c as usize] }).collect();
        *self = RawColumn { numbers: Some(numbers), ..RawColumn::default() };
    }

    /// Into dictionary form, for uses that need the values as text
    /// (categories, labels, groups). A number's text is then its shortest
    /// exact spelling (`0.7000` reads back as `0.7`).
    ///
    /// ```
    /// use fairtrain::data::table::RawColumn;
    /// let mut c = RawColumn::from_numbers(vec![0.7, 2.0, f64::NAN, 0.7]);
    /// c.to_dictionary();
    /// assert_eq!((c.values, c.codes.len()), (vec!["0.7".to_string(), "2".to_string()], 4));
    /// ```
    pub fn to_dictionary(&mut self) {
        let Some(numbers) = self.numbers.take() else { return };
        let mut column = RawColumn { pinned: true, ..RawColumn::default() };
        for x in numbers {
            if x.is_nan() {
                column.codes.push(MISSING);
            } else {
                let text = x.to_string();
                let (code, _) = column.intern(text.as_bytes(), ShortKey::new(text.as_bytes()).as_ref()).expect("UTF-8");
                column.codes.push(code);
            }
        }
        *self = column;
    }

    /// Numeric form: each row's number (NaN where missing); `None` in
    /// dictionary form.
    pub fn numbers(&self) -> Option<&[f64]> {
        self.numbers.as_deref()
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.numbers.as_ref().map_or(self.codes.len(), Vec::len)
    }

    /// True when row `row` is missing.
    pub fn is_missing(&self, row: usize) -> bool {
        match &self.numbers {
            Some(numbers) => numbers[row].is_nan(),
            None => self.codes[row] == MISSING,
        }
    }

    /// The text of row `row`, or `None` when missing (a number in numeric
    /// form is spelled as [`to_dictionary`](Self::to_dictionary) spells it).
    pub fn text(&self, row: usize) -> Option<Cow<'_, str>> {
        match &self.numbers {
            Some(numbers) => Some(numbers[row]).filter(|x| !x.is_nan()).map(|x| Cow::Owned(x.to_string())),
            None => match self.codes[row] {
                MISSING => None,
                c => Some(Cow::Borrowed(self.values[c as usize].as_str())),
            },
        }
    }

    /// The number row `row` reads as, or `None` when missing or not a number.
    pub fn number(&self, row: usize) -> Option<f64> {
        match &self.numbers {
            Some(numbers) => Some(numbers[row]).filter(|x| !x.is_nan()),
            None => match self.codes[row] {
                MISSING => None,
                c => self.values[c as usize].trim().parse::<f64>().ok(),
            },
        }
    }

    /// True for a dictionary holding a value that is not a finite number.
    pub fn has_text(&self) -> bool {
        self.numbers.is_none() && self.non_numbers > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_distinct_numbers_become_numeric_and_text_turns_them_back() {
        let mut c = RawColumn::default();
        c.push("NA");
        for i in 0..=NUMERIC_AFTER {
            c.push(&format!("{i}.50"));
        }
        assert!(c.numbers().is_some() && c.codes.is_empty());
        assert_eq!(
            (c.n_rows(), c.is_missing(0), c.number(1), c.text(2).as_deref()),
            (NUMERIC_AFTER + 2, true, Some(0.5), Some("1.5"))
        );
        c.push("x");
        assert!(c.numbers().is_none());
        assert_eq!(
            (c.text(1).as_deref(), c.text(NUMERIC_AFTER + 2).as_deref(), c.is_missing(0)),
            (Some("0.5"), Some("x"), true)
        );
        // Once text, always text.
        for i in 0..2 * NUMERIC_AFTER {
            c.push(&i.to_string());
        }
        assert!(c.numbers().is_none());
    }

    #[test]
    fn plain_decimals_read_as_str_parse_reads_them() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut cases: Vec<String> =
            ["0", "-0", "+1", "1.", ".5", "-0.0001", "999999999999999", "0.1", "123456.789012345"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        for _ in 0..20_000 {
            let digits = (next() % 15 + 1) as usize;
            let mantissa = next() % 10u64.pow(digits as u32);
            let text = format!("{mantissa:0digits$}");
            let point = (next() % (digits as u64 + 1)) as usize;
            cases.push(format!("{}{}.{}", if next() % 2 == 0 { "-" } else { "" }, &text[..point], &text[point..]));
        }
        for case in &cases {
            let expected = case.parse::<f64>().unwrap();
            assert_eq!(plain_decimal(case.as_bytes()).map(f64::to_bits), Some(expected.to_bits()), "{case}");
        }
        for other in ["1e5", "1234567890123456", "1.2.3", "-", ".", "", "0x10", "1,5", "inf"] {
            assert_eq!(plain_decimal(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn short_and_long_values_are_each_stored_once() {
        let mut c = RawColumn::default();
        let long = "a category name longer than sixteen bytes";
        for cell in ["1.5", "NaN", long, " 1.5", long, "1.50"] {
            c.push(cell);
        }
        assert_eq!(c.codes, [0, MISSING, 1, 0, 1, 2]);
        assert_eq!(c.values, ["1.5", long, "1.50"]);
    }

    #[test]
    fn few_numbers_or_any_text_stay_a_dictionary() {
        let mut c = RawColumn::default();
        for i in 0..3 * NUMERIC_AFTER {
            c.push(&(i % NUMERIC_AFTER).to_string());
        }
        assert!(c.numbers().is_none());
        let mut c = RawColumn::default();
        c.push("id-0");
        for i in 0..2 * NUMERIC_AFTER {
            c.push(&i.to_string());
        }
        assert!(c.numbers().is_none() && c.has_text());
        // Infinite values are not numbers here.
        let mut c = RawColumn::default();
        c.push("inf");
        for i in 0..2 * NUMERIC_AFTER {
            c.push(&i.to_string());
        }
        assert!(c.numbers().is_none());
    }
}
