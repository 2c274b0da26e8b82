//! Raw tables: the cells of a delimited text file, before any typing or
//! encoding. Each column interns its distinct values, so a table of tens of
//! thousands of rows costs a few bytes per cell and later stages (type
//! inference, one-hot encoding, target matching) work on the few distinct
//! values rather than on every cell.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use crate::error::{Error, Result};

/// Marks a missing cell in [`RawColumn::codes`].
pub const MISSING: u32 = u32::MAX;

/// True for the spellings of a missing value: an empty field, `NA`, `?` or
/// `NaN` (case-insensitive), after trimming.
pub fn is_missing_token(value: &str) -> bool {
    let v = value.trim();
    v.is_empty() || v == "?" || v.eq_ignore_ascii_case("na") || v.eq_ignore_ascii_case("nan")
}

/// One column: a code per row into a dictionary of distinct values.
#[derive(Debug, Clone, Default)]
pub struct RawColumn {
    /// Per row, an index into `values`, or [`MISSING`].
    pub codes: Vec<u32>,
    /// The distinct (trimmed) non-missing values, in order of first appearance.
    pub values: Vec<String>,
    index: HashMap<String, u32>,
}

impl RawColumn {
    /// Appends one cell.
    pub fn push(&mut self, value: &str) {
        let v = value.trim();
        if is_missing_token(v) {
            self.codes.push(MISSING);
            return;
        }
        let code = match self.index.get(v) {
            Some(&c) => c,
            None => {
                let c = self.values.len() as u32;
                self.values.push(v.to_string());
                self.index.insert(v.to_string(), c);
                c
            }
        };
        self.codes.push(code);
    }

    /// The value of row `row`, or `None` when missing.
    pub fn get(&self, row: usize) -> Option<&str> {
        match self.codes[row] {
            MISSING => None,
            c => Some(&self.values[c as usize]),
        }
    }
}

/// A table of raw string cells with its column names and, for each row, the
/// line of the source it came from (for error messages).
#[derive(Debug, Clone, Default)]
pub struct RawTable {
    /// Where the table came from (a path or a built-in name), for messages.
    pub source: String,
    /// Column names, trimmed.
    pub names: Vec<String>,
    /// The columns, parallel to `names`.
    pub columns: Vec<RawColumn>,
    /// 1-based source line of each row.
    pub lines: Vec<u64>,
}

/// How to read a delimited text file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Field delimiter.
    pub delimiter: u8,
    /// Column names to use when the file has no header line; `None` means the
    /// first line is the header.
    pub names: Option<Vec<String>>,
    /// Lines to skip before the header or first record (Adult's test file
    /// starts with a comment line).
    pub skip_lines: usize,
    /// Rename repeated header names (`x`, `x` becomes `x`, `x.1`) instead
    /// of refusing the file; for published files known to repeat a name.
    pub rename_duplicates: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { delimiter: b',', names: None, skip_lines: 0, rename_duplicates: false }
    }
}

impl RawTable {
    /// An empty table with the given column names.
    pub fn with_names(source: impl Into<String>, names: Vec<String>) -> Self {
        let columns = vec![RawColumn::default(); names.len()];
        RawTable { source: source.into(), names, columns, lines: Vec::new() }
    }

    /// A table of in-memory columns (e.g. a data frame's), each a cell per
    /// row (`None` for a missing one), as if read from a file named
    /// `source`: row `i` is reported as line `i + 2` (after a header line),
    /// numbers are parsed from their text as a file's are. Columns of
    /// different lengths are an error naming the first that differs.
    ///
    /// ```
    /// use fairtrain::data::table::RawTable;
    /// let t = RawTable::from_columns(
    ///     "frame",
    ///     vec!["x".into(), "g".into()],
    ///     vec![vec![Some("1.5".into()), None], vec![Some("a".into()), Some("b".into())]],
    /// )
    /// .unwrap();
    /// assert_eq!((t.n_rows(), t.columns[0].get(0), t.columns[0].get(1)), (2, Some("1.5"), None));
    /// assert_eq!(t.lines, [2, 3]);
    /// ```
    pub fn from_columns(source: &str, names: Vec<String>, columns: Vec<Vec<Option<String>>>) -> Result<RawTable> {
        if names.len() != columns.len() {
            return Err(Error::Data(format!("{source}: {} column names for {} columns", names.len(), columns.len())));
        }
        if let Some((i, name)) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
            return Err(Error::Data(format!(
                "{source}: column '{name}' is named twice (columns {} and {})",
                names.iter().position(|m| m == name).unwrap_or(0) + 1,
                i + 1
            )));
        }
        let n = columns.first().map_or(0, Vec::len);
        if let Some((name, c)) = names.iter().zip(&columns).find(|(_, c)| c.len() != n) {
            return Err(Error::Data(format!("{source}: column '{name}' has {} rows, the first column {n}", c.len())));
        }
        let mut table = RawTable::with_names(source, names);
        for (column, cells) in table.columns.iter_mut().zip(&columns) {
            for cell in cells {
                column.push(cell.as_deref().unwrap_or(""));
            }
        }
        table.lines = (0..n as u64).map(|i| i + 2).collect();
        Ok(table)
    }

    /// The sha256 (hex) of the table's contents: its column names and
    /// cells (a missing cell differs from every value). Names an in-memory
    /// table as a file's sha256 names the file, e.g. to check that a
    /// resumed run sees the rows it started with.
    ///
    /// ```
    /// use fairtrain::data::table::RawTable;
    /// let t = |cell: &str| RawTable::from_columns("t", vec!["a".into()], vec![vec![Some(cell.into())]]).unwrap();
    /// assert_eq!(t("1").sha256(), t("1").sha256());
    /// assert_ne!(t("1").sha256(), t("2").sha256());
    /// ```
    pub fn sha256(&self) -> String {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        let mut text = |s: &str| {
            hash.update((s.len() as u64).to_le_bytes());
            hash.update(s.as_bytes());
        };
        for (name, column) in self.names.iter().zip(&self.columns) {
            text(name);
            for row in 0..self.n_rows() {
                text(column.get(row).unwrap_or("\u{0}missing"));
            }
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.lines.len()
    }

    /// Appends a row of cells (one per column) read from `line`.
    pub fn push_row<'a>(&mut self, line: u64, cells: impl IntoIterator<Item = &'a str>) {
        for (col, cell) in self.columns.iter_mut().zip(cells) {
            col.push(cell);
        }
        self.lines.push(line);
    }

    /// The column names for a message: each shortened, at most 30 of them.
    pub fn column_list(&self) -> String {
        let mut shown: Vec<String> = self.names.iter().take(30).map(|n| excerpt(n)).collect();
        if self.names.len() > 30 {
            shown.push(format!("and {} more", self.names.len() - 30));
        }
        shown.join(", ")
    }

    /// The index of the column called `name`, or an error listing the columns.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name.trim()).ok_or_else(|| {
            Error::Data(format!(
                "unknown column '{}' in {} (its columns are: {})",
                excerpt(name),
                self.source,
                self.column_list()
            ))
        })
    }

    /// Reads a delimited text file. A row with the wrong number of fields is
    /// an error naming its line (the header counts as line 1).
    pub fn read(reader: impl Read, source: &str, options: &ReadOptions) -> Result<RawTable> {
        let mut reader = BufReader::new(reader);
        let mut skipped = String::new();
        for _ in 0..options.skip_lines {
            skipped.clear();
            reader.read_line(&mut skipped).map_err(|e| Error::Data(format!("{source}: {e}")))?;
        }
        // The csv crate counts a record's line when it consumes the `\n`
        // ending the record before it, which with CRLF line endings happens
        // after the record's position is taken: every record after the
        // first would be reported one line early (rust-csv issue 395).
        // Whether the file ends its lines with CRLF is read off its first line.
        let crlf = {
            let head = reader.fill_buf().map_err(|e| Error::Data(format!("{source}: {e}")))?;
            head.iter().position(|&b| b == b'\n').is_some_and(|k| k > 0 && head[k - 1] == b'\r')
        };
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(options.names.is_none())
            .flexible(true)
            .from_reader(&mut reader);
        let line_offset = options.skip_lines as u64;
        // Records after the first (the header, or the first data row of a
        // file without one) are one line further than counted.
        let data_offset = line_offset + crlf as u64;
        let names: Vec<String> = match &options.names {
            Some(names) => names.clone(),
            None => {
                let header = csv.headers().map_err(|e| csv_error(source, line_offset, e))?;
                header.iter().map(|h| h.trim().to_string()).collect()
            }
        };
        if names.is_empty() || (names.len() == 1 && names[0].is_empty()) {
            return Err(Error::Data(format!("{source}: no columns (empty file?)")));
        }
        let names = if options.rename_duplicates { rename_duplicates(names) } else { names };
        check_unique_names(&names, source)?;
        let mut table = RawTable::with_names(source, names);
        let mut record = csv::StringRecord::new();
        loop {
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let at = record.position().map_or(0, |p| p.line());
                    let line = at + if at > 1 || options.names.is_none() { data_offset } else { line_offset };
                    if record.len() != table.names.len() {
                        // A quote left open runs on over the following lines.
                        let hint = if record.iter().any(|f| f.contains('\n')) {
                            " (a quote opened on this line is never closed)"
                        } else {
                            ""
                        };
                        return Err(Error::Parse {
                            source_name: source.to_string(),
                            line,
                            message: format!("expected {} fields, found {}{hint}", table.names.len(), record.len()),
                        });
                    }
                    table.push_row(line, record.iter());
                }
                Err(e) => return Err(csv_error(source, data_offset, e)),
            }
        }
        Ok(table)
    }
}

fn rename_duplicates(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for n in names {
        let mut candidate = n.clone();
        let mut k = 1;
        while out.contains(&candidate) {
            candidate = format!("{n}.{k}");
            k += 1;
        }
        out.push(candidate);
    }
    out
}

fn check_unique_names(names: &[String], source: &str) -> Result<()> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(Error::Data(format!("{source}: column name '{n}' appears more than once in the header")));
        }
    }
    Ok(())
}

fn csv_error(source: &str, line_offset: u64, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line()) + line_offset;
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the line is not valid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    };
    Error::Parse { source_name: source.to_string(), line, message }
}

/// A cell quoted in a message: at most 40 characters of it.
///
/// ```
/// assert_eq!(fairtrain::data::excerpt("short"), "short");
/// assert!(fairtrain::data::excerpt(&"x".repeat(5000)).ends_with("... (5000 bytes)"));
/// ```
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((k, _)) => format!("{}... ({} bytes)", &s[..k], s.len()),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, options: &ReadOptions) -> Result<RawTable> {
        RawTable::read(text.as_bytes(), "t.csv", options)
    }

    #[test]
    fn reads_header_and_interns_values() {
        let t = read("a, b ,c\n1,x,\n2,x,NA\n", &ReadOptions::default()).unwrap();
        assert_eq!(t.names, ["a", "b", "c"]);
        assert_eq!(t.n_rows(), 2);
        assert_eq!(t.columns[1].values, ["x"]);
        assert_eq!(t.columns[1].codes, [0, 0]);
        assert_eq!(t.columns[2].codes, [MISSING, MISSING]);
        assert_eq!(t.lines, [2, 3]);
    }

    /// Lines are counted as the file counts them, whatever its line
    /// endings, with quoted newlines inside fields.
    #[test]
    fn line_numbers_follow_the_file_with_lf_and_crlf() {
        for nl in ["\n", "\r\n"] {
            for bad in [2usize, 3, 9, 40] {
                let mut lines: Vec<String> = vec!["a,b".into()];
                for i in 2..=50 {
                    lines.push(if i == bad {
                        "1,2,3".into()
                    } else if i == 5 {
                        format!("\"x{nl}y\",{i}")
                    } else {
                        format!("{i},{i}")
                    });
                }
                let text = lines.join(nl) + nl;
                let e = RawTable::read(text.as_bytes(), "t.csv", &ReadOptions::default()).unwrap_err().to_string();
                // The quoted field of line 5 spans two lines.
                let expected = if bad > 5 { bad + 1 } else { bad };
                assert_eq!(e, format!("t.csv, line {expected}: expected 2 fields, found 3"), "{nl:?}");
                let ok =
                    lines.iter().enumerate().filter(|(k, _)| k + 1 != bad).map(|(_, l)| l.clone()).collect::<Vec<_>>();
                let t = RawTable::read((ok.join(nl) + nl).as_bytes(), "t.csv", &ReadOptions::default()).unwrap();
                assert_eq!(t.lines[0], 2, "{nl:?}");
                assert_eq!(*t.lines.last().unwrap(), 50, "{nl:?} bad {bad}");
            }
        }
    }

    #[test]
    fn short_row_names_its_line() {
        let err = read("a,b\n1,2\n3\n", &ReadOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "t.csv, line 3: expected 2 fields, found 1");
    }

    #[test]
    fn skips_leading_lines_and_counts_them() {
        let options =
            ReadOptions { names: Some(vec!["a".into(), "b".into()]), skip_lines: 1, ..ReadOptions::default() };
        let t = read("|comment\n1,2\n3,4\n\n", &options).unwrap();
        assert_eq!(t.n_rows(), 2);
        assert_eq!(t.lines, [2, 3]);
        let err = read("|comment\n1,2\n3\n", &options).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn missing_tokens() {
        for v in ["", " ", "?", "NA", "na", "NaN", " nan "] {
            assert!(is_missing_token(v), "{v:?}");
        }
        for v in ["0", "N", "none", "x"] {
            assert!(!is_missing_token(v), "{v:?}");
        }
    }

    #[test]
    fn duplicate_header_is_an_error() {
        let err = read("a,a\n1,2\n", &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("'a' appears more than once"));
        let t = read("a,a,b,a\n1,2,3,4\n", &ReadOptions { rename_duplicates: true, ..ReadOptions::default() }).unwrap();
        assert_eq!(t.names, ["a", "a.1", "b", "a.2"]);
    }
}
