//! Token validation (`SessionTokenStore::lookup`) and pending operations (`get` + a
//! compare-and-swap) on the in-memory backend and, when `AAUTH_REDIS_URL` is set, on Redis.
//!
//! `cargo bench -p aauth-store --features redis --bench stores` (Redis numbers include the
//! loopback round trip; the machine they run on is usually shared, so compare medians).
use std::sync::Arc;
use std::time::Duration;

use aauth_store::memory::{MemoryPendingStore, MemorySessionStore};
use aauth_store::redis::{RedisBackend, RedisConfig};
use aauth_store::{
    PendingId, PendingRecord, PendingState, PendingStore, SessionBinding, SessionGrant,
    SessionTokenStore,
};
use aauth_wire::Thumbprint;
use aauth_wire::interaction_code::InteractionCode;
use criterion::{Criterion, criterion_group, criterion_main};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn record(t: u64) -> PendingRecord {
    PendingRecord {
        id: PendingId::generate().unwrap(),
        interaction_id: aauth_store::random_id().unwrap(),
        code: InteractionCode::from_random_bytes(&[1, 2, 3, 4, 5]).unwrap(),
        key_thumbprint: Thumbprint::from_encoded("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
        agent_id: None,
        method: "GET".into(),
        path: "/data".into(),
        scope: Some("read".into()),
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

fn bench_backend(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    sessions: Arc<dyn SessionTokenStore>,
    pending: Arc<dyn PendingStore>,
) {
    let t = now();
    let grant = SessionGrant::new(
        SessionBinding {
            key_thumbprint: Thumbprint::from_encoded("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
            agent_id: None,
        },
        t,
        t + 3600,
    )
    .with_person(Some("demo".into()));
    let token = rt.block_on(sessions.issue(grant)).unwrap();
    c.bench_function(&format!("{name}/session_lookup"), |b| {
        b.to_async(rt).iter(|| async {
            let g = sessions.lookup(&token, t + 1).await.unwrap();
            assert!(g.is_some());
        })
    });

    let rec = record(t);
    let id = rec.id.clone();
    rt.block_on(pending.insert(rec)).unwrap();
    c.bench_function(&format!("{name}/pending_get_cas"), |b| {
        b.to_async(rt).iter(|| async {
            let mut r = pending.get(&id).await.unwrap().unwrap();
            r.last_poll_at = Some(t + 1);
            pending.compare_and_swap(r).await.unwrap();
        })
    });
}

fn stores(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    bench_backend(
        c,
        &rt,
        "memory",
        Arc::new(MemorySessionStore::new()),
        Arc::new(MemoryPendingStore::new()),
    );
    match std::env::var("AAUTH_REDIS_URL") {
        Ok(url) if !url.is_empty() => {
            let prefix = format!("aauth-bench:{}:", aauth_store::random_id().unwrap());
            let backend = rt
                .block_on(RedisBackend::connect(RedisConfig::new(url).prefix(prefix)))
                .expect("AAUTH_REDIS_URL names a reachable Redis");
            bench_backend(
                c,
                &rt,
                "redis",
                Arc::new(backend.session_store()),
                Arc::new(backend.pending_store()),
            );
            let _ = rt.block_on(backend.delete_all());
        }
        _ => eprintln!("SKIPPED (redis benches): AAUTH_REDIS_URL not set"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = stores
}
criterion_main!(benches);
