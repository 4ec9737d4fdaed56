//! Errors as values: evcxr catches a panic inside a cell and prints it, so the student reads a
//! file path inside the crate or libtorch's internals instead of advice. Everything a user can
//! get wrong comes back as an [`Error`] that says what was expected and what to do.
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure the crate reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file could not be read, parsed or verified, or could not be obtained.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A value given by the user is out of range or inconsistent.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    /// A file of a run (checkpoint, record) could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Training diverged.
    #[error("the training loss became {value} at epoch {epoch}, batch {batch}; training stopped. Lower the learning rate, or check the inputs for NaN")]
    NonFiniteLoss {
        epoch: usize,
        batch: usize,
        value: f64,
    },
    /// A handout's exercise still has its stub ([`crate::exercise::unfinished`]).
    #[error("exercise not done yet: {task}. Write your code in place of the line `exercise::unfinished(...)?;` and run the cell again")]
    Unfinished { task: String },
    /// A check cell found a wrong answer ([`crate::exercise::check`]).
    #[error("check failed: {hint}")]
    CheckFailed { hint: String },
    /// A failure inside the crate, not caused by its input (a worker thread panicked, a figure
    /// could not be rendered): a bug to report, with what was being done.
    #[error("internal error while {doing}: {reason}. This is a bug in lstm_support; please report it with this message")]
    Internal { doing: String, reason: String },
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl Error {
    /// An [`Error::Invalid`] naming the value and why it is wrong.
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

impl Error {
    /// An [`Error::Internal`]: what the crate was doing and what went wrong.
    pub fn internal(doing: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Internal {
            doing: doing.into(),
            reason: reason.into(),
        }
    }
}

/// Problems with the dataset files, each naming the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid gzip file ({source}); delete it so that it is downloaded again, or replace it with the published file")]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file is {len} bytes, too short for an IDX header of {needed} bytes; the file is truncated: delete it and download it again")]
    TruncatedHeader {
        path: PathBuf,
        len: usize,
        needed: usize,
    },
    #[error("{path}: wrong magic number {found:#010x}, expected {expected:#010x} ({what}); is this the right file?")]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        what: &'static str,
    },
    #[error("{path}: dimensions {found:?}, expected {expected}")]
    BadDimensions {
        path: PathBuf,
        found: Vec<usize>,
        expected: String,
    },
    #[error("{path}: truncated data: the header announces {expected} bytes of data but the file holds {found}; delete it and download it again")]
    TruncatedData {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    #[error("{path}: {extra} bytes after the data the header announces; the file is not a valid IDX file")]
    TrailingData { path: PathBuf, extra: usize },
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels; the two files do not belong together")]
    CountMismatch {
        images: PathBuf,
        n_images: usize,
        labels: PathBuf,
        n_labels: usize,
    },
    #[error("{path}: label {label} at index {index} is not a class (0 to {max})")]
    BadLabel {
        path: PathBuf,
        index: usize,
        label: u8,
        max: u8,
    },
    #[error("{path}: {algorithm} checksum mismatch: expected {expected}, got {actual}; the file is corrupt or not the published one: delete it (it is downloaded again) or replace it")]
    ChecksumMismatch {
        path: PathBuf,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
    #[error("{dataset}: {file} is missing from {dir} {details}")]
    Missing {
        dataset: String,
        dir: PathBuf,
        file: String,
        /// Why this directory, what the download attempts said, and what to do.
        details: String,
    },
}
