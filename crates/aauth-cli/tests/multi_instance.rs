//! Several `aauth serve` processes acting as one resource through one Redis (issue 6).
//!
//! Both instances listen on the same port of two loopback addresses (127.0.0.2 and 127.0.0.3)
//! and share one public origin, `http://localhost:PORT`, so a signature made for the origin
//! verifies on either (the signature base's `@authority` is the public origin). The agent and
//! the person pick an instance with reqwest's `resolve("localhost", addr)`.
//!
//! The Redis server comes from `AAUTH_REDIS_URL`; without it the Redis tests print
//! `SKIPPED: AAUTH_REDIS_URL not set` (and fail under `CI=true`). The fail-closed tests need no
//! server.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aauth_agent::{AAuthClient, InteractionPrompt, MemorySessionCache, SessionCache};
use aauth_cli::demo_resource::{self, DemoOptions, DemoStores};
use aauth_cli::person::{self, Login};
use aauth_sig::{Algorithm, SigningKey};
use aauth_store::redis::{RedisBackend, RedisConfig};
use aauth_wire::requirement::{AAuthRequirement, Requirement};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use tokio::sync::mpsc;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

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

/// A port free on both loopback addresses (and one more for each admin listener).
fn free_port_on_both() -> u16 {
    for _ in 0..50 {
        let a = std::net::TcpListener::bind((A, 0)).expect("127.0.0.2 is a loopback address");
        let port = a.local_addr().unwrap().port();
        if std::net::TcpListener::bind((B, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free on both 127.0.0.2 and 127.0.0.3");
}

fn free_port(ip: IpAddr) -> u16 {
    let l = std::net::TcpListener::bind((ip, 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// One `aauth serve` process; killed when dropped.
struct Instance {
    child: Child,
    ip: IpAddr,
    admin: SocketAddr,
    args: Vec<String>,
    password: String,
}

impl Instance {
    fn start(ip: IpAddr, port: u16, redis: &str, prefix: &str, password: &str) -> Instance {
        let admin = SocketAddr::new(ip, free_port(ip));
        let args = vec![
            "serve".to_owned(),
            "--listen".to_owned(),
            format!("{ip}:{port}"),
            "--public-url".to_owned(),
            format!("http://localhost:{port}"),
            "--store".to_owned(),
            redis.to_owned(),
            "--store-prefix".to_owned(),
            prefix.to_owned(),
            "--admin-listen".to_owned(),
            admin.to_string(),
            "--replay-guard".to_owned(),
        ];
        let child = spawn(&args, password);
        Instance {
            child,
            ip,
            admin,
            args,
            password: password.to_owned(),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.kill();
        self.child = spawn(&self.args, &self.password);
    }

    async fn wait_ready(&mut self, port: u16) {
        let http = http_for(self.ip, port);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("aauth serve on {} exited: {status}", self.ip);
            }
            let up = http
                .get(format!("http://localhost:{port}/"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            let admin_up = tokio::net::TcpStream::connect(self.admin).await.is_ok();
            if up && admin_up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "aauth serve on {} never came up",
                self.ip
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(args: &[String], password: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_aauth"))
        .args(args)
        .env("AAUTH_DEMO_PASSWORD", password)
        .env_remove("AAUTH_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run the aauth binary")
}

/// An HTTP client that sends `localhost` to `ip` (the URL keeps the port).
fn http_for(ip: IpAddr, port: u16) -> reqwest::Client {
    aauth_cli::install_ring_provider();
    reqwest::Client::builder()
        .resolve("localhost", SocketAddr::new(ip, port))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Deletes the run's keys when the test ends (they have TTLs anyway).
struct Cleanup(RedisBackend);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let backend = self.0.clone();
        // The runtime is still alive while the test body's locals drop.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                let _ = rt.block_on(backend.delete_all());
            }
        })
        .join();
    }
}

struct Cluster {
    port: u16,
    origin: String,
    a: Instance,
    b: Instance,
    login: Login,
    _cleanup: Cleanup,
}

async fn cluster(redis: &str) -> Cluster {
    let prefix = format!("aauth-mi:{}:", aauth_store::random_id().unwrap());
    let password = aauth_store::random_id().unwrap();
    let port = free_port_on_both();
    let cleanup = Cleanup(
        RedisBackend::open(RedisConfig::new(redis).prefix(prefix.as_str()))
            .await
            .unwrap(),
    );
    let mut a = Instance::start(A, port, redis, &prefix, &password);
    let mut b = Instance::start(B, port, redis, &prefix, &password);
    a.wait_ready(port).await;
    b.wait_ready(port).await;
    Cluster {
        port,
        origin: format!("http://localhost:{port}"),
        a,
        b,
        login: Login {
            username: demo_resource::DEMO_USER.to_owned(),
            password,
        },
        _cleanup: cleanup,
    }
}

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::Ed25519).unwrap()
}

/// A signed request through `http`; `token` adds `Authorization: AAuth`.
async fn signed_get(
    signer: &AAuthClient,
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = http.get(url).build().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert(AUTHORIZATION, format!("AAuth {t}").parse().unwrap());
    }
    signer.sign(&mut req).unwrap();
    http.execute(req).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_on_b_poll_on_a_token_works_on_b_revoke_on_a_refused_on_b() {
    let Some(redis) = redis_url() else { return };
    let c = cluster(&redis).await;
    let (to_a, to_b) = (http_for(A, c.port), http_for(B, c.port));
    let url = format!("{}/data", c.origin);

    // The agent works against instance A only, holding long polls there.
    let (tx, mut prompts) = mpsc::unbounded_channel::<InteractionPrompt>();
    let cache: Arc<dyn SessionCache> = Arc::new(MemorySessionCache::default());
    let agent = AAuthClient::builder(key())
        .use_hwk()
        .http_client(to_a.clone())
        .session_cache(cache.clone())
        .with_interaction_handling(move |o| {
            let tx = tx.clone();
            o.on_interaction_required(move |p| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(p);
                }
            });
            o.prefer_wait(20);
            o.polling_timeout(Duration::from_secs(90));
        })
        .build()
        .unwrap();
    let flow = {
        let (agent, url) = (agent.clone(), url.clone());
        tokio::spawn(async move { agent.get(&url).send().await })
    };

    // The person approves on instance B.
    let prompt = tokio::time::timeout(Duration::from_secs(60), prompts.recv())
        .await
        .expect("the agent shows a prompt")
        .expect("a prompt");
    assert!(
        prompt.approval_url().starts_with(&c.origin),
        "{}",
        prompt.url
    );
    person::decide_with(
        &to_b,
        &prompt.approval_url(),
        Some(&c.login),
        person::Choice::Approve,
    )
    .await
    .expect("approve on B");

    // A's long poll learns of B's decision and hands out the token; the data follows.
    let resp = tokio::time::timeout(Duration::from_secs(60), flow)
        .await
        .expect("the flow ends")
        .unwrap()
        .expect("approved");
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["approved_by"], demo_resource::DEMO_USER);
    let token = agent
        .session_token(&c.origin)
        .expect("a session token from A");

    // The token works on B.
    let on_b = signed_get(&agent, &to_b, &url, Some(token.expose())).await;
    assert_eq!(on_b.status(), 200, "the token issued on A is valid on B");

    // Revoke the agent's key on A (admin route); B refuses the token from then on.
    let admin = reqwest::Client::new();
    let revoked: serde_json::Value = admin
        .post(format!(
            "http://{}/revoke/key/{}",
            c.a.admin,
            agent.thumbprint_for(&c.origin).as_str()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["revoked"], 1);
    let refused = signed_get(&agent, &to_b, &url, Some(token.expose())).await;
    assert_ne!(
        refused.status(),
        200,
        "a token revoked on A must not work on B"
    );
    assert_eq!(
        refused.status(),
        202,
        "an unknown session is no session: a new challenge (SESS-16)"
    );
    let again_on_a = signed_get(&agent, &to_a, &url, Some(token.expose())).await;
    assert_eq!(again_on_a.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sig_19_a_request_replayed_to_another_instance_is_refused() {
    let Some(redis) = redis_url() else { return };
    let c = cluster(&redis).await;
    let agent = AAuthClient::builder(key()).use_hwk().build().unwrap();
    let (to_a, to_b) = (http_for(A, c.port), http_for(B, c.port));
    let mut req = to_a.post(format!("{}/data", c.origin)).build().unwrap();
    agent.sign(&mut req).unwrap();
    let copy = req.try_clone().unwrap();
    let first = to_a.execute(req).await.unwrap();
    assert_ne!(first.status(), 401, "the original is accepted by A");
    let replayed = to_b.execute(copy).await.unwrap();
    assert_eq!(replayed.status(), 401, "B has seen it through Redis");
    let code = replayed.headers()["signature-error"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(code.contains("invalid_signature"), "{code}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_and_restarted_mid_flow_loses_nothing() {
    let Some(redis) = redis_url() else { return };
    let mut c = cluster(&redis).await;
    let (to_a, to_b) = (http_for(A, c.port), http_for(B, c.port));
    let url = format!("{}/data", c.origin);
    let agent = AAuthClient::builder(key()).use_hwk().build().unwrap();

    // 1. The agent asks A and gets a 202 with the interaction requirement and a pending URL.
    let first = signed_get(&agent, &to_a, &url, None).await;
    assert_eq!(first.status(), 202);
    let location = first
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    let location = reqwest::Url::parse(&url).unwrap().join(&location).unwrap();
    let requirement = first
        .headers()
        .get("aauth-requirement")
        .and_then(|v| v.to_str().ok())
        .map(AAuthRequirement::parse)
        .expect("AAuth-Requirement")
        .unwrap();
    let Requirement::Interaction { url: page, code } = requirement.requirement else {
        panic!("expected an interaction requirement");
    };

    // 2. A dies and comes back: the pending request lives in Redis, not in A.
    c.a.restart();
    c.a.wait_ready(c.port).await;

    // 3. The person approves on B; a poll on the restarted A gets the token.
    person::decide_with(
        &to_b,
        &format!("{page}?code={code}"),
        Some(&c.login),
        person::Choice::Approve,
    )
    .await
    .expect("approve on B");
    let poll = signed_get(&agent, &to_a, location.as_str(), None).await;
    assert_eq!(poll.status(), 200, "the approval survived the restart");
    let token = poll
        .headers()
        .get("aauth-access")
        .and_then(|v| v.to_str().ok())
        .expect("AAuth-Access")
        .to_owned();
    // RM-13: the terminal answer was consumed; another instance does not hand it out again.
    let replay = signed_get(&agent, &to_b, location.as_str(), None).await;
    assert_eq!(replay.status(), 410);

    // 4. B, and a restarted B, honour the token.
    assert_eq!(
        signed_get(&agent, &to_b, &url, Some(&token)).await.status(),
        200
    );
    c.b.restart();
    c.b.wait_ready(c.port).await;
    assert_eq!(
        signed_get(&agent, &to_b, &url, Some(&token)).await.status(),
        200
    );
    assert_eq!(
        signed_get(&agent, &to_a, &url, Some(&token)).await.status(),
        200
    );
}

/// Redis down: the resource fails closed with a clear `503` problem+json, and keeps serving
/// (no panic). The store points at a closed port; no server needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_the_resource_answers_503_problem_json() {
    let backend = RedisBackend::open(
        RedisConfig::new("redis://127.0.0.1:1")
            .connection_timeout(Duration::from_millis(300))
            .response_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let opts = DemoOptions {
        login: None,
        stores: Some(DemoStores {
            sessions: Arc::new(backend.session_store()),
            pending: Arc::new(backend.pending_store()),
            revocations: Arc::new(backend.revocation_store()),
            replay: Arc::new(backend.replay_store()),
        }),
        replay_guard: true,
        ..DemoOptions::default()
    };
    let (addr, resource, handle) =
        demo_resource::spawn_with(([127, 0, 0, 1], 0).into(), None, opts)
            .await
            .unwrap();
    let agent = AAuthClient::builder(key()).use_hwk().build().unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/data", resource.origin());
    for token in [None, Some("c2Vzc2lvbi10b2tlbi10aGF0LWRvZXMtbm90LWV4aXN0")] {
        let resp = signed_get(&agent, &http, &url, token).await;
        assert_eq!(resp.status(), 503, "fail closed");
        assert_eq!(
            resp.headers().get(CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    // The admin routes fail closed too.
    let (admin, _admin_handle) = aauth_cli::admin::spawn(([127, 0, 0, 1], 0).into(), resource)
        .await
        .unwrap();
    let resp = http
        .post(format!("http://{admin}/revoke/person/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(!handle.is_finished(), "the server is still up");
    let _ = addr;
}

#[test]
fn serve_without_a_reachable_redis_exits_with_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_aauth"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            "redis://user:hunter2@127.0.0.1:1",
        ])
        .env_remove("AAUTH_STORE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unavailable"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "password printed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn admin_listener_refuses_non_loopback_addresses() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (_a, resource, _h) = demo_resource::spawn(([127, 0, 0, 1], 0).into(), None)
            .await
            .unwrap();
        let err = aauth_cli::admin::spawn(([0, 0, 0, 0], 0).into(), resource)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    });
}
