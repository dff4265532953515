//! The Redis backend (feature `redis`): every store trait on one shared Redis, so several
//! resource instances see the same pending requests, codes, sessions and revocations.
//!
//! One [`RedisBackend`] holds a multiplexed, self-reconnecting connection (`ConnectionManager`)
//! and hands out the three stores. Everything that must be atomic is one Lua script or one
//! `MULTI`/`EXEC` pipeline; every key has a TTL; session tokens exist only as SHA-256 hashes;
//! every key starts with a configurable prefix. The key layout, the TTLs and the behaviour when
//! Redis is down are described in `docs/operations.md`.
//!
//! Times: the stores' logical checks use the `now` the caller passes (as the in-memory backend
//! does); key TTLs are relative (`EXPIRE`, seconds from the application's clock), so a clock
//! difference between the application and Redis does not shorten or lengthen them.
//!
//! Redis Cluster is not supported: the scripts touch index keys that live in other slots.
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands as _, Client, RedisError, Script};
use aauth_wire::Thumbprint;
use aauth_wire::access::SessionToken;
use aauth_wire::interaction_code::InteractionCode;
use async_trait::async_trait;
use futures_util::StreamExt as _;
use ring::digest;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::pending::{
    Approval, InsertOutcome, PendingId, PendingLimits, PendingOwner, PendingRecord, PendingState,
    PendingStore,
};
use crate::replay::ReplayStore;
use crate::revocation::{AgentTokenId, RevocationStore, RevokeOutcome};
use crate::session::{SessionBinding, SessionGrant, SessionTokenStore, TokenHash, generate_token};
use crate::{StoreError, UnixTime};

/// The key prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "aauth:";

/// The longest TTL any key gets (10 years); a grant "valid forever" is still collected.
const MAX_TTL: u64 = 10 * 365 * 24 * 3600;

/// Settings of a [`RedisBackend`].
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    url: String,
    /// Every key and the change channel start with this.
    pub prefix: String,
    /// How long one Redis command may take before the store reports
    /// [`StoreError::Unavailable`] (the resource then answers `503`).
    pub response_timeout: Duration,
    /// How long connecting may take.
    pub connection_timeout: Duration,
    /// How long a pending record is kept after its `expires_at`, so a late poll still gets its
    /// `408`/`410` (the in-memory backend keeps them as long).
    pub pending_linger: Duration,
    /// The bounded fallback of [`PendingStore::wait_for_change`]: a waiter re-reads the record
    /// this often even without a change notification, so a lost pub/sub message only delays.
    pub fallback_recheck: Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: show only its redacted form.
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .field("response_timeout", &self.response_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .field("pending_linger", &self.pending_linger)
            .field("fallback_recheck", &self.fallback_recheck)
            .finish()
    }
}

impl RedisConfig {
    /// Settings for the server at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `rediss://` if the `redis` crate was built with TLS) with the default prefix and limits.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            response_timeout: Duration::from_secs(2),
            connection_timeout: Duration::from_secs(2),
            pending_linger: Duration::from_secs(3600),
            fallback_recheck: Duration::from_secs(2),
        }
    }

    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    pub fn pending_linger(mut self, linger: Duration) -> Self {
        self.pending_linger = linger;
        self
    }

    pub fn fallback_recheck(mut self, every: Duration) -> Self {
        self.fallback_recheck = every.max(Duration::from_millis(10));
        self
    }

    /// The URL without its password, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// `redis://user:secret@host/0` → `redis://user:***@host/0`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable redis URL>".to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

fn unavailable(e: RedisError) -> StoreError {
    // The kind only: a server error's text could echo stored values.
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_refusal() || e.is_connection_dropped() || e.is_io_error() {
        "connection failed".to_owned()
    } else {
        format!("{:?}", e.kind())
    };
    StoreError::Unavailable(format!("redis: {what}"))
}

fn real_now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `now + d`, or about 30 years from now when that overflows (tokio's `Instant + Duration`
/// panics on overflow; any wait that long is "until something else happens").
fn instant_after(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 24 * 3600))
}

/// Seconds from now until `at`, at least 1 (a key must not be created already expired) and at
/// most [`MAX_TTL`].
fn ttl_until(at: UnixTime) -> u64 {
    at.saturating_sub(real_now()).clamp(1, MAX_TTL)
}

fn sha256_hex(bytes: &[u8]) -> String {
    digest::digest(&digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Key names; one place, so `docs/operations.md` can list them.
#[derive(Clone, Debug)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn session(&self, hash_hex: &str) -> String {
        format!("{}sess:{hash_hex}", self.prefix)
    }
    fn session_prefix(&self) -> String {
        format!("{}sess:", self.prefix)
    }
    fn by_person(&self, person: &str) -> String {
        format!("{}sess-by-person:{person}", self.prefix)
    }
    fn by_key(&self, jkt: &str) -> String {
        format!("{}sess-by-key:{jkt}", self.prefix)
    }
    fn by_agent(&self, agent: &str) -> String {
        format!("{}sess-by-agent:{agent}", self.prefix)
    }
    fn pending(&self, id: &str) -> String {
        format!("{}pending:{id}", self.prefix)
    }
    fn interaction(&self, interaction_id: &str) -> String {
        format!("{}pending-by-interaction:{interaction_id}", self.prefix)
    }
    fn pending_open(&self, owner: &PendingOwner) -> String {
        // Hashed: an agent identifier comes from a token and may be long or odd.
        format!(
            "{}pending-open:{}",
            self.prefix,
            sha256_hex(owner.as_str().as_bytes())
        )
    }
    fn pending_live(&self) -> String {
        format!("{}pending-live", self.prefix)
    }
    fn changes(&self) -> String {
        format!("{}pending-changed", self.prefix)
    }
    fn replay(&self, digest: &[u8; 32]) -> String {
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}replay:{hex}", self.prefix)
    }
    fn agent_token(&self, id: &AgentTokenId) -> String {
        // Hashed: `iss` and `jti` come from a token and may be long or odd.
        format!(
            "{}agent-token:{}",
            self.prefix,
            sha256_hex(id.storage_key().as_bytes())
        )
    }
}

/// Aborts the change listener when the last handle to it goes away.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Shared {
    client: Client,
    conn: ConnectionManager,
    keys: Keys,
    config: RedisConfig,
    changes: broadcast::Sender<Arc<str>>,
    listener: std::sync::Mutex<Option<AbortOnDrop>>,
    /// The runtime the backend was opened in; the change listener runs there, so handing out
    /// a store outside a runtime context cannot panic.
    runtime: tokio::runtime::Handle,
}

/// A connection to one Redis server and the stores on it. Cheap to clone.
#[derive(Clone)]
pub struct RedisBackend {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("config", &self.shared.config)
            .finish()
    }
}

impl RedisBackend {
    /// Prepares the connection without contacting the server: an unreachable Redis makes the
    /// stores fail (closed) per call, not this constructor. Call [`ping`](Self::ping) to check
    /// at start-up. Must run inside a Tokio runtime ([`StoreError::InvalidConfig`] otherwise);
    /// the change listener of the pending store runs on that runtime.
    pub async fn open(config: RedisConfig) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::InvalidConfig(
                "the Redis backend must be opened inside a Tokio runtime".into(),
            )
        })?;
        let client = Client::open(config.url.as_str())
            .map_err(|_| StoreError::InvalidConfig("not a usable redis:// URL".into()))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(config.response_timeout))
            .set_connection_timeout(Some(config.connection_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(unavailable)?;
        let (changes, _) = broadcast::channel(1024);
        Ok(RedisBackend {
            shared: Arc::new(Shared {
                client,
                conn,
                keys: Keys {
                    prefix: config.prefix.clone(),
                },
                config,
                changes,
                listener: std::sync::Mutex::new(None),
                runtime,
            }),
        })
    }

    /// Connects and opens in one step, failing when the server does not answer `PING`.
    pub async fn connect(config: RedisConfig) -> Result<Self, StoreError> {
        let backend = Self::open(config).await?;
        backend.ping().await?;
        Ok(backend)
    }

    /// `PING`s the server.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.shared.conn.clone();
        let _: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub fn config(&self) -> &RedisConfig {
        &self.shared.config
    }

    pub fn session_store(&self) -> RedisSessionStore {
        RedisSessionStore {
            backend: self.clone(),
        }
    }

    pub fn pending_store(&self) -> RedisPendingStore {
        self.ensure_listener();
        RedisPendingStore {
            backend: self.clone(),
        }
    }

    pub fn revocation_store(&self) -> RedisRevocationStore {
        RedisRevocationStore {
            backend: self.clone(),
        }
    }

    pub fn replay_store(&self) -> RedisReplayStore {
        RedisReplayStore {
            backend: self.clone(),
        }
    }

    /// Deletes every key under this backend's prefix (tests and resets); returns how many.
    pub async fn delete_all(&self) -> Result<usize, StoreError> {
        let keys = self.keys_with_prefix().await?;
        let mut conn = self.conn();
        let mut n = 0;
        for chunk in keys.chunks(256) {
            let deleted: usize = conn.del(chunk).await.map_err(unavailable)?;
            n += deleted;
        }
        Ok(n)
    }

    /// Every key under this backend's prefix, with `SCAN` (for tests and inspection).
    pub async fn keys_with_prefix(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let pattern = format!("{}*", glob_escape(&self.shared.keys.prefix));
        let mut cursor: u64 = 0;
        let mut out = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            out.extend(batch);
            if next == 0 {
                return Ok(out);
            }
            cursor = next;
        }
    }

    fn conn(&self) -> ConnectionManager {
        self.shared.conn.clone()
    }

    fn keys(&self) -> &Keys {
        &self.shared.keys
    }

    /// Starts the one pub/sub listener of this backend (idempotent). It forwards every change
    /// notification to the local waiters and, after a lost connection, wakes them all once so
    /// they re-read their record.
    fn ensure_listener(&self) {
        let Ok(mut slot) = self.shared.listener.lock() else {
            return;
        };
        if slot.is_some() {
            return;
        }
        let client = self.shared.client.clone();
        let channel = self.keys().changes();
        let tx = self.shared.changes.clone();
        let timeout = self.shared.config.connection_timeout;
        let handle = self.shared.runtime.spawn(async move {
            loop {
                if let Ok(Ok(mut pubsub)) =
                    tokio::time::timeout(timeout, client.get_async_pubsub()).await
                    && pubsub.subscribe(&channel).await.is_ok()
                {
                    tracing::debug!("aauth-store: listening for pending-request changes");
                    // Anything may have changed while we were not subscribed.
                    let _ = tx.send(Arc::from(""));
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        if let Ok(id) = std::str::from_utf8(msg.get_payload_bytes()) {
                            let _ = tx.send(Arc::from(id));
                        }
                    }
                    tracing::warn!("aauth-store: redis change notifications lost; reconnecting");
                }
                let _ = tx.send(Arc::from(""));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        *slot = Some(AbortOnDrop(handle));
    }
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Session tokens

/// `KEYS[1]` token key, `KEYS[2..]` index sets; `ARGV[1]` TTL, `ARGV[2]` hash (hex),
/// `ARGV[3..]` field/value pairs. Each index set's TTL is extended to the newest member's.
const ISSUE: &str = r"
local ttl = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ttl)
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[2])
  if redis.call('TTL', KEYS[i]) < ttl then redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1
";
static ISSUE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ISSUE));

/// `KEYS[1]` token key; `ARGV[1]` now, `ARGV[2]` not_after, `ARGV[3]` TTL until not_after.
/// Returns the fields as they were, or nil when there is nothing to retire.
const RETIRE: &str = r"
local before = redis.call('HGETALL', KEYS[1])
if #before == 0 then return false end
local exp = redis.call('HGET', KEYS[1], 'exp')
if redis.call('HGET', KEYS[1], 'retired') == '1' or tonumber(exp) <= tonumber(ARGV[1]) then
  return false
end
if tonumber(ARGV[2]) < tonumber(exp) then
  redis.call('HSET', KEYS[1], 'retired', '1', 'exp', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
else
  redis.call('HSET', KEYS[1], 'retired', '1')
end
return before
";
static RETIRE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RETIRE));

/// `KEYS[1]` index set; `ARGV[1]` token-key prefix. Deletes every listed token and the set.
const REVOKE_INDEXED: &str = r"
local n = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. h)
end
redis.call('DEL', KEYS[1])
return n
";
static REVOKE_INDEXED_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(REVOKE_INDEXED));

/// Session tokens on Redis: one hash per token hash, with person / key / agent index sets.
#[derive(Clone, Debug)]
pub struct RedisSessionStore {
    backend: RedisBackend,
}

fn grant_fields(grant: &SessionGrant) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("jkt", grant.binding.key_thumbprint.as_str().to_owned()),
        ("iat", grant.issued_at.to_string()),
        ("exp", grant.expires_at.to_string()),
        ("retired", if grant.retired { "1" } else { "0" }.to_owned()),
    ];
    if let Some(a) = &grant.binding.agent_id {
        f.push(("agent", a.clone()));
    }
    if let Some(p) = &grant.person {
        f.push(("person", p.clone()));
    }
    if let Some(s) = &grant.scope {
        f.push(("scope", s.clone()));
    }
    f
}

fn grant_from_fields(mut f: HashMap<String, String>) -> Result<SessionGrant, StoreError> {
    let num = |v: Option<String>| -> Result<u64, StoreError> {
        v.and_then(|s| s.parse().ok()).ok_or(StoreError::Corrupt)
    };
    let jkt = f.remove("jkt").ok_or(StoreError::Corrupt)?;
    let issued_at = num(f.remove("iat"))?;
    let expires_at = num(f.remove("exp"))?;
    let mut grant = SessionGrant::new(
        SessionBinding {
            key_thumbprint: Thumbprint::from_encoded(jkt),
            agent_id: f.remove("agent"),
        },
        issued_at,
        expires_at,
    )
    .with_person(f.remove("person"))
    .with_scope(f.remove("scope"));
    grant.retired = f.get("retired").is_some_and(|r| r == "1");
    Ok(grant)
}

fn pairs(flat: Vec<String>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.insert(k, v);
    }
    out
}

impl RedisSessionStore {
    async fn revoke_index(&self, index_key: String) -> Result<usize, StoreError> {
        let mut conn = self.backend.conn();
        REVOKE_INDEXED_SCRIPT
            .key(index_key)
            .arg(self.backend.keys().session_prefix())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl SessionTokenStore for RedisSessionStore {
    async fn issue(&self, grant: SessionGrant) -> Result<SessionToken, StoreError> {
        let token = generate_token()?;
        let hex = TokenHash::of(&token).to_hex();
        let keys = self.backend.keys();
        let mut script = ISSUE_SCRIPT.prepare_invoke();
        script.key(keys.session(&hex));
        script.key(keys.by_key(grant.binding.key_thumbprint.as_str()));
        if let Some(p) = &grant.person {
            script.key(keys.by_person(p));
        }
        if let Some(a) = &grant.binding.agent_id {
            script.key(keys.by_agent(a));
        }
        script.arg(ttl_until(grant.expires_at)).arg(&hex);
        for (k, v) in grant_fields(&grant) {
            script.arg(k).arg(v);
        }
        let mut conn = self.backend.conn();
        let _: i64 = script.invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(token)
    }

    async fn lookup(
        &self,
        token: &SessionToken,
        now: UnixTime,
    ) -> Result<Option<SessionGrant>, StoreError> {
        // Keyed by the hash: the lookup never compares token text.
        let key = self.backend.keys().session(&TokenHash::of(token).to_hex());
        let mut conn = self.backend.conn();
        let fields: HashMap<String, String> = conn.hgetall(key).await.map_err(unavailable)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let grant = grant_from_fields(fields)?;
        Ok((grant.expires_at > now).then_some(grant))
    }

    async fn revoke(&self, token: &SessionToken) -> Result<bool, StoreError> {
        // Index entries are left behind; they name a hash that no longer resolves, and expire.
        let key = self.backend.keys().session(&TokenHash::of(token).to_hex());
        let mut conn = self.backend.conn();
        let n: usize = conn.del(key).await.map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn retire(
        &self,
        token: &SessionToken,
        now: UnixTime,
        not_after: UnixTime,
    ) -> Result<Option<SessionGrant>, StoreError> {
        let key = self.backend.keys().session(&TokenHash::of(token).to_hex());
        let mut conn = self.backend.conn();
        let before: Option<Vec<String>> = RETIRE_SCRIPT
            .key(key)
            .arg(now)
            .arg(not_after)
            .arg(ttl_until(not_after))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match before {
            Some(flat) if !flat.is_empty() => Ok(Some(grant_from_fields(pairs(flat))?)),
            _ => Ok(None),
        }
    }

    async fn revoke_person(&self, person: &str) -> Result<usize, StoreError> {
        self.revoke_index(self.backend.keys().by_person(person))
            .await
    }

    async fn revoke_key(&self, key_thumbprint: &Thumbprint) -> Result<usize, StoreError> {
        self.revoke_index(self.backend.keys().by_key(key_thumbprint.as_str()))
            .await
    }

    async fn revoke_agent(&self, agent_id: &str) -> Result<usize, StoreError> {
        self.revoke_index(self.backend.keys().by_agent(agent_id))
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// Agent-token revocation

/// `KEYS[1]`; `ARGV[1]` exp, `ARGV[2]` TTL, `ARGV[3]` '1' when `ARGV[4]` is the agent id.
/// A known pair only has its expiry extended; its revocation and agent id stay.
const RECORD: &str = r"
local cur = redis.call('HGET', KEYS[1], 'exp')
if cur then
  if tonumber(ARGV[1]) > tonumber(cur) then
    redis.call('HSET', KEYS[1], 'exp', ARGV[1])
    redis.call('EXPIRE', KEYS[1], ARGV[2])
  end
  return 0
end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'exp', ARGV[1], 'revoked', '0', 'agent', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'exp', ARGV[1], 'revoked', '0')
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
";
static RECORD_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RECORD));

/// `KEYS[1]`; `ARGV[1]` now. `{'unknown'}`, `{'invalid'}` or `{'revoked'[, agent]}`.
const REVOKE_AGENT_TOKEN: &str = r"
local exp = redis.call('HGET', KEYS[1], 'exp')
if not exp then return {'unknown'} end
if redis.call('HGET', KEYS[1], 'revoked') == '1' or tonumber(exp) <= tonumber(ARGV[1]) then
  return {'invalid'}
end
redis.call('HSET', KEYS[1], 'revoked', '1')
local agent = redis.call('HGET', KEYS[1], 'agent')
if agent then return {'revoked', agent} end
return {'revoked'}
";
static REVOKE_AGENT_TOKEN_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(REVOKE_AGENT_TOKEN));

/// Accepted agent tokens and their revocation on Redis: one hash per `(iss, jti)`.
#[derive(Clone, Debug)]
pub struct RedisRevocationStore {
    backend: RedisBackend,
}

#[async_trait]
impl RevocationStore for RedisRevocationStore {
    async fn record(
        &self,
        id: &AgentTokenId,
        agent_id: Option<&str>,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.backend.conn();
        let _: i64 = RECORD_SCRIPT
            .key(self.backend.keys().agent_token(id))
            .arg(expires_at)
            .arg(ttl_until(expires_at))
            .arg(if agent_id.is_some() { "1" } else { "0" })
            .arg(agent_id.unwrap_or(""))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn revoke(&self, id: &AgentTokenId, now: UnixTime) -> Result<RevokeOutcome, StoreError> {
        let mut conn = self.backend.conn();
        let reply: Vec<String> = REVOKE_AGENT_TOKEN_SCRIPT
            .key(self.backend.keys().agent_token(id))
            .arg(now)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut reply = reply.into_iter();
        match reply.next().as_deref() {
            Some("unknown") => Ok(RevokeOutcome::Unknown),
            Some("invalid") => Ok(RevokeOutcome::AlreadyInvalid),
            Some("revoked") => Ok(RevokeOutcome::Revoked {
                agent_id: reply.next(),
            }),
            _ => Err(StoreError::Corrupt),
        }
    }

    async fn is_revoked(&self, id: &AgentTokenId) -> Result<bool, StoreError> {
        let mut conn = self.backend.conn();
        let revoked: Option<String> = conn
            .hget(self.backend.keys().agent_token(id), "revoked")
            .await
            .map_err(unavailable)?;
        Ok(revoked.as_deref() == Some("1"))
    }
}

// ---------------------------------------------------------------------------------------------
// Replay cache

/// Seen signatures on Redis: one key per signature digest, `SET NX` with a TTL until the
/// signature leaves its window, so the first writer wins on every instance.
#[derive(Clone, Debug)]
pub struct RedisReplayStore {
    backend: RedisBackend,
}

#[async_trait]
impl ReplayStore for RedisReplayStore {
    async fn check_and_record(
        &self,
        key: &[u8; 32],
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut conn = self.backend.conn();
        let ttl = expires_at.saturating_sub(now).clamp(1, MAX_TTL);
        let set: Option<String> = ::redis::cmd("SET")
            .arg(self.backend.keys().replay(key))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }
}

// ---------------------------------------------------------------------------------------------
// Pending requests

/// `KEYS[1]` record, `KEYS[2]` interaction index, `KEYS[3]` the owner's open set, `KEYS[4]`
/// the live set; `ARGV[1]` record, `ARGV[2]` TTL, `ARGV[3]` pending id, `ARGV[4]` expires_at,
/// `ARGV[5]` 1 when the record is open, `ARGV[6]` now (empty: no limit check), `ARGV[7]`
/// per-agent limit, `ARGV[8]` total limit (0 = none).
/// `{0}` = stored; `{1, until}` / `{2, until}` = refused by the per-agent / total limit.
const INSERT: &str = r"
if ARGV[6] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[6])
  local per = tonumber(ARGV[7])
  if per > 0 and redis.call('ZCARD', KEYS[3]) >= per then
    local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    return {1, tonumber(first[2])}
  end
  local total = tonumber(ARGV[8])
  if total > 0 and redis.call('ZCARD', KEYS[4]) >= total then
    local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    return {2, tonumber(first[2])}
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', '0', 'r', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
local ttl = tonumber(ARGV[2])
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
  if redis.call('TTL', KEYS[3]) < ttl then redis.call('EXPIRE', KEYS[3], ttl) end
end
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
if redis.call('TTL', KEYS[4]) < ttl then redis.call('EXPIRE', KEYS[4], ttl) end
return {0}
";
static INSERT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(INSERT));

/// `KEYS[1]` record, `KEYS[2]` interaction index, `KEYS[3]` the owner's open set; `ARGV[1]`
/// expected version, `ARGV[2]` new version, `ARGV[3]` record, `ARGV[4]` TTL, `ARGV[5]` channel,
/// `ARGV[6]` pending id, `ARGV[7]` 1 when the record has left the open states.
/// 1 = stored, 0 = no such record, -1 = version moved on.
const COMPARE_AND_SWAP: &str = r"
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 0 end
if v ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'r', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[6], 'EX', ARGV[4])
if ARGV[7] == '1' then redis.call('ZREM', KEYS[3], ARGV[6]) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
";
static COMPARE_AND_SWAP_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(COMPARE_AND_SWAP));

/// The stored form of a [`PendingRecord`] (JSON); the version lives beside it in field `v`.
#[derive(Serialize, Deserialize)]
struct StoredPending {
    id: String,
    interaction_id: String,
    code: String,
    jkt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    method: String,
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    created_at: u64,
    expires_at: u64,
    state: StoredState,
    failed_code_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interacting_since: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    callback: Option<String>,
    retry_after: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_poll_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce_hash: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "s", rename_all = "snake_case")]
enum StoredState {
    Pending,
    Interacting,
    Approved {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        person: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
    Denied,
    Abandoned,
    Expired,
    CodeFailed,
    Cancelled,
    Done,
}

fn hex32(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn encode_pending(r: &PendingRecord) -> Result<String, StoreError> {
    let state = match &r.state {
        PendingState::Pending => StoredState::Pending,
        PendingState::Interacting => StoredState::Interacting,
        PendingState::Approved(a) => StoredState::Approved {
            person: a.person.clone(),
            scope: a.scope.clone(),
        },
        PendingState::Denied => StoredState::Denied,
        PendingState::Abandoned => StoredState::Abandoned,
        PendingState::Expired => StoredState::Expired,
        PendingState::CodeFailed => StoredState::CodeFailed,
        PendingState::Cancelled => StoredState::Cancelled,
        PendingState::Done => StoredState::Done,
    };
    let stored = StoredPending {
        id: r.id.as_str().to_owned(),
        interaction_id: r.interaction_id.clone(),
        code: r.code.as_str().to_owned(),
        jkt: r.key_thumbprint.as_str().to_owned(),
        agent_id: r.agent_id.clone(),
        method: r.method.clone(),
        path: r.path.clone(),
        scope: r.scope.clone(),
        created_at: r.created_at,
        expires_at: r.expires_at,
        state,
        failed_code_attempts: r.failed_code_attempts,
        interacting_since: r.interacting_since,
        callback: r.callback.clone(),
        retry_after: r.retry_after,
        last_poll_at: r.last_poll_at,
        nonce_hash: r.decision_nonce_hash.as_ref().map(hex32),
    };
    serde_json::to_string(&stored).map_err(|_| StoreError::Corrupt)
}

fn decode_pending(json: &str, version: u64) -> Result<PendingRecord, StoreError> {
    let s: StoredPending = serde_json::from_str(json).map_err(|_| StoreError::Corrupt)?;
    let state = match s.state {
        StoredState::Pending => PendingState::Pending,
        StoredState::Interacting => PendingState::Interacting,
        StoredState::Approved { person, scope } => {
            PendingState::Approved(Approval { person, scope })
        }
        StoredState::Denied => PendingState::Denied,
        StoredState::Abandoned => PendingState::Abandoned,
        StoredState::Expired => PendingState::Expired,
        StoredState::CodeFailed => PendingState::CodeFailed,
        StoredState::Cancelled => PendingState::Cancelled,
        StoredState::Done => PendingState::Done,
    };
    let decision_nonce_hash = match s.nonce_hash {
        Some(h) => Some(unhex32(&h).ok_or(StoreError::Corrupt)?),
        None => None,
    };
    Ok(PendingRecord {
        id: PendingId::parse(&s.id).ok_or(StoreError::Corrupt)?,
        interaction_id: s.interaction_id,
        code: InteractionCode::parse_canonical(&s.code).map_err(|_| StoreError::Corrupt)?,
        key_thumbprint: Thumbprint::from_encoded(s.jkt),
        agent_id: s.agent_id,
        method: s.method,
        path: s.path,
        scope: s.scope,
        created_at: s.created_at,
        expires_at: s.expires_at,
        state,
        failed_code_attempts: s.failed_code_attempts,
        interacting_since: s.interacting_since,
        callback: s.callback,
        retry_after: s.retry_after,
        last_poll_at: s.last_poll_at,
        decision_nonce_hash,
        version,
    })
}

/// Pending requests on Redis: one hash per record (`v` version, `r` record), an interaction-id
/// index, and a pub/sub channel that wakes long polls on every instance.
#[derive(Clone, Debug)]
pub struct RedisPendingStore {
    backend: RedisBackend,
}

impl RedisPendingStore {
    fn ttl(&self, record: &PendingRecord) -> u64 {
        let linger = self.backend.shared.config.pending_linger.as_secs();
        ttl_until(record.expires_at.saturating_add(linger))
    }

    async fn version(&self, id: &PendingId) -> Result<Option<u64>, StoreError> {
        let mut conn = self.backend.conn();
        let v: Option<String> = conn
            .hget(self.backend.keys().pending(id.as_str()), "v")
            .await
            .map_err(unavailable)?;
        match v {
            Some(v) => v.parse().map(Some).map_err(|_| StoreError::Corrupt),
            None => Ok(None),
        }
    }
}

impl RedisPendingStore {
    /// One script: the limit check (when asked), the record, its interaction index and the two
    /// counting sets (docs/operations.md).
    async fn insert_checked(
        &self,
        mut record: PendingRecord,
        check: Option<(PendingLimits, UnixTime)>,
    ) -> Result<InsertOutcome, StoreError> {
        record.version = 0;
        let keys = self.backend.keys();
        let ttl = self.ttl(&record);
        let (now, per_agent, total) = match check {
            Some((l, now)) => (
                now.to_string(),
                l.per_agent.map_or(0, u64::from),
                l.total.unwrap_or(0),
            ),
            None => (String::new(), 0, 0),
        };
        let mut conn = self.backend.conn();
        let outcome: Vec<u64> = INSERT_SCRIPT
            .key(keys.pending(record.id.as_str()))
            .key(keys.interaction(&record.interaction_id))
            .key(keys.pending_open(&record.owner()))
            .key(keys.pending_live())
            .arg(encode_pending(&record)?)
            .arg(ttl)
            .arg(record.id.as_str())
            .arg(record.expires_at)
            .arg(u8::from(record.state.is_open()))
            .arg(now)
            .arg(per_agent)
            .arg(total)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match outcome.as_slice() {
            [0] => Ok(InsertOutcome::Inserted),
            [1, until] => Ok(InsertOutcome::AgentLimit { until: *until }),
            [2, until] => Ok(InsertOutcome::TotalLimit { until: *until }),
            _ => Err(StoreError::Corrupt),
        }
    }
}

#[async_trait]
impl PendingStore for RedisPendingStore {
    async fn insert(&self, record: PendingRecord) -> Result<(), StoreError> {
        self.insert_checked(record, None).await.map(|_| ())
    }

    async fn insert_limited(
        &self,
        record: PendingRecord,
        limits: PendingLimits,
        now: UnixTime,
    ) -> Result<InsertOutcome, StoreError> {
        self.insert_checked(record, Some((limits, now))).await
    }

    async fn get(&self, id: &PendingId) -> Result<Option<PendingRecord>, StoreError> {
        let mut conn = self.backend.conn();
        let (v, r): (Option<String>, Option<String>) = ::redis::cmd("HMGET")
            .arg(self.backend.keys().pending(id.as_str()))
            .arg("v")
            .arg("r")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match (v, r) {
            (Some(v), Some(r)) => {
                let version = v.parse().map_err(|_| StoreError::Corrupt)?;
                Ok(Some(decode_pending(&r, version)?))
            }
            _ => Ok(None),
        }
    }

    async fn get_by_interaction(
        &self,
        interaction_id: &str,
    ) -> Result<Option<PendingRecord>, StoreError> {
        let mut conn = self.backend.conn();
        let id: Option<String> = conn
            .get(self.backend.keys().interaction(interaction_id))
            .await
            .map_err(unavailable)?;
        match id.as_deref().and_then(PendingId::parse) {
            Some(id) => self.get(&id).await,
            None => Ok(None),
        }
    }

    async fn compare_and_swap(
        &self,
        mut record: PendingRecord,
    ) -> Result<PendingRecord, StoreError> {
        let expected = record.version;
        record.version = expected.checked_add(1).ok_or(StoreError::Conflict)?;
        let keys = self.backend.keys();
        let mut conn = self.backend.conn();
        let outcome: i64 = COMPARE_AND_SWAP_SCRIPT
            .key(keys.pending(record.id.as_str()))
            .key(keys.interaction(&record.interaction_id))
            .key(keys.pending_open(&record.owner()))
            .arg(expected)
            .arg(record.version)
            .arg(encode_pending(&record)?)
            .arg(self.ttl(&record))
            .arg(keys.changes())
            .arg(record.id.as_str())
            .arg(u8::from(!record.state.is_open()))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match outcome {
            1 => Ok(record),
            0 => Err(StoreError::NotFound),
            _ => Err(StoreError::Conflict),
        }
    }

    async fn wait_for_change(
        &self,
        id: &PendingId,
        seen_version: u64,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        // Subscribe before reading, so a change between the read and the wait is not lost.
        let mut changes = self.backend.shared.changes.subscribe();
        match self.version(id).await? {
            None => return Err(StoreError::NotFound),
            Some(v) if v != seen_version => return Ok(()),
            Some(_) => {}
        }
        let deadline = instant_after(timeout);
        let every = self.backend.shared.config.fallback_recheck;
        // The fallback clock is not reset by notifications about other records, so busy
        // traffic cannot starve the re-check.
        let mut fallback_at = instant_after(every);
        loop {
            if tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
            let wake_at = deadline.min(fallback_at);
            let recheck = tokio::select! {
                msg = changes.recv() => match msg {
                    Ok(changed) => changed.is_empty() || &*changed == id.as_str(),
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => {
                        tokio::time::sleep_until(wake_at).await;
                        fallback_at = instant_after(every);
                        true
                    }
                },
                _ = tokio::time::sleep_until(wake_at) => {
                    fallback_at = instant_after(every);
                    true
                }
            };
            if recheck && self.version(id).await? != Some(seen_version) {
                return Ok(());
            }
        }
    }
}
