//! Parquet input: the same table as CSV or as Parquet (uncompressed,
//! snappy, zstd, with nulls) loads into the same data sets, and a Parquet
//! file's errors name the file and column.
#![cfg(feature = "parquet")]

use std::path::Path;
use std::sync::Arc;

use fairtrain::data::{DataSource, LoadOptions, load};
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

const ROWS: usize = 400;

/// Row `i`'s cells: a measurement, a count, a category (missing every
/// 37th row), a group and a 0/1 label.
fn row(i: usize) -> (f64, i64, Option<String>, &'static str, i64) {
    let x = ((i * 7919) % 1000) as f64 / 100.0 - 5.0;
    let category = (!i.is_multiple_of(37)).then(|| format!("level{}", i % 5));
    let group = if i.is_multiple_of(3) { "B" } else { "A" };
    let y = i64::from((x + (i % 5) as f64 - 2.0) > 0.0);
    (x, (i % 11) as i64, category, group, y)
}

fn write_csv(path: &Path) {
    let mut text = String::from("x,n,c,g,y\n");
    for i in 0..ROWS {
        let (x, n, c, g, y) = row(i);
        text += &format!("{x},{n},{},{g},{y}\n", c.unwrap_or_default());
    }
    std::fs::write(path, text).unwrap();
}

fn write_parquet(path: &Path, compression: Compression, extra: Option<&str>) {
    let mut message = String::from(
        "message m { required double x; required int64 n; optional binary c (UTF8); required binary g (UTF8); \
         required int64 y;",
    );
    if let Some(field) = extra {
        message += field;
    }
    message += " }";
    let schema = Arc::new(parse_message_type(&message).unwrap());
    let props = Arc::new(WriterProperties::builder().set_compression(compression).build());
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, props).unwrap();
    // Two row groups, as large files have.
    for rows in [0..ROWS / 2, ROWS / 2..ROWS] {
        let cells: Vec<_> = rows.map(row).collect();
        let mut group = writer.next_row_group().unwrap();
        let mut k = 0;
        while let Some(mut column) = group.next_column().unwrap() {
            match k {
                0 => {
                    let v: Vec<f64> = cells.iter().map(|r| r.0).collect();
                    column.typed::<DoubleType>().write_batch(&v, None, None).unwrap();
                }
                1 | 4 => {
                    let v: Vec<i64> = cells.iter().map(|r| if k == 1 { r.1 } else { r.4 }).collect();
                    column.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
                }
                2 => {
                    let v: Vec<ByteArray> = cells.iter().filter_map(|r| r.2.as_deref().map(ByteArray::from)).collect();
                    let defs: Vec<i16> = cells.iter().map(|r| i16::from(r.2.is_some())).collect();
                    column.typed::<ByteArrayType>().write_batch(&v, Some(&defs), None).unwrap();
                }
                3 => {
                    let v: Vec<ByteArray> = cells.iter().map(|r| ByteArray::from(r.3)).collect();
                    column.typed::<ByteArrayType>().write_batch(&v, None, None).unwrap();
                }
                _ => {
                    let v: Vec<i32> = (0..cells.len() as i32).collect();
                    column.typed::<Int32Type>().write_batch(&v, None, None).unwrap();
                }
            }
            column.close().unwrap();
            k += 1;
        }
        group.close().unwrap();
    }
    writer.close().unwrap();
}

fn options() -> LoadOptions {
    LoadOptions { target: Some("y".into()), group: Some(vec!["g".into()]), ..LoadOptions::default() }
}

#[test]
fn parquet_and_csv_of_one_table_load_alike() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    write_csv(&csv);
    let from_csv = load(&DataSource::parse(csv.to_str().unwrap()).unwrap(), &options()).unwrap();
    for (name, compression) in [
        ("plain", Compression::UNCOMPRESSED),
        ("snappy", Compression::SNAPPY),
        ("zstd", Compression::ZSTD(ZstdLevel::default())),
    ] {
        let path = dir.path().join(format!("t-{name}.parquet"));
        write_parquet(&path, compression, None);
        let source = DataSource::parse(path.to_str().unwrap()).unwrap();
        assert!(matches!(source, DataSource::Parquet(_)));
        let loaded = load(&source, &options()).unwrap();
        let (a, b) = (&loaded.encoded, &from_csv.encoded);
        // The null categories drop the same rows, and the types agree:
        // x and n numeric (n's few integers as a CSV's), c categorical.
        assert_eq!(a.report.rows_dropped, ROWS.div_ceil(37), "{name}");
        assert_eq!((&a.report.numeric, &a.report.categorical), (&b.report.numeric, &b.report.categorical), "{name}");
        for (p, c) in [(&a.train, &b.train), (&a.test, &b.test)] {
            assert_eq!(p.n_rows(), c.n_rows(), "{name}");
            assert_eq!(p.labels(), c.labels(), "{name}");
            assert_eq!(p.groups(), c.groups(), "{name}");
            for r in 0..p.n_rows() {
                assert_eq!((p.dense_row(r), p.cat_row(r)), (c.dense_row(r), c.cat_row(r)), "{name} row {r}");
            }
        }
        assert_eq!(loaded.sha256[0].len(), 64);
    }
}

#[test]
fn parquet_errors_name_the_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_parquet(&path, Compression::SNAPPY, Some(" required int32 day (DATE);"));
    let source = DataSource::parse(path.to_str().unwrap()).unwrap();
    // A date column the run does not use is never read.
    let mut dropped = options();
    dropped.drop = vec!["day".into()];
    load(&source, &dropped).unwrap();
    let err = load(&source, &options()).unwrap_err().to_string();
    assert!(err.contains("t.parquet: column 'day' is a date or time"), "{err}");
    let mut unknown = options();
    unknown.target = Some("label".into());
    let err = load(&source, &unknown).unwrap_err().to_string();
    assert!(
        err.starts_with("unknown column 'label' in ") && err.contains("(its columns are: x, n, c, g, y, day)"),
        "{err}"
    );
    std::fs::write(&path, b"PAR1 not really").unwrap();
    let err = load(&source, &options()).unwrap_err().to_string();
    assert!(err.contains("t.parquet: not a readable Parquet file"), "{err}");
}
