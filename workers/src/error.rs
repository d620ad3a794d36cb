//! The crate's error: what can stop a worker from starting.

/// Why a worker could not start. (Once running, failures of single attempts are recorded
/// on their jobs, and store or queue outages are waited out: nothing stops a running pool
/// but its shutdown token.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The pool's configuration is unusable.
    #[error("invalid worker configuration: {0}")]
    Config(String),
    /// The store, the queue or their configuration refused.
    #[error(transparent)]
    ControlPlane(#[from] control_plane::Error),
    /// The HTTP client of `http.request` could not be built.
    #[error(transparent)]
    Http(#[from] crate::builtin::HttpError),
}
