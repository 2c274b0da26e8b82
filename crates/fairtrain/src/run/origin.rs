//! Where each key of a configuration came from (a file and line, the
//! command line, code), for messages and for the leniency toward a file's
//! keys at their default values.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a key's value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A configuration file, at a line.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
    },
    /// A command-line flag.
    CommandLine,
    /// Set in code ([`RunConfig::set`](super::RunConfig::set), a struct literal, a Python keyword).
    Api,
}

impl Origin {
    /// Where, for a message (`config file F, line N` or `--key`).
    pub fn describe(&self, key: &str) -> String {
        match self {
            Origin::File { path, line } => format!("config file {}, line {line}", path.display()),
            Origin::CommandLine => format!("--{key}"),
            Origin::Api => format!("key {key}"),
        }
    }
}

/// The origin of each key set, by path (`algorithm.lr`, `seed`), and what
/// reading noticed. Two configurations that differ only in where their keys
/// came from are equal.
#[derive(Debug, Clone, Default)]
pub struct KeyOrigins {
    /// Each key's origin.
    pub keys: BTreeMap<String, Origin>,
    /// Notes for the user (a file in the flat form...).
    pub notes: Vec<String>,
}

impl PartialEq for KeyOrigins {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl KeyOrigins {
    /// The origin of the key `path`, or of the flat `key` in any section.
    pub fn find(&self, key: &str) -> Option<(&str, &Origin)> {
        self.keys.get_key_value(key).map(|(k, o)| (k.as_str(), o)).or_else(|| {
            self.keys.iter().find(|(path, _)| path.rsplit('.').next() == Some(key)).map(|(k, o)| (k.as_str(), o))
        })
    }
}
