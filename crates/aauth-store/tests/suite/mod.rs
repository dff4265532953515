//! The behaviour every store backend must have, written once against the traits.
//!
//! A [`Fixture`] gives two handles (`a`, `b`) on the same shared state: for the in-memory
//! backend both are the same store; for Redis they are two independent connections with the
//! same key prefix, i.e. two resource instances. Each behaviour is an `async fn` taking the
//! fixture; [`store_suite!`] turns the list into `#[tokio::test]`s for one backend.
//!
//! Times are real Unix times (`t0` = now) plus offsets, because a Redis TTL runs on the real
//! clock; the logical checks still use the `now` each call passes.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aauth_store::pending::update;
use aauth_store::{
    AgentTokenId, Approval, InsertOutcome, PendingId, PendingLimits, PendingRecord, PendingState,
    PendingStore, ReplayStore, RevocationStore, RevokeOutcome, SessionBinding, SessionGrant,
    SessionTokenStore, StoreError,
};
use aauth_wire::Thumbprint;
use aauth_wire::interaction_code::InteractionCode;

/// One instance's view of the stores.
#[derive(Clone)]
pub struct Stores {
    pub sessions: Arc<dyn SessionTokenStore>,
    pub pending: Arc<dyn PendingStore>,
    pub revocations: Arc<dyn RevocationStore>,
    pub replay: Arc<dyn ReplayStore>,
}

/// Two instances sharing one state. `guard` is dropped with the fixture (when the behaviour
/// ends, also by a panic): the Redis fixture deletes its keys there.
pub struct Fixture {
    pub a: Stores,
    pub b: Stores,
    pub guard: Option<Box<dyn std::any::Any + Send>>,
}

pub fn t0() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn grant(jkt: &str, issued_at: u64, expires_at: u64) -> SessionGrant {
    SessionGrant::new(
        SessionBinding {
            key_thumbprint: Thumbprint::from_encoded(jkt),
            agent_id: None,
        },
        issued_at,
        expires_at,
    )
    .with_person(Some("alice".into()))
}

fn bound(
    t: u64,
    jkt: &str,
    agent: Option<&str>,
    person: Option<&str>,
    scope: Option<&str>,
) -> SessionGrant {
    SessionGrant::new(
        SessionBinding {
            key_thumbprint: Thumbprint::from_encoded(jkt),
            agent_id: agent.map(str::to_owned),
        },
        t,
        t + 900,
    )
    .with_person(person.map(str::to_owned))
    .with_scope(scope.map(str::to_owned))
}

pub fn record(t: u64) -> PendingRecord {
    PendingRecord {
        id: PendingId::generate().unwrap(),
        interaction_id: aauth_store::random_id().unwrap(),
        code: InteractionCode::from_random_bytes(&[1, 2, 3, 4, 5]).unwrap(),
        key_thumbprint: Thumbprint::from_encoded("k1"),
        agent_id: None,
        method: "GET".into(),
        path: "/data".into(),
        scope: None,
        created_at: t,
        expires_at: t + 600,
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

/// Tokens are 256-bit random, distinct, and their `Debug` never shows them; every instance
/// resolves a token issued on another.
pub async fn sess_15_tokens_are_random_and_resolve_on_every_instance(f: Fixture) {
    let t = t0();
    let a = f.a.sessions.issue(grant("k1", t, t + 1000)).await.unwrap();
    let b = f.b.sessions.issue(grant("k1", t, t + 1000)).await.unwrap();
    assert_ne!(a, b, "two issues must give two tokens");
    assert_eq!(a.expose().len(), 43, "256 bits in base64url");
    let dbg = format!("{a:?}");
    assert!(!dbg.contains(a.expose()), "Debug leaked the token: {dbg}");
    let seen =
        f.b.sessions
            .lookup(&a, t + 1)
            .await
            .unwrap()
            .expect("known on b");
    assert_eq!(seen, grant("k1", t, t + 1000), "the grant round-trips");
    assert!(f.a.sessions.lookup(&b, t + 1).await.unwrap().is_some());
}

/// Every member of a grant survives the store, `None`s included.
pub async fn sess_grants_round_trip_every_member(f: Fixture) {
    let t = t0();
    for g in [
        bound(
            t,
            "ka",
            Some("aauth:x@a.example"),
            Some("p"),
            Some("read write"),
        ),
        bound(t, "kb", None, None, None),
        bound(t, "kc", Some(""), Some(""), Some("")),
    ] {
        let tok = f.a.sessions.issue(g.clone()).await.unwrap();
        assert_eq!(f.b.sessions.lookup(&tok, t).await.unwrap(), Some(g));
    }
}

pub async fn sess_lookup_honours_expiry_and_revocation(f: Fixture) {
    let t = t0();
    let tok = f.a.sessions.issue(grant("k1", t, t + 200)).await.unwrap();
    assert!(f.b.sessions.lookup(&tok, t + 199).await.unwrap().is_some());
    assert!(
        f.b.sessions.lookup(&tok, t + 200).await.unwrap().is_none(),
        "expires_at is exclusive"
    );
    assert!(f.b.sessions.revoke(&tok).await.unwrap(), "revoked on b");
    assert!(
        f.a.sessions.lookup(&tok, t + 50).await.unwrap().is_none(),
        "and gone on a"
    );
    assert!(!f.a.sessions.revoke(&tok).await.unwrap());
    let never = aauth_store::session::generate_token().unwrap();
    assert!(f.a.sessions.lookup(&never, t).await.unwrap().is_none());
    assert!(
        f.a.sessions
            .retire(&never, t, t + 30)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn sess_08_retire_succeeds_once_and_shortens_to_the_grace_end(f: Fixture) {
    let t = t0();
    let tok = f.a.sessions.issue(grant("k1", t, t + 1000)).await.unwrap();
    // Many concurrent refreshers on both instances: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 {
            f.a.sessions.clone()
        } else {
            f.b.sessions.clone()
        };
        let tok = tok.clone();
        tasks.push(tokio::spawn(async move {
            s.retire(&tok, t + 500, t + 530).await.unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if let Some(before) = task.await.unwrap() {
            winners += 1;
            assert!(!before.retired);
            assert_eq!(before.expires_at, t + 1000, "returns the grant as it was");
        }
    }
    assert_eq!(winners, 1);
    let after = f.b.sessions.lookup(&tok, t + 529).await.unwrap();
    let after = after.expect("valid in grace");
    assert!(after.retired);
    assert_eq!(after.expires_at, t + 530);
    assert!(
        f.a.sessions.lookup(&tok, t + 530).await.unwrap().is_none(),
        "gone after grace"
    );
    // An expired token cannot be retired (nothing to refresh).
    let old = f.a.sessions.issue(grant("k1", t, t + 200)).await.unwrap();
    assert!(
        f.a.sessions
            .retire(&old, t + 200, t + 230)
            .await
            .unwrap()
            .is_none()
    );
    // The grace never extends a token's life.
    let short = f.a.sessions.issue(grant("k1", t, t + 510)).await.unwrap();
    f.a.sessions
        .retire(&short, t + 500, t + 530)
        .await
        .unwrap()
        .unwrap();
    let g = f.b.sessions.lookup(&short, t + 505).await.unwrap().unwrap();
    assert_eq!(g.expires_at, t + 510);
    assert!(g.retired);
}

pub async fn rev_sessions_revoke_by_person_key_and_agent_touch_only_their_own(f: Fixture) {
    let t = t0();
    let (sa, sb) = (&f.a.sessions, &f.b.sessions);
    let a1 = sa
        .issue(bound(t, "ka", Some("agent-a"), Some("alice"), None))
        .await
        .unwrap();
    let a2 = sb
        .issue(bound(t, "ka", Some("agent-a"), Some("bob"), None))
        .await
        .unwrap();
    let b1 = sa
        .issue(bound(t, "kb", None, Some("alice"), None))
        .await
        .unwrap();
    let c1 = sb
        .issue(bound(t, "kc", Some("agent-c"), Some("carol"), None))
        .await
        .unwrap();
    let live = |tok| async move { sa.lookup(tok, t + 50).await.unwrap().is_some() };

    assert_eq!(sb.revoke_person("alice").await.unwrap(), 2);
    assert!(!live(&a1).await && !live(&b1).await);
    assert!(live(&a2).await && live(&c1).await);
    assert_eq!(sa.revoke_person("alice").await.unwrap(), 0, "idempotent");

    assert_eq!(
        sb.revoke_key(&Thumbprint::from_encoded("ka"))
            .await
            .unwrap(),
        1,
        "a1 is already gone; only a2 is left under ka"
    );
    assert!(!live(&a2).await && live(&c1).await);

    assert_eq!(sb.revoke_agent("agent-c").await.unwrap(), 1);
    assert!(!live(&c1).await);
    assert_eq!(sa.revoke_agent("nobody").await.unwrap(), 0);
    assert_eq!(sa.revoke_person("nobody").await.unwrap(), 0);
}

pub async fn rev_04_agent_token_revocation_is_keyed_by_iss_and_jti(f: Fixture) {
    let t = t0();
    let a = AgentTokenId::new("https://a.example", "x");
    let b = AgentTokenId::new("https://b.example", "x");
    let c = AgentTokenId::new("https://a.examplex", "");
    let (ra, rb) = (&f.a.revocations, &f.b.revocations);
    ra.record(&a, Some("aauth:one@a.example"), t + 1000)
        .await
        .unwrap();
    rb.record(&b, Some("aauth:two@b.example"), t + 1000)
        .await
        .unwrap();
    ra.record(&c, None, t + 1000).await.unwrap();
    assert_eq!(
        rb.revoke(&a, t).await.unwrap(),
        RevokeOutcome::Revoked {
            agent_id: Some("aauth:one@a.example".into())
        }
    );
    assert!(ra.is_revoked(&a).await.unwrap(), "revoked on b, seen on a");
    assert!(!ra.is_revoked(&b).await.unwrap(), "same jti, other issuer");
    // A pair whose parts concatenate alike is still a different pair.
    assert!(!ra.is_revoked(&c).await.unwrap());
    assert_eq!(
        ra.revoke(&c, t).await.unwrap(),
        RevokeOutcome::Revoked { agent_id: None }
    );
}

pub async fn rev_05_revoking_twice_is_already_invalid_and_unknown_pairs_are_unknown(f: Fixture) {
    let t = t0();
    let (ra, rb) = (&f.a.revocations, &f.b.revocations);
    let a = AgentTokenId::new("https://a.example", "x");
    ra.record(&a, None, t + 1000).await.unwrap();
    assert!(matches!(
        rb.revoke(&a, t).await.unwrap(),
        RevokeOutcome::Revoked { .. }
    ));
    assert_eq!(
        ra.revoke(&a, t).await.unwrap(),
        RevokeOutcome::AlreadyInvalid
    );
    // Recording the pair again (the agent presents it once more) keeps the revocation.
    rb.record(&a, Some("late"), t + 2000).await.unwrap();
    assert!(ra.is_revoked(&a).await.unwrap());
    // A pair past its expiry is already invalid.
    let expiring = AgentTokenId::new("https://a.example", "old");
    ra.record(&expiring, None, t + 50).await.unwrap();
    assert_eq!(
        rb.revoke(&expiring, t + 100).await.unwrap(),
        RevokeOutcome::AlreadyInvalid
    );
    let never = AgentTokenId::new("https://a.example", "never");
    assert_eq!(rb.revoke(&never, t).await.unwrap(), RevokeOutcome::Unknown);
    assert!(!ra.is_revoked(&never).await.unwrap());
}

/// A record survives the store with every member, in every state.
pub async fn pending_records_round_trip_every_field(f: Fixture) {
    let t = t0();
    let states = [
        PendingState::Pending,
        PendingState::Interacting,
        PendingState::Approved(Approval {
            person: Some("alice".into()),
            scope: Some("read".into()),
        }),
        PendingState::Approved(Approval {
            person: None,
            scope: None,
        }),
        PendingState::Denied,
        PendingState::Abandoned,
        PendingState::Expired,
        PendingState::CodeFailed,
        PendingState::Cancelled,
        PendingState::Done,
    ];
    for state in states {
        let mut rec = record(t);
        rec.agent_id = Some("aauth:agent@a.example".into());
        rec.scope = Some("read write".into());
        rec.callback = Some("https://app.example/back?x=1".into());
        rec.interacting_since = Some(t + 3);
        rec.last_poll_at = Some(t + 4);
        rec.failed_code_attempts = 2;
        rec.decision_nonce_hash = Some([0xab; 32]);
        rec.method = "POST".into();
        rec.path = "/data?q=ü".into();
        f.a.pending.insert(rec.clone()).await.unwrap();
        let mut changed = f.b.pending.get(&rec.id).await.unwrap().expect("stored");
        assert_eq!(format!("{changed:?}"), format!("{rec:?}"));
        changed.state = state.clone();
        let stored = f.b.pending.compare_and_swap(changed).await.unwrap();
        let read = f.a.pending.get(&rec.id).await.unwrap().unwrap();
        assert_eq!(read.state, state);
        assert_eq!(format!("{read:?}"), format!("{stored:?}"));
        let by_ix = f.a.pending.get_by_interaction(&rec.interaction_id).await;
        assert_eq!(by_ix.unwrap().unwrap().version, 1);
    }
}

pub async fn pending_compare_and_swap_detects_lost_races(f: Fixture) {
    let rec = record(t0());
    f.a.pending.insert(rec.clone()).await.unwrap();
    let mut first = f.a.pending.get(&rec.id).await.unwrap().unwrap();
    let mut second = f.b.pending.get(&rec.id).await.unwrap().unwrap();
    assert_eq!(first.version, 0);
    first.state = PendingState::Interacting;
    let stored = f.a.pending.compare_and_swap(first).await.unwrap();
    assert_eq!(stored.version, 1);
    second.state = PendingState::CodeFailed;
    assert!(matches!(
        f.b.pending.compare_and_swap(second).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        f.b.pending.get(&rec.id).await.unwrap().unwrap().state,
        PendingState::Interacting
    );
    assert!(
        f.b.pending
            .get_by_interaction(&rec.interaction_id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        f.b.pending
            .get_by_interaction("nope")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn pending_unknown_ids_are_none_or_not_found(f: Fixture) {
    let ghost = record(t0());
    assert!(f.a.pending.get(&ghost.id).await.unwrap().is_none());
    assert!(matches!(
        f.a.pending.compare_and_swap(ghost.clone()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        f.a.pending
            .wait_for_change(&ghost.id, 0, Duration::from_millis(50))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        update(f.a.pending.as_ref(), &ghost.id, |_| (true, ())).await,
        Err(StoreError::NotFound)
    ));
}

/// Concurrent approvals on two instances: exactly one takes effect.
pub async fn pending_update_lets_only_one_of_many_writers_approve(f: Fixture) {
    let rec = record(t0());
    f.a.pending.insert(rec.clone()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = if i % 2 == 0 {
            f.a.pending.clone()
        } else {
            f.b.pending.clone()
        };
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

/// IC-08: a code is redeemed once, whichever instance the browsers reach.
pub async fn ic_08_a_code_is_redeemed_once_across_instances(f: Fixture) {
    let rec = record(t0());
    f.a.pending.insert(rec.clone()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = if i % 2 == 0 {
            f.a.pending.clone()
        } else {
            f.b.pending.clone()
        };
        let ix = rec.interaction_id.clone();
        tasks.push(tokio::spawn(async move {
            let r = store.get_by_interaction(&ix).await.unwrap().unwrap();
            update(store.as_ref(), &r.id, |r| {
                if r.state == PendingState::Pending {
                    r.state = PendingState::Interacting;
                    (true, true)
                } else {
                    (false, false)
                }
            })
            .await
        }));
    }
    let mut redeemed = 0;
    for t in tasks {
        // A writer may exhaust its retries under contention; it then redeemed nothing.
        if let Ok((_, true)) = t.await.unwrap() {
            redeemed += 1;
        }
    }
    assert_eq!(redeemed, 1);
}

/// IC-09: wrong-code attempts from both instances are each counted, none lost to a race.
pub async fn ic_09_code_attempts_are_counted_exactly_once_across_instances(f: Fixture) {
    let rec = record(t0());
    f.a.pending.insert(rec.clone()).await.unwrap();
    let attempts = 10;
    let mut tasks = Vec::new();
    for i in 0..attempts {
        let store = if i % 2 == 0 {
            f.a.pending.clone()
        } else {
            f.b.pending.clone()
        };
        let id = rec.id.clone();
        tasks.push(tokio::spawn(async move {
            // Retry on exhausted CAS retries, as a person retrying the form would.
            loop {
                match update(store.as_ref(), &id, |r| {
                    r.failed_code_attempts += 1;
                    (true, ())
                })
                .await
                {
                    Err(StoreError::Conflict) => continue,
                    other => return other.map(|_| ()),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let r = f.b.pending.get(&rec.id).await.unwrap().unwrap();
    assert_eq!(r.failed_code_attempts, attempts);
    assert_eq!(r.version, u64::from(attempts));
}

/// RM-13: a terminal answer is consumed once: of many concurrent polls on both instances, one
/// moves Approved → Done (and would deliver the token); the rest see Done.
pub async fn rm_13_a_terminal_result_is_delivered_once(f: Fixture) {
    let mut rec = record(t0());
    rec.state = PendingState::Approved(Approval {
        person: Some("alice".into()),
        scope: None,
    });
    f.a.pending.insert(rec.clone()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = if i % 2 == 0 {
            f.a.pending.clone()
        } else {
            f.b.pending.clone()
        };
        let id = rec.id.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match update(store.as_ref(), &id, |r| {
                    if matches!(r.state, PendingState::Approved(_)) {
                        r.state = PendingState::Done;
                        (true, true)
                    } else {
                        (false, false)
                    }
                })
                .await
                {
                    Err(StoreError::Conflict) => continue,
                    other => return other.map(|(_, delivered)| delivered),
                }
            }
        }));
    }
    let mut delivered = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            delivered += 1;
        }
    }
    assert_eq!(delivered, 1);
}

/// POLL-06: a long poll held on instance a wakes when instance b changes the record, well
/// before its timeout (the Redis fixture sets a fallback re-check longer than the bound here, so
/// only a change notification can wake it in time).
pub async fn poll_06_wait_for_change_wakes_on_update_on_another_instance(f: Fixture) {
    let rec = record(t0());
    f.a.pending.insert(rec.clone()).await.unwrap();
    let waiter = {
        let store = f.a.pending.clone();
        let id = rec.id.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            // No limit at all: the deadline arithmetic must saturate, not panic.
            store.wait_for_change(&id, 0, Duration::MAX).await.unwrap();
            start.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "returned before any change");
    let mut r = f.b.pending.get(&rec.id).await.unwrap().unwrap();
    r.state = PendingState::Denied;
    f.b.pending.compare_and_swap(r).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("the waiter must wake on the change")
        .unwrap();
    assert!(waited < Duration::from_secs(20), "woke after {waited:?}");

    // Already changed: returns at once (no waiting for the timeout).
    tokio::time::timeout(
        Duration::from_secs(20),
        f.a.pending
            .wait_for_change(&rec.id, 0, Duration::from_secs(60)),
    )
    .await
    .expect("returns at once")
    .unwrap();

    // Unchanged: returns after the timeout, not before.
    let start = Instant::now();
    f.b.pending
        .wait_for_change(&rec.id, 1, Duration::from_millis(800))
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(800));
}

/// SIG-19: the first instance to see a signature records it; the same signature on any
/// instance is a replay until its window ends; another signature is not.
pub async fn sig_19_a_signature_is_accepted_once_per_window_on_every_instance(f: Fixture) {
    let t = t0();
    let key = aauth_store::random_bytes::<32>().unwrap();
    assert!(f.a.replay.check_and_record(&key, t + 60, t).await.unwrap());
    assert!(
        !f.b.replay
            .check_and_record(&key, t + 60, t + 1)
            .await
            .unwrap()
    );
    assert!(
        !f.a.replay
            .check_and_record(&key, t + 60, t + 30)
            .await
            .unwrap()
    );
    let other = aauth_store::random_bytes::<32>().unwrap();
    assert!(
        f.b.replay
            .check_and_record(&other, t + 60, t + 1)
            .await
            .unwrap()
    );
    // Concurrent first sightings: exactly one wins.
    let key = aauth_store::random_bytes::<32>().unwrap();
    let (x, y) = tokio::join!(
        f.a.replay.check_and_record(&key, t + 60, t),
        f.b.replay.check_and_record(&key, t + 60, t)
    );
    assert_eq!([x.unwrap(), y.unwrap()].iter().filter(|w| **w).count(), 1);
}

fn owned_by(t: u64, jkt: &str, agent: Option<&str>, expires_in: u64) -> PendingRecord {
    let mut r = record(t);
    r.key_thumbprint = Thumbprint::from_encoded(jkt);
    r.agent_id = agent.map(str::to_owned);
    r.expires_at = t + expires_in;
    r
}

/// The per-agent limit counts open records (Pending, Interacting) within their lifetime, per
/// key thumbprint or agent id, on every instance; a refused insert stores nothing and leaves
/// the agent's other records alone; a record that ends (lifetime over, or a terminal state)
/// frees its slot. Records stored with plain `insert` count too.
pub async fn pending_limits_cap_open_requests_per_agent(f: Fixture) {
    let t = t0();
    let two = PendingLimits {
        per_agent: Some(2),
        total: None,
    };
    let r1 = owned_by(t, "k1", None, 300);
    let r2 = owned_by(t, "k1", None, 600);
    assert_eq!(
        f.a.pending
            .insert_limited(r1.clone(), two, t)
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        f.b.pending
            .insert_limited(r2.clone(), two, t)
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
    // Another key, and the same key under an agent id, have their own budgets.
    let other = owned_by(t, "k2", None, 600);
    let agent = owned_by(t, "k1", Some("aauth:agent@example"), 600);
    for r in [other, agent] {
        assert_eq!(
            f.a.pending.insert_limited(r, two, t).await.unwrap(),
            InsertOutcome::Inserted
        );
    }
    // The third for k1 (on either instance) is refused; the first slot frees at r1's end.
    let r3 = owned_by(t, "k1", None, 600);
    for store in [&f.a.pending, &f.b.pending] {
        assert_eq!(
            store.insert_limited(r3.clone(), two, t + 10).await.unwrap(),
            InsertOutcome::AgentLimit { until: t + 300 }
        );
    }
    assert!(
        f.a.pending.get(&r3.id).await.unwrap().is_none(),
        "refused but stored"
    );
    assert!(
        f.b.pending
            .get_by_interaction(&r3.interaction_id)
            .await
            .unwrap()
            .is_none()
    );
    for r in [&r1, &r2] {
        let kept =
            f.b.pending
                .get(&r.id)
                .await
                .unwrap()
                .expect("existing record lost");
        assert_eq!(kept.state, PendingState::Pending);
        assert_eq!(kept.version, 0);
    }
    // r1's lifetime is over at t + 300: it no longer counts.
    assert_eq!(
        f.b.pending
            .insert_limited(r3.clone(), two, t + 300)
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
    let r4 = owned_by(t, "k1", None, 600);
    assert!(matches!(
        f.a.pending
            .insert_limited(r4.clone(), two, t + 300)
            .await
            .unwrap(),
        InsertOutcome::AgentLimit { .. }
    ));
    // Interacting still counts; a terminal state frees the slot.
    let (_, ()) = update(f.a.pending.as_ref(), &r2.id, |r| {
        r.state = PendingState::Interacting;
        (true, ())
    })
    .await
    .unwrap();
    assert!(matches!(
        f.b.pending
            .insert_limited(r4.clone(), two, t + 300)
            .await
            .unwrap(),
        InsertOutcome::AgentLimit { .. }
    ));
    let (_, ()) = update(f.b.pending.as_ref(), &r2.id, |r| {
        r.state = PendingState::Cancelled;
        (true, ())
    })
    .await
    .unwrap();
    assert_eq!(
        f.a.pending
            .insert_limited(r4.clone(), two, t + 300)
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
    // No limit: always stored.
    let r5 = owned_by(t, "k1", None, 600);
    assert_eq!(
        f.a.pending
            .insert_limited(r5, PendingLimits::default(), t + 300)
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
    // A record stored with plain `insert` counts against its owner.
    f.b.pending
        .insert(owned_by(t, "k9", None, 600))
        .await
        .unwrap();
    let one = PendingLimits {
        per_agent: Some(1),
        total: None,
    };
    assert!(matches!(
        f.a.pending
            .insert_limited(owned_by(t, "k9", None, 600), one, t + 1)
            .await
            .unwrap(),
        InsertOutcome::AgentLimit { .. }
    ));
}

/// The total limit counts every record within its lifetime, in any state (withdrawing and
/// re-creating cannot get around it), across instances.
pub async fn pending_limits_cap_live_records_in_total(f: Fixture) {
    let t = t0();
    let total = |n| PendingLimits {
        per_agent: None,
        total: Some(n),
    };
    let first = owned_by(t, "a1", None, 100);
    f.a.pending
        .insert_limited(first.clone(), total(3), t)
        .await
        .unwrap();
    let second = owned_by(t, "a2", None, 600);
    f.b.pending
        .insert_limited(second.clone(), total(3), t)
        .await
        .unwrap();
    // A cancelled record still counts.
    let (_, ()) = update(f.a.pending.as_ref(), &second.id, |r| {
        r.state = PendingState::Cancelled;
        (true, ())
    })
    .await
    .unwrap();
    f.a.pending
        .insert_limited(owned_by(t, "a3", None, 600), total(3), t)
        .await
        .unwrap();
    let refused = owned_by(t, "a4", None, 600);
    for store in [&f.a.pending, &f.b.pending] {
        assert_eq!(
            store
                .insert_limited(refused.clone(), total(3), t + 1)
                .await
                .unwrap(),
            InsertOutcome::TotalLimit { until: t + 100 }
        );
    }
    assert!(f.b.pending.get(&refused.id).await.unwrap().is_none());
    assert!(f.b.pending.get(&first.id).await.unwrap().is_some());
    // Once the first record's lifetime is over there is room again.
    assert_eq!(
        f.b.pending
            .insert_limited(refused.clone(), total(3), t + 100)
            .await
            .unwrap(),
        InsertOutcome::Inserted
    );
}

/// The limit check and the insert are one step: of many concurrent inserts for one agent on
/// both instances, exactly the limit's worth are stored.
pub async fn pending_limits_hold_under_concurrent_inserts(f: Fixture) {
    let t = t0();
    let limits = PendingLimits {
        per_agent: Some(5),
        total: None,
    };
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = if i % 2 == 0 {
            f.a.pending.clone()
        } else {
            f.b.pending.clone()
        };
        tasks.push(tokio::spawn(async move {
            store
                .insert_limited(owned_by(t, "busy", None, 600), limits, t)
                .await
                .unwrap()
        }));
    }
    let mut stored = 0;
    for task in tasks {
        match task.await.unwrap() {
            InsertOutcome::Inserted => stored += 1,
            InsertOutcome::AgentLimit { until } => assert_eq!(until, t + 600),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(stored, 5);
}

/// Generates one `#[tokio::test]` per behaviour; `$fixture` is an async expression giving
/// `Option<Fixture>` (`None` = backend not configured: the test reports itself skipped).
macro_rules! store_suite {
    ($fixture:expr) => {
        store_suite!(@tests $fixture;
            sess_15_tokens_are_random_and_resolve_on_every_instance,
            sess_grants_round_trip_every_member,
            sess_lookup_honours_expiry_and_revocation,
            sess_08_retire_succeeds_once_and_shortens_to_the_grace_end,
            rev_sessions_revoke_by_person_key_and_agent_touch_only_their_own,
            rev_04_agent_token_revocation_is_keyed_by_iss_and_jti,
            rev_05_revoking_twice_is_already_invalid_and_unknown_pairs_are_unknown,
            pending_records_round_trip_every_field,
            pending_compare_and_swap_detects_lost_races,
            pending_unknown_ids_are_none_or_not_found,
            pending_update_lets_only_one_of_many_writers_approve,
            ic_08_a_code_is_redeemed_once_across_instances,
            ic_09_code_attempts_are_counted_exactly_once_across_instances,
            rm_13_a_terminal_result_is_delivered_once,
            poll_06_wait_for_change_wakes_on_update_on_another_instance,
            sig_19_a_signature_is_accepted_once_per_window_on_every_instance,
            pending_limits_cap_open_requests_per_agent,
            pending_limits_cap_live_records_in_total,
            pending_limits_hold_under_concurrent_inserts,
        );
    };
    (@tests $fixture:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(f) = $fixture.await {
                    suite::$name(f).await;
                }
            }
        )*
    };
}
