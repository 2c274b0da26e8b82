//! An explicit schema for a user's CSV or ARFF file, in TOML (`--schema
//! FILE`): column types, target, positive value, sensitive columns, weight,
//! drop list. Flags given on the command line override the schema's keys.
//!
//! ```toml
//! target = "income"
//! positive = ">50K"
//! group = ["sex"]
//! drop = ["id"]
//! weight = "fnlwgt"
//! delimiter = ";"
//! strict = true          # every column must be declared below
//!
//! [columns]
//! age = "numeric"
//! zip = "categorical"    # numbers, but codes
//! notes = "drop"
//! ```
//!
//! A column declared `numeric` holding a non-number is an error naming the
//! file, line and column, where inference would have made it categorical.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::encode::MissingPolicy;
use super::table::RawTable;
use crate::error::{Error, Result};

/// How a column is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnType {
    /// A number, standardized.
    Numeric,
    /// Categories, one-hot encoded.
    Categorical,
    /// Not used.
    Drop,
}

/// One name or several.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A data schema.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Schema {
    /// Target column.
    pub target: Option<String>,
    /// Positive target value.
    pub positive: Option<String>,
    /// Sensitive column(s).
    #[serde(default, deserialize_with = "one_or_many")]
    pub group: Option<Vec<String>>,
    /// Columns not used.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Sample-weight column.
    pub weight: Option<String>,
    /// Field delimiter of a CSV file (one character).
    pub delimiter: Option<char>,
    /// Missing-value policy.
    pub missing: Option<MissingPolicy>,
    /// Every column of the file must appear in `columns` (or be the
    /// target, a group or the weight).
    #[serde(default)]
    pub strict: bool,
    /// Column types.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnType>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        OneOrMany::Many(v) => v,
    }))
}

impl Schema {
    /// Reads a schema file.
    pub fn from_file(path: &Path) -> Result<Schema> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Schema::parse(&text, &path.display().to_string())
    }

    /// Parses schema text; errors name `source` and the line.
    pub fn parse(text: &str, source: &str) -> Result<Schema> {
        let schema: Schema = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].lines().count().max(1) as u64);
            Error::Parse { source_name: source.to_string(), line, message: e.message().trim().to_string() }
        })?;
        if let Some(d) = schema.delimiter.filter(|d| !d.is_ascii() || *d == '"' || *d == '\n') {
            return Err(Error::config(
                "delimiter",
                format!("{source}: '{d}' cannot delimit fields (use one ASCII character)"),
            ));
        }
        Ok(schema)
    }

    /// Columns declared with type `ty`.
    pub fn columns_of(&self, ty: ColumnType) -> Vec<String> {
        self.columns.iter().filter(|(_, t)| **t == ty).map(|(n, _)| n.clone()).collect()
    }

    /// Checks the schema against a table's columns: declared columns must
    /// exist, and in strict mode every column must be declared.
    pub fn check(&self, table: &RawTable, source: &str) -> Result<()> {
        for name in self.columns.keys() {
            if !table.names.contains(name) {
                return Err(Error::Data(format!(
                    "{source} declares column '{name}', which {} does not have (its columns are: {})",
                    table.source,
                    table.column_list()
                )));
            }
        }
        if self.strict {
            let special: Vec<&String> =
                self.target.iter().chain(self.group.iter().flatten()).chain(self.weight.iter()).collect();
            if let Some(n) = table.names.iter().find(|n| !self.columns.contains_key(*n) && !special.contains(n)) {
                return Err(Error::Data(format!(
                    "{source} is strict but does not declare column '{n}' of {}",
                    table.source
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let s = Schema::parse(
            "target = \"y\"\ngroup = \"g\"\nstrict = true\ndelimiter = \";\"\n[columns]\na = \"numeric\"\nb = \"categorical\"\n",
            "s.toml",
        )
        .unwrap();
        assert_eq!(s.group, Some(vec!["g".to_string()]));
        assert_eq!(s.delimiter, Some(';'));
        assert_eq!(s.columns_of(ColumnType::Numeric), ["a"]);
        let mut t = RawTable::with_names("d.csv", vec!["a".into(), "b".into(), "y".into(), "g".into()]);
        t.push_row(2, ["1", "x", "0", "m"]);
        s.check(&t, "s.toml").unwrap();
        t.names.push("c".into());
        let err = s.check(&t, "s.toml").unwrap_err().to_string();
        assert_eq!(err, "s.toml is strict but does not declare column 'c' of d.csv");
    }

    #[test]
    fn errors_name_key_and_line() {
        let err = Schema::parse("target = \"y\"\ncolumns = { a = \"number\" }\n", "s.toml").unwrap_err().to_string();
        assert!(err.starts_with("s.toml, line 2: unknown variant `number`"), "{err}");
        let err = Schema::parse("tagret = \"y\"\n", "s.toml").unwrap_err().to_string();
        assert!(err.starts_with("s.toml, line 1: unknown field `tagret`"), "{err}");
        let mut t = RawTable::with_names("d.csv", vec!["a".into()]);
        t.push_row(2, ["1"]);
        let s = Schema::parse("[columns]\nzz = \"drop\"\n", "s.toml").unwrap();
        assert!(s.check(&t, "s.toml").unwrap_err().to_string().contains("declares column 'zz'"));
    }
}
