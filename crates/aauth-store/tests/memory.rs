//! Behaviour of the in-memory stores. Written against the traits, so a shared backend can run
//! the same checks.
use std::sync::Arc;
use std::time::Duration;

use aauth_store::memory::{MemoryPendingStore, MemoryRevocationStore, MemorySessionStore};
use aauth_store::pending::update;
use aauth_store::{AgentTokenId, RevocationStore, RevokeOutcome};
use aauth_store::{
    Approval, PendingId, PendingRecord, PendingState, PendingStore, SessionBinding, SessionGrant,
    SessionTokenStore, StoreError, TokenHash,
};
use aauth_wire::Thumbprint;
use aauth_wire::interaction_code::InteractionCode;

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
async fn sess_lookup_honours_expiry_and_revocation() {
    let store = MemorySessionStore::new();
    let t = store.issue(grant("k1", 200)).await.unwrap();
    assert!(store.lookup(&t, 199).await.unwrap().is_some());
    assert!(
        store.lookup(&t, 200).await.unwrap().is_none(),
        "expires_at is exclusive"
    );
    assert!(store.revoke(&t).await.unwrap());
    assert!(store.lookup(&t, 150).await.unwrap().is_none());
    assert!(!store.revoke(&t).await.unwrap());
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

#[tokio::test]
async fn pending_compare_and_swap_detects_lost_races() {
    let store = MemoryPendingStore::new();
    let rec = record();
    store.insert(rec.clone()).await.unwrap();
    let mut first = store.get(&rec.id).await.unwrap().unwrap();
    let mut second = first.clone();
    first.state = PendingState::Interacting;
    let stored = store.compare_and_swap(first).await.unwrap();
    assert_eq!(stored.version, 1);
    second.state = PendingState::CodeFailed;
    assert!(matches!(
        store.compare_and_swap(second).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.get(&rec.id).await.unwrap().unwrap().state,
        PendingState::Interacting
    );
    assert!(
        store
            .get_by_interaction(&rec.interaction_id)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn pending_update_lets_only_one_of_many_writers_approve() {
    let store = Arc::new(MemoryPendingStore::new());
    let rec = record();
    store.insert(rec.clone()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        let id = rec.id.clone();
        tasks.push(tokio::spawn(async move {
            update(store.as_ref(), &id, |r| {
                if r.state == PendingState::Pending {
                    r.state = PendingState::Approved(Approval {
                        person: Some(format!("p{i}")),
                        scope: None,
                    });
                    (true, true)
                } else {
                    (false, false)
                }
            })
            .await
            .map(|(_, won)| won)
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap().unwrap_or(false) {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
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

fn bound(jkt: &str, agent: Option<&str>, person: Option<&str>) -> SessionGrant {
    SessionGrant::new(
        SessionBinding {
            key_thumbprint: Thumbprint::from_encoded(jkt),
            agent_id: agent.map(str::to_owned),
        },
        100,
        1000,
    )
    .with_person(person.map(str::to_owned))
}

#[tokio::test]
async fn sess_08_retire_succeeds_once_and_shortens_to_the_grace_end() {
    let store = Arc::new(MemorySessionStore::new());
    let t = store.issue(grant("k1", 1000)).await.unwrap();
    // Many concurrent refreshers: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (s, t) = (store.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            s.retire(&t, 500, 530).await.unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if let Some(before) = task.await.unwrap() {
            winners += 1;
            assert!(!before.retired);
            assert_eq!(before.expires_at, 1000, "returns the grant as it was");
        }
    }
    assert_eq!(winners, 1);
    let after = store
        .lookup(&t, 529)
        .await
        .unwrap()
        .expect("valid in grace");
    assert!(after.retired);
    assert_eq!(after.expires_at, 530);
    assert!(
        store.lookup(&t, 530).await.unwrap().is_none(),
        "gone after grace"
    );
    // An expired token cannot be retired (nothing to refresh).
    let old = store.issue(grant("k1", 200)).await.unwrap();
    assert!(store.retire(&old, 200, 230).await.unwrap().is_none());
    // The grace never extends a token's life.
    let short = store.issue(grant("k1", 510)).await.unwrap();
    store.retire(&short, 500, 530).await.unwrap().unwrap();
    assert_eq!(
        store.lookup(&short, 505).await.unwrap().unwrap().expires_at,
        510
    );
}

#[tokio::test]
async fn rev_sessions_revoke_by_person_key_and_agent_touch_only_their_own() {
    let store = MemorySessionStore::new();
    let a1 = store
        .issue(bound("ka", Some("agent-a"), Some("alice")))
        .await
        .unwrap();
    let a2 = store
        .issue(bound("ka", Some("agent-a"), Some("bob")))
        .await
        .unwrap();
    let b1 = store.issue(bound("kb", None, Some("alice"))).await.unwrap();
    let c1 = store
        .issue(bound("kc", Some("agent-c"), Some("carol")))
        .await
        .unwrap();
    let live = |t| {
        let store = &store;
        async move { store.lookup(t, 150).await.unwrap().is_some() }
    };

    assert_eq!(store.revoke_person("alice").await.unwrap(), 2);
    assert!(!live(&a1).await && !live(&b1).await);
    assert!(live(&a2).await && live(&c1).await);
    assert_eq!(store.revoke_person("alice").await.unwrap(), 0, "idempotent");

    assert_eq!(
        store
            .revoke_key(&Thumbprint::from_encoded("ka"))
            .await
            .unwrap(),
        1,
        "a1 is already gone; only a2 is left under ka"
    );
    assert!(!live(&a2).await && live(&c1).await);

    assert_eq!(store.revoke_agent("agent-c").await.unwrap(), 1);
    assert!(!live(&c1).await);
    assert_eq!(store.revoke_agent("nobody").await.unwrap(), 0);
}

#[tokio::test]
async fn rev_04_agent_token_revocation_is_keyed_by_iss_and_jti() {
    let store = MemoryRevocationStore::new();
    let a = AgentTokenId::new("https://a.example", "x");
    let b = AgentTokenId::new("https://b.example", "x");
    store
        .record(&a, Some("aauth:one@a.example"), 1000)
        .await
        .unwrap();
    store
        .record(&b, Some("aauth:two@b.example"), 1000)
        .await
        .unwrap();
    assert_eq!(
        store.revoke(&a, 100).await.unwrap(),
        RevokeOutcome::Revoked {
            agent_id: Some("aauth:one@a.example".into())
        }
    );
    assert!(store.is_revoked(&a).await.unwrap());
    assert!(
        !store.is_revoked(&b).await.unwrap(),
        "same jti, other issuer"
    );
    // A pair whose parts concatenate alike is still a different pair.
    let c = AgentTokenId::new("https://a.examplex", "");
    assert_ne!(c.storage_key(), a.storage_key());
}

#[tokio::test]
async fn rev_05_revoking_twice_is_already_invalid_and_unknown_pairs_are_unknown() {
    let store = MemoryRevocationStore::new();
    let a = AgentTokenId::new("https://a.example", "x");
    store.record(&a, None, 1000).await.unwrap();
    assert!(matches!(
        store.revoke(&a, 100).await.unwrap(),
        RevokeOutcome::Revoked { .. }
    ));
    assert_eq!(
        store.revoke(&a, 100).await.unwrap(),
        RevokeOutcome::AlreadyInvalid
    );
    // Recording the pair again (the agent presents it once more) keeps the revocation.
    store.record(&a, None, 1000).await.unwrap();
    assert!(store.is_revoked(&a).await.unwrap());
    let expired = AgentTokenId::new("https://a.example", "old");
    store.record(&expired, None, 50).await.unwrap();
    assert_eq!(
        store.revoke(&expired, 100).await.unwrap(),
        RevokeOutcome::AlreadyInvalid
    );
    assert_eq!(
        store
            .revoke(&AgentTokenId::new("https://a.example", "never"), 100)
            .await
            .unwrap(),
        RevokeOutcome::Unknown
    );
}
