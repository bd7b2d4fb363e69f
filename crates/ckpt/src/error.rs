//! Checkpoint errors: each names the step, tensor or file concerned.

/// A checkpoint error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed, after retries.
    #[error("{what}: {source}")]
    Store {
        /// What was being done.
        what: String,
        /// The store's error.
        source: ouro_store::Error,
    },
    /// A local checkpoint directory could not be read or cleaned.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// Stored bytes are not what was written (checksum, truncation, bad manifest).
    #[error("{what}: {message}")]
    Corrupt {
        /// The file or step.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The checkpoint does not fit the model or run asking for it.
    #[error("{0}")]
    Mismatch(String),
    /// No such step, or nothing committed.
    #[error("{0}")]
    NotFound(String),
    /// Another host of the job failed its part of a save, or could not be reached.
    #[error("{0}")]
    Hosts(String),
    /// Another writer holds the location's lease (or took it from this one).
    #[error("{0}")]
    Held(String),
    /// A save or read thread could not start or panicked.
    #[error("{0}")]
    Thread(String),
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;
