//! What can go wrong finding and joining the other processes.

/// A cluster error, saying what and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Inconsistent or incomplete settings.
    #[error("{0}")]
    Config(String),
    /// A socket or file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Another process or server spoke something unexpected.
    #[error("{0}")]
    Protocol(String),
    /// The other processes did not arrive in time.
    #[error("{0}")]
    Timeout(String),
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
