//! JWT parsing and agent-token verification: any text as the compact token ends in a typed
//! error (or, never in practice, success), without panics.
#![no_main]
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aauth_sig::jose::UnverifiedJwt;
use aauth_sig::testing::{AgentProvider, MapFetcher};
use aauth_sig::{AgentToken, DiscoveryResolver, KeyPolicy, ResolveContext};
use libfuzzer_sys::fuzz_target;

#[path = "sig_common.rs"]
mod common;

static RESOLVER: LazyLock<DiscoveryResolver> = LazyLock::new(|| {
    let f = Arc::new(MapFetcher::new());
    AgentProvider::new("https://agent.example").install(&f);
    DiscoveryResolver::new(f)
});

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(jwt) = UnverifiedJwt::parse(s) {
        let _ = (jwt.algorithm(false), jwt.algorithm(true), jwt.claims().len());
    }
    let _ = AgentToken::new(s).map(|t| t.expires_at());
    for legacy in [false, true] {
        let ctx = ResolveContext {
            now_unix: common::NOW,
            leeway: Duration::from_secs(60),
            key_policy: KeyPolicy {
                legacy_algorithms: legacy,
                derive_missing_alg: false,
            },
            clock_skew_code: legacy,
        };
        if let Some(Err(e)) = common::poll_ready(RESOLVER.verify_agent_token(s, &ctx)) {
            let _ = e.code();
        }
    }
});
