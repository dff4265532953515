//! The HTTP server loop behind `aauth serve` (and `aauth demo`): `axum::serve` without its
//! unbounded parts.
//!
//! `axum::serve` sets no timer, so hyper's request-head timeout never runs: a client that sends
//! half a request head (slowloris) keeps its connection, and its slot, forever. Here:
//!
//! * **request-head timeout** ([`HttpLimits::header_read_timeout`]): the first request head on a
//!   connection must be complete within it, whatever the client sends (nothing, part of the
//!   HTTP/2 preface, half an HTTP/1 head); otherwise the connection is closed. On HTTP/1.1
//!   keep-alive connections hyper's own `header_read_timeout` (with a timer) then applies to
//!   every later head, which also ends idle keep-alive connections after the same time.
//! * **connection cap** ([`HttpLimits::max_connections`]): at most this many connections are
//!   served at once; further ones wait in the listen backlog until a slot frees.
//!
//! Shutdown is unchanged: the loop runs until its task is dropped (`aauth serve` returns on
//! Ctrl-C and the runtime drops every connection).
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tower::ServiceExt as _;

/// Default of [`HttpLimits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Default of [`HttpLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Bounds on what one client can hold open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time for a request head to arrive in full (the first on a connection counted from the
    /// accept; later ones on a keep-alive connection from the end of the previous response).
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Serves `router` on `listener` until the returned future is dropped. Accept errors (e.g. out
/// of file descriptors) are logged and retried after a pause, as `axum::serve` does.
pub async fn serve(listener: TcpListener, router: Router, limits: HttpLimits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    loop {
        // Take a slot before accepting, so excess connections wait in the kernel's backlog
        // instead of costing a task each.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        let router = router.clone();
        let timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let first_head = Arc::new(Notify::new());
            let seen = first_head.clone();
            let service = router.map_request(move |req: Request<hyper::body::Incoming>| {
                // A request reaches the service only once its head is complete.
                seen.notify_one();
                req.map(axum::body::Body::new)
            });
            let service = TowerToHyperService::new(service.map_err(|e: Infallible| match e {}));
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            // Covers what hyper's HTTP/1 timer does not: a client that sends nothing, or part
            // of the HTTP/2 preface, or never completes an HTTP/2 request.
            let watchdog = async {
                if tokio::time::timeout(timeout, first_head.notified())
                    .await
                    .is_ok()
                {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                () = watchdog => {
                    tracing::debug!(%peer, "no complete request head in time; connection closed");
                }
            }
        });
    }
}
