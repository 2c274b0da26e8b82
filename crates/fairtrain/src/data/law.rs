//! Law school bar passage (LSAC National Longitudinal Bar Passage Study,
//! Wightman 1998), in the cleaned version of Le Quy et al.'s survey of
//! fairness data sets (2022). The data carries no licence, so it is not
//! shipped: it is fetched from the survey's repository at a pinned commit
//! (or imported from a local copy) into the cache and checked by size and
//! sha256.
//!
//! Preprocessing as in the survey: the label is `pass_bar` (1 = passed);
//! groups are `race` (White vs Non-White) or `male` (written `Male` /
//! `Female` here); every other column (deciles, LSAT, GPAs, full-time,
//! family income, tier) is a standardized numeric feature.

use super::cache::FileSpec;
use super::encode::{MissingPolicy, TableSpec, allowed_groups};
use super::table::{RawTable, ReadOptions};
use crate::error::{Error, Result};

/// The published file.
pub const FILE: FileSpec = FileSpec {
    name: "law_school_clean.csv",
    url: "https://raw.githubusercontent.com/tailequy/fairness_dataset/\
          abb5a18b822ba56a221c5311082e192e85000b95/experiments/data/law_school_clean.csv",
    size: 1_135_557,
    sha256: "23c1b173f3480beb7afc4957b107a9917dfc4a8dc9d87ea6034ec35222152452",
};

/// Sensitive columns the law school data offers as groups.
pub const GROUP_COLUMNS: [&str; 2] = ["race", "male"];

/// The prepared table from the published file's bytes: `male` recoded to
/// `Male`/`Female`, everything else as published.
pub fn table(bytes: &[u8]) -> Result<RawTable> {
    let mut t = RawTable::read(bytes, FILE.name, &ReadOptions::default())?;
    let male = t.column_index("male")?;
    let column = &mut t.columns[male];
    for v in &mut column.values {
        *v = match v.parse::<f64>() {
            Ok(1.0) => "Male".into(),
            Ok(0.0) => "Female".into(),
            _ => {
                return Err(Error::Data(format!("{}: column 'male' holds '{v}' (expected 0 or 1)", FILE.name)));
            }
        };
    }
    Ok(t)
}

/// The preprocessing for the given sensitive columns (`race`, `male`).
pub fn spec(groups: &[String], missing: MissingPolicy, keep_group_feature: bool) -> Result<TableSpec> {
    let columns = allowed_groups("law", groups, &GROUP_COLUMNS)?;
    Ok(TableSpec::fixed("pass_bar", "1", columns, missing, keep_group_feature))
}
