//! The Redis backend against a real server: the shared behavioural suite (`suite/mod.rs`, also
//! run in memory by `tests/memory.rs`) plus what only this backend has (key layout, TTLs,
//! fallback wake-up, failing closed when Redis is down).
//!
//! The server comes from `AAUTH_REDIS_URL` (e.g. `redis://127.0.0.1:6379`). Without it each
//! test prints `SKIPPED: AAUTH_REDIS_URL not set` and passes, except under `CI=true`, where a
//! missing server is a failure. Every fixture uses its own random key prefix and deletes its
//! keys when dropped.
use std::sync::Arc;
use std::time::{Duration, Instant};

use aauth_store::redis::{RedisBackend, RedisConfig, redact_url};
use aauth_store::{
    AgentTokenId, PendingStore, RevocationStore, SessionTokenStore, StoreError, TokenHash,
};
use aauth_wire::Thumbprint;

#[macro_use]
mod suite;

fn redis_url() -> Option<String> {
    match std::env::var("AAUTH_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("AAUTH_REDIS_URL is not set, but the Redis tests must run in CI");
            }
            eprintln!("SKIPPED: AAUTH_REDIS_URL not set");
            None
        }
    }
}

fn unique_prefix() -> String {
    format!("aauth-test:{}:", aauth_store::random_id().unwrap())
}

/// Deletes every key under the prefix, synchronously, when the fixture is dropped (also after a
/// failed assertion); the keys have TTLs anyway.
struct Cleanup {
    url: String,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<usize> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

async fn backend(url: &str, prefix: &str, fallback: Duration) -> RedisBackend {
    RedisBackend::connect(
        RedisConfig::new(url)
            .prefix(prefix)
            .fallback_recheck(fallback),
    )
    .await
    .expect("AAUTH_REDIS_URL names a reachable Redis")
}

fn stores(b: &RedisBackend) -> suite::Stores {
    suite::Stores {
        sessions: Arc::new(b.session_store()),
        pending: Arc::new(b.pending_store()),
        revocations: Arc::new(b.revocation_store()),
        replay: Arc::new(b.replay_store()),
    }
}

/// Two backends (two connections, two change listeners) on one prefix: two instances. The
/// fallback re-check is longer than the suite's wake-up bound, so only pub/sub can wake a waiter
/// in time.
async fn redis() -> Option<suite::Fixture> {
    let url = redis_url()?;
    let prefix = unique_prefix();
    let a = backend(&url, &prefix, Duration::from_secs(120)).await;
    let b = backend(&url, &prefix, Duration::from_secs(120)).await;
    Some(suite::Fixture {
        a: stores(&a),
        b: stores(&b),
        guard: Some(Box::new(Cleanup { url, prefix })),
    })
}

store_suite!(redis());

#[tokio::test]
async fn sess_15_redis_keeps_only_token_hashes_and_every_key_has_a_ttl() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let b = backend(&url, &prefix, Duration::from_secs(2)).await;
    let t = suite::t0();
    let grant = aauth_store::SessionGrant::new(
        aauth_store::SessionBinding {
            key_thumbprint: Thumbprint::from_encoded("kt"),
            agent_id: Some("agent".into()),
        },
        t,
        t + 600,
    )
    .with_person(Some("alice".into()));
    let token = b.session_store().issue(grant).await.unwrap();
    b.pending_store().insert(suite::record(t)).await.unwrap();
    b.revocation_store()
        .record(&AgentTokenId::new("https://i.example", "j"), None, t + 600)
        .await
        .unwrap();

    let mut keys = b.keys_with_prefix().await.unwrap();
    keys.sort();
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let hex = TokenHash::of(&token).to_hex();
    assert!(
        keys.contains(&format!("{prefix}sess:{hex}")),
        "token stored under its SHA-256: {keys:?}"
    );
    for kind in [
        "sess-by-key:kt",
        "sess-by-person:alice",
        "sess-by-agent:agent",
    ] {
        assert!(
            keys.contains(&format!("{prefix}{kind}")),
            "{kind} in {keys:?}"
        );
    }
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{prefix}pending:")))
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{prefix}pending-by-interaction:")))
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{prefix}agent-token:")))
    );
    // The sets the pending-request limits count with: the key's open requests, all live ones.
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{prefix}pending-open:")))
    );
    assert!(keys.contains(&format!("{prefix}pending-live")), "{keys:?}");
    assert_eq!(keys.len(), 9, "{keys:?}");
    for key in &keys {
        assert!(!key.contains(token.expose()), "token text in a key name");
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            !dump
                .windows(token.expose().len())
                .any(|w| w == token.expose().as_bytes()),
            "token text stored in {key}"
        );
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0, "{key} has no TTL ({ttl})");
        assert!(ttl <= 600 + 3600, "{key} outlives its record ({ttl})");
    }
}

#[tokio::test]
async fn poll_06_fallback_recheck_catches_a_lost_notification() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let b = backend(&url, &prefix, Duration::from_millis(200)).await;
    let store = b.pending_store();
    let rec = suite::record(suite::t0());
    store.insert(rec.clone()).await.unwrap();
    let waiter = {
        let store = store.clone();
        let id = rec.id.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            store
                .wait_for_change(&id, 0, Duration::from_secs(60))
                .await
                .unwrap();
            start.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());
    // A change whose notification is lost: the version moves without a PUBLISH.
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(format!("{prefix}pending:{}", rec.id.as_str()))
        .arg("v")
        .arg("7")
        .query_async(&mut conn)
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("the bounded re-check must notice the change long before 60 s")
        .unwrap();
    assert!(waited < Duration::from_secs(30));
}

/// Notifications about other records keep arriving; they must not postpone the fallback
/// re-check that finds a change whose own notification was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_06_busy_traffic_does_not_starve_the_fallback_recheck() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let b = backend(&url, &prefix, Duration::from_millis(500)).await;
    let store = b.pending_store();
    let watched = suite::record(suite::t0());
    let busy = suite::record(suite::t0());
    store.insert(watched.clone()).await.unwrap();
    store.insert(busy.clone()).await.unwrap();
    let waiter = {
        let store = store.clone();
        let id = watched.id.clone();
        tokio::spawn(async move {
            store
                .wait_for_change(&id, 0, Duration::from_secs(60))
                .await
                .unwrap()
        })
    };
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(format!("{prefix}pending:{}", watched.id.as_str()))
        .arg("v")
        .arg("9")
        .query_async(&mut conn)
        .await
        .unwrap();
    // A change notification about the other record every 100 ms, for up to 30 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !waiter.is_finished() && Instant::now() < deadline {
        let mut r = store.get(&busy.id).await.unwrap().unwrap();
        r.last_poll_at = Some(suite::t0());
        store.compare_and_swap(r).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        waiter.is_finished(),
        "the waiter never re-checked its record while other records kept changing"
    );
}

#[tokio::test]
async fn a_corrupt_record_is_an_error_not_a_panic() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let b = backend(&url, &prefix, Duration::from_secs(2)).await;
    let rec = suite::record(suite::t0());
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(format!("{prefix}pending:{}", rec.id.as_str()))
        .arg("v")
        .arg("0")
        .arg("r")
        .arg("{not json")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        b.pending_store().get(&rec.id).await,
        Err(StoreError::Corrupt)
    ));
    let token = aauth_store::session::generate_token().unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(format!("{prefix}sess:{}", TokenHash::of(&token).to_hex()))
        .arg("exp")
        .arg("soon")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        b.session_store().lookup(&token, 0).await,
        Err(StoreError::Corrupt)
    ));
}

/// Redis down: every operation of every store fails closed with `Unavailable`, promptly, and
/// nothing panics (the resource turns this into a `503`). Needs no server.
#[tokio::test]
async fn redis_down_every_operation_fails_closed_with_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let b = RedisBackend::open(
        RedisConfig::new("redis://127.0.0.1:1")
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_millis(500)),
    )
    .await
    .expect("opening is lazy");
    assert!(matches!(b.ping().await, Err(StoreError::Unavailable(_))));
    let start = Instant::now();
    let t = suite::t0();
    let s = b.session_store();
    let p = b.pending_store();
    let r = b.revocation_store();
    let token = aauth_store::session::generate_token().unwrap();
    let rec = suite::record(t);
    let id = AgentTokenId::new("i", "j");
    let grant = aauth_store::SessionGrant::new(
        aauth_store::SessionBinding {
            key_thumbprint: Thumbprint::from_encoded("k"),
            agent_id: None,
        },
        t,
        t + 60,
    );
    let results: Vec<Result<(), StoreError>> = vec![
        s.issue(grant).await.map(drop),
        s.lookup(&token, t).await.map(drop),
        s.revoke(&token).await.map(drop),
        s.retire(&token, t, t + 1).await.map(drop),
        s.revoke_person("p").await.map(drop),
        s.revoke_key(&Thumbprint::from_encoded("k")).await.map(drop),
        s.revoke_agent("a").await.map(drop),
        p.insert(rec.clone()).await,
        p.get(&rec.id).await.map(drop),
        p.get_by_interaction(&rec.interaction_id).await.map(drop),
        p.compare_and_swap(rec.clone()).await.map(drop),
        p.wait_for_change(&rec.id, 0, Duration::from_secs(1)).await,
        r.record(&id, None, t + 60).await,
        r.revoke(&id, t).await.map(drop),
        r.is_revoked(&id).await.map(drop),
    ];
    for (i, res) in results.into_iter().enumerate() {
        match res {
            Err(StoreError::Unavailable(msg)) => {
                assert!(
                    !msg.contains("127.0.0.1:1"),
                    "no address in the error: {msg}"
                );
            }
            other => panic!("operation {i}: expected Unavailable, got {other:?}"),
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "fail fast, not hang: {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_bad_url_is_a_config_error_without_the_secret() {
    let err = RedisBackend::open(RedisConfig::new("nonsense://user:hunter2@host"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidConfig(_)));
    assert!(!err.to_string().contains("hunter2"));
    let cfg = RedisConfig::new("redis://user:hunter2@db.internal:6380/2");
    assert_eq!(cfg.redacted_url(), "redis://user:***@db.internal:6380/2");
    assert!(!format!("{cfg:?}").contains("hunter2"));
    assert_eq!(redact_url("redis://:pw@h"), "redis://:***@h");
    assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
}
