//! Library half of the `aauth` command: the demo resource and the simulated person, shared by
//! the binary and its tests.
#![forbid(unsafe_code)]

pub mod admin;
pub mod demo_resource;
pub mod keyfile;
pub mod person;
pub mod serve_http;
pub mod verify;

/// reqwest runs on rustls with ring as its only provider.
pub fn install_ring_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

// The README's Rust snippets compile as doctests of this crate, which depends on every layer.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}
