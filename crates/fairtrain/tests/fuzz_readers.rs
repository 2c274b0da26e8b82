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

    /// The line of a malformed CSV row is the file's own count, with LF or
    /// CRLF endings, blank-free rows and quoted newlines before it.
    #[test]
    fn csv_errors_name_the_files_line(
        rows in 1usize..60,
        bad in 0usize..60,
        crlf in any::<bool>(),
        quoted in prop::collection::vec(any::<bool>(), 60),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let bad = bad % rows;
        let mut text = format!("a,b{nl}");
        let mut line = 2;
        let mut expected = 0;
        for (r, &quoted) in quoted.iter().enumerate().take(rows) {
            if r == bad {
                expected = line;
                text.push_str(&format!("1,2,3{nl}"));
                line += 1;
            } else if quoted {
                // A field spanning two lines.
                text.push_str(&format!("\"x{nl}y\",{r}{nl}"));
                line += 2;
            } else {
                text.push_str(&format!("{r},{r}{nl}"));
                line += 1;
            }
        }
        let err = RawTable::read(text.as_bytes(), "t.csv", &ReadOptions::default()).unwrap_err().to_string();
        prop_assert_eq!(err, format!("t.csv, line {expected}: expected 2 fields, found 3"));
    }

    /// The line of a bad key in a configuration file is the file's own
    /// count: blank lines, comments, sections and [[constraint]] tables
    /// before it, LF or CRLF.
    #[test]
    fn configuration_errors_name_the_files_line(
        blanks in prop::collection::vec(0usize..3, 4),
        crlf in any::<bool>(),
        in_constraint in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut lines: Vec<String> = Vec::new();
        let mut push = |l: &str, blank: usize| {
            lines.push(l.to_string());
            for _ in 0..blank {
                lines.push("# a comment".into());
            }
        };
        push("seed = 1", blanks[0]);
        push("[training]", blanks[1]);
        push("iterations = 100", blanks[2]);
        push("[[constraint]]", 0);
        push("notion = \"demographic-parity\"", blanks[3]);
        let bad_key = if in_constraint { "bogus = 1" } else { "[output]\nbogus = 1" };
        let text_lines: Vec<String> = lines.iter().cloned().chain(bad_key.split('\n').map(String::from)).collect();
        let expected = text_lines.len();
        let text = text_lines.join(nl) + nl;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, &text).unwrap();
        let err = fairtrain::run::RunConfig::from_file(&path).unwrap_err().to_string();
        prop_assert!(err.contains(&format!("c.toml, line {expected}: unknown key 'bogus'")), "{}", err);
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
