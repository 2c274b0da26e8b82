//! Parquet input (`--data file.parquet`): flat files of primitive columns,
//! as pandas, polars, Spark or DuckDB write them, uncompressed or
//! compressed with snappy, zstd, gzip or lz4.
//!
//! The cells become a [`RawTable`], as a CSV file's do, so the same checks
//! and encoding follow, with the types taken from the file: floating-point
//! and decimal columns are numeric, string and boolean columns categorical,
//! integer columns inferred as a CSV's integers are (a 0/1 label stays a
//! label). Nulls and NaN are missing cells. Row `i` (from 0) is reported as
//! line `i + 2`, the line it has in the CSV file pandas would write.
//! Columns the run does not use are never decoded, so their type does not
//! matter.

use std::path::Path;

use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

use super::peers::Peers;
use super::table::{MISSING, RawColumn, RawTable};
use crate::error::{Error, Result};

/// A Parquet file's cells, with the columns its types declare.
#[derive(Debug)]
pub struct ParquetTable {
    /// The cells, as text.
    pub table: RawTable,
    /// String and boolean columns (categorical).
    pub categorical: Vec<String>,
    /// Floating-point and decimal columns (numeric).
    pub numeric: Vec<String>,
}

/// Values decoded per call: bounded memory whatever the row group's size.
const BATCH: usize = 64 * 1024;

/// How a column's values become cells.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Float,
    Integer,
    /// An integer holding a decimal with this many digits after the point.
    Decimal(i32),
    Boolean,
    Text,
}

/// Reads the Parquet file at `path`. `select` sees the (empty) table of
/// column names before any value is decoded, as with
/// [`RawTable::read_selected`]: it may refuse them, or name the columns to
/// decode (the others read as missing).
///
/// ```no_run
/// use fairtrain::data::parquet::read_parquet;
/// let t = read_parquet("census.parquet".as_ref(), |_| Ok(None)).unwrap();
/// println!("{} rows; numeric: {:?}", t.table.n_rows(), t.numeric);
/// ```
pub fn read_parquet(path: &Path, select: impl FnOnce(&RawTable) -> Result<Option<Vec<bool>>>) -> Result<ParquetTable> {
    read_parquet_share(path, select, Peers::alone())
}

/// Reads this process's share of the Parquet file at `path` in a
/// data-parallel load: of its `N` rows, those from `N r / p` to
/// `N (r + 1) / p` for rank `r` of `p` processes (row groups outside them
/// are not read; inside a row group the rows before them are skipped
/// undecoded where the encoding allows). As [`read_parquet`] otherwise;
/// the rows keep their file lines.
pub fn read_parquet_share(
    path: &Path,
    select: impl FnOnce(&RawTable) -> Result<Option<Vec<bool>>>,
    peers: Peers,
) -> Result<ParquetTable> {
    let source = path.display().to_string();
    let bad = |e: parquet::errors::ParquetError| Error::Data(format!("{source}: not a readable Parquet file ({e})"));
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(bad)?;
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    // pandas stores a non-default index as a column of its own: not data.
    let leaves: Vec<usize> =
        (0..schema.num_columns()).filter(|&i| !schema.column(i).name().starts_with("__index_level_")).collect();
    let names: Vec<String> = leaves.iter().map(|&i| schema.column(i).path().string()).collect();
    if names.is_empty() {
        return Err(Error::Data(format!("{source}: no columns")));
    }
    let mut table = RawTable::with_names(source.clone(), names);
    let keep = select(&table)?.unwrap_or_else(|| vec![true; leaves.len()]);
    let mut kinds = Vec::with_capacity(leaves.len());
    for (k, &leaf) in leaves.iter().enumerate() {
        let column = schema.column(leaf);
        kinds.push(if keep[k] { Some(kind_of(&column, &source)?) } else { None });
    }
    // Floating-point columns are read as numbers from the start (see
    // `RawColumn::from_numbers`); the others as a CSV file's cells are.
    let total: usize =
        (0..meta.num_row_groups()).map(|g| usize::try_from(meta.row_group(g).num_rows()).unwrap_or(0)).sum();
    let (lo, hi) = (total * peers.rank() / peers.size(), total * (peers.rank() + 1) / peers.size());
    for (column, kind) in table.columns.iter_mut().zip(&kinds) {
        if matches!(kind, Some(Kind::Float | Kind::Decimal(_))) {
            *column = RawColumn::from_numbers(Vec::with_capacity(hi - lo));
        }
    }
    let mut group_start = 0usize;
    for g in 0..meta.num_row_groups() {
        let group_rows = usize::try_from(meta.row_group(g).num_rows()).unwrap_or(0);
        // This share's rows of the group.
        let (from, to) = (lo.max(group_start), hi.min(group_start + group_rows));
        if from < to {
            let group = reader.get_row_group(g).map_err(bad)?;
            for (k, &leaf) in leaves.iter().enumerate() {
                let Some(kind) = kinds[k] else { continue };
                let cells =
                    Cells { column: &mut table.columns[k], kind, name: &table.names[k], source: &source, row: from };
                let max_def = schema.column(leaf).max_def_level();
                read_chunk(group.as_ref(), leaf, max_def, from - group_start..to - group_start, cells)?;
            }
        }
        group_start += group_rows;
    }
    let rows = hi - lo;
    for (column, kind) in table.columns.iter_mut().zip(&kinds) {
        if kind.is_none() {
            column.codes = vec![MISSING; rows];
        } else if column.n_rows() != rows {
            return Err(Error::Data(format!(
                "{source}: a column holds {} values where the row groups declare {rows} rows",
                column.n_rows()
            )));
        }
    }
    table.lines = (lo as u64..hi as u64).map(|i| i + 2).collect();
    let of_kind = |f: fn(Kind) -> bool| -> Vec<String> {
        kinds.iter().zip(&table.names).filter(|(k, _)| k.is_some_and(f)).map(|(_, n)| n.clone()).collect()
    };
    let categorical = of_kind(|k| matches!(k, Kind::Text | Kind::Boolean));
    let numeric = of_kind(|k| matches!(k, Kind::Float | Kind::Decimal(_)));
    Ok(ParquetTable { table, categorical, numeric })
}

/// The kind of a (used) column, or an error naming a type fairtrain does
/// not read.
fn kind_of(column: &ColumnDescriptor, source: &str) -> Result<Kind> {
    let name = column.path().string();
    let refuse = |what: &str| {
        Err(Error::Data(format!(
            "{source}: column '{name}' is {what}, which fairtrain does not read as a feature, target or group; \
             drop it (`drop`) or convert it"
        )))
    };
    if column.path().parts().len() > 1 || column.max_rep_level() > 0 {
        return refuse("a nested or repeated column");
    }
    if let Some(logical) = column.logical_type_ref() {
        match logical {
            LogicalType::Date | LogicalType::Time { .. } | LogicalType::Timestamp { .. } => {
                return refuse("a date or time");
            }
            LogicalType::Decimal(d) => return decimal(column.physical_type(), d.scale, &refuse),
            _ => {}
        }
    }
    if column.converted_type() == ConvertedType::DECIMAL {
        return decimal(column.physical_type(), column.type_scale(), &refuse);
    }
    match column.physical_type() {
        PhysicalType::FLOAT | PhysicalType::DOUBLE => Ok(Kind::Float),
        PhysicalType::INT32 | PhysicalType::INT64 => Ok(Kind::Integer),
        PhysicalType::BOOLEAN => Ok(Kind::Boolean),
        PhysicalType::BYTE_ARRAY => Ok(Kind::Text),
        PhysicalType::INT96 => refuse("a timestamp (INT96)"),
        PhysicalType::FIXED_LEN_BYTE_ARRAY => refuse("fixed-length binary"),
    }
}

fn decimal(physical: PhysicalType, scale: i32, refuse: &dyn Fn(&str) -> Result<Kind>) -> Result<Kind> {
    match physical {
        PhysicalType::INT32 | PhysicalType::INT64 => Ok(Kind::Decimal(scale)),
        _ => refuse("a decimal stored as binary"),
    }
}

/// Where one column chunk's values go.
struct Cells<'a> {
    column: &'a mut RawColumn,
    kind: Kind,
    name: &'a str,
    source: &'a str,
    /// The file row of the next cell.
    row: usize,
}

impl Cells<'_> {
    fn missing(&mut self) {
        self.column.push_missing();
        self.row += 1;
    }

    fn number(&mut self, x: f64) {
        self.column.push_number(x);
        self.row += 1;
    }

    fn text(&mut self, bytes: &[u8]) -> Result<()> {
        if self.column.push_bytes(bytes).is_err() {
            return Err(Error::Parse {
                source_name: self.source.to_string(),
                line: self.row as u64 + 2,
                message: format!("column '{}': the value is not valid UTF-8", self.name),
            });
        }
        self.row += 1;
        Ok(())
    }
}

/// Decodes rows `rows` of column `leaf` of one row group into `cells`.
fn read_chunk(
    group: &dyn RowGroupReader,
    leaf: usize,
    max_def: i16,
    rows: std::ops::Range<usize>,
    mut cells: Cells,
) -> Result<()> {
    let (source, name) = (cells.source.to_string(), cells.name.to_string());
    let bad = |e: parquet::errors::ParquetError| Error::Data(format!("{source}: column '{name}': {e}"));
    let reader = group.get_column_reader(leaf).map_err(&bad)?;
    let scale = |digits: i32| 10f64.powi(digits);
    match (reader, cells.kind) {
        (ColumnReader::DoubleColumnReader(mut r), _) => {
            each_value(&mut r, max_def, rows, &bad, &mut cells, |c, v: &f64| {
                c.number(*v);
                Ok(())
            })
        }
        // (The shortest decimal that reads back as the f32, as a CSV file
        // written from it holds.)
        (ColumnReader::FloatColumnReader(mut r), _) => {
            each_value(&mut r, max_def, rows, &bad, &mut cells, |c, v: &f32| {
                c.number(v.to_string().parse().unwrap_or(f64::NAN));
                Ok(())
            })
        }
        (ColumnReader::Int32ColumnReader(mut r), Kind::Decimal(d)) => {
            each_value(&mut r, max_def, rows, &bad, &mut cells, |c, v: &i32| {
                c.number(f64::from(*v) / scale(d));
                Ok(())
            })
        }
        (ColumnReader::Int64ColumnReader(mut r), Kind::Decimal(d)) => {
            each_value(&mut r, max_def, rows, &bad, &mut cells, |c, v: &i64| {
                c.number(*v as f64 / scale(d));
                Ok(())
            })
        }
        (ColumnReader::Int32ColumnReader(mut r), _) => {
            each_value(&mut r, max_def, rows, &bad, &mut cells, |c, v: &i32| {
                c.number(f64::from(*v));
                Ok(())
            })
        }
        (ColumnReader::Int64ColumnReader(mut r), _) => {
            each_value(&mut r, max_def, rows, &bad, &mut cells, |c, v: &i64| {
                c.number(*v as f64);
                Ok(())
            })
        }
        (ColumnReader::BoolColumnReader(mut r), _) => {
            each_value(&mut r, max_def, rows, &bad, &mut cells, |c, v: &bool| {
                c.text(if *v { b"true" } else { b"false" })
            })
        }
        (ColumnReader::ByteArrayColumnReader(mut r), _) => {
            each_value(&mut r, max_def, rows, &bad, &mut cells, |c, v: &parquet::data_type::ByteArray| c.text(v.data()))
        }
        _ => Err(Error::Data(format!("{source}: column '{name}' has a type fairtrain does not read"))),
    }
}

/// Calls `each` on every value of rows `rows` of the chunk (`None` cells
/// for nulls), in batches of [`BATCH`].
fn each_value<T: DataType>(
    reader: &mut ColumnReaderImpl<T>,
    max_def: i16,
    rows: std::ops::Range<usize>,
    bad: &dyn Fn(parquet::errors::ParquetError) -> Error,
    cells: &mut Cells,
    mut each: impl FnMut(&mut Cells, &T::T) -> Result<()>,
) -> Result<()> {
    if rows.start > 0 && reader.skip_records(rows.start).map_err(bad)? != rows.start {
        return Err(bad(parquet::errors::ParquetError::General("fewer rows than its row group declares".into())));
    }
    let rows = rows.len();
    let mut values: Vec<T::T> = Vec::with_capacity(BATCH);
    let mut defs: Vec<i16> = Vec::with_capacity(if max_def > 0 { BATCH } else { 0 });
    let mut done = 0;
    while done < rows {
        values.clear();
        defs.clear();
        let want = BATCH.min(rows - done);
        let (records, ..) =
            reader.read_records(want, (max_def > 0).then_some(&mut defs), None, &mut values).map_err(bad)?;
        if records == 0 {
            break;
        }
        if max_def > 0 {
            let mut present = values.iter();
            // Values are stored for the non-null cells only.
            for &d in &defs {
                match (d == max_def).then(|| present.next()).flatten() {
                    Some(v) => each(cells, v)?,
                    None => cells.missing(),
                }
            }
        } else {
            for v in &values {
                each(cells, v)?;
            }
        }
        done += records;
    }
    Ok(())
}
