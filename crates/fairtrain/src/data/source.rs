//! Resolving `--data` (a built-in name or a CSV path) and loading it into
//! encoded train/test data sets.

use std::path::PathBuf;

use super::encode::{Encoded, GroupColumn, MissingPolicy, Split, TableSpec, encode};
use super::table::{RawTable, ReadOptions};
use super::{adult, synthetic};
use crate::error::{Error, Result};

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// UCI Adult, shipped with the library.
    Adult,
    /// The generated data set of [`synthetic`].
    Synthetic,
    /// A CSV file with a header line.
    Csv(PathBuf),
}

impl DataSource {
    /// Parses a `--data` value: a built-in name, or a path (anything
    /// containing `/` or ending in `.csv`).
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "adult" => Ok(DataSource::Adult),
            "synthetic" => Ok(DataSource::Synthetic),
            v if v.contains('/')
                || v.contains(std::path::MAIN_SEPARATOR)
                || v.to_ascii_lowercase().ends_with(".csv") =>
            {
                Ok(DataSource::Csv(PathBuf::from(v)))
            }
            other => Err(Error::config(
                "data",
                format!(
                    "'{other}' is neither a built-in data set (adult, synthetic) nor a CSV path \
                     (a path contains '/' or ends in .csv)"
                ),
            )),
        }
    }

    /// The name used in reports: the built-in name or the path.
    pub fn name(&self) -> String {
        match self {
            DataSource::Adult => "adult".into(),
            DataSource::Synthetic => "synthetic".into(),
            DataSource::Csv(p) => p.display().to_string(),
        }
    }

    /// The sensitive columns used when none are given.
    pub fn default_groups(&self) -> Option<Vec<String>> {
        match self {
            DataSource::Adult => Some(vec!["race".into()]),
            DataSource::Synthetic => Some(vec!["group".into()]),
            DataSource::Csv(_) => None,
        }
    }
}

/// How to load a data source. `None` means "not given": built-in data sets
/// reject the CSV-only options when given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// Target column (CSV only).
    pub target: Option<String>,
    /// Positive target value (CSV only).
    pub positive: Option<String>,
    /// Sensitive columns; the data source's default when `None`.
    pub group: Option<Vec<String>>,
    /// Columns forced to be categorical (CSV only).
    pub categorical: Vec<String>,
    /// Columns to ignore (CSV only).
    pub drop: Vec<String>,
    /// Missing-value policy.
    pub missing: MissingPolicy,
    /// Test fraction of the random split (CSV only; default 0.2).
    pub test_fraction: Option<f64>,
    /// Seed of the random split.
    pub split_seed: u64,
    /// Keep the sensitive columns among the features.
    pub keep_group_feature: bool,
}

/// Default fraction of CSV rows held out for testing.
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;

/// A loaded data source.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Display name of the source.
    pub name: String,
    /// sha256 of the file(s) read (train file first).
    pub sha256: Vec<String>,
    /// The sensitive columns used.
    pub group_columns: Vec<String>,
    /// The encoded train and test data.
    pub encoded: Encoded,
}

/// Loads and encodes `source`.
///
/// ```
/// use fairtrain::data::{DataSource, LoadOptions, load};
/// let loaded = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap();
/// assert_eq!(loaded.encoded.train.group_names(), ["A", "B"]);
/// ```
pub fn load(source: &DataSource, options: &LoadOptions) -> Result<Loaded> {
    let groups = match (&options.group, source.default_groups()) {
        (Some(g), _) => g.clone(),
        (None, Some(g)) => g,
        (None, None) => {
            return Err(Error::config("group", "CSV data needs --group COLUMN (the sensitive attribute)"));
        }
    };
    if groups.is_empty() || groups.iter().any(|g| g.trim().is_empty()) {
        return Err(Error::config("group", "empty column name"));
    }
    if !matches!(source, DataSource::Csv(_)) {
        let fixed = [
            ("target", options.target.is_some()),
            ("positive", options.positive.is_some()),
            ("categorical", !options.categorical.is_empty()),
            ("drop", !options.drop.is_empty()),
            ("test-fraction", options.test_fraction.is_some()),
        ];
        if let Some((field, _)) = fixed.iter().find(|(_, given)| *given) {
            return Err(Error::config(
                *field,
                format!("applies only to CSV data; {} has a fixed target, encoding and test split", source.name()),
            ));
        }
    }
    match source {
        DataSource::Adult => {
            let (train, test) = adult::raw_tables()?;
            let spec = adult::spec(&groups, options.missing, options.keep_group_feature)?;
            Ok(Loaded {
                name: source.name(),
                sha256: vec![adult::TRAIN_SHA256.into(), adult::TEST_SHA256.into()],
                group_columns: groups,
                encoded: encode(train, Split::Table(test), &spec)?,
            })
        }
        DataSource::Synthetic => {
            let (train, test) = synthetic::SyntheticSpec::default().tables();
            let mut spec = synthetic::spec(options.missing, options.keep_group_feature);
            spec.groups = groups.iter().map(GroupColumn::plain).collect();
            Ok(Loaded {
                name: source.name(),
                sha256: vec![],
                group_columns: groups,
                encoded: encode(train, Split::Table(test), &spec)?,
            })
        }
        DataSource::Csv(path) => {
            let target = options
                .target
                .clone()
                .ok_or_else(|| Error::config("target", "CSV data needs --target COLUMN (the label column)"))?;
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let sha = adult::sha256_hex(&bytes);
            let name = path.display().to_string();
            let table = RawTable::read(bytes.as_slice(), &name, &ReadOptions::default())?;
            let spec = TableSpec {
                target,
                positive: options.positive.clone(),
                groups: groups.iter().map(GroupColumn::plain).collect(),
                drop: options.drop.clone(),
                categorical: options.categorical.clone(),
                missing: options.missing,
                keep_group_feature: options.keep_group_feature,
            };
            let split = Split::Random {
                test_fraction: options.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION),
                seed: options.split_seed,
            };
            Ok(Loaded { name, sha256: vec![sha], group_columns: groups, encoded: encode(table, split, &spec)? })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_data_values() {
        assert_eq!(DataSource::parse("adult").unwrap(), DataSource::Adult);
        assert_eq!(DataSource::parse("synthetic").unwrap(), DataSource::Synthetic);
        assert_eq!(DataSource::parse("x.CSV").unwrap(), DataSource::Csv("x.CSV".into()));
        assert_eq!(DataSource::parse("dir/x").unwrap(), DataSource::Csv("dir/x".into()));
        let err = DataSource::parse("adutl").unwrap_err();
        assert!(err.to_string().contains("'adutl' is neither a built-in data set"));
    }

    #[test]
    fn built_ins_reject_csv_options() {
        let options = LoadOptions { target: Some("y".into()), ..LoadOptions::default() };
        let err = load(&DataSource::Adult, &options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for target: applies only to CSV data; adult has a fixed target, \
             encoding and test split"
        );
    }

    #[test]
    fn missing_csv_file_is_named() {
        let options = LoadOptions { target: Some("y".into()), group: Some(vec!["g".into()]), ..LoadOptions::default() };
        let err = load(&DataSource::Csv("no/such/nope.csv".into()), &options).unwrap_err();
        assert!(err.to_string().starts_with("no/such/nope.csv: "), "{err}");
    }
}
