//! State a two-party AAuth resource keeps between requests: session tokens, pending requests,
//! agent-token revocation and the replay cache.
//!
//! Every store is an async trait used as `Arc<dyn …>`, so an application picks a backend at
//! start-up without type parameters leaking into its router. The in-memory backend in [`memory`]
//! is the default; the Redis backend in `redis` (feature `redis`) implements the same traits for
//! several instances sharing one server.
//!
//! Secrets are never kept in the clear: a session token is stored only as its SHA-256 hash, and
//! the token itself exists only in the response that delivers it.
#![forbid(unsafe_code)]

mod error;
pub mod memory;
pub mod pending;
mod random;
#[cfg(feature = "redis")]
pub mod redis;
pub mod replay;
pub mod revocation;
pub mod session;

pub use error::StoreError;
pub use pending::{
    Approval, InsertOutcome, PendingId, PendingLimits, PendingOwner, PendingRecord, PendingState,
    PendingStore,
};
pub use random::{random_bytes, random_id};
pub use replay::{MemoryReplayStore, ReplayStore};
pub use revocation::{AgentTokenId, RevocationStore, RevokeOutcome};
pub use session::{SessionBinding, SessionGrant, SessionTokenStore, TokenHash};

/// Seconds since the Unix epoch. Stores take the time as an argument so tests can pin it.
pub type UnixTime = u64;
