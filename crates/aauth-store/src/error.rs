use thiserror::Error;

/// Failures of a store backend. None of them carries a secret.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or answered with an error; callers fail closed (503).
    #[error("store backend unavailable: {0}")]
    Unavailable(String),
    /// A compare-and-set lost a race; the caller re-reads and decides again.
    #[error("concurrent update of the same record")]
    Conflict,
    /// The record does not exist (or no longer exists).
    #[error("record not found")]
    NotFound,
    /// The operating system's random generator failed.
    #[error("random generator failure")]
    Random,
    /// A stored record could not be decoded (written by an incompatible version, or damaged);
    /// callers treat it like an unavailable backend and fail closed.
    #[error("stored record is malformed")]
    Corrupt,
    /// The backend's configuration is unusable (e.g. a Redis URL that does not parse). The
    /// message never contains the configured secret.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
}
