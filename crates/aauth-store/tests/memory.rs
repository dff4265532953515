//! The in-memory stores: the shared behavioural suite (`suite/mod.rs`, also run against Redis
//! by `tests/redis.rs`) plus what only this backend has (capacity bound, paused-clock waits).
use std::sync::Arc;
use std::time::Duration;

use aauth_store::memory::{MemoryPendingStore, MemoryRevocationStore, MemorySessionStore};
use aauth_store::{
    PendingId, PendingRecord, PendingState, PendingStore, SessionBinding, SessionGrant,
    SessionTokenStore, StoreError, TokenHash,
};
use aauth_wire::Thumbprint;
use aauth_wire::interaction_code::InteractionCode;

#[macro_use]
mod suite;

/// Both "instances" are the same in-memory stores: one process.
async fn memory() -> Option<suite::Fixture> {
    let stores = suite::Stores {
        sessions: Arc::new(MemorySessionStore::new()),
        pending: Arc::new(MemoryPendingStore::new()),
        revocations: Arc::new(MemoryRevocationStore::new()),
        replay: Arc::new(aauth_store::MemoryReplayStore::new()),
    };
    Some(suite::Fixture {
        a: stores.clone(),
        b: stores,
        guard: None,
    })
}

store_suite!(memory());

fn grant(jkt: &str, expires_at: u64) -> SessionGrant {
    SessionGrant::new(
        SessionBinding {
            key_thumbprint: Thumbprint::from_encoded(jkt),
            agent_id: None,
        },
        100,
        expires_at,
    )
    .with_person(Some("alice".into()))
}

#[tokio::test]
async fn sess_15_tokens_are_random_and_stored_only_as_hashes() {
    let store = MemorySessionStore::new();
    let a = store.issue(grant("k1", 1000)).await.unwrap();
    let b = store.issue(grant("k1", 1000)).await.unwrap();
    assert_ne!(a, b, "two issues must give two tokens");
    // 256 bits base64url without padding.
    assert_eq!(a.expose().len(), 43);
    let hashes = store.stored_hashes();
    assert_eq!(hashes.len(), 2);
    assert!(hashes.contains(&TokenHash::of(&a)));
    // Nothing the store exposes contains the token text.
    let dbg = format!("{:?} {:?}", hashes, a);
    assert!(!dbg.contains(a.expose()), "Debug leaked the token: {dbg}");
}

#[tokio::test]
async fn session_store_refuses_past_capacity() {
    let store = MemorySessionStore::with_capacity(2);
    store.issue(grant("k", u64::MAX)).await.unwrap();
    store.issue(grant("k", u64::MAX)).await.unwrap();
    assert!(matches!(
        store.issue(grant("k", u64::MAX)).await,
        Err(StoreError::Unavailable(_))
    ));
}

fn record() -> PendingRecord {
    PendingRecord {
        id: PendingId::generate().unwrap(),
        interaction_id: aauth_store::random_id().unwrap(),
        code: InteractionCode::from_random_bytes(&[1, 2, 3, 4, 5]).unwrap(),
        key_thumbprint: Thumbprint::from_encoded("k1"),
        agent_id: None,
        method: "GET".into(),
        path: "/data".into(),
        scope: None,
        created_at: 100,
        expires_at: 700,
        state: PendingState::Pending,
        failed_code_attempts: 0,
        interacting_since: None,
        callback: None,
        retry_after: 1,
        last_poll_at: None,
        decision_nonce_hash: None,
        version: 0,
    }
}

#[test]
fn rm_11_pending_ids_are_unguessable_and_distinct() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100_000 {
        let id = PendingId::generate().unwrap();
        assert_eq!(id.as_str().len(), 22, "128 bits in base64url");
        assert!(seen.insert(id.as_str().to_owned()));
    }
    assert!(PendingId::parse("../../etc/passwd").is_none());
    assert!(PendingId::parse("").is_none());
}

#[tokio::test(start_paused = true)]
async fn poll_06_wait_for_change_wakes_on_update_not_on_timeout() {
    let store = Arc::new(MemoryPendingStore::new());
    let rec = record();
    store.insert(rec.clone()).await.unwrap();
    let waiter = {
        let store = store.clone();
        let id = rec.id.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            store
                .wait_for_change(&id, 0, Duration::from_secs(30))
                .await
                .unwrap();
            start.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut r = store.get(&rec.id).await.unwrap().unwrap();
    r.state = PendingState::Denied;
    store.compare_and_swap(r).await.unwrap();
    let waited = waiter.await.unwrap();
    assert!(waited < Duration::from_secs(3), "woke after {waited:?}");

    // Already changed: returns at once.
    let start = tokio::time::Instant::now();
    store
        .wait_for_change(&rec.id, 0, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));

    // Unchanged: returns after the timeout.
    let start = tokio::time::Instant::now();
    store
        .wait_for_change(&rec.id, 1, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_secs(5));
}
