//! The whole resource stack in process: a signed request that carries a session token goes
//! through the demo application's router (AAuth layer: verification, session lookup; then the
//! handler and its JSON body) with no socket in between. Counted by callgrind against ring's
//! raw verify, it shows what the stack adds to the crypto without the HTTP/1 codec and the
//! kernel. It is also the loop to profile:
//! `valgrind --tool=callgrind target/release/xtask bench --worker count --case stack --iters 3000`.
use aauth_sig::{Algorithm, RequestTarget, SignOptions, Signer, SigningKey};
use axum::body::Body;
use http::{HeaderMap, HeaderValue, Method, Request};
use tower::ServiceExt as _;

use super::fixtures::{issue_session, now_unix};

/// The worker's case name.
pub const CASE: &str = "stack";

const AUTHORITY: &str = "127.0.0.1:9";
const AGENTS: usize = 64;

/// Runs `iters` requests through the router; fails on any non-2xx answer.
pub fn worker(iters: u64) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let resource = aauth_cli::demo_resource::resource(&format!("http://{AUTHORITY}"))
            .map_err(|e| e.to_string())?;
        let now = now_unix();
        let mut signed = Vec::with_capacity(AGENTS);
        for _ in 0..AGENTS {
            let key = SigningKey::generate(Algorithm::Ed25519).map_err(|e| e.to_string())?;
            let authorization = issue_session(&resource, &key, now).await?;
            let mut h = HeaderMap::new();
            h.insert("accept", HeaderValue::from_static("application/json"));
            h.insert(
                "authorization",
                HeaderValue::from_str(&authorization).map_err(|e| e.to_string())?,
            );
            let unsigned = h.clone();
            let target = RequestTarget {
                method: &Method::GET,
                scheme: "http",
                authority: AUTHORITY,
                path: "/data",
                query: None,
                headers: &unsigned,
            };
            Signer::hwk(key)
                .sign(
                    &target,
                    &mut h,
                    &SignOptions::new(now).with_component("authorization"),
                )
                .map_err(|e| e.to_string())?;
            signed.push(h);
        }
        let app = aauth_cli::demo_resource::app(&resource);
        for i in 0..iters {
            let mut req = Request::builder()
                .method(Method::GET)
                .uri("/data")
                .header("host", AUTHORITY)
                .body(Body::empty())
                .map_err(|e| e.to_string())?;
            req.headers_mut()
                .extend(signed[i as usize % AGENTS].clone());
            let Ok(resp) = app.clone().oneshot(req).await;
            if !resp.status().is_success() {
                return Err(format!("the stack answered {}", resp.status()));
            }
            axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}
