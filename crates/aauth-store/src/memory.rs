//! The in-memory default backend, on `dashmap`. State lives in one process: use a shared backend
//! when a resource runs on several instances.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aauth_wire::Thumbprint;
use aauth_wire::access::SessionToken;
use async_trait::async_trait;
use dashmap::DashMap;
use tokio::sync::Notify;

use crate::pending::{
    InsertOutcome, PendingId, PendingLimits, PendingOwner, PendingRecord, PendingStore,
};
use crate::revocation::{AgentTokenId, RevocationStore, RevokeOutcome};
use crate::session::{SessionGrant, SessionTokenStore, TokenHash, generate_token};
use crate::{StoreError, UnixTime};

/// How many records a store holds at most before refusing new ones; entries are created by
/// unauthenticated-but-signed callers, so the bound is part of the security model.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// How often (in inserts) a store sweeps out expired entries.
const SWEEP_EVERY: u64 = 1024;

fn now_unix() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Session tokens in memory, keyed by their SHA-256 hash, with the person / key / agent
/// indexes that bulk revocation needs.
pub struct MemorySessionStore {
    by_hash: DashMap<TokenHash, SessionGrant>,
    by_person: DashMap<String, HashSet<TokenHash>>,
    by_key: DashMap<String, HashSet<TokenHash>>,
    by_agent: DashMap<String, HashSet<TokenHash>>,
    capacity: usize,
    inserts: AtomicU64,
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MemorySessionStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        MemorySessionStore {
            by_hash: DashMap::new(),
            by_person: DashMap::new(),
            by_key: DashMap::new(),
            by_agent: DashMap::new(),
            capacity,
            inserts: AtomicU64::new(0),
        }
    }

    /// Number of stored (possibly expired, not yet swept) grants.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The stored keys, to show in tests that only hashes are kept.
    pub fn stored_hashes(&self) -> Vec<TokenHash> {
        self.by_hash.iter().map(|e| *e.key()).collect()
    }

    fn sweep(&self, now: UnixTime) {
        self.by_hash.retain(|_, g| g.expires_at > now);
        for index in [&self.by_person, &self.by_key, &self.by_agent] {
            index.retain(|_, set| {
                set.retain(|h| self.by_hash.contains_key(h));
                !set.is_empty()
            });
        }
    }

    /// Removes every token listed under `key` in `index`.
    fn revoke_indexed(&self, index: &DashMap<String, HashSet<TokenHash>>, key: &str) -> usize {
        // Take the set out first so no index guard is held while the token map is written.
        let Some((_, hashes)) = index.remove(key) else {
            return 0;
        };
        hashes
            .iter()
            .filter(|h| self.by_hash.remove(h).is_some())
            .count()
    }
}

fn index_insert(index: &DashMap<String, HashSet<TokenHash>>, key: &str, hash: TokenHash) {
    index.entry(key.to_owned()).or_default().insert(hash);
}

#[async_trait]
impl SessionTokenStore for MemorySessionStore {
    async fn issue(&self, grant: SessionGrant) -> Result<SessionToken, StoreError> {
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1
            || self.by_hash.len() >= self.capacity
        {
            self.sweep(now_unix());
        }
        if self.by_hash.len() >= self.capacity {
            return Err(StoreError::Unavailable("session store is full".into()));
        }
        let token = generate_token()?;
        let hash = TokenHash::of(&token);
        if let Some(p) = &grant.person {
            index_insert(&self.by_person, p, hash);
        }
        index_insert(&self.by_key, grant.binding.key_thumbprint.as_str(), hash);
        if let Some(a) = &grant.binding.agent_id {
            index_insert(&self.by_agent, a, hash);
        }
        self.by_hash.insert(hash, grant);
        Ok(token)
    }

    async fn lookup(
        &self,
        token: &SessionToken,
        now: UnixTime,
    ) -> Result<Option<SessionGrant>, StoreError> {
        // The map is keyed by the hash, so a lookup compares hashes, never the token; the timing
        // of a hash-map probe reveals nothing usable about a preimage.
        let hash = TokenHash::of(token);
        let Some(entry) = self.by_hash.get(&hash) else {
            return Ok(None);
        };
        if !entry.key().ct_eq(&hash) || entry.value().expires_at <= now {
            return Ok(None);
        }
        Ok(Some(entry.value().clone()))
    }

    async fn revoke(&self, token: &SessionToken) -> Result<bool, StoreError> {
        // The index entries are left behind and swept later; they name a hash that no longer
        // resolves, which every reader tolerates.
        Ok(self.by_hash.remove(&TokenHash::of(token)).is_some())
    }

    async fn retire(
        &self,
        token: &SessionToken,
        now: UnixTime,
        not_after: UnixTime,
    ) -> Result<Option<SessionGrant>, StoreError> {
        // `get_mut` holds the shard's write lock, which makes check-and-set one step.
        let Some(mut entry) = self.by_hash.get_mut(&TokenHash::of(token)) else {
            return Ok(None);
        };
        let grant = entry.value_mut();
        if grant.retired || grant.expires_at <= now {
            return Ok(None);
        }
        let before = grant.clone();
        grant.retired = true;
        grant.expires_at = grant.expires_at.min(not_after);
        Ok(Some(before))
    }

    async fn revoke_person(&self, person: &str) -> Result<usize, StoreError> {
        Ok(self.revoke_indexed(&self.by_person, person))
    }

    async fn revoke_key(&self, key_thumbprint: &Thumbprint) -> Result<usize, StoreError> {
        Ok(self.revoke_indexed(&self.by_key, key_thumbprint.as_str()))
    }

    async fn revoke_agent(&self, agent_id: &str) -> Result<usize, StoreError> {
        Ok(self.revoke_indexed(&self.by_agent, agent_id))
    }
}

struct AgentTokenEntry {
    agent_id: Option<String>,
    expires_at: UnixTime,
    revoked: bool,
}

/// Accepted agent tokens and their revocation, in memory.
pub struct MemoryRevocationStore {
    by_id: DashMap<AgentTokenId, AgentTokenEntry>,
    capacity: usize,
    inserts: AtomicU64,
}

impl Default for MemoryRevocationStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MemoryRevocationStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        MemoryRevocationStore {
            by_id: DashMap::new(),
            capacity,
            inserts: AtomicU64::new(0),
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn record(
        &self,
        id: &AgentTokenId,
        agent_id: Option<&str>,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1
            || self.by_id.len() >= self.capacity
        {
            let now = now_unix();
            self.by_id.retain(|_, e| e.expires_at > now);
        }
        if self.by_id.len() >= self.capacity && !self.by_id.contains_key(id) {
            return Err(StoreError::Unavailable("revocation store is full".into()));
        }
        self.by_id
            .entry(id.clone())
            .and_modify(|e| e.expires_at = e.expires_at.max(expires_at))
            .or_insert_with(|| AgentTokenEntry {
                agent_id: agent_id.map(str::to_owned),
                expires_at,
                revoked: false,
            });
        Ok(())
    }

    async fn revoke(&self, id: &AgentTokenId, now: UnixTime) -> Result<RevokeOutcome, StoreError> {
        let Some(mut entry) = self.by_id.get_mut(id) else {
            return Ok(RevokeOutcome::Unknown);
        };
        if entry.revoked || entry.expires_at <= now {
            return Ok(RevokeOutcome::AlreadyInvalid);
        }
        entry.revoked = true;
        Ok(RevokeOutcome::Revoked {
            agent_id: entry.agent_id.clone(),
        })
    }

    async fn is_revoked(&self, id: &AgentTokenId) -> Result<bool, StoreError> {
        Ok(self.by_id.get(id).is_some_and(|e| e.revoked))
    }
}

struct Slot {
    record: PendingRecord,
    changed: Arc<Notify>,
}

/// What [`PendingLimits`] count: open records per owner and live records overall, each with
/// the end of its lifetime so that counting can drop what has run out.
#[derive(Default)]
struct LimitIndex {
    /// Owner → (pending id → `expires_at`) of the owner's open records.
    open: HashMap<PendingOwner, HashMap<PendingId, UnixTime>>,
    /// `expires_at` → how many records (any state) end then.
    live: BTreeMap<UnixTime, u64>,
    live_total: u64,
}

impl LimitIndex {
    /// Forgets what ended at or before `now`; returns how many open records the owner has and
    /// when the first of them ends.
    fn prune(&mut self, owner: &PendingOwner, now: UnixTime) -> (usize, Option<UnixTime>) {
        while let Some((&at, &n)) = self.live.first_key_value()
            && at <= now
        {
            self.live.pop_first();
            self.live_total = self.live_total.saturating_sub(n);
        }
        let emptied = match self.open.get_mut(owner) {
            Some(ids) => {
                ids.retain(|_, at| *at > now);
                ids.is_empty()
            }
            None => false,
        };
        if emptied {
            self.open.remove(owner);
        }
        self.open
            .get(owner)
            .map_or((0, None), |ids| (ids.len(), ids.values().min().copied()))
    }

    fn add(&mut self, record: &PendingRecord) {
        if record.state.is_open() {
            self.open
                .entry(record.owner())
                .or_default()
                .insert(record.id.clone(), record.expires_at);
        }
        *self.live.entry(record.expires_at).or_default() += 1;
        self.live_total += 1;
    }

    /// The record no longer counts against its owner (it left the open states).
    fn close(&mut self, record: &PendingRecord) {
        let owner = record.owner();
        if let Some(ids) = self.open.get_mut(&owner) {
            ids.remove(&record.id);
            if ids.is_empty() {
                self.open.remove(&owner);
            }
        }
    }

    /// Drops every owner entry that ended at or before `now`.
    fn sweep(&mut self, now: UnixTime) {
        self.open.retain(|_, ids| {
            ids.retain(|_, at| *at > now);
            !ids.is_empty()
        });
    }
}

/// Pending requests in memory.
pub struct MemoryPendingStore {
    by_id: DashMap<PendingId, Slot>,
    by_interaction: DashMap<String, PendingId>,
    capacity: usize,
    /// Records are kept this long after they expire so a late poll still gets 408/410.
    linger: u64,
    inserts: AtomicU64,
    /// Never held together with a `by_id` entry guard.
    limits: Mutex<LimitIndex>,
}

impl Default for MemoryPendingStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MemoryPendingStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        MemoryPendingStore {
            by_id: DashMap::new(),
            by_interaction: DashMap::new(),
            capacity,
            linger: 3600,
            inserts: AtomicU64::new(0),
            limits: Mutex::new(LimitIndex::default()),
        }
    }

    fn limit_index(&self) -> std::sync::MutexGuard<'_, LimitIndex> {
        // The index holds plain counters; a panic elsewhere cannot leave it half-written in a
        // way that matters more than a miscount, so a poisoned lock is taken over.
        self.limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `record` after the limit check (`None`: no check, no pruning).
    fn insert_checked(
        &self,
        mut record: PendingRecord,
        check: Option<(PendingLimits, UnixTime)>,
    ) -> Result<InsertOutcome, StoreError> {
        let n = self.inserts.fetch_add(1, Ordering::Relaxed);
        if n % SWEEP_EVERY == SWEEP_EVERY - 1 || self.by_id.len() >= self.capacity {
            self.sweep(now_unix());
            if let Some((_, now)) = check {
                self.limit_index().sweep(now);
            }
        }
        if self.by_id.len() >= self.capacity {
            return Err(StoreError::Unavailable("pending store is full".into()));
        }
        record.version = 0;
        {
            let mut index = self.limit_index();
            if let Some((limits, now)) = check {
                let owner = record.owner();
                let (open, first_end) = index.prune(&owner, now);
                if let Some(max) = limits.per_agent
                    && open >= max as usize
                {
                    let until = first_end.unwrap_or(now);
                    return Ok(InsertOutcome::AgentLimit { until });
                }
                if let Some(max) = limits.total
                    && index.live_total >= max
                {
                    let until = index.live.keys().next().copied().unwrap_or(now);
                    return Ok(InsertOutcome::TotalLimit { until });
                }
            }
            // Reserved before the record becomes visible; nobody knows its id yet, so no
            // transition can race with this.
            index.add(&record);
        }
        self.by_interaction
            .insert(record.interaction_id.clone(), record.id.clone());
        self.by_id.insert(
            record.id.clone(),
            Slot {
                record,
                changed: Arc::new(Notify::new()),
            },
        );
        Ok(InsertOutcome::Inserted)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn sweep(&self, now: UnixTime) {
        let linger = self.linger;
        self.by_id
            .retain(|_, slot| slot.record.expires_at.saturating_add(linger) > now);
        self.by_interaction
            .retain(|_, id| self.by_id.contains_key(id));
    }
}

#[async_trait]
impl PendingStore for MemoryPendingStore {
    async fn insert(&self, record: PendingRecord) -> Result<(), StoreError> {
        self.insert_checked(record, None).map(|_| ())
    }

    async fn insert_limited(
        &self,
        record: PendingRecord,
        limits: PendingLimits,
        now: UnixTime,
    ) -> Result<InsertOutcome, StoreError> {
        self.insert_checked(record, Some((limits, now)))
    }

    async fn get(&self, id: &PendingId) -> Result<Option<PendingRecord>, StoreError> {
        Ok(self.by_id.get(id).map(|s| s.record.clone()))
    }

    async fn get_by_interaction(
        &self,
        interaction_id: &str,
    ) -> Result<Option<PendingRecord>, StoreError> {
        let Some(id) = self.by_interaction.get(interaction_id).map(|e| e.clone()) else {
            return Ok(None);
        };
        self.get(&id).await
    }

    async fn compare_and_swap(
        &self,
        mut record: PendingRecord,
    ) -> Result<PendingRecord, StoreError> {
        {
            let mut slot = self.by_id.get_mut(&record.id).ok_or(StoreError::NotFound)?;
            if slot.record.version != record.version {
                return Err(StoreError::Conflict);
            }
            record.version += 1;
            slot.record = record.clone();
            slot.changed.notify_waiters();
        }
        if !record.state.is_open() {
            self.limit_index().close(&record);
        }
        Ok(record)
    }

    async fn wait_for_change(
        &self,
        id: &PendingId,
        seen_version: u64,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let notify = {
            let slot = self.by_id.get(id).ok_or(StoreError::NotFound)?;
            if slot.record.version != seen_version {
                return Ok(());
            }
            slot.changed.clone()
        };
        let notified = notify.notified();
        tokio::pin!(notified);
        // Register before re-checking, so a change between the check and the wait is not lost.
        notified.as_mut().enable();
        if self
            .by_id
            .get(id)
            .is_none_or(|s| s.record.version != seen_version)
        {
            return Ok(());
        }
        let _ = tokio::time::timeout(timeout, notified).await;
        Ok(())
    }
}
