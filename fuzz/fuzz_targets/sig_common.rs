//! Shared by the aauth-sig targets: a fixed request target and a poll-once executor (the
//! resolver futures never wait when the fetcher answers at once).
#![allow(dead_code)]
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aauth_sig::RequestTarget;
use http::{HeaderMap, Method};

pub const NOW: u64 = 1_730_217_600;

pub fn target<'a>(method: &'a Method, h: &'a HeaderMap) -> RequestTarget<'a> {
    RequestTarget {
        method,
        scheme: "https",
        authority: "resource.example",
        path: "/api/data",
        query: Some("a=1"),
        headers: h,
    }
}

/// Polls `f` until it is ready; gives up (returns `None`) if it ever waits.
pub fn poll_ready<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Splits fuzz input into `n` UTF-8 fields at 0xFF bytes.
pub fn fields(data: &[u8], n: usize) -> Option<Vec<&str>> {
    let parts: Vec<&[u8]> = data.splitn(n, |b| *b == 0xff).collect();
    if parts.len() != n {
        return None;
    }
    parts.into_iter().map(|p| std::str::from_utf8(p).ok()).collect()
}
