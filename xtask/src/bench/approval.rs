//! Part 4: time from the person's approval to the agent holding the session token, with a
//! `Prefer: wait` long poll and with plain `Retry-After` polling.
//!
//! The approval instant is taken inside the pending store (a wrapper that notes when a record
//! is swapped to `approved`), the holding instant from the agent's `SessionStored` event, both
//! on this process's monotonic clock. The person (aauth_cli::person) acts on their own task
//! and opens the page at once; the store holds the approving write for a "reading time" that
//! sweeps one Retry-After period over the trials, so polling is seen at every phase.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aauth_agent::{AAuthClient, ProtocolEvent};
use aauth_axum::{AAuthResource, LocalLogin};
use aauth_sig::{Algorithm, SigningKey};
use aauth_store::memory::MemoryPendingStore;
use aauth_store::{PendingId, PendingRecord, PendingState, PendingStore, StoreError};
use serde_json::json;

use super::Config;
use super::stats::{Row, stat};

type Stamp = Arc<Mutex<Option<Instant>>>;

/// A pending store that stamps the moment a record becomes `approved`, and holds that write
/// for `think`: the person reads the page for a while before the approval lands.
struct Stamping {
    inner: MemoryPendingStore,
    approved: Stamp,
    think: Arc<Mutex<Duration>>,
}

#[async_trait::async_trait]
impl PendingStore for Stamping {
    async fn insert(&self, record: PendingRecord) -> Result<(), StoreError> {
        self.inner.insert(record).await
    }

    async fn get(&self, id: &PendingId) -> Result<Option<PendingRecord>, StoreError> {
        self.inner.get(id).await
    }

    async fn get_by_interaction(
        &self,
        interaction_id: &str,
    ) -> Result<Option<PendingRecord>, StoreError> {
        self.inner.get_by_interaction(interaction_id).await
    }

    async fn compare_and_swap(
        &self,
        mut record: PendingRecord,
    ) -> Result<PendingRecord, StoreError> {
        let approving = matches!(record.state, PendingState::Approved(_));
        if approving {
            let think = self.think.lock().map(|t| *t).unwrap_or_default();
            tokio::time::sleep(think).await;
            // Polls meanwhile bumped the version (last poll time); the decision still stands.
            if let Some(fresh) = self.inner.get(&record.id).await? {
                record.version = fresh.version;
                record.last_poll_at = fresh.last_poll_at;
                record.retry_after = fresh.retry_after;
            }
        }
        let at = Instant::now();
        let out = self.inner.compare_and_swap(record).await;
        if approving
            && out.is_ok()
            && let Ok(mut g) = self.approved.lock()
        {
            g.get_or_insert(at);
        }
        out
    }

    async fn wait_for_change(
        &self,
        id: &PendingId,
        seen_version: u64,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        self.inner.wait_for_change(id, seen_version, timeout).await
    }
}

const USER: &str = "bench";
const PASSWORD: &str = "bench-approval-password";

async fn person(approval_url: String) {
    let login = aauth_cli::person::Login {
        username: USER.to_owned(),
        password: PASSWORD.to_owned(),
    };
    if let Err(e) = aauth_cli::person::decide_as(
        &approval_url,
        Some(&login),
        aauth_cli::person::Choice::Approve,
    )
    .await
    {
        eprintln!("bench: the person failed: {e}");
    }
}

async fn trial(url: &str, approved: &Stamp, long_poll: bool) -> Result<f64, String> {
    if let Ok(mut g) = approved.lock() {
        *g = None;
    }
    let held: Stamp = Arc::new(Mutex::new(None));
    let h = held.clone();
    let key = SigningKey::generate(Algorithm::Ed25519).map_err(|e| e.to_string())?;
    let client = AAuthClient::builder(key)
        .on_event(move |e| {
            if matches!(e, ProtocolEvent::SessionStored { .. })
                && let Ok(mut g) = h.lock()
            {
                g.get_or_insert(Instant::now());
            }
        })
        .with_interaction_handling(|o| {
            o.polling_timeout(Duration::from_secs(30));
            if long_poll {
                o.prefer_wait(20);
            }
            // The person acts on their own time: the callback only hands the prompt over.
            o.on_interaction_required(move |prompt| async move {
                tokio::spawn(person(prompt.approval_url()));
            });
        })
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(format!("the agent ended with {}", resp.status()));
    }
    let a = approved
        .lock()
        .ok()
        .and_then(|g| *g)
        .ok_or("no approval seen")?;
    let t = held.lock().ok().and_then(|g| *g).ok_or("no token stored")?;
    Ok(t.saturating_duration_since(a).as_secs_f64() * 1000.0)
}

async fn run_async(trials: usize) -> Result<(Vec<f64>, Vec<f64>), String> {
    aauth_cli::install_ring_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let approved: Stamp = Arc::new(Mutex::new(None));
    let think = Arc::new(Mutex::new(Duration::ZERO));
    let store = Arc::new(Stamping {
        inner: MemoryPendingStore::new(),
        approved: approved.clone(),
        think: think.clone(),
    });
    // As `aauth serve` (Retry-After 1 s), with a known password and the stamping store.
    let resource = AAuthResource::builder(format!("http://{addr}"))
        .accept_hwk()
        .allow_insecure_loopback()
        .authenticator(Arc::new(
            LocalLogin::new()
                .with_user(USER, PASSWORD, Some("Bench person"))
                .secure_cookies(false),
        ))
        .retry_after(1)
        .pending_store(store)
        .build()
        .map_err(|e| e.to_string())?;
    let app = aauth_cli::demo_resource::app(&resource);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://{addr}/data");
    let mut long = Vec::new();
    let mut plain = Vec::new();
    for i in 0..trials {
        // The agent waits Retry-After (1 s) before each poll. The person opens the page at
        // once and approves after reading it for 1.5–2.5 s, so the approval lands after the
        // first poll, at a phase swept across one polling period.
        if let Ok(mut t) = think.lock() {
            *t = Duration::from_millis((1000 * i / trials) as u64 + 1500);
        }
        long.push(trial(&url, &approved, true).await?);
        plain.push(trial(&url, &approved, false).await?);
    }
    Ok((long, plain))
}

pub fn run(
    cfg: &Config,
    rows: &mut Vec<Row>,
    json_out: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let trials = if cfg.quick { 4 } else { 8 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (long, plain) = rt.block_on(run_async(trials))?;
    json_out.insert(
        "approval/ms".into(),
        json!({"prefer_wait": long, "retry_after": plain}),
    );
    let ratio = match (stat(&plain), stat(&long)) {
        (Some(p), Some(l)) if l.median > 0.0 => Some(p.median / l.median),
        _ => None,
    };
    rows.push(
        Row::new(
            "4 approval",
            "approval → token held, Prefer: wait long poll",
            "ms",
        )
        .with_stat(stat(&long)),
    );
    rows.push(
        Row::new(
            "4 approval",
            "approval → token held, Retry-After: 1 polling",
            "ms",
        )
        .with_stat(stat(&plain))
        .note("approval phase swept over one polling period"),
    );
    let mut row = Row::new(
        "4 approval",
        "polling median latency / long-poll median latency",
        "ratio",
    )
    .note("the person approves 1.5–2.5 s after opening the page");
    if let Some(r) = ratio {
        row = row.value(r);
    }
    rows.push(row);
    Ok(())
}
