//! `aauth serve`'s server loop closes connections that never complete a request head
//! (slowloris) and caps concurrent connections. Each test uses a 1 s head timeout and fails if
//! the server keeps the connection for 5 s.
use std::time::{Duration, Instant};

use aauth_cli::serve_http::{self, HttpLimits};
use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TIMEOUT: Duration = Duration::from_secs(1);
const GIVE_UP: Duration = Duration::from_secs(5);

async fn server(max_connections: usize) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/", get(|| async { "ok" }));
    tokio::spawn(serve_http::serve(
        listener,
        router,
        HttpLimits {
            header_read_timeout: TIMEOUT,
            max_connections,
        },
    ));
    addr
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(GIVE_UP, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "connection still open after {GIVE_UP:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, start.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn closed_after_sending(bytes: &[u8]) {
    let addr = server(16).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let (got, after) = read_until_closed(&mut stream).await;
    assert!(
        !String::from_utf8_lossy(&got).contains(" 200 "),
        "a half request was answered: {got:?}"
    );
    assert!(after >= TIMEOUT / 2, "closed too early: {after:?}");
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_within_the_timeout() {
    closed_after_sending(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").await;
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_within_the_timeout() {
    closed_after_sending(b"").await;
}

#[tokio::test]
async fn a_partial_http2_preface_is_closed_within_the_timeout() {
    closed_after_sending(b"PRI * HTTP/2.0\r\n").await;
}

/// A complete request is answered; the idle keep-alive connection afterwards is closed after
/// the same timeout (hyper's head timer, started when it waits for the next head).
#[tokio::test]
async fn complete_requests_are_served_and_idle_keep_alive_is_bounded() {
    let addr = server(16).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let (got, _) = read_until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("ok"), "{text}");
}

/// With one slot, a second connection is served only once the first (a slowloris) has been
/// closed by the timeout.
#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let addr = server(1).await;
    let mut hog = TcpStream::connect(addr).await.unwrap();
    hog.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    let mut next = TcpStream::connect(addr).await.unwrap();
    next.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (got, _) = read_until_closed(&mut next).await;
    let waited = start.elapsed();
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 OK"),
        "{got:?}"
    );
    assert!(
        waited >= TIMEOUT / 2,
        "served at once ({waited:?}): the cap did not hold"
    );
    let (_, _) = read_until_closed(&mut hog).await;
}
