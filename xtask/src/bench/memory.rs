//! Part 3 (memory): resident memory of 100k live session tokens and of 10k pending requests
//! in the in-memory stores, each measured in a fresh worker process as the growth of VmRSS.
use std::sync::Arc;

use aauth_axum::{AAuthResource, LocalLogin};
use aauth_sig::{Algorithm, RequestTarget, SignOptions, Signer, SigningKey};
use aauth_store::memory::{MemoryPendingStore, MemorySessionStore};
use aauth_store::{SessionBinding, SessionGrant, SessionTokenStore};
use aauth_wire::Thumbprint;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;

use super::Config;
use super::fixtures::now_unix;
use super::stats::{Row, stat};

fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

async fn sessions(n: u64) -> Result<(u64, u64, usize), String> {
    let store = MemorySessionStore::new();
    let now = now_unix();
    // One issue before the baseline, so lazily allocated parts are not counted.
    let warm = |i: u64| {
        SessionGrant::new(
            SessionBinding {
                // A thumbprint-sized identifier, distinct per agent.
                key_thumbprint: Thumbprint::from_encoded(format!("{i:0>43}")),
                agent_id: None,
            },
            now,
            now + 3600,
        )
        .with_person(Some("person@example".to_owned()))
    };
    store
        .issue(warm(u64::MAX))
        .await
        .map_err(|e| e.to_string())?;
    let before = rss_bytes().ok_or("no VmRSS")?;
    for i in 0..n {
        // The token goes to the agent; the server keeps only its hash and the grant.
        store.issue(warm(i)).await.map_err(|e| e.to_string())?;
    }
    let after = rss_bytes().ok_or("no VmRSS")?;
    Ok((before, after, store.len().saturating_sub(1)))
}

async fn pending(n: u64) -> Result<(u64, u64, usize), String> {
    aauth_cli::install_ring_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let store = Arc::new(MemoryPendingStore::new());
    let resource = AAuthResource::builder(format!("http://{addr}"))
        .accept_hwk()
        .allow_insecure_loopback()
        .authenticator(Arc::new(LocalLogin::new().with_user(
            "bench",
            "bench-password",
            None,
        )))
        .pending_store(store.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let app = aauth_cli::demo_resource::app(&resource);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::new();
    let authority = addr.to_string();
    let url = format!("http://{authority}/data");
    let send = |key: SigningKey| {
        let client = client.clone();
        let url = url.clone();
        let authority = authority.clone();
        async move {
            let mut h = HeaderMap::new();
            h.insert("accept", HeaderValue::from_static("application/json"));
            let unsigned = h.clone();
            let target = RequestTarget {
                method: &Method::GET,
                scheme: "http",
                authority: &authority,
                path: "/data",
                query: None,
                headers: &unsigned,
            };
            Signer::hwk(key)
                .sign(&target, &mut h, &SignOptions::new(now_unix()))
                .map_err(|e| e.to_string())?;
            let r = client
                .get(&url)
                .headers(h)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status() != StatusCode::ACCEPTED {
                return Err(format!("expected 202, got {}", r.status()));
            }
            let _ = r.bytes().await;
            Ok::<(), String>(())
        }
    };
    let key = || SigningKey::generate(Algorithm::Ed25519).map_err(|e| e.to_string());
    // Warm-up: connections, the server's buffers, one pending record.
    for _ in 0..64 {
        send(key()?).await?;
    }
    let before = rss_bytes().ok_or("no VmRSS")?;
    let base = store.len();
    // Ten agents at a time, each with a fresh key.
    let mut left = n;
    while left > 0 {
        let k = left.min(10);
        let mut batch = Vec::new();
        for _ in 0..k {
            batch.push(tokio::spawn(send(key()?)));
        }
        for b in batch {
            b.await.map_err(|e| e.to_string())??;
        }
        left -= k;
    }
    let after = rss_bytes().ok_or("no VmRSS")?;
    Ok((before, after, store.len() - base))
}

/// `xtask bench --worker memory --case sessions|pending --iters N`: prints one JSON line.
pub fn worker(case: &str, n: u64) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (before, after, count) = match case {
        "sessions" => rt.block_on(sessions(n))?,
        "pending" => rt.block_on(pending(n))?,
        other => return Err(format!("unknown memory case {other}")),
    };
    if count as u64 != n {
        return Err(format!("expected {n} live records, found {count}"));
    }
    println!(
        "{}",
        json!({"before": before, "after": after, "count": count})
    );
    Ok(())
}

fn measure(cfg: &Config, case: &str, n: u64) -> Result<Vec<f64>, String> {
    let runs = if cfg.quick { 1 } else { 3 };
    let mut out = Vec::new();
    for _ in 0..runs {
        let o = std::process::Command::new(&cfg.exe)
            .args(["bench", "--worker", "memory", "--case", case, "--iters"])
            .arg(n.to_string())
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!(
                "memory worker {case}: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .map_err(|_| format!("memory worker {case}: bad output"))?;
        let grow = v["after"].as_f64().unwrap_or(0.0) - v["before"].as_f64().unwrap_or(0.0);
        out.push(grow / (1024.0 * 1024.0));
    }
    Ok(out)
}

pub fn run(
    cfg: &Config,
    rows: &mut Vec<Row>,
    json_out: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let s = measure(cfg, "sessions", 100_000)?;
    let p = measure(cfg, "pending", 10_000)?;
    json_out.insert("memory/sessions_100k_mib".into(), json!(s));
    json_out.insert("memory/pending_10k_mib".into(), json!(p));
    let per = |v: &[f64], n: f64| {
        stat(v)
            .map(|s| format!("≈ {:.0} bytes each", s.median * 1024.0 * 1024.0 / n))
            .unwrap_or_default()
    };
    rows.push(
        Row::new(
            "3 memory",
            "100k live session tokens, in-memory store",
            "MiB",
        )
        .with_stat(stat(&s))
        .note(format!(
            "RSS growth in a fresh process; {}",
            per(&s, 100_000.0)
        )),
    );
    rows.push(
        Row::new("3 memory", "10k pending requests, in-memory store", "MiB")
            .with_stat(stat(&p))
            .note(format!(
                "RSS growth, created through the real 202 path; {}",
                per(&p, 10_000.0)
            )),
    );
    rows.push(
        Row::new("3 memory", "same, Redis backend", "MiB")
            .note("not measured yet: the Redis backend (aauth-store feature `redis`) landed during this work; needs a redis-server the bench starts"),
    );
    Ok(())
}
