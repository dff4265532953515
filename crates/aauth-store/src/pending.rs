//! Pending requests: the record behind a `202` + `Location`, and the state machine it follows.
//!
//! ```text
//! Pending ──code redeemed──▶ Interacting ──approve──▶ Approved ──poll──▶ Done (200 delivered)
//!    │                          ├──deny──────────▶ Denied   ──poll──▶ Done (403 delivered)
//!    │                          └──timeout───────▶ Abandoned──poll──▶ Done (403 delivered)
//!    ├──too many wrong codes──▶ CodeFailed ──poll──▶ Done (410 delivered)
//!    ├──DELETE by the agent───▶ Cancelled (410)
//!    └──lifetime over─────────▶ Expired ──poll──▶ Done (408 delivered)
//! ```
//! Every transition is a compare-and-swap on the record's `version`, so two instances (or two
//! browser tabs) cannot both approve, both consume a code, or both deliver the token.
use std::fmt;

use aauth_wire::Thumbprint;
use aauth_wire::interaction_code::InteractionCode;
use async_trait::async_trait;

use crate::{StoreError, UnixTime};

/// The random part of a pending URL (≥128 bits, RM-11).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PendingId(String);

impl PendingId {
    /// A fresh identifier from the OS CSPRNG.
    pub fn generate() -> Result<Self, StoreError> {
        Ok(PendingId(crate::random_id()?))
    }

    /// Accepts an identifier taken from a URL path; anything that is not 22 base64url characters
    /// is refused before it reaches a store.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 22
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| PendingId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PendingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a credential (polls must be signed by the same key), but it is a capability to
        // observe a flow; keep only a prefix in logs.
        write!(f, "PendingId({}…)", self.0.get(..4).unwrap_or(""))
    }
}

/// What the person granted when approving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub person: Option<String>,
    pub scope: Option<String>,
}

/// Where a pending request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PendingState {
    /// Waiting for the person to open the interaction page.
    Pending,
    /// The person redeemed the code at the interaction page and is deciding.
    Interacting,
    /// The person approved; the next poll from the right agent gets `200`.
    Approved(Approval),
    /// The person (or the resource's policy after the interaction) refused.
    Denied,
    /// The code was redeemed but no decision came in time.
    Abandoned,
    /// The pending lifetime ended before a decision.
    Expired,
    /// Too many wrong codes were tried at the interaction page.
    CodeFailed,
    /// The agent withdrew the request (DELETE on the pending URL).
    Cancelled,
    /// A terminal answer has been delivered; every later request gets `410`.
    Done,
}

impl PendingState {
    /// `true` while the person can still act.
    pub fn is_open(&self) -> bool {
        matches!(self, PendingState::Pending | PendingState::Interacting)
    }

    pub fn name(&self) -> &'static str {
        match self {
            PendingState::Pending => "pending",
            PendingState::Interacting => "interacting",
            PendingState::Approved(_) => "approved",
            PendingState::Denied => "denied",
            PendingState::Abandoned => "abandoned",
            PendingState::Expired => "expired",
            PendingState::CodeFailed => "code_failed",
            PendingState::Cancelled => "cancelled",
            PendingState::Done => "done",
        }
    }
}

/// One pending request.
#[derive(Clone, Debug)]
pub struct PendingRecord {
    pub id: PendingId,
    /// The random path segment of this request's interaction URL. Keeping it apart from the
    /// pending id means the browser never learns the polling URL, and wrong codes can be counted
    /// against exactly one request (AMB-14).
    pub interaction_id: String,
    pub code: InteractionCode,
    /// Thumbprint of the key that signed the request that created this record; every poll must
    /// be signed by the same key (RM-12).
    pub key_thumbprint: Thumbprint,
    /// Agent identifier when the agent signed with an agent token.
    pub agent_id: Option<String>,
    /// What was asked, shown to the person (IC-11).
    pub method: String,
    pub path: String,
    pub scope: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub state: PendingState,
    pub failed_code_attempts: u32,
    /// When the person redeemed the code (entered `Interacting`); the interaction timeout that
    /// leads to `Abandoned` counts from here.
    pub interacting_since: Option<UnixTime>,
    /// Where to send the person's browser when the interaction ends (RM-22), as given with the
    /// code; `None` shows a completion page instead.
    pub callback: Option<String>,
    /// Seconds the agent was told to wait between polls.
    pub retry_after: u64,
    pub last_poll_at: Option<UnixTime>,
    /// SHA-256 of the anti-forgery nonce handed to the browser that redeemed the code; only a
    /// form carrying that nonce can approve or deny.
    pub decision_nonce_hash: Option<[u8; 32]>,
    /// Bumped by every successful [`PendingStore::compare_and_swap`].
    pub version: u64,
}

impl PendingRecord {
    /// Who the per-agent limit on open pending requests counts against: the agent identifier
    /// when the agent signed with an agent token (`jwt`), else the key thumbprint.
    pub fn owner(&self) -> PendingOwner {
        match &self.agent_id {
            Some(id) => PendingOwner(format!("agent:{id}")),
            None => PendingOwner(format!("jkt:{}", self.key_thumbprint.as_str())),
        }
    }

    /// Counted by [`PendingLimits::per_agent`]: open (the person can still act) and not yet
    /// past its lifetime.
    pub fn counts_as_open(&self, now: UnixTime) -> bool {
        self.state.is_open() && now < self.expires_at
    }
}

/// The key a per-agent limit counts against (see [`PendingRecord::owner`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PendingOwner(String);

impl PendingOwner {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Bounds [`PendingStore::insert_limited`] enforces; `None` = no bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingLimits {
    /// Open pending requests (state `Pending` or `Interacting`, lifetime not over) one agent
    /// (see [`PendingRecord::owner`]) may have at once.
    pub per_agent: Option<u32>,
    /// Records within their lifetime, in any state, across all agents: the bound on what the
    /// store holds (terminal records count too, so withdrawing and re-creating cannot get
    /// around it).
    pub total: Option<u64>,
}

/// What [`PendingStore::insert_limited`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InsertOutcome {
    /// The record is stored (version 0).
    Inserted,
    /// Not stored: the agent already has `per_agent` open pending requests. `until` is when the
    /// first of them reaches the end of its lifetime (a slot frees earlier when one ends).
    AgentLimit { until: UnixTime },
    /// Not stored: the store already holds `total` records within their lifetime. `until` is
    /// when the first of them reaches the end of its lifetime.
    TotalLimit { until: UnixTime },
}

/// Storage for pending requests.
#[async_trait]
pub trait PendingStore: Send + Sync + 'static {
    /// Stores a new record (version 0).
    async fn insert(&self, record: PendingRecord) -> Result<(), StoreError>;

    /// Stores a new record (version 0) unless that would exceed `limits` at time `now`; the
    /// check and the insert are one atomic step, also across instances sharing a backend, so
    /// concurrent requests cannot overshoot a limit. Existing records are never touched.
    ///
    /// Both built-in backends enforce the limits. The default implementation, for stores
    /// written before limits existed (e.g. wrappers), ignores them and calls
    /// [`insert`](Self::insert).
    async fn insert_limited(
        &self,
        record: PendingRecord,
        limits: PendingLimits,
        now: UnixTime,
    ) -> Result<InsertOutcome, StoreError> {
        let _ = (limits, now);
        self.insert(record).await.map(|()| InsertOutcome::Inserted)
    }

    async fn get(&self, id: &PendingId) -> Result<Option<PendingRecord>, StoreError>;

    async fn get_by_interaction(
        &self,
        interaction_id: &str,
    ) -> Result<Option<PendingRecord>, StoreError>;

    /// Replaces the stored record with `record` (version + 1) if the stored version still equals
    /// `record.version`; otherwise [`StoreError::Conflict`].
    async fn compare_and_swap(&self, record: PendingRecord) -> Result<PendingRecord, StoreError>;

    /// Resolves when the record's version differs from `seen_version` or `timeout` passes,
    /// whichever comes first; used for `Prefer: wait` long polls (POLL-06). Backends wake waiters
    /// on change rather than polling.
    async fn wait_for_change(
        &self,
        id: &PendingId,
        seen_version: u64,
        timeout: std::time::Duration,
    ) -> Result<(), StoreError>;
}

/// Reads the record, lets `decide` change it, and writes it back with compare-and-swap, retrying
/// a few times if another writer got there first. `decide` returns `None` to leave the record
/// unchanged. Returns the record as stored afterwards and the decision's value.
pub async fn update<T, F>(
    store: &dyn PendingStore,
    id: &PendingId,
    mut decide: F,
) -> Result<(PendingRecord, T), StoreError>
where
    F: FnMut(&mut PendingRecord) -> (bool, T) + Send,
    T: Send,
{
    for _ in 0..8 {
        let Some(mut record) = store.get(id).await? else {
            return Err(StoreError::NotFound);
        };
        let (changed, value) = decide(&mut record);
        if !changed {
            return Ok((record, value));
        }
        match store.compare_and_swap(record).await {
            Ok(stored) => return Ok((stored, value)),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
}
