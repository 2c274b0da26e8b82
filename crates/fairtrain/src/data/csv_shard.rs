//! A process's share of a CSV file in a data-parallel load: the records
//! that start in its byte range.
//!
//! The bytes after the header are cut into as many equal ranges as there
//! are processes; each range begins at the first line that starts in it
//! (the byte after a line break), so every line belongs to exactly one
//! process and each process reads only its range (and the header). That
//! holds while every line break ends a record: a quoted field that spans
//! lines is refused (the process whose record holds it reports it; a range
//! that starts inside such a field begins inside that record), with
//! Parquet as the way out. Line numbers are the file's: each process counts
//! the line breaks in its range and the counts are exchanged.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::peers::Peers;
use super::table::{RawTable, ReadOptions};
use crate::error::{Error, Result};

/// Reads this process's share of the CSV file at `path` (all of it for a
/// process alone), as [`RawTable::read_selected`] reads a whole file:
/// `select` sees the header first, and lines are numbered as in the file.
///
/// ```
/// use fairtrain::data::csv_shard::read_csv_shard;
/// use fairtrain::data::peers::Peers;
/// use fairtrain::data::table::ReadOptions;
/// let path = std::env::temp_dir().join(format!("csv-shard-doc-{}.csv", std::process::id()));
/// std::fs::write(&path, "a,b\n1,x\n2,y\n").unwrap();
/// let t = read_csv_shard(&path, &ReadOptions::default(), |_| Ok(None), Peers::alone()).unwrap();
/// assert_eq!((t.n_rows(), t.lines.clone()), (2, vec![2, 3]));
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_csv_shard(
    path: &Path,
    options: &ReadOptions,
    select: impl FnOnce(&RawTable) -> Result<Option<Vec<bool>>>,
    peers: Peers,
) -> Result<RawTable> {
    let source = path.display().to_string();
    let io = |e: std::io::Error| Error::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    // The header (every process reads it: the same checks, the same
    // errors) and where the records begin.
    let (mut table, keep, data_start, crlf) = {
        let mut reader = BufReader::new(&mut file);
        let mut skipped = 0u64;
        let mut line = String::new();
        for _ in 0..options.skip_lines {
            line.clear();
            skipped += reader.read_line(&mut line).map_err(|e| Error::Data(format!("{source}: {e}")))? as u64;
        }
        let head = reader.fill_buf().map_err(|e| Error::Data(format!("{source}: {e}")))?;
        let crlf = head.iter().position(|&b| b == b'\n').is_some_and(|k| k > 0 && head[k - 1] == b'\r');
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(options.names.is_none())
            .flexible(true)
            .from_reader(&mut reader);
        let names: Vec<String> = match &options.names {
            Some(names) => names.clone(),
            None => {
                let header = csv.headers().map_err(|e| Error::Parse {
                    source_name: source.clone(),
                    line: options.skip_lines as u64 + 1,
                    message: e.to_string(),
                })?;
                header.iter().map(|h| h.trim().to_string()).collect()
            }
        };
        let data_start = skipped + csv.position().byte();
        let table = RawTable::from_header(&source, names, options)?;
        let keep = select(&table)?.unwrap_or_else(|| vec![true; table.names.len()]);
        (table, keep, data_start, crlf)
    };
    // This range's records, numbered from its first line; the csv crate
    // numbers records after a reader's first one line early in files with
    // CRLF line ends (see `RawTable::read_selected`). Every process goes on
    // to the exchange below, failed or not, so none waits for another.
    let (mut line_breaks, mut header_lines) = (0, 0);
    let mut read = (|| -> Result<()> {
        header_lines = count_line_breaks(&mut file, 0, data_start).map_err(io)?;
        let (rank, size) = (peers.rank() as u64, peers.size() as u64);
        let cut = |r: u64| data_start + (len - data_start) * r / size;
        let start = line_start_from(&mut file, cut(rank), data_start, len).map_err(io)?;
        let end = if rank + 1 == size {
            len
        } else {
            line_start_from(&mut file, cut(rank + 1), data_start, len).map_err(io)?
        };
        let end = end.max(start);
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut counted =
            LineBreaks { inner: BufReader::with_capacity(1 << 20, (&mut file).take(end - start)), count: 0 };
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(&mut counted);
        let read = table.read_records(&mut csv, &keep, |at| at + u64::from(crlf && at > 1), !peers.is_alone());
        drop(csv);
        line_breaks = counted.count;
        read
    })();
    // (A failed read's count does not matter: the first failure is
    // reported, and later processes' line numbers are then not.)
    let (before, _) = peers.offset(line_breaks as usize);
    let first_line = header_lines + before as u64;
    if let Err(Error::Parse { line, .. }) = &mut read {
        // Local line numbers become the file's (a parse error's line is
        // local only once the header lines are known).
        *line += first_line;
    }
    peers.agree(read)?;
    table.lines.iter_mut().for_each(|line| *line += first_line);
    Ok(table)
}

/// The first byte at or after `at` that starts a line (`data_start` for a
/// cut at the records' start, `len` where no line starts after it).
fn line_start_from(file: &mut std::fs::File, at: u64, data_start: u64, len: u64) -> std::io::Result<u64> {
    if at <= data_start {
        return Ok(data_start);
    }
    file.seek(SeekFrom::Start(at - 1))?;
    let mut reader = BufReader::new(file);
    let mut skipped = Vec::new();
    let n = reader.read_until(b'\n', &mut skipped)? as u64;
    Ok(if skipped.last() == Some(&b'\n') { at - 1 + n } else { len })
}

/// The number of line breaks in bytes `start..end` of `file`.
fn count_line_breaks(file: &mut std::fs::File, start: u64, end: u64) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(start))?;
    let mut counted = LineBreaks { inner: file.take(end - start), count: 0 };
    std::io::copy(&mut counted, &mut std::io::sink())?;
    Ok(counted.count)
}

/// A reader that counts the line breaks passing through it.
struct LineBreaks<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for LineBreaks<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }
}
