//! Errors of the data crate: each names the file and what is wrong with it.

use std::path::PathBuf;

/// Everything that can go wrong reading, building or sampling a dataset.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A file whose contents are not what the dataset format says.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// No dataset at a path a config names (it has not been built or fetched).
    #[error("dataset {path}: missing {file}")]
    Missing {
        /// The dataset directory.
        path: PathBuf,
        /// The file that would say it is one.
        file: PathBuf,
    },
    /// A dataset whose files disagree with each other or with its metadata.
    #[error("dataset {path}: {message}")]
    Inconsistent { path: PathBuf, message: String },
    /// A bad source file for a builder (CSV row, ARC JSON), with the line or task.
    #[error("{path}:{line}: {message}")]
    Source { path: PathBuf, line: usize, message: String },
    /// The output exists and `force` was not given.
    #[error("{0} exists; pass --force to replace it")]
    OutputExists(PathBuf),
    /// Settings that cannot work.
    #[error("{0}")]
    Config(String),
    /// Object storage.
    #[error("{url}: {message}")]
    Remote { url: String, message: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
