//! What can fail around runs: their records and files, the output root, the catalog. Each
//! message says what and where on its own and keeps its cause as `source`.

/// A lab error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the path.
        what: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// A record that is not what ouro writes (a `run.json`, a line of `metrics.jsonl`).
    #[error("{what}: {message}")]
    Damaged {
        /// The file (and line).
        what: String,
        /// What is wrong.
        message: String,
    },
    /// No such experiment, group or run.
    #[error("{0}")]
    NotFound(String),
    /// The output root could not be opened.
    #[error("opening the output root {url}: {source}")]
    Root {
        /// The root's URL or path (credentials redacted).
        url: String,
        /// The store's error.
        source: ouro_store::Error,
    },
    /// The output root's store failed (an upload, a download, a listing).
    #[error(transparent)]
    Store(#[from] ouro_store::Error),
    /// A run could not be copied to its output root.
    #[error("copying the run to {url}: {source}")]
    Push {
        /// Where it was going.
        url: String,
        /// Why it did not get there.
        source: Box<Error>,
    },
    /// A config that cannot be read, checked or serialised.
    #[error(transparent)]
    Train(#[from] ouro_train::Error),
    /// Input that cannot be used (an empty note, a sweep that cannot be expanded), saying why.
    #[error("{0}")]
    Invalid(String),
    /// A report's template or plot could not be drawn.
    #[error("writing the report: {0}")]
    Render(String),
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { what: what.into(), source }
    }
}
