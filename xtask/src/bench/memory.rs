//! Part 3 (memory): memory of 100k live session tokens and of 10k pending requests.
//!
//! * In-memory stores: the growth of VmRSS of a fresh worker process.
//! * Redis backend (`aauth_store::redis`): the same records, issued and created the same way
//!   by a fresh worker, into a fresh `redis-server` the bench starts for each run
//!   ([`redis_server::RedisServer`]); the growth of the server's `INFO memory` `used_memory`
//!   and `used_memory_rss`. Without `redis-server` on PATH these rows are skipped.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aauth_axum::{AAuthResource, LocalLogin};
use aauth_sig::{Algorithm, RequestTarget, SignOptions, Signer, SigningKey};
use aauth_store::memory::{MemoryPendingStore, MemorySessionStore};
use aauth_store::redis::{RedisBackend, RedisConfig};
use aauth_store::{PendingStore, SessionBinding, SessionGrant, SessionTokenStore};
use aauth_wire::Thumbprint;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;

use super::Config;
use super::fixtures::now_unix;
use super::redis_server::{self, RedisMemory, RedisServer, StartError};
use super::stats::{Row, stat};

fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// What one worker reads before and after creating the records.
#[derive(Clone, Copy, Debug, serde::Serialize)]
struct Snapshot {
    /// This worker's VmRSS.
    rss: u64,
    /// The Redis server's memory, when the records go there.
    redis: Option<RedisMemory>,
}

async fn snapshot(redis: Option<SocketAddr>) -> Result<Snapshot, String> {
    let redis = match redis {
        Some(addr) => {
            // Redis updates `used_memory_rss` in its 100 ms cron and finishes an incremental
            // rehash of its key table there too; let both settle before reading.
            tokio::time::sleep(Duration::from_millis(500)).await;
            Some(
                tokio::task::spawn_blocking(move || redis_server::memory(addr))
                    .await
                    .map_err(|e| e.to_string())??,
            )
        }
        None => None,
    };
    Ok(Snapshot {
        rss: rss_bytes().ok_or("no VmRSS")?,
        redis,
    })
}

async fn open_redis(addr: SocketAddr) -> Result<RedisBackend, String> {
    RedisBackend::connect(RedisConfig::new(format!("redis://{addr}")))
        .await
        .map_err(|e| format!("redis at {addr}: {e}"))
}

/// Live records of one kind (`sess:`, `pending:`) under the backend's prefix.
async fn redis_count(backend: &RedisBackend, kind: &str) -> Result<usize, String> {
    let prefix = format!("{}{kind}", backend.config().prefix);
    let keys = backend
        .keys_with_prefix()
        .await
        .map_err(|e| e.to_string())?;
    Ok(keys.iter().filter(|k| k.starts_with(&prefix)).count())
}

/// Issues `n` session grants into the in-memory store, or into Redis at `redis`.
async fn sessions(n: u64, redis: Option<SocketAddr>) -> Result<(Snapshot, Snapshot, u64), String> {
    let memory = Arc::new(MemorySessionStore::new());
    let backend = match redis {
        Some(addr) => Some(open_redis(addr).await?),
        None => None,
    };
    let store: Arc<dyn SessionTokenStore> = match &backend {
        Some(b) => Arc::new(b.session_store()),
        None => memory.clone(),
    };
    let now = now_unix();
    // One issue before the baseline, so lazily allocated parts (and, on Redis, the loaded
    // script and the person's index set) are not counted.
    let grant = move |i: u64| {
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
        .issue(grant(u64::MAX))
        .await
        .map_err(|e| e.to_string())?;
    let counted = async || match &backend {
        Some(b) => redis_count(b, "sess:").await,
        None => Ok(memory.len()),
    };
    let base = counted().await?;
    let before = snapshot(redis).await?;
    if redis.is_some() {
        // 64 issues in flight on the backend's one multiplexed connection: a round trip each
        // would make 100k issues take minutes; the records are the same.
        let mut left = n;
        let mut i = 0;
        while left > 0 {
            let k = left.min(64);
            let mut batch = tokio::task::JoinSet::new();
            for _ in 0..k {
                let store = store.clone();
                let g = grant(i);
                i += 1;
                batch.spawn(async move { store.issue(g).await.map(|_| ()) });
            }
            while let Some(r) = batch.join_next().await {
                r.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
            }
            left -= k;
        }
    } else {
        for i in 0..n {
            // The token goes to the agent; the server keeps only its hash and the grant.
            store.issue(grant(i)).await.map_err(|e| e.to_string())?;
        }
    }
    let after = snapshot(redis).await?;
    let count = counted().await?.saturating_sub(base);
    Ok((before, after, count as u64))
}

/// Creates `n` pending requests through the real `202` path of a resource on loopback whose
/// pending store is in memory, or on Redis at `redis`.
async fn pending(n: u64, redis: Option<SocketAddr>) -> Result<(Snapshot, Snapshot, u64), String> {
    aauth_cli::install_ring_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let memory = Arc::new(MemoryPendingStore::new());
    let backend = match redis {
        Some(addr) => Some(open_redis(addr).await?),
        None => None,
    };
    let store: Arc<dyn PendingStore> = match &backend {
        Some(b) => Arc::new(b.pending_store()),
        None => memory.clone(),
    };
    let resource = AAuthResource::builder(format!("http://{addr}"))
        .accept_hwk()
        .allow_insecure_loopback()
        .authenticator(Arc::new(LocalLogin::new().with_user(
            "bench",
            "bench-password",
            None,
        )))
        .pending_store(store)
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
    let counted = async || match &backend {
        Some(b) => redis_count(b, "pending:").await,
        None => Ok(memory.len()),
    };
    // Warm-up: connections, the server's buffers, one pending record.
    for _ in 0..64 {
        send(key()?).await?;
    }
    let base = counted().await?;
    let before = snapshot(redis).await?;
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
    let after = snapshot(redis).await?;
    let count = counted().await?.saturating_sub(base);
    Ok((before, after, count as u64))
}

/// `xtask bench --worker memory --case sessions|pending --iters N [--redis ADDR]`: prints one
/// JSON line. With `--redis` the records go to the Redis server at ADDR.
pub fn worker(case: &str, n: u64, redis: Option<&str>) -> Result<(), String> {
    let redis: Option<SocketAddr> = redis
        .map(|a| a.parse().map_err(|_| format!("bad --redis address {a}")))
        .transpose()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (before, after, count) = match case {
        "sessions" => rt.block_on(sessions(n, redis))?,
        "pending" => rt.block_on(pending(n, redis))?,
        other => return Err(format!("unknown memory case {other}")),
    };
    if count != n {
        return Err(format!("expected {n} live records, found {count}"));
    }
    println!(
        "{}",
        json!({"before": before.rss, "after": after.rss, "count": count,
               "redis_before": before.redis, "redis_after": after.redis})
    );
    Ok(())
}

/// One worker run, as growths in MiB.
#[derive(Clone, Copy, Debug, Default)]
struct Growth {
    /// The worker's VmRSS.
    process: f64,
    /// Redis `used_memory`, `used_memory_rss`, and keys per record.
    redis_used: f64,
    redis_rss: f64,
    redis_keys_per_record: f64,
}

const MIB: f64 = 1024.0 * 1024.0;

fn run_worker(
    cfg: &Config,
    case: &str,
    n: u64,
    redis: Option<SocketAddr>,
) -> Result<Growth, String> {
    let mut cmd = std::process::Command::new(&cfg.exe);
    cmd.args(["bench", "--worker", "memory", "--case", case, "--iters"])
        .arg(n.to_string());
    if let Some(a) = redis {
        cmd.arg("--redis").arg(a.to_string());
    }
    let o = cmd.output().map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!(
            "memory worker {case}{}: {}",
            if redis.is_some() { " (redis)" } else { "" },
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .map_err(|_| format!("memory worker {case}: bad output"))?;
    let grow = |a: &serde_json::Value, b: &serde_json::Value| {
        b.as_f64().unwrap_or(0.0) - a.as_f64().unwrap_or(0.0)
    };
    let (rb, ra) = (&v["redis_before"], &v["redis_after"]);
    Ok(Growth {
        process: grow(&v["before"], &v["after"]) / MIB,
        redis_used: grow(&rb["used"], &ra["used"]) / MIB,
        redis_rss: grow(&rb["rss"], &ra["rss"]) / MIB,
        redis_keys_per_record: grow(&rb["keys"], &ra["keys"]) / n as f64,
    })
}

fn runs(cfg: &Config) -> usize {
    if cfg.quick { 1 } else { 3 }
}

fn measure(cfg: &Config, case: &str, n: u64) -> Result<Vec<f64>, String> {
    (0..runs(cfg))
        .map(|_| run_worker(cfg, case, n, None).map(|g| g.process))
        .collect()
}

/// Each run against a fresh server, so every run starts from the same empty Redis; also the
/// server's version.
fn measure_redis(cfg: &Config, case: &str, n: u64) -> Result<(String, Vec<Growth>), StartError> {
    let mut version = String::new();
    let mut out = Vec::new();
    for _ in 0..runs(cfg) {
        let server = RedisServer::start()?;
        version.clone_from(&server.version);
        out.push(run_worker(cfg, case, n, Some(server.addr)).map_err(StartError::Failed)?);
        // Stops the server (also when the worker failed: the guard drops on return).
        drop(server);
    }
    Ok((version, out))
}

fn median(v: &[f64]) -> Option<f64> {
    stat(v).map(|s| s.median)
}

fn per(v: &[f64], n: f64) -> String {
    median(v)
        .map(|m| format!("≈ {:.0} bytes each", m * MIB / n))
        .unwrap_or_default()
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
    let redis = measure_redis(cfg, "sessions", 100_000).and_then(|(v, rs)| {
        let (_, rp) = measure_redis(cfg, "pending", 10_000)?;
        Ok((v, rs, rp))
    });
    // Rows in pairs: in-memory, then Redis, for each kind of record.
    let kinds: [(&str, &str, f64, &[f64], &str); 2] = [
        (
            "sessions",
            "100k live session tokens",
            100_000.0,
            &s,
            "RSS growth in a fresh process",
        ),
        (
            "pending",
            "10k pending requests",
            10_000.0,
            &p,
            "RSS growth, created through the real 202 path",
        ),
    ];
    let mut ratio_rows = Vec::new();
    let mut failed = None;
    let bytes_each = |v: &[f64], n: f64| json!(median(v).map(|m| (m * MIB / n).round()));
    for (i, (key, what, n, mem, how)) in kinds.into_iter().enumerate() {
        json_out.insert(format!("memory/{key}_bytes_each"), bytes_each(mem, n));
        rows.push(
            Row::new("3 memory", format!("{what}, in-memory store"), "MiB")
                .with_stat(stat(mem))
                .note(format!("{how}; {}", per(mem, n))),
        );
        let label = format!("{what}, Redis backend");
        let (version, growths) = match &redis {
            Ok((v, rs, rp)) => (v, if i == 0 { rs } else { rp }),
            Err(StartError::Missing(why)) => {
                json_out.insert("memory/redis_skipped".into(), json!(why));
                rows.push(Row::new("3 memory", label, "MiB").note(format!("skipped: {why}")));
                continue;
            }
            Err(StartError::Failed(e)) => {
                failed = Some(e.clone());
                rows.push(Row::new("3 memory", label, "MiB").note(format!("failed: {e}")));
                continue;
            }
        };
        let used: Vec<f64> = growths.iter().map(|g| g.redis_used).collect();
        let rss: Vec<f64> = growths.iter().map(|g| g.redis_rss).collect();
        let app: Vec<f64> = growths.iter().map(|g| g.process).collect();
        let keys = growths.first().map_or(0.0, |g| g.redis_keys_per_record);
        json_out.insert(format!("memory/redis_{key}_used_mib"), json!(used));
        json_out.insert(format!("memory/redis_{key}_rss_mib"), json!(rss));
        json_out.insert(format!("memory/redis_{key}_worker_rss_mib"), json!(app));
        json_out.insert(format!("memory/redis_{key}_keys_per_record"), json!(keys));
        json_out.insert(
            format!("memory/redis_{key}_used_bytes_each"),
            bytes_each(&used, n),
        );
        json_out.insert(
            format!("memory/redis_{key}_rss_bytes_each"),
            bytes_each(&rss, n),
        );
        json_out.insert("memory/redis_server".into(), json!(version));
        let rss_median = median(&rss).unwrap_or(f64::NAN);
        rows.push(
            Row::new("3 memory", label, "MiB")
                .with_stat(stat(&used))
                .note(format!(
                    "used_memory growth of a fresh redis-server {version}; {}; RSS growth {rss_median:.2} MiB ({}); {keys:.0} keys each; this process grew {:.2} MiB",
                    per(&used, n),
                    per(&rss, n).replace(" each", ""),
                    median(&app).unwrap_or(f64::NAN),
                )),
        );
        if let (Some(u), Some(m)) = (median(&used), median(mem)) {
            let ratio = u / m;
            // The pending rows run the same HTTP path in both workers, so what the Redis run's
            // worker grew (connections, buffers, the runtime; no records) is in the in-memory
            // figure too and not in Redis's: without it, records against records.
            let adjusted = match (key, median(&app)) {
                ("pending", Some(a)) if m > a => {
                    json_out.insert(
                        "memory/redis_over_memory_pending_adjusted".into(),
                        json!(u / (m - a)),
                    );
                    format!(
                        "; against the in-memory figure less this process's own growth in the Redis run ({a:.2} MiB): {:.3}×",
                        u / (m - a)
                    )
                }
                _ => String::new(),
            };
            json_out.insert(format!("memory/redis_over_memory_{key}"), json!(ratio));
            json_out.insert(
                format!("memory/redis_rss_over_memory_{key}"),
                json!(rss_median / m),
            );
            ratio_rows.push(
                Row::new(
                    "3 memory",
                    format!("{what}: bytes each, Redis / in-memory"),
                    "ratio",
                )
                .value(ratio)
                .note(format!(
                    "ratio of the medians, Redis used_memory / in-memory RSS; Redis RSS / in-memory RSS {:.3}×{adjusted}",
                    rss_median / m
                )),
            );
        }
    }
    rows.extend(ratio_rows);
    match failed {
        Some(e) => Err(format!("Redis memory rows: {e}")),
        None => Ok(()),
    }
}
