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
}
