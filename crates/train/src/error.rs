//! What can fail in training, by concern. Each message says what and where on its own and
//! keeps its cause as `source`, so a caller can print it alone or walk the chain.

use std::path::PathBuf;

/// A training error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config is not valid, or does not fit the data, the devices or the target.
    #[error("{0}")]
    Config(String),
    /// The config files could not be composed (a missing file, a bad override).
    #[error(transparent)]
    Compose(#[from] ouro_config::Error),
    /// Another process writes the run directory (or the local checkpoint location).
    #[error(
        "{} is being written by {holder}; a second writer would interleave its metrics and checkpoints. \
         Let that run finish (or stop it: it saves a checkpoint), then continue with --resume",
        .dir.display()
    )]
    Busy {
        /// The directory.
        dir: PathBuf,
        /// Who holds it, as it wrote itself into the lock file.
        holder: String,
    },
    /// The run directory holds another run's metrics, and was not to be replaced.
    #[error(
        "{} already holds a run's metrics; choose another run directory or pass --force to replace them",
        .dir.display()
    )]
    Exists {
        /// The run directory.
        dir: PathBuf,
    },
    /// A step's loss or gradient was not finite: the run stops before applying it.
    #[error(
        "step {step}: the loss or a gradient is not finite (lm_loss sum {lm_loss}); the state on device \
         is that of step {} and no further update was applied",
        .step - 1
    )]
    NotFinite {
        /// The step that was not sound.
        step: u64,
        /// Its summed lm_loss.
        lm_loss: f64,
    },
    /// The hosts of a job disagree, or could not agree in time.
    #[error("{0}")]
    Hosts(String),
    /// A compiled program returned values that do not fit its state.
    #[error("{0}")]
    Program(String),
    /// A weights file that cannot be read, or does not fit the model or run.
    #[error("{0}")]
    Weights(String),
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A serialised record (a sampler position, a config) could not be read or written.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A dataset could not be opened, read or generated.
    #[error(transparent)]
    Data(#[from] ouro_data::Error),
    /// A checkpoint could not be saved, listed or read.
    #[error(transparent)]
    Checkpoint(#[from] ouro_ckpt::Error),
    /// A store (local or object storage) failed.
    #[error(transparent)]
    Store(#[from] ouro_store::Error),
    /// Tracing, lowering, compiling or running a program failed.
    #[error(transparent)]
    Runtime(#[from] ouro_runtime::Error),
    /// The plugin refused (a transfer, a compile for a topology).
    #[error(transparent)]
    Pjrt(#[from] ouro_pjrt::Error),
    /// A step could not be traced.
    #[error(transparent)]
    Trace(#[from] ouro_ir::TraceError),
    /// A step could not be lowered to StableHLO.
    #[error(transparent)]
    Lower(#[from] ouro_lower::LowerError),
    /// A safetensors file could not be encoded or decoded.
    #[error(transparent)]
    Safetensors(#[from] safetensors::SafeTensorError),
    /// What was being done when `source` failed.
    #[error("{what}: {source}")]
    Context {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: Box<Error>,
    },
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error under all its contexts.
    pub fn cause(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.cause(),
            e => e,
        }
    }

    /// Whether this is the refusal of a second writer of a checkpoint location on an object
    /// store: another machine holds its lease.
    pub fn is_lease_held(&self) -> bool {
        matches!(self.cause(), Error::Checkpoint(ouro_ckpt::Error::Held(_)))
    }

    /// The dataset directory this error found missing, if that is what it is.
    pub fn missing_dataset(&self) -> Option<&std::path::Path> {
        match self.cause() {
            Error::Data(ouro_data::Error::Missing { path, .. }) => Some(path),
            _ => None,
        }
    }

    /// `self`, saying what was being done.
    pub fn context(self, what: impl Into<String>) -> Error {
        Error::Context { what: what.into(), source: Box::new(self) }
    }
}

/// Says what was being done when a result failed.
pub(crate) trait Context<T> {
    /// The error, if any, in the context `what`.
    fn context(self, what: impl Into<String>) -> Result<T>;
    /// The error, if any, in the context `what()` (built only on failure).
    fn with_context<W: Into<String>>(self, what: impl FnOnce() -> W) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }

    fn with_context<W: Into<String>>(self, what: impl FnOnce() -> W) -> Result<T> {
        self.map_err(|e| e.into().context(what()))
    }
}

#[cfg(test)]
mod tests {
    use super::{Context, Error};

    #[test]
    fn a_context_prints_its_cause_and_keeps_it() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = Err::<(), _>(denied).context("writing /runs/x").context("saving step 5").unwrap_err();
        assert_eq!(e.to_string(), "saving step 5: writing /runs/x: permission denied");
        assert!(matches!(e.cause(), Error::Io(_)));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn a_held_lease_is_known_under_its_contexts() {
        let held = Error::from(ouro_ckpt::Error::Held("s3://b/run is leased to host a".into()));
        assert!(held.context("opening the checkpoint location").is_lease_held());
        assert!(!Error::Config("x".into()).context("y").is_lease_held());
    }
}
