//! Writes the scale benchmark's data: `ROWS` rows of six standard normal
//! columns `x0`-`x5` (4 decimals), `c1` with 20 levels and `c2` with 6
//! (strings), a group column `g` (A, B) and a 0/1 label `y` from a logistic
//! model of them, as CSV, or as Parquet (snappy, dictionary-encoded, row
//! groups of 2^20 rows: pyarrow's defaults) when `OUT` ends in `.parquet`.
//! The same seed gives the same rows in both.
//!
//! ```sh
//! cargo run --release -p fairtrain --example scale_data -- 2000000 scale.csv
//! cargo run --release -p fairtrain --example scale_data -- 2000000 scale.parquet
//! ```

use std::io::Write;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The benchmark's rows, column by column.
struct Columns {
    x: [Vec<f64>; 6],
    c1: Vec<u32>,
    c2: Vec<u32>,
    group_b: Vec<bool>,
    y: Vec<bool>,
}

fn generate(rows: usize, seed: u64) -> Columns {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = Columns {
        x: std::array::from_fn(|_| Vec::with_capacity(rows)),
        c1: Vec::with_capacity(rows),
        c2: Vec::with_capacity(rows),
        group_b: Vec::with_capacity(rows),
        y: Vec::with_capacity(rows),
    };
    let weights = [0.8, -0.5, 0.3, 0.0, 0.6, -0.2];
    for _ in 0..rows {
        // Rounded to the 4 decimals the CSV holds, so both files agree.
        let x: [f64; 6] = std::array::from_fn(|_| {
            let v: f64 = StandardNormal.sample(&mut rng);
            format!("{v:.4}").parse().expect("a number")
        });
        let c1 = rng.random_range(0..20u32);
        let c2 = rng.random_range(0..6u32);
        let group_b = rng.random_bool(0.3);
        let mut z: f64 = x.iter().zip(&weights).map(|(a, w)| a * w).sum();
        z += (c1 as f64 - 9.5) / 10.0 + if c2 % 2 == 0 { 0.4 } else { -0.4 } - if group_b { 0.7 } else { 0.0 };
        let y = rng.random_bool(1.0 / (1.0 + (-z).exp()));
        for (column, v) in c.x.iter_mut().zip(x) {
            column.push(v);
        }
        c.c1.push(c1);
        c.c2.push(c2);
        c.group_b.push(group_b);
        c.y.push(y);
    }
    c
}

fn write_csv(c: &Columns, path: &str) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(out, "x0,x1,x2,x3,x4,x5,c1,c2,g,y")?;
    for i in 0..c.y.len() {
        for x in &c.x {
            write!(out, "{:.4},", x[i])?;
        }
        let g = if c.group_b[i] { "B" } else { "A" };
        writeln!(out, "level{},kind{},{g},{}", c.c1[i], c.c2[i], u8::from(c.y[i]))?;
    }
    out.flush()
}

fn write_parquet(c: &Columns, path: &str) -> parquet::errors::Result<()> {
    let schema = "message benchmark { required double x0; required double x1; required double x2; \
                  required double x3; required double x4; required double x5; required binary c1 (UTF8); \
                  required binary c2 (UTF8); required binary g (UTF8); required int64 y; }";
    let schema = Arc::new(parse_message_type(schema)?);
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let mut writer = SerializedFileWriter::new(std::fs::File::create(path)?, schema, props)?;
    let n = c.y.len();
    for start in (0..n).step_by(1 << 20) {
        let rows = start..(start + (1 << 20)).min(n);
        let mut group = writer.next_row_group()?;
        let mut k = 0;
        while let Some(mut column) = group.next_column()? {
            match k {
                0..=5 => {
                    column.typed::<DoubleType>().write_batch(&c.x[k][rows.clone()], None, None)?;
                }
                6..=8 => {
                    let text = |i: usize| match k {
                        6 => format!("level{}", c.c1[i]),
                        7 => format!("kind{}", c.c2[i]),
                        _ => if c.group_b[i] { "B" } else { "A" }.to_string(),
                    };
                    let v: Vec<ByteArray> = rows.clone().map(|i| ByteArray::from(text(i).into_bytes())).collect();
                    column.typed::<ByteArrayType>().write_batch(&v, None, None)?;
                }
                _ => {
                    let v: Vec<i64> = rows.clone().map(|i| i64::from(c.y[i])).collect();
                    column.typed::<Int64Type>().write_batch(&v, None, None)?;
                }
            }
            column.close()?;
            k += 1;
        }
        group.close()?;
    }
    writer.close()?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: scale_data ROWS OUT.csv|OUT.parquet [SEED]");
        std::process::exit(2);
    }
    let rows: usize = args[1].parse().expect("ROWS must be a whole number");
    let seed: u64 = args.get(3).map_or(0, |s| s.parse().expect("SEED must be a whole number"));
    let columns = generate(rows, seed);
    let written = if args[2].ends_with(".parquet") {
        write_parquet(&columns, &args[2]).map_err(|e| e.to_string())
    } else {
        write_csv(&columns, &args[2]).map_err(|e| e.to_string())
    };
    if let Err(e) = written {
        eprintln!("scale_data: {}: {e}", args[2]);
        std::process::exit(1);
    }
}
