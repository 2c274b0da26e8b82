//! Data-parallel loading: each process reads and encodes only its share of
//! a file's rows, and the shares, in rank order, are the data sets one
//! process makes from the whole file, bit for bit (features, labels,
//! groups, weights, layout, report). Processes are simulated by threads
//! ([`ThreadGroup`]); the MPI build runs the same code over MPI.

use std::path::Path;

use fairtrain::data::peers::Peers;
use fairtrain::data::source::{Loaded, load_among};
use fairtrain::data::{DataSource, Dataset, LoadOptions, load};
use fairtrain::distributed::ThreadGroup;

/// A fresh folder for one test's files, removed when it is dropped.
fn folder(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("fairtrain-sharded-{name}-")).tempdir().unwrap()
}

/// Row `i` of a table with what encoding must get right across shares: a
/// decimal and an integer column, a category with a level that only late
/// rows hold, missing cells (rows dropped), three groups, a yes/no target,
/// a column of numbers with a few words (a warning naming the first), a
/// constant column and sample weights.
fn row(i: usize) -> String {
    let x = ((i * 7919) % 1000) as f64 / 100.0 - 5.0;
    let n = (i * 31) % 17;
    let c = if i > 520 && i.is_multiple_of(4) { "late".to_string() } else { format!("level{}", i % 5) };
    let c = if i % 41 == 7 { "NA".to_string() } else { c };
    let g = ["A", "B", "C"][(i * 13 + i / 7) % 3];
    let y = if x + (i % 5) as f64 - 2.0 > 0.0 { "yes" } else { "no" };
    let mostly = if i % 97 == 50 { "n/a-ish".to_string() } else { format!("{}", (i * 3) % 23) };
    let w = 0.5 + (i % 3) as f64;
    format!("{x},{n},{c},{g},{y},{mostly},7,{w}")
}

const HEADER: &str = "x,n,c,g,y,mostly,constant,w";

fn write_csv(path: &Path, rows: std::ops::Range<usize>, line_end: &str) {
    let mut text = format!("{HEADER}{line_end}");
    for i in rows {
        text += &row(i);
        text += line_end;
    }
    std::fs::write(path, text).unwrap();
}

fn options() -> LoadOptions {
    LoadOptions {
        target: Some("y".into()),
        group: Some(vec!["g".into()]),
        weight: Some("w".into()),
        ..LoadOptions::default()
    }
}

/// `load_among` on each of `members` threads.
fn load_on(members: usize, source: &DataSource, options: &LoadOptions) -> Vec<fairtrain::Result<Loaded>> {
    let group = ThreadGroup::new(members);
    std::thread::scope(|s| {
        let handles: Vec<_> =
            group.iter().map(|m| s.spawn(move || load_among(source, options, Peers::of(m)))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The rows of `parts`, in order, as one data set.
fn joined(parts: &[&Dataset]) -> Dataset {
    parts[1..].iter().fold(parts[0].clone(), |all, p| all.concat(p).unwrap())
}

/// Asserts that two data sets hold the same rows, bit for bit.
fn assert_same(a: &Dataset, b: &Dataset, what: &str) {
    assert_eq!(a.layout(), b.layout(), "{what}: layout");
    assert_eq!(a.group_names(), b.group_names(), "{what}: groups");
    assert_eq!(a.n_rows(), b.n_rows(), "{what}: rows");
    for i in 0..a.n_rows() {
        let bits = |d: &Dataset| d.dense_row(i).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b), "{what}: row {i}'s numbers");
        assert_eq!(a.cat_row(i), b.cat_row(i), "{what}: row {i}'s categories");
    }
    assert_eq!(a.labels(), b.labels(), "{what}: labels");
    assert_eq!(a.groups(), b.groups(), "{what}: groups of rows");
    assert_eq!(a.weights(), b.weights(), "{what}: weights");
}

/// Loads `source` alone and among 2, 3 and 5 processes: every share
/// agrees with the whole.
fn assert_shares_are_the_whole(source: &DataSource, options: &LoadOptions) {
    let whole = load(source, options).unwrap();
    for members in [2, 3, 5] {
        let shares: Vec<Loaded> = load_on(members, source, options).into_iter().map(Result::unwrap).collect();
        let what = format!("{members} processes");
        let trains: Vec<&Dataset> = shares.iter().map(|l| &l.encoded.train).collect();
        let tests: Vec<&Dataset> = shares.iter().map(|l| &l.encoded.test).collect();
        assert!(trains.iter().all(|t| t.n_rows() > 0), "{what}: every process holds training rows");
        assert_same(&joined(&trains), &whole.encoded.train, &format!("{what}, training split"));
        assert_same(&joined(&tests), &whole.encoded.test, &format!("{what}, test split"));
        let origins: Vec<(u32, u32)> = shares.iter().flat_map(|l| l.encoded.train_origin.clone()).collect();
        assert_eq!(origins, whole.encoded.train_origin, "{what}: origins");
        for share in &shares {
            let (r, w) = (&share.encoded.report, &whole.encoded.report);
            assert_eq!(
                (r.rows_read, r.rows_dropped, &r.missing_by_column, &r.positive),
                (w.rows_read, w.rows_dropped, &w.missing_by_column, &w.positive),
                "{what}: report"
            );
            assert_eq!((&r.numeric, &r.categorical, &r.warnings), (&w.numeric, &w.categorical, &w.warnings), "{what}");
            assert_eq!(share.sha256, whole.sha256, "{what}: sha256");
        }
    }
}

#[test]
fn csv_shares_with_a_random_split_are_the_whole_file() {
    let tmp = folder("random");
    let dir = tmp.path();
    let path = dir.join("data.csv");
    write_csv(&path, 0..600, "\n");
    let whole = load(&DataSource::Csv(path.clone()), &options()).unwrap();
    // What the shares must agree on is there to get wrong.
    let report = &whole.encoded.report;
    assert!(report.rows_dropped > 0 && report.warnings.iter().any(|w| w.contains("column 'mostly'")));
    assert!(report.warnings.iter().any(|w| w.contains("column 'constant'")));
    let late = whole.encoded.train.layout().categorical[0].categories.iter().any(|c| c == "late");
    assert!(late, "a category only the last rows hold");
    assert_shares_are_the_whole(&DataSource::Csv(path), &options());
}

#[test]
fn csv_shares_with_crlf_lines_and_a_test_file_are_the_whole_files() {
    let tmp = folder("crlf");
    let dir = tmp.path();
    let (train, test) = (dir.join("train.csv"), dir.join("test.csv"));
    write_csv(&train, 0..450, "\r\n");
    write_csv(&test, 450..600, "\r\n");
    let options = LoadOptions { test_file: Some(test), ..options() };
    assert_shares_are_the_whole(&DataSource::Csv(train), &options);
}

#[test]
fn a_bad_line_in_a_later_share_is_reported_by_every_process_with_its_file_line() {
    let tmp = folder("bad");
    let dir = tmp.path();
    let path = dir.join("data.csv");
    let mut text = format!("{HEADER}\n");
    for i in 0..300 {
        text += &row(i);
        text += if i == 250 { ",extra\n" } else { "\n" };
    }
    std::fs::write(&path, &text).unwrap();
    let alone = load(&DataSource::Csv(path.clone()), &options()).unwrap_err().to_string();
    assert!(alone.ends_with("line 252: expected 8 fields, found 9"), "{alone}");
    for result in load_on(3, &DataSource::Csv(path.clone()), &options()) {
        assert_eq!(result.unwrap_err().to_string(), alone);
    }
    // A quoted field over two lines cannot be cut at line breaks: refused,
    // naming the line, where one process alone reads it.
    let quoted = text.replace(",extra\n", "\n").replacen("level1", "\"level\n1\"", 1);
    std::fs::write(&path, quoted).unwrap();
    assert!(load(&DataSource::Csv(path.clone()), &options()).is_ok());
    for result in load_on(2, &DataSource::Csv(path.clone()), &options()) {
        let message = result.unwrap_err().to_string();
        assert!(message.contains("line 3: a quoted field spans lines"), "{message}");
    }
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_shares_split_row_groups_and_are_the_whole_file() {
    use std::sync::Arc;

    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    let tmp = folder("parquet");
    let dir = tmp.path();
    let path = dir.join("data.parquet");
    let schema = "message m { required double x; optional binary c (UTF8); required binary g (UTF8); \
                  required binary y (UTF8); }";
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let props = Arc::new(WriterProperties::builder().build());
    let mut writer = SerializedFileWriter::new(std::fs::File::create(&path).unwrap(), schema, props).unwrap();
    // Two row groups of unequal size: five processes cut inside them.
    for rows in [0..370, 370..600] {
        let cells: Vec<Vec<String>> = rows.map(|i| row(i).split(',').map(str::to_string).collect()).collect();
        let mut group = writer.next_row_group().unwrap();
        let mut k = 0;
        while let Some(mut column) = group.next_column().unwrap() {
            if k == 0 {
                let v: Vec<f64> = cells.iter().map(|r| r[0].parse().unwrap()).collect();
                column.typed::<DoubleType>().write_batch(&v, None, None).unwrap();
            } else {
                let field = [0, 2, 3, 4][k];
                let present: Vec<&String> = cells.iter().map(|r| &r[field]).filter(|v| *v != "NA").collect();
                let v: Vec<ByteArray> = present.iter().map(|v| ByteArray::from(v.as_str())).collect();
                let defs: Vec<i16> = cells.iter().map(|r| i16::from(r[field] != "NA")).collect();
                let defs = (k == 1).then_some(&defs[..]);
                column.typed::<ByteArrayType>().write_batch(&v, defs, None).unwrap();
            }
            column.close().unwrap();
            k += 1;
        }
        group.close().unwrap();
    }
    writer.close().unwrap();
    let options = LoadOptions { weight: None, ..options() };
    let whole = load(&DataSource::Parquet(path.clone()), &options).unwrap();
    assert!(whole.encoded.report.rows_dropped > 0);
    assert_shares_are_the_whole(&DataSource::Parquet(path), &options);
}

#[test]
fn built_in_data_is_cut_into_shares() {
    let whole = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap();
    let shares: Vec<Loaded> =
        load_on(3, &DataSource::Synthetic, &LoadOptions::default()).into_iter().map(Result::unwrap).collect();
    let trains: Vec<&Dataset> = shares.iter().map(|l| &l.encoded.train).collect();
    assert_same(&joined(&trains), &whole.encoded.train, "synthetic");
}

/// A run over shares: each of `members` processes loads its share of the
/// rows and trains; every process returns the one model.
fn run_on(members: usize, config: &fairtrain::run::RunConfig) -> Vec<fairtrain::run::RunOutcome> {
    use fairtrain::run::{RunData, RunOptions, Session};
    let plan = config.resolve().unwrap();
    let group = ThreadGroup::new(members);
    std::thread::scope(|s| {
        let handles: Vec<_> = group
            .into_iter()
            .map(|m| {
                let plan = &plan;
                s.spawn(move || {
                    let m: std::sync::Arc<dyn fairtrain::distributed::Collective> = std::sync::Arc::new(m);
                    let data = RunData::load_among(plan, None, true, m.clone()).unwrap();
                    let options = RunOptions { collective: Some(m), ..RunOptions::default() };
                    Session::new(plan, &data, options).unwrap().train(&mut ()).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A run configuration over 3,000 rows written to a CSV file in a fresh
/// folder named after `name` (kept until the folder is dropped).
fn csv_run(name: &str, iterations: i64) -> (tempfile::TempDir, fairtrain::run::RunConfig) {
    let dir = folder(name);
    let path = dir.path().join("data.csv");
    write_csv(&path, 0..3000, "\n");
    let mut config = fairtrain::run::RunConfig::default();
    config.set("data", path.display().to_string()).unwrap();
    config.set("target", "y").unwrap();
    config.set("group", "g").unwrap();
    config.set("iterations", iterations).unwrap();
    (dir, config)
}

#[test]
fn a_run_over_shares_returns_the_one_process_model_and_metrics() {
    let (_dir, mut config) = csv_run("run", 1500);
    config.set("constraint", "demographic-parity").unwrap();
    let alone = fairtrain::run::run(&config, &mut ()).unwrap();
    let scale = alone.params.iter().fold(0.0f32, |m, p| m.max(p.abs()));
    for outcome in run_on(3, &config) {
        let diff = outcome.params.iter().zip(&alone.params).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff < 1e-3 * scale.max(1.0), "parameters differ by {diff}");
        let (m, a) = (&outcome.metrics, &alone.metrics);
        assert_eq!((m.data.train_rows, m.data.test_rows), (a.data.train_rows, a.data.test_rows));
        let accuracy = |m: &fairtrain::run::Metrics| m.test.accuracy.unwrap();
        assert!((accuracy(m) - accuracy(a)).abs() <= 0.002, "{} vs {}", accuracy(m), accuracy(a));
        assert_eq!(m.selected.as_ref().map(|s| s.iteration), a.selected.as_ref().map(|s| s.iteration));
    }
}

#[test]
fn a_memory_budget_one_process_exceeds_is_met_by_three() {
    use fairtrain::run::{RunData, RunOptions, Session};
    let (_dir, mut config) = csv_run("budget", 200);
    let whole = RunData::load(&config.resolve().unwrap(), None, true).unwrap().held_mb();
    // Each of three processes holds a third of the features and every
    // row's label, group and weight: under 80% of the whole.
    let budget = 0.8 * whole;
    config.set("memory-budget", budget).unwrap();
    let plan = config.resolve().unwrap();
    let data = RunData::load(&plan, None, true).unwrap();
    let refused = Session::new(&plan, &data, RunOptions::default()).err().unwrap().to_string();
    assert_eq!(
        refused,
        format!(
            "invalid value for memory-budget: {budget} MB: this process would hold {whole:.1} MB of encoded rows (all \
             of them); run it data-parallel over about 3 processes (mpirun -np N), or raise the budget"
        )
    );
    let outcomes = run_on(3, &config);
    assert!(outcomes.iter().all(|o| o.metrics.test.accuracy.unwrap() > 0.7));
}
