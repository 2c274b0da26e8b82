//! UCI Adult (Census Income), shipped inside the library (CC BY 4.0) and
//! checked by sha256 on every load.
//!
//! Preprocessing follows the reference experiment: rows with missing values
//! (`?`) are dropped, `fnlwgt` (a sampling weight) and the text `education`
//! (a duplicate of `education-num`) are dropped, numeric columns are
//! standardized and categorical ones one-hot encoded with training
//! statistics, the label is `income > 50K`, and the sensitive column (race
//! as White vs Non-White, or sex) is removed from the features unless asked
//! otherwise. The official `adult.data` / `adult.test` files are the
//! train / test splits.

use std::io::Read;

use super::encode::{GroupColumn, MissingPolicy, TableSpec};
use super::table::{RawTable, ReadOptions};
use crate::error::{Error, Result};
use flate2::read::GzDecoder;

/// Column names of the Adult files, in order.
pub const COLUMNS: [&str; 15] = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
];

/// Sensitive columns Adult offers as groups.
pub const GROUP_COLUMNS: [&str; 2] = ["race", "sex"];

const TRAIN_GZ: &[u8] = include_bytes!("../../data/adult/adult.data.gz");
const TEST_GZ: &[u8] = include_bytes!("../../data/adult/adult.test.gz");
/// sha256 of the decompressed `adult.data`.
pub const TRAIN_SHA256: &str = "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d";
/// sha256 of the decompressed `adult.test`.
pub const TEST_SHA256: &str = "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05";

pub use super::cache::sha256_hex;

/// Decompresses an embedded file and checks its sha256.
pub(crate) fn decompress_verified(gz: &[u8], name: &str, expected: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    GzDecoder::new(gz)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Data(format!("embedded {name} cannot be decompressed: {e}")))?;
    let found = sha256_hex(&bytes);
    if found != expected {
        return Err(Error::Checksum { name: name.to_string(), expected: expected.to_string(), found });
    }
    Ok(bytes)
}

/// The raw train and test tables, verified. Test labels lose their trailing
/// full stop (`>50K.` becomes `>50K`), so both files share label values.
pub fn raw_tables() -> Result<(RawTable, RawTable)> {
    let names: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    let train_bytes = decompress_verified(TRAIN_GZ, "adult.data", TRAIN_SHA256)?;
    let test_bytes = decompress_verified(TEST_GZ, "adult.test", TEST_SHA256)?;
    let train = RawTable::read(
        train_bytes.as_slice(),
        "adult.data",
        &ReadOptions { names: Some(names.clone()), ..ReadOptions::default() },
    )?;
    let mut test = RawTable::read(
        test_bytes.as_slice(),
        "adult.test",
        &ReadOptions {
            names: Some(names),
            // The file opens with the line "|1x3 Cross validator".
            skip_lines: 1,
            ..ReadOptions::default()
        },
    )?;
    let income = COLUMNS.len() - 1;
    for v in &mut test.columns[income].values {
        if let Some(stripped) = v.strip_suffix('.') {
            *v = stripped.to_string();
        }
    }
    Ok((train, test))
}

/// The reference preprocessing for the given sensitive columns (`race`,
/// `sex`, or both for intersectional groups).
pub fn spec(groups: &[String], missing: MissingPolicy, keep_group_feature: bool) -> Result<TableSpec> {
    let mut columns = Vec::new();
    for g in groups {
        let column = match g.as_str() {
            "race" => GroupColumn::one_vs_rest("race", "White", "Non-White"),
            "sex" => GroupColumn::plain("sex"),
            other if other.starts_with("age:") => GroupColumn::parse(other)?,
            other => {
                return Err(Error::config(
                    "group",
                    format!(
                        "'{other}' is not a sensitive column of adult (use race, sex, or age bands as age:a:b:...)"
                    ),
                ));
            }
        };
        columns.push(column);
    }
    Ok(TableSpec {
        drop: vec!["fnlwgt".into(), "education".into()],
        ..TableSpec::fixed("income", ">50K", columns, missing, keep_group_feature)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::encode::{Split, encode};

    #[test]
    fn loads_the_reference_preprocessing() {
        let (train, test) = raw_tables().unwrap();
        assert_eq!(train.n_rows(), 32_561);
        assert_eq!(test.n_rows(), 16_281);
        let spec = spec(&["race".into()], MissingPolicy::Drop, false).unwrap();
        let e = encode(train, Split::Table(test), &spec).unwrap();
        // Rows without '?' (adult.names): 30,162 train and 15,060 test.
        assert_eq!(e.train.n_rows(), 30_162);
        assert_eq!(e.test.n_rows(), 15_060);
        assert_eq!(e.report.rows_dropped, 32_561 + 16_281 - 30_162 - 15_060);
        // 5 numeric + one-hot of workclass, marital-status, occupation,
        // relationship, sex and native-country: the reference's 82 inputs.
        assert_eq!(e.train.n_inputs(), 82);
        assert_eq!(e.train.layout().numeric.len(), 5);
        assert_eq!(e.train.group_names(), ["White", "Non-White"]);
        assert_eq!(e.train.group_counts(), [25_933, 4_229]);
        let positives: f32 = e.train.labels().iter().sum();
        assert_eq!(positives, 7_508.0);
        let test_positives: f32 = e.test.labels().iter().sum();
        assert_eq!(test_positives, 3_700.0);
    }

    #[test]
    fn sex_groups_keep_race_as_a_feature() {
        let (train, test) = raw_tables().unwrap();
        let spec = spec(&["sex".into()], MissingPolicy::Drop, false).unwrap();
        let e = encode(train, Split::Table(test), &spec).unwrap();
        assert_eq!(e.train.group_names(), ["Male", "Female"]);
        // sex (2 inputs) leaves, race (5 inputs) joins.
        assert_eq!(e.train.n_inputs(), 82 - 2 + 5);
    }

    #[test]
    fn unknown_group_column_is_rejected() {
        let err = spec(&["age".into()], MissingPolicy::Drop, false).unwrap_err();
        assert!(err.to_string().contains("'age' is not a sensitive column of adult"));
    }
}
