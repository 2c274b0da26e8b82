//! German credit (UCI Statlog, Hofmann 1994), shipped inside the library
//! (CC BY 4.0) and checked by sha256 on every load.
//!
//! Preprocessing, as in the fairness literature (Kamiran & Calders; Friedler
//! et al.'s benchmark): the label is good credit (class 1); attribute 9
//! ("personal status and sex") mixes sex with marital status, so it is
//! replaced by a binary `sex` column (A92/A95 female, A91/A93/A94 male) and
//! dropped; `age` groups are `<= 25` and `> 25`, and with age groups the
//! numeric `age` leaves the features too (it would reveal the group). The 7
//! numeric attributes are standardized and the 13 coded ones one-hot
//! encoded with training statistics; the split is a seeded 80/20 split
//! stratified by group and label (`--split-seed`, `--test-fraction`).

use super::encode::{GroupColumn, MissingPolicy, TableSpec};
use super::table::{RawTable, ReadOptions};
use crate::error::{Error, Result};

/// Attribute names of `german.data`, in order (`german.doc`).
pub const COLUMNS: [&str; 21] = [
    "checking_status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment_since",
    "installment_rate",
    "personal_status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
    "class",
];

/// Sensitive columns German credit offers as groups.
pub const GROUP_COLUMNS: [&str; 2] = ["sex", "age"];

const DATA_GZ: &[u8] = include_bytes!("../../data/german/german.data.gz");
/// sha256 of the decompressed `german.data`.
pub const SHA256: &str = "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871";

/// The prepared table: the 20 attributes and `class` (`good`/`bad`), plus
/// the derived `sex` (`Male`/`Female`) and `age_group` (`<= 25`/`> 25`).
pub fn table() -> Result<RawTable> {
    let bytes = super::adult::decompress_verified(DATA_GZ, "german.data", SHA256)?;
    let names: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    let raw = RawTable::read(
        bytes.as_slice(),
        "german.data",
        &ReadOptions { delimiter: b' ', names: Some(names), ..ReadOptions::default() },
    )?;
    let status = raw.column_index("personal_status_sex")?;
    let age = raw.column_index("age")?;
    let class = raw.column_index("class")?;
    let mut names = raw.names.clone();
    names.extend(["sex".to_string(), "age_group".to_string()]);
    let mut out = RawTable::with_names("german.data", names);
    for row in 0..raw.n_rows() {
        let texts: Vec<_> = raw.columns.iter().map(|column| column.text(row).unwrap_or_default()).collect();
        let cell = |c: usize| texts[c].as_ref();
        let sex = match cell(status) {
            "A92" | "A95" => "Female",
            "A91" | "A93" | "A94" => "Male",
            other => {
                return Err(Error::Parse {
                    source_name: "german.data".into(),
                    line: raw.lines[row],
                    message: format!("unknown personal status code '{other}' (expected A91 to A95)"),
                });
            }
        };
        let age_group = match cell(age).parse::<f64>() {
            Ok(a) if a <= 25.0 => "<= 25",
            Ok(_) => "> 25",
            Err(_) => {
                return Err(Error::Parse {
                    source_name: "german.data".into(),
                    line: raw.lines[row],
                    message: format!("age '{}' is not a number", cell(age)),
                });
            }
        };
        let label = match cell(class) {
            "1" => "good",
            "2" => "bad",
            other => {
                return Err(Error::Parse {
                    source_name: "german.data".into(),
                    line: raw.lines[row],
                    message: format!("class '{other}' (expected 1 or 2)"),
                });
            }
        };
        let cells = (0..raw.names.len()).map(|c| if c == class { label } else { cell(c) });
        out.push_row(raw.lines[row], cells.chain([sex, age_group]));
    }
    Ok(out)
}

/// The preprocessing for the given sensitive columns (`sex`, `age`, or both).
pub fn spec(groups: &[String], missing: MissingPolicy, keep_group_feature: bool) -> Result<TableSpec> {
    let mut columns = Vec::new();
    let mut drop = vec!["personal_status_sex".to_string()];
    for g in groups {
        match g.as_str() {
            "sex" => columns.push(GroupColumn::plain("sex")),
            "age" => {
                columns.push(GroupColumn::plain("age_group"));
                if !keep_group_feature {
                    drop.push("age".into());
                }
            }
            other => {
                return Err(Error::config(
                    "group",
                    format!("'{other}' is not a sensitive column of german (use sex or age)"),
                ));
            }
        }
    }
    // The derived columns not used as groups are not features either: `sex`
    // stays only as the group (or with --keep-group-feature), and the age
    // bucket duplicates the numeric age.
    if !groups.iter().any(|g| g == "sex") {
        drop.push("sex".into());
    }
    if !groups.iter().any(|g| g == "age") {
        drop.push("age_group".into());
    }
    Ok(TableSpec { drop, ..TableSpec::fixed("class", "good", columns, missing, keep_group_feature) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::encode::{Split, encode};

    #[test]
    fn loads_with_the_documented_counts() {
        let t = table().unwrap();
        assert_eq!(t.n_rows(), 1_000);
        let spec = spec(&["sex".into()], MissingPolicy::Drop, false).unwrap();
        let e = encode(t.clone(), Split::Random { test_fraction: 0.2, seed: 0 }, &spec).unwrap();
        assert_eq!(e.train.n_rows() + e.test.n_rows(), 1_000);
        // 700 good, 300 bad (german.doc); A92 310 female rows, 690 male.
        let positives: f32 = e.train.labels().iter().chain(e.test.labels()).sum();
        assert_eq!(positives, 700.0);
        assert_eq!(e.train.group_names(), ["Male", "Female"]);
        let all: Vec<usize> = e.train.group_counts().iter().zip(e.test.group_counts()).map(|(a, b)| a + b).collect();
        assert_eq!(all, [690, 310]);
        // 7 numeric + one-hot of the 12 coded attributes left (attribute 9 dropped).
        assert_eq!(e.train.layout().numeric.len(), 7);
        assert_eq!(e.train.layout().categorical.len(), 12);

        let spec = spec_age();
        let e = encode(t, Split::Random { test_fraction: 0.2, seed: 0 }, &spec).unwrap();
        let all: Vec<usize> = e.train.group_counts().iter().zip(e.test.group_counts()).map(|(a, b)| a + b).collect();
        // 810 rows over 25 (the datasets README), 190 at most 25.
        assert_eq!(e.train.group_names(), ["> 25", "<= 25"]);
        assert_eq!(all, [810, 190]);
        assert!(!e.train.layout().numeric.contains(&"age".to_string()));
        assert!(!e.train.layout().categorical.iter().any(|c| c.name == "personal_status_sex"));
    }

    fn spec_age() -> TableSpec {
        spec(&["age".into()], MissingPolicy::Drop, false).unwrap()
    }
}
