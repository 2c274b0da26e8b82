use super::*;
use crate::data::NO_INPUT;
use crate::data::table::ReadOptions;

fn table(text: &str) -> RawTable {
    RawTable::read(text.as_bytes(), "t.csv", &ReadOptions::default()).unwrap()
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

const SMALL: &str = "a,c,g,y\n1,u,x,1\n2,v,y,0\n3,u,x,0\n4,w,y,1\n5,u,x,1\n6,v,y,0\n7,u,x,0\n8,v,y,1\n";

#[test]
fn encodes_numeric_and_one_hot_with_training_statistics() {
    let train = table(SMALL);
    let test = table("a,c,g,y\n2.5,v,x,1\n9,z,y,0\n");
    let e = encode(train, Split::Table(test), &spec()).unwrap();
    let layout = e.train.layout();
    assert_eq!(layout.numeric, ["a"]);
    assert!((layout.means[0] - 4.5).abs() < 1e-12);
    let std = (5.25f64).sqrt(); // population variance of 1..=8
    assert!((layout.stds[0] - std).abs() < 1e-12);
    assert_eq!(layout.categorical[0].categories, ["u", "v", "w"]);
    assert_eq!(e.train.n_inputs(), 4);
    // Row 1 of train: a = 2, c = v.
    assert!((e.train.dense_row(1)[0] - ((2.0 - 4.5) / std) as f32).abs() < 1e-6);
    assert_eq!(e.train.cat_row(1), [2]);
    // Unseen category in test gives no input.
    assert_eq!(e.test.cat_row(1), [NO_INPUT]);
    assert_eq!(e.train.labels(), [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
    assert_eq!(e.report.positive, "1");
    assert_eq!(e.train.group_names(), ["x", "y"]);
}

#[test]
fn drops_rows_with_missing_values_and_reports_them() {
    let text = "a,c,g,y\n1,u,x,1\n,v,y,0\n3,u,x,0\n4,?,y,1\n5,u,x,1\n6,v,y,0\n7,u,x,0\n8,v,y,1\n9,v,y,0\n";
    let e = encode(table(text), Split::Random { test_fraction: 0.3, seed: 1 }, &spec()).unwrap();
    assert_eq!(e.report.rows_dropped, 2);
    assert_eq!(e.report.missing_by_column, [("a".to_string(), 1), ("c".to_string(), 1)]);
    assert_eq!(e.train.n_rows() + e.test.n_rows(), 7);
}

#[test]
fn missing_error_names_line_and_column() {
    let text = "a,b,g,y\n1,2,x,1\n3,,y,0\n5,6,x,1\n";
    let mut s = spec();
    s.missing = MissingPolicy::Error;
    let err = encode(table(text), Split::Random { test_fraction: 0.5, seed: 0 }, &s).unwrap_err();
    assert_eq!(err.to_string(), "t.csv, line 3: missing value in column 'b' (use `missing drop` to drop such rows)");
}

#[test]
fn target_needs_positive_when_not_obvious() {
    let text = "a,g,y\n1,x,1\n2,y,0\n3,x,7\n";
    let err = encode(table(text), Split::Random { test_fraction: 0.5, seed: 0 }, &spec()).unwrap_err();
    assert!(err.to_string().contains("has 3 distinct values (1, 0, 7)"), "{err}");
    let text = "a,g,y\n1,x,yes\n2,y,no\n3,x,no\n4,y,yes\n5,x,yes\n6,y,no\n7,x,no\n8,y,yes\n";
    let e = encode(table(text), Split::Random { test_fraction: 0.5, seed: 0 }, &spec()).unwrap();
    assert_eq!(e.report.positive, "yes");
}

#[test]
fn positive_matches_numerically_and_must_occur() {
    let mut s = spec();
    s.positive = Some("1.0".into());
    let e = encode(table(SMALL), Split::Random { test_fraction: 0.25, seed: 0 }, &s).unwrap();
    let total: f32 = e.train.labels().iter().chain(e.test.labels()).sum();
    assert_eq!(total, 4.0);
    s.positive = Some("9".into());
    let err = encode(table(SMALL), Split::Random { test_fraction: 0.25, seed: 0 }, &s).unwrap_err();
    assert_eq!(err.to_string(), "positive value '9' does not occur in target column 'y' (its values: 1, 0)");
}

#[test]
fn one_group_is_an_error() {
    let text = "a,g,y\n1,x,1\n2,x,0\n3,x,1\n";
    let err = encode(table(text), Split::Random { test_fraction: 0.3, seed: 0 }, &spec()).unwrap_err();
    assert!(err.to_string().contains("only one group ('x')"), "{err}");
}

#[test]
fn unknown_column_is_named() {
    let mut s = spec();
    s.target = "zzz".into();
    let err = encode(table(SMALL), Split::Random { test_fraction: 0.3, seed: 0 }, &s).unwrap_err();
    assert!(err.to_string().starts_with("unknown column 'zzz' in t.csv"), "{err}");
}

#[test]
fn stratified_split_keeps_cell_proportions_and_is_seeded() {
    let mut text = String::from("a,g,y\n");
    for i in 0..200 {
        let g = if i % 4 == 0 { "b" } else { "a" };
        text.push_str(&format!("{i},{g},{}\n", i % 2));
    }
    let split = |seed| encode(table(&text), Split::Random { test_fraction: 0.2, seed }, &spec()).unwrap();
    let e = split(3);
    assert_eq!(e.test.n_rows(), 40);
    assert_eq!(e.test.group_counts(), [30, 10]);
    assert_eq!(e.test.labels().iter().sum::<f32>(), 20.0);
    assert_eq!(split(3).test.dense_row(5), e.test.dense_row(5));
    let other = split(4);
    assert!((0..40).any(|i| other.test.dense_row(i) != e.test.dense_row(i)));
}

#[test]
fn warns_about_identifier_and_constant_columns() {
    let mut text = String::from("id,k,a,g,y\n");
    for i in 0..300 {
        text.push_str(&format!("row{i},same,{},{},{}\n", i % 7, ["x", "z"][i % 2], (i / 2) % 2));
    }
    let e = encode(table(&text), Split::Random { test_fraction: 0.2, seed: 0 }, &spec()).unwrap();
    assert_eq!(e.report.warnings.len(), 2, "{:?}", e.report.warnings);
    assert!(e.report.warnings[0].starts_with("column 'id' looks like an identifier (its name)"));
    assert!(e.report.warnings[1].starts_with("column 'k' has the same value"));
}

#[test]
fn one_vs_rest_and_intersectional_groups() {
    let text = "a,r,s,y\n1,W,M,1\n2,B,F,0\n3,A,M,1\n4,W,F,0\n5,W,M,0\n6,B,M,1\n7,W,F,1\n8,A,F,0\n";
    let mut s = spec();
    s.groups = vec![GroupColumn::one_vs_rest("r", "W", "Non-W"), GroupColumn::plain("s")];
    let e = encode(table(text), Split::Table(table(text)), &s).unwrap();
    let mut names = e.train.group_names().to_vec();
    names.sort();
    assert_eq!(names, ["Non-W & F", "Non-W & M", "W & F", "W & M"]);
    // Group columns are not features unless kept.
    assert_eq!(e.train.n_inputs(), 1);
    s.keep_group_feature = true;
    let e = encode(table(text), Split::Table(table(text)), &s).unwrap();
    assert_eq!(e.train.n_inputs(), 1 + 3 + 2);
}

/// A numeric column cut into bands: each band is a group (intersected
/// with another column as usual); a non-number there is an error that
/// names the line and column.
#[test]
fn numeric_bands_are_groups() {
    let text = "a,age,s,y\n1,22,M,1\n2,35,F,0\n3,50,M,1\n4,29.5,F,0\n5,64,M,0\n6,30,M,1\n";
    let mut s = spec();
    s.groups = vec![GroupColumn::parse("age:30:50").unwrap()];
    let e = encode(table(text), Split::Table(table(text)), &s).unwrap();
    let names = e.train.group_names();
    let group_of = |row: usize| names[e.train.groups()[row] as usize].as_str();
    // 30 and 50 open their bands; 29.5 is below 30.
    let expected = ["age<30", "30<=age<50", "age>=50", "age<30", "age>=50", "30<=age<50"];
    assert_eq!((0..6).map(group_of).collect::<Vec<_>>(), expected);
    s.groups.push(GroupColumn::plain("s"));
    let e = encode(table(text), Split::Table(table(text)), &s).unwrap();
    assert_eq!(e.train.group_names().len(), 5, "{:?}", e.train.group_names());
    let bad = "a,age,s,y\n1,22,M,1\n2,old,F,0\n";
    s.groups.pop();
    let err = encode(table(bad), Split::Table(table(bad)), &s).unwrap_err().to_string();
    assert!(err.contains("line 3, column 'age': 'old' is not a number"), "{err}");
    let err = GroupColumn::parse("age:30:x").unwrap_err().to_string();
    assert!(err.contains("cut point 'x' is not a number"), "{err}");
}

/// A column of many distinct numbers is held as numbers, the rest as
/// dictionaries; encoding either way gives the same data sets, with a
/// weight, missing cells, a numeric group column cut into bands and a
/// column of numbers declared categorical.
#[test]
fn numbers_held_as_numbers_encode_as_their_text_does() {
    let n = 3 * crate::data::column::NUMERIC_AFTER;
    let mut text = String::from("x,w,k,age,y,g\n");
    for i in 0..n {
        let x = if i % 101 == 0 { "NA".to_string() } else { format!("{:.4}", (i as f64 * 0.7371).sin() * 3.0) };
        let age = 18.0 + ((i * 7919) % 6000) as f64 / 100.0;
        text += &format!("{x},{}.25,{},{age:.2},{},{}\n", i % 9000, i % 9, (i % 3 == 0) as u8, ["a", "b"][i % 2]);
    }
    let mut spec = spec();
    spec.groups = vec![GroupColumn::parse("age:30:50").unwrap()];
    spec.keep_group_feature = true;
    spec.weight = Some("w".into());
    spec.categorical = vec!["k".into()];
    let auto = RawTable::read(text.as_bytes(), "t.csv", &ReadOptions::default()).unwrap();
    assert!([0, 1, 3].iter().all(|&c| auto.columns[c].numbers().is_some()));
    let all_text = ReadOptions { text: crate::data::table::TextColumns::All, ..ReadOptions::default() };
    let exact = RawTable::read(text.as_bytes(), "t.csv", &all_text).unwrap();
    assert!(exact.columns.iter().all(|c| c.numbers().is_none()));
    let random = || Split::Random { test_fraction: 0.25, seed: 3 };
    let (a, b) = (encode(auto, random(), &spec).unwrap(), encode(exact, random(), &spec).unwrap());
    assert_eq!(a.report.rows_dropped, n.div_ceil(101));
    assert_eq!((&a.report.numeric, &a.report.categorical), (&b.report.numeric, &b.report.categorical));
    assert_eq!(a.train.layout().means, b.train.layout().means);
    for (p, q) in [(&a.train, &b.train), (&a.test, &b.test)] {
        assert_eq!((p.labels(), p.groups(), p.group_names()), (q.labels(), q.groups(), q.group_names()));
        assert_eq!(p.weights(), q.weights());
        for r in 0..p.n_rows() {
            assert_eq!((p.dense_row(r), p.cat_row(r)), (q.dense_row(r), q.cat_row(r)), "row {r}");
        }
    }
}
