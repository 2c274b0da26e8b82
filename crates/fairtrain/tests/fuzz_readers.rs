//! Property tests of every reader of outside input: whatever the bytes,
//! the CSV, ARFF, schema, run configuration and checkpoint readers (and the encoder behind
//! them) return a value or an error, never panic; and a corpus of real
//! malformed files keeps its exact errors. Raise the number of cases with
//! `PROPTEST_CASES=100000 cargo test --test fuzz_readers`.

use fairtrain::data::arff::read_arff;
use fairtrain::data::encode::{GroupColumn, MissingPolicy, Split, TableSpec, encode};
use fairtrain::data::schema::Schema;
use fairtrain::data::table::{RawTable, ReadOptions};
use fairtrain::train::Checkpoint;
use proptest::prelude::*;

/// Text made of the characters that matter to these formats.
fn tricky_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(','),
            Just('"'),
            Just('\''),
            Just('\n'),
            Just('\r'),
            Just(' '),
            Just('?'),
            Just('{'),
            Just('}'),
            Just('@'),
            Just('%'),
            Just('='),
            Just('['),
            Just(']'),
            Just('\u{feff}'),
            Just('é'),
            prop::char::range('a', 'e'),
            prop::char::range('0', '9'),
            Just('.'),
            Just('-'),
        ],
        0..max,
    )
    .prop_map(|c| c.into_iter().collect())
}

fn spec() -> TableSpec {
    TableSpec {
        target: "y".into(),
        positive: None,
        groups: vec![GroupColumn::plain("g")],
        drop: vec![],
        categorical: vec![],
        numeric: vec![],
        missing: MissingPolicy::Drop,
        keep_group_feature: false,
        weight: None,
    }
}

proptest! {
    #[test]
    fn csv_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = RawTable::read(bytes.as_slice(), "fuzz.csv", &ReadOptions::default());
    }

    #[test]
    fn csv_text_reads_and_encodes_without_panic(body in tricky_text(300), seed in 0u64..4) {
        let text = format!("a,b,g,y\n{body}");
        if let Ok(table) = RawTable::read(text.as_bytes(), "fuzz.csv", &ReadOptions::default()) {
            let _ = encode(table, Split::Random { test_fraction: 0.3, seed }, &spec());
        }
    }

    #[test]
    fn arff_reader_never_panics(body in tricky_text(300)) {
        let text = format!("@relation r\n@attribute a numeric\n@attribute g {{x,y}}\n@attribute y {{0,1}}\n@data\n{body}");
        let _ = read_arff(text.as_bytes(), "fuzz.arff");
        let _ = read_arff(body.as_bytes(), "fuzz.arff");
    }

    #[test]
    fn schema_reader_never_panics(body in tricky_text(200)) {
        let _ = Schema::parse(&body, "fuzz.toml");
        let _ = Schema::parse(&format!("target = \"y\"\n[columns]\n{body}"), "fuzz.toml");
    }

    #[test]
    fn checkpoint_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.bin");
        std::fs::write(&path, &bytes).unwrap();
        prop_assert!(Checkpoint::read(&path).is_err() || bytes.len() > 8);
    }

    #[test]
    fn run_configuration_text_never_panics(text in "[a-z=\\-\"\\[\\]0-9., \n{}]{0,160}") {
        // Sections, flat keys and values in any order: a configuration or
        // an error, and resolving it too.
        if let Ok(config) = fairtrain::run::RunConfig::from_toml(&text) {
            let _ = config.resolve();
        }
    }
}

/// Real malformed inputs, each with the error it must keep producing.
#[test]
fn malformed_corpus_keeps_its_errors() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let cases: [(&str, &str); 7] = [
        ("unbalanced_quote.csv", "line 2: expected 3 fields, found 1 (a quote opened on this line is never closed)"),
        ("ragged_row.csv", "ragged_row.csv, line 4: expected 3 fields, found 4"),
        ("not_utf8.csv", "line 2: the line is not valid UTF-8"),
        ("duplicate_header.csv", "column name 'age' appears more than once"),
        ("empty.csv", "no columns (empty file?)"),
        ("tier_undeclared.arff", "value '3' of attribute 'tier' is not among its declared values {0,1}"),
        ("sparse.arff", "sparse ARFF rows are not supported"),
    ];
    for (name, expected) in cases {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let err = if name.ends_with(".arff") {
            read_arff(bytes.as_slice(), name).map(|_| ()).unwrap_err().to_string()
        } else {
            RawTable::read(bytes.as_slice(), name, &ReadOptions::default()).map(|_| ()).unwrap_err().to_string()
        };
        assert!(err.contains(expected), "{name}: {err}");
    }
    // A BOM and CRLF line ends are not errors.
    let bytes = std::fs::read(dir.join("bom_crlf.csv")).unwrap();
    let t = RawTable::read(bytes.as_slice(), "bom_crlf.csv", &ReadOptions::default()).unwrap();
    assert_eq!(t.names, ["age", "g", "y"]);
    assert_eq!(t.n_rows(), 2);
}
