//! The library's error type. Every message names what is wrong and where
//! (file, line, column, field), so the CLI can print it as is.

use std::path::PathBuf;

/// Errors raised by data loading, configuration and training.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure on a named file or directory. (The message includes
    /// the I/O error, so it is not chained as a source again.)
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A malformed input file: names the file and the line (1-based, the
    /// header counting as line 1).
    #[error("{source_name}, line {line}: {message}")]
    Parse {
        /// The file (or built-in data set) being read.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong with the line.
        message: String,
    },
    /// Well-formed data that cannot be used as asked (unknown column, a
    /// single group, a target without a positive class...).
    #[error("{0}")]
    Data(String),
    /// An invalid setting, named as the user gave it.
    #[error("invalid value for {field}: {message}")]
    Config {
        /// The setting (flag or config key) at fault.
        field: String,
        /// Why the value is rejected.
        message: String,
    },
    /// Embedded or cached data whose checksum does not match.
    #[error("checksum mismatch for {name}: expected sha256 {expected}, found {found}")]
    Checksum {
        /// The data file.
        name: String,
        /// The sha256 it should have.
        expected: String,
        /// The sha256 it has.
        found: String,
    },
    /// A capability the value asked for does not have (a problem that
    /// cannot change its bounds, a method that needs per-row access): a
    /// kind of its own, so that callers can tell it from bad data.
    #[error("{what} does not support {capability}")]
    Unsupported {
        /// What was asked (a problem, a method, a backend).
        what: String,
        /// The capability it lacks.
        capability: String,
    },
    /// Training produced a non-finite value or otherwise broke down.
    #[error("training diverged at iteration {iteration}: {message}")]
    Diverged {
        /// The iteration at which the problem was detected.
        iteration: u64,
        /// What went wrong and the likely cause.
        message: String,
    },
}

impl Error {
    /// Shorthand for a [`Error::Config`].
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config { field: field.into(), message: message.into() }
    }

    /// Shorthand for an [`Error::Unsupported`].
    ///
    /// ```
    /// let e = fairtrain::Error::unsupported("this problem", "changing its bounds");
    /// assert_eq!(e.to_string(), "this problem does not support changing its bounds");
    /// ```
    pub fn unsupported(what: impl Into<String>, capability: impl Into<String>) -> Self {
        Error::Unsupported { what: what.into(), capability: capability.into() }
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io { path: path.into(), error }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
