//! Raw tables: the cells of a delimited text file, before any typing or
//! encoding. Each column interns its distinct values, so a table of tens of
//! thousands of rows costs a few bytes per cell and later stages (type
//! inference, one-hot encoding, target matching) work on the few distinct
//! values rather than on every cell.

use std::io::{BufRead, BufReader, Read};

use super::short_keys::ShortKey;

use crate::error::{Error, Result};

use super::column::is_missing_bytes;
pub use super::column::{MISSING, RawColumn, is_missing_token};

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

/// A present cell of a record being appended: where its trimmed value lies
/// in the field, and its short key.
struct PresentCell {
    range: std::ops::Range<usize>,
    key: Option<ShortKey>,
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
    /// Which columns keep their cells' text exactly.
    pub text: TextColumns,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { delimiter: b',', names: None, skip_lines: 0, rename_duplicates: false, text: TextColumns::Auto }
    }
}

/// Which columns of a file keep their cells' text exactly. The others may
/// hold numbers instead (a column of many distinct numbers, see
/// [`RawColumn`]), whose text is then their shortest spelling (`0.7000`
/// reads back as `0.7`): right for measurements, wrong for identifiers or
/// codes shown back to the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum TextColumns {
    /// Columns of many distinct numbers hold numbers.
    #[default]
    Auto,
    /// Every column keeps its text.
    All,
    /// These columns keep their text; the others as with `Auto`.
    Named(Vec<String>),
}

impl TextColumns {
    fn keeps(&self, name: &str) -> bool {
        match self {
            TextColumns::Auto => false,
            TextColumns::All => true,
            TextColumns::Named(names) => names.iter().any(|n| n == name),
        }
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
    /// assert_eq!((t.n_rows(), t.columns[0].text(0).as_deref(), t.columns[0].text(1)), (2, Some("1.5"), None));
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
                text(column.text(row).as_deref().unwrap_or("\u{0}missing"));
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

    /// Appends a record's kept cells: each trimmed and its dictionary slot
    /// prefetched first, then all stored, so the cache misses of the row's
    /// lookups overlap. `cells` is scratch space, reused across rows.
    fn push_record(
        &mut self,
        line: u64,
        record: &csv::ByteRecord,
        keep: &[bool],
        cells: &mut Vec<(usize, Option<PresentCell>)>,
    ) -> std::result::Result<(), std::str::Utf8Error> {
        cells.clear();
        for (c, cell) in record.iter().enumerate().filter(|&(c, _)| keep[c]) {
            let v = cell.trim_ascii();
            if is_missing_bytes(v) {
                cells.push((c, None));
                continue;
            }
            // Where the trimmed value lies in the record's field.
            let start = v.as_ptr() as usize - cell.as_ptr() as usize;
            let key = self.columns[c].prefetch_key(v);
            cells.push((c, Some(PresentCell { range: start..start + v.len(), key })));
        }
        for (c, cell) in cells.iter() {
            let column = &mut self.columns[*c];
            match cell {
                Some(p) => column.push_present(&record[*c][p.range.clone()], p.key.as_ref())?,
                None => column.push_missing(),
            }
        }
        self.lines.push(line);
        Ok(())
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
        RawTable::read_selected(reader, source, options, |_| Ok(None))
    }

    /// Reads a delimited text file, asking `select` about the header before
    /// any row is read: an error it returns (an unknown target column, say)
    /// ends the read at once, and where it names the columns to keep
    /// (`Some(keep)`, one flag per column) the others are not stored: their
    /// cells read as missing.
    ///
    /// ```
    /// use fairtrain::data::table::{RawTable, ReadOptions};
    /// let text = "a,b\n1,x\n2,y\n";
    /// let t = RawTable::read_selected(text.as_bytes(), "t.csv", &ReadOptions::default(), |t| {
    ///     t.column_index("a")?;
    ///     Ok(Some(vec![true, false]))
    /// })
    /// .unwrap();
    /// assert_eq!((t.columns[0].text(1).as_deref(), t.columns[1].text(1)), (Some("2"), None));
    /// let e = RawTable::read_selected(text.as_bytes(), "t.csv", &ReadOptions::default(), |t| {
    ///     t.column_index("z").map(|_| None)
    /// });
    /// assert!(e.unwrap_err().to_string().starts_with("unknown column 'z' in t.csv"));
    /// ```
    pub fn read_selected(
        reader: impl Read,
        source: &str,
        options: &ReadOptions,
        select: impl FnOnce(&RawTable) -> Result<Option<Vec<bool>>>,
    ) -> Result<RawTable> {
        let mut reader = BufReader::with_capacity(1 << 20, reader);
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
                let header = csv.headers().map_err(|e| {
                    let line = e.position().map_or(0, |p| p.line()) + line_offset;
                    csv_error(source, line, e)
                })?;
                header.iter().map(|h| h.trim().to_string()).collect()
            }
        };
        let mut table = RawTable::from_header(source, names, options)?;
        let keep = select(&table)?.unwrap_or_else(|| vec![true; table.names.len()]);
        let line_of = |at: u64| at + if at > 1 || options.names.is_none() { data_offset } else { line_offset };
        table.read_records(&mut csv, &keep, line_of, false)?;
        Ok(table)
    }

    /// The empty table of a file whose header holds `names` (repeated
    /// names renamed or refused as `options` say; the columns that keep
    /// their text so marked).
    pub(super) fn from_header(source: &str, names: Vec<String>, options: &ReadOptions) -> Result<RawTable> {
        if names.is_empty() || (names.len() == 1 && names[0].is_empty()) {
            return Err(Error::Data(format!("{source}: no columns (empty file?)")));
        }
        let names = if options.rename_duplicates { rename_duplicates(names) } else { names };
        check_unique_names(&names, source)?;
        let mut table = RawTable::with_names(source, names);
        for (column, name) in table.columns.iter_mut().zip(&table.names) {
            if options.text.keeps(name) {
                *column = RawColumn::text_only();
            }
        }
        Ok(table)
    }

    /// Reads the records of `csv` into the kept columns (`keep`), the
    /// record whose position is on line `at` numbered `line_of(at)`. Each
    /// record must have one cell per column; with `single_lines`, no field
    /// may span lines (a quoted line break).
    pub(super) fn read_records<R: Read>(
        &mut self,
        csv: &mut csv::Reader<R>,
        keep: &[bool],
        line_of: impl Fn(u64) -> u64,
        single_lines: bool,
    ) -> Result<()> {
        let source = self.source.clone();
        let mut record = csv::ByteRecord::new();
        let mut cells = Vec::with_capacity(self.names.len());
        loop {
            match csv.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = line_of(record.position().map_or(0, |p| p.line()));
                    let spans_lines = || record.as_slice().contains(&b'\n');
                    if record.len() != self.names.len() {
                        // A quote left open runs on over the following lines.
                        let hint = if spans_lines() { " (a quote opened on this line is never closed)" } else { "" };
                        return Err(Error::Parse {
                            source_name: source,
                            line,
                            message: format!("expected {} fields, found {}{hint}", self.names.len(), record.len()),
                        });
                    }
                    if single_lines && spans_lines() {
                        return Err(Error::Parse {
                            source_name: source,
                            line,
                            message: "a quoted field spans lines, so the file cannot be split between processes at \
                                      line breaks; convert it to Parquet, or read it in one process"
                                .into(),
                        });
                    }
                    self.push_record(line, &record, keep, &mut cells).map_err(|_| Error::Parse {
                        source_name: source.clone(),
                        line,
                        message: "the line is not valid UTF-8".into(),
                    })?;
                }
                Err(e) => {
                    let line = line_of(e.position().map_or(0, |p| p.line()));
                    return Err(csv_error(&source, line, e));
                }
            }
        }
        let rows = self.n_rows();
        for (column, _) in self.columns.iter_mut().zip(keep).filter(|(_, k)| !**k) {
            *column = RawColumn::all_missing(rows);
        }
        Ok(())
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

/// A csv crate error at `line` (the header's: see `line_offset`).
fn csv_error(source: &str, line: u64, e: csv::Error) -> Error {
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
