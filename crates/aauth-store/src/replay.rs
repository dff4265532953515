//! The replay cache (SIG-19): signatures seen within their freshness window.
//!
//! Keys are SHA-256 digests the resource computes over the verified signature (key thumbprint,
//! `created`, method, authority, path and the signature bytes), so a verbatim replay collides
//! and two genuine requests do not; see `aauth_sig::replay` for why the signature bytes are
//! part of the key. Entries live until the signature would leave the window anyway.
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::{StoreError, UnixTime};

/// Where seen signatures are remembered. Shared between instances (Redis), a replay sent to
/// another instance is caught too.
#[async_trait]
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` until `expires_at`. `Ok(true)` when it was new, `Ok(false)` when it was
    /// already recorded and has not expired (a replay).
    async fn check_and_record(
        &self,
        key: &[u8; 32],
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError>;
}

/// In-memory [`ReplayStore`], bounded: when full of live entries it refuses (fails closed).
pub struct MemoryReplayStore {
    seen: DashMap<[u8; 32], UnixTime>,
    capacity: usize,
    inserts: AtomicU64,
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::with_capacity(crate::memory::DEFAULT_CAPACITY)
    }
}

impl MemoryReplayStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        MemoryReplayStore {
            seen: DashMap::new(),
            capacity,
            inserts: AtomicU64::new(0),
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[async_trait]
impl ReplayStore for MemoryReplayStore {
    async fn check_and_record(
        &self,
        key: &[u8; 32],
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        if self.inserts.fetch_add(1, Ordering::Relaxed) % 1024 == 1023
            || self.seen.len() >= self.capacity
        {
            self.seen.retain(|_, exp| *exp > now);
        }
        // Measured before taking the entry: `len` locks every shard, the entry holds one.
        let full = self.seen.len() >= self.capacity;
        match self.seen.entry(*key) {
            Entry::Occupied(mut e) => {
                if *e.get() > now {
                    return Ok(false);
                }
                e.insert(expires_at);
                Ok(true)
            }
            Entry::Vacant(v) => {
                if full {
                    return Err(StoreError::Unavailable("replay cache is full".into()));
                }
                v.insert(expires_at);
                Ok(true)
            }
        }
    }
}
