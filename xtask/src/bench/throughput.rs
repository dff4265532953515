//! Part 3: requests per second of the resource on loopback, full stack against the HTTP floor
//! and the crypto bound, with a Rust load generator playing many agents.
//!
//! The server is `aauth serve`'s demo application (`aauth_cli::demo_resource`) with two more
//! routes merged in outside the AAuth layer: `/plain` (the same server answering an unsigned
//! request) and `/raw` (a handler that does only ring's Ed25519 verify of a base the client
//! sends along). It runs on its own runtime with one worker thread; the load generator runs on
//! another single thread, so on a 2-core machine each has a core.
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aauth_axum::AAuthResource;
use aauth_sig::{Algorithm, RequestTarget, SignOptions, Signer, SigningKey, VerifyingKey};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;

use super::Config;
use super::fixtures::{issue_session, now_unix};
use super::stats::{Row, stat};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Variant {
    Unsigned,
    Raw,
    Full,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Unsigned => "unsigned",
            Variant::Raw => "raw-verify",
            Variant::Full => "full",
        }
    }
}

struct Agent {
    signer: Signer,
    token: String,
}

type Keys = Arc<HashMap<String, VerifyingKey>>;

async fn plain() -> axum::Json<serde_json::Value> {
    axum::Json(json!({
        "message": "Hello from the AAuth demo resource",
        "agent": "-",
        "approved_by": "-",
    }))
}

/// Only the crypto: the signature bytes from `Signature`, the base from `x-base`, the key by
/// `x-agent`, one ring verify.
async fn raw(State(keys): State<Keys>, headers: HeaderMap) -> StatusCode {
    let b64 = base64::engine::general_purpose::STANDARD;
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (Some(agent), Some(base), Some(sig)) = (get("x-agent"), get("x-base"), get("signature"))
    else {
        return StatusCode::BAD_REQUEST;
    };
    let sig = sig.split(':').nth(1).and_then(|s| b64.decode(s).ok());
    let base = b64.decode(base).ok();
    match (keys.get(agent), base, sig) {
        (Some(k), Some(base), Some(sig)) if k.verify(&base, &sig).is_ok() => StatusCode::OK,
        _ => StatusCode::UNAUTHORIZED,
    }
}

struct Server {
    addr: std::net::SocketAddr,
    agents: Vec<Agent>,
    _rt: tokio::runtime::Runtime,
}

fn start_server(agents: usize) -> Result<Server, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let keys: Vec<SigningKey> = (0..agents)
        .map(|_| SigningKey::generate(Algorithm::Ed25519).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let (addr, agents) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let resource: AAuthResource = aauth_cli::demo_resource::resource(&format!("http://{addr}"))
            .map_err(|e| e.to_string())?;
        let now = now_unix();
        let mut out = Vec::new();
        let mut verifying = HashMap::new();
        for (i, key) in keys.into_iter().enumerate() {
            let token = issue_session(&resource, &key, now).await?;
            verifying.insert(i.to_string(), key.verifying_key());
            out.push(Agent {
                signer: Signer::hwk(key),
                token,
            });
        }
        let keys: Keys = Arc::new(verifying);
        let extra = Router::new()
            .route("/plain", get(plain))
            .route("/raw", get(raw).with_state(keys));
        let app = aauth_cli::demo_resource::app(&resource).merge(extra);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok::<_, String>((addr, out))
    })?;
    Ok(Server {
        addr,
        agents,
        _rt: rt,
    })
}

/// A pool of distinct requests for one segment, signed just before it (fresh `created`).
fn pool(
    server: &Server,
    variant: Variant,
    per_agent: usize,
) -> Result<Vec<(String, HeaderMap)>, String> {
    let authority = server.addr.to_string();
    let b64 = base64::engine::general_purpose::STANDARD;
    let now = now_unix();
    let mut out = Vec::new();
    for _ in 0..per_agent {
        for (i, a) in server.agents.iter().enumerate() {
            let mut h = HeaderMap::new();
            h.insert("accept", HeaderValue::from_static("application/json"));
            h.insert("user-agent", HeaderValue::from_static("aauth-bench/1"));
            let path = match variant {
                Variant::Unsigned => {
                    out.push((format!("http://{authority}/plain"), h));
                    continue;
                }
                Variant::Raw => "/raw",
                Variant::Full => "/data",
            };
            h.insert(
                "authorization",
                HeaderValue::from_str(&a.token).map_err(|e| e.to_string())?,
            );
            let opts = SignOptions::new(now).with_component("authorization");
            let unsigned = h.clone();
            let target = RequestTarget {
                method: &Method::GET,
                scheme: "http",
                authority: &authority,
                path,
                query: None,
                headers: &unsigned,
            };
            a.signer
                .sign(&target, &mut h, &opts)
                .map_err(|e| e.to_string())?;
            if variant == Variant::Raw {
                let mut tmp = unsigned.clone();
                let base = a
                    .signer
                    .signature_base(&target, &mut tmp, &opts)
                    .map_err(|e| e.to_string())?;
                h.insert(
                    "x-base",
                    HeaderValue::from_str(&b64.encode(base)).map_err(|e| e.to_string())?,
                );
                h.insert(
                    "x-agent",
                    HeaderValue::from_str(&i.to_string()).map_err(|e| e.to_string())?,
                );
            }
            out.push((format!("http://{authority}{path}"), h));
        }
    }
    Ok(out)
}

/// Sends the pool round-robin from `concurrency` tasks for `dur`; answers per second.
async fn load(
    client: &reqwest::Client,
    pool: Arc<Vec<(String, HeaderMap)>>,
    concurrency: usize,
    dur: Duration,
) -> Result<f64, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, pool, next, ok, bad) = (
            client.clone(),
            pool.clone(),
            next.clone(),
            ok.clone(),
            bad.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed) % pool.len();
                let (url, h) = &pool[i];
                match client.get(url).headers(h.clone()).send().await {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let el = start.elapsed().as_secs_f64();
    let bad = bad.load(Ordering::Relaxed);
    if bad > 0 {
        return Err(format!("{bad} requests were not answered 200"));
    }
    Ok(ok.load(Ordering::Relaxed) as f64 / el)
}

pub fn run(
    cfg: &Config,
    rows: &mut Vec<Row>,
    json_out: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    aauth_cli::install_ring_provider();
    let agents = if cfg.quick { 32 } else { 64 };
    let per_agent = 32;
    let concurrency = 32;
    let reps = if cfg.quick { 3 } else { 5 };
    let dur = Duration::from_millis(if cfg.quick { 1500 } else { 3000 });
    let server = start_server(agents)?;
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let variants = [Variant::Unsigned, Variant::Raw, Variant::Full];
    // Warm-up (connections, allocator, caches) and a correctness check of each route.
    for v in variants {
        let p = Arc::new(pool(&server, v, 1)?);
        client_rt
            .block_on(load(&client, p, concurrency, Duration::from_millis(300)))
            .map_err(|e| format!("{}: {e}", v.name()))?;
    }
    let mut per: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut full_raw = Vec::new();
    let mut full_unsigned = Vec::new();
    let mut raw_unsigned = Vec::new();
    for rep in 0..reps {
        let mut got = HashMap::new();
        for k in 0..variants.len() {
            let v = variants[(k + rep) % variants.len()];
            let p = Arc::new(pool(&server, v, per_agent)?);
            let rps = client_rt
                .block_on(load(&client, p, concurrency, dur))
                .map_err(|e| format!("{}: {e}", v.name()))?;
            got.insert(v, rps);
            per.entry(v.name()).or_default().push(rps);
        }
        let g = |v: Variant| got.get(&v).copied().unwrap_or(f64::NAN);
        full_raw.push(g(Variant::Full) / g(Variant::Raw));
        full_unsigned.push(g(Variant::Full) / g(Variant::Unsigned));
        raw_unsigned.push(g(Variant::Raw) / g(Variant::Unsigned));
    }
    json_out.insert("throughput/rps".into(), json!(per));
    let setup = format!(
        "{agents} agents, {concurrency} connections, {:.1} s segments",
        dur.as_secs_f64()
    );
    rows.push(
        Row::new(
            "3 server",
            "full stack (hwk + session token) req/s / raw-verify handler req/s",
            "ratio",
        )
        .with_stat(stat(&full_raw))
        .note(format!(
            "1.00 = the full stack costs no more than the crypto; {setup}"
        )),
    );
    rows.push(
        Row::new(
            "3 server",
            "full stack req/s / unsigned req/s (same server)",
            "ratio",
        )
        .with_stat(stat(&full_unsigned)),
    );
    rows.push(
        Row::new(
            "3 server",
            "raw-verify handler req/s / unsigned req/s",
            "ratio",
        )
        .with_stat(stat(&raw_unsigned))
        .note("the crypto bound of this setup"),
    );
    if let Some(s) = per.get("full").and_then(|v| stat(v)) {
        rows.push(
            Row::new("3 server", "full stack req/s (context only)", "per s")
                .with_stat(Some(s))
                .note("absolute: one server thread + one load thread; drifts with machine load"),
        );
    }
    Ok(())
}
