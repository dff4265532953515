//! Counters an operator watches: signature failures by `Signature-Error` code, challenges,
//! poll outcomes, session tokens issued, refreshed and revoked.
//!
//! Plain atomics rather than the `metrics` crate: the library stays exporter-neutral, the
//! counters cost one relaxed add each, and an application copies a [`MetricsSnapshot`] into
//! whatever it exports (Prometheus, OpenTelemetry, logs).
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aauth_wire::signature_error::SignatureErrorCode;

const CODES: usize = SignatureErrorCode::KNOWN.len();

/// The live counters. Shared by every clone of an [`AAuthResource`](crate::AAuthResource).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Indexed like [`SignatureErrorCode::KNOWN`]; the extra last slot counts unknown codes.
    signature_errors: [AtomicU64; CODES + 1],
    verified: AtomicU64,
    challenges: AtomicU64,
    challenges_refused: AtomicU64,
    polls_pending: AtomicU64,
    polls_terminal: AtomicU64,
    polls_slow_down: AtomicU64,
    polls_wrong_agent: AtomicU64,
    sessions_issued: AtomicU64,
    sessions_refreshed: AtomicU64,
    sessions_revoked: AtomicU64,
    sessions_invalid: AtomicU64,
    agent_tokens_revoked: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub(crate) fn signature_error(&self, code: &SignatureErrorCode) {
        let slot = SignatureErrorCode::KNOWN
            .iter()
            .position(|k| k == code)
            .unwrap_or(CODES);
        if let Some(c) = self.signature_errors.get(slot) {
            bump(c);
        }
    }
    pub(crate) fn verified(&self) {
        bump(&self.verified);
    }
    pub(crate) fn challenge(&self) {
        bump(&self.challenges);
    }
    pub(crate) fn challenge_refused(&self) {
        bump(&self.challenges_refused);
    }
    pub(crate) fn poll_pending(&self) {
        bump(&self.polls_pending);
    }
    pub(crate) fn poll_terminal(&self) {
        bump(&self.polls_terminal);
    }
    pub(crate) fn poll_slow_down(&self) {
        bump(&self.polls_slow_down);
    }
    pub(crate) fn poll_wrong_agent(&self) {
        bump(&self.polls_wrong_agent);
    }
    pub(crate) fn session_issued(&self) {
        bump(&self.sessions_issued);
    }
    pub(crate) fn session_refreshed(&self) {
        bump(&self.sessions_refreshed);
    }
    pub(crate) fn sessions_revoked(&self, n: usize) {
        self.sessions_revoked.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub(crate) fn session_invalid(&self) {
        bump(&self.sessions_invalid);
    }
    pub(crate) fn agent_token_revoked(&self) {
        bump(&self.agent_tokens_revoked);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut signature_errors = BTreeMap::new();
        for (i, code) in SignatureErrorCode::KNOWN.iter().enumerate() {
            signature_errors.insert(code.as_str().to_owned(), get(&self.signature_errors[i]));
        }
        signature_errors.insert("other".to_owned(), get(&self.signature_errors[CODES]));
        MetricsSnapshot {
            signature_errors,
            verified: get(&self.verified),
            challenges: get(&self.challenges),
            challenges_refused: get(&self.challenges_refused),
            polls_pending: get(&self.polls_pending),
            polls_terminal: get(&self.polls_terminal),
            polls_slow_down: get(&self.polls_slow_down),
            polls_wrong_agent: get(&self.polls_wrong_agent),
            sessions_issued: get(&self.sessions_issued),
            sessions_refreshed: get(&self.sessions_refreshed),
            sessions_revoked: get(&self.sessions_revoked),
            sessions_invalid: get(&self.sessions_invalid),
            agent_tokens_revoked: get(&self.agent_tokens_revoked),
        }
    }
}

/// A copy of the counters at one moment; see [`AAuthResource::metrics`](crate::AAuthResource::metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Rejected signatures by the `Signature-Error` code decided for them (before the
    /// generic-errors setting hides it on the wire), every known code present, plus `other`.
    pub signature_errors: BTreeMap<String, u64>,
    /// Signatures that verified.
    pub verified: u64,
    /// `202` interaction responses (new pending requests).
    pub challenges: u64,
    /// Interactions not started because a pending-request limit was reached (`429` per agent,
    /// `503` in total).
    pub challenges_refused: u64,
    /// Polls answered `202`.
    pub polls_pending: u64,
    /// Polls answered with a terminal status (200, 403, 408, 410 `invalid_code`).
    pub polls_terminal: u64,
    /// Polls answered `429 slow_down`.
    pub polls_slow_down: u64,
    /// Polls signed by another key than the one that started the flow.
    pub polls_wrong_agent: u64,
    pub sessions_issued: u64,
    /// Successor tokens issued by rolling refresh.
    pub sessions_refreshed: u64,
    pub sessions_revoked: u64,
    /// Requests whose session token was unknown, expired, revoked or bound to another key.
    pub sessions_invalid: u64,
    pub agent_tokens_revoked: u64,
}
