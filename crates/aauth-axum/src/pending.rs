//! The pending URL: created by a `202`, polled by the agent with signed GETs, withdrawn with a
//! signed DELETE. The answer to each poll follows the draft's polling table.
use std::time::Duration;

use aauth_store::pending::update;
use aauth_store::{
    InsertOutcome, PendingId, PendingRecord, PendingState, SessionBinding, SessionGrant,
};
use aauth_wire::access::access_header_value;
use aauth_wire::headers;
use aauth_wire::interaction_code::InteractionCode;
use aauth_wire::polling::{PendingStatus, PollingErrorCode};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::AAuthResource;
use crate::extract::VerifiedAgent;
use crate::policy::GrantContext;
use crate::response::{self, InteractionRequired};
use tracing::Instrument as _;

impl AAuthResource {
    /// The routes of the two-party flow: the pending URL and the interaction page. Merge them
    /// into the application's router *outside* [`AAuthResource::layer`]: the pending URL
    /// verifies signatures itself and the interaction page is for a person's browser.
    ///
    /// Also served: `/.well-known/aauth-resource.json` (metadata), the JWKS of the resource's
    /// signing keys when it has any, the revocation endpoint, and whatever routes the
    /// [`InteractionAuthenticator`](crate::InteractionAuthenticator) brings (a login page).
    pub fn routes(&self) -> Router {
        let pending = format!("{}/{{id}}", self.inner.pending_prefix);
        let interaction = format!("{}/{{id}}", self.inner.interaction_prefix);
        let mut router = Router::new()
            .route(&pending, get(poll).delete(cancel))
            .route(
                &interaction,
                get(crate::interaction::show).post(crate::interaction::decide),
            )
            .route(
                crate::metadata::METADATA_PATH,
                get(crate::metadata::metadata),
            )
            .route(
                self.inner.revocation_path,
                axum::routing::post(crate::revoke::revoke),
            );
        if !self.inner.signing_keys.is_empty() {
            router = router.route(self.inner.jwks_path, get(crate::metadata::jwks));
        }
        let router = router.with_state(self.clone());
        match self.inner.authenticator.routes() {
            Some(extra) => router.merge(extra),
            None => router,
        }
    }

    /// Starts a person's interaction for `agent`: creates a pending request and returns the
    /// `202` that tells the agent where the person approves and where to poll (RM-02..RM-11).
    /// Handlers can call this directly; [`Authorized`](crate::Authorized) calls it when the
    /// policy says [`Decision::Interact`](crate::Decision::Interact).
    pub async fn require_interaction(
        &self,
        agent: &VerifiedAgent,
        method: &Method,
        path: &str,
        scope: Option<String>,
    ) -> Response {
        let span = tracing::info_span!(
            "aauth.challenge",
            jkt = agent.thumbprint.as_str(),
            path,
            outcome = tracing::field::Empty
        );
        if self.inner.require_interaction_capability && !agent.declares("interaction") {
            span.record("outcome", "no_interaction_capability");
            tracing::info!(target: "aauth::challenge", outcome = "denied", "interaction needed but the agent did not declare the capability");
            return response::Denied::new(
                "a person's approval is needed and the agent did not declare the interaction capability",
            )
            .into_response();
        }
        let result = self
            .create_pending(agent, method, path, scope)
            .instrument(span.clone())
            .await;
        match result {
            Ok(ir) => {
                self.inner.metrics.challenge();
                span.record("outcome", "interaction_required");
                ir.into_response()
            }
            Err(resp) => {
                span.record("outcome", "failed");
                resp
            }
        }
    }

    async fn create_pending(
        &self,
        agent: &VerifiedAgent,
        method: &Method,
        path: &str,
        scope: Option<String>,
    ) -> Result<InteractionRequired, Response> {
        let inner = &self.inner;
        let now = self.now();
        let rng_fail = |_| response::server_error("random generator failure");
        let id = PendingId::generate().map_err(rng_fail)?;
        let interaction_id = aauth_store::random_id().map_err(rng_fail)?;
        // 40 bits → 8 Crockford symbols, shown as `XXXX-XXXX` (IC-02, IC-03). Guessing is
        // bounded anyway: the code only counts at this request's own interaction URL, which
        // locks after a few wrong tries (IC-09).
        let entropy = aauth_store::random_bytes::<5>().map_err(rng_fail)?;
        let code = InteractionCode::from_random_bytes(&entropy)
            .map_err(|_| response::server_error("interaction code"))?;
        let record = PendingRecord {
            id: id.clone(),
            interaction_id: interaction_id.clone(),
            code: code.clone(),
            key_thumbprint: agent.thumbprint.clone(),
            agent_id: agent.agent_id.clone(),
            method: method.as_str().to_owned(),
            path: path.to_owned(),
            scope,
            created_at: now,
            expires_at: now.saturating_add(inner.pending_ttl),
            state: PendingState::Pending,
            failed_code_attempts: 0,
            interacting_since: None,
            callback: None,
            retry_after: inner.retry_after,
            last_poll_at: None,
            decision_nonce_hash: None,
            version: 0,
        };
        // The limits bound what one agent, and all agents together, can make the resource keep
        // (each record lives `pending_ttl`); a refusal never touches existing records.
        let outcome = inner
            .pending
            .insert_limited(record, inner.pending_limits, now)
            .await
            .map_err(|_| response::unavailable())?;
        let wait = |until: u64| until.saturating_sub(now).clamp(1, inner.pending_ttl);
        match outcome {
            InsertOutcome::Inserted => {}
            InsertOutcome::AgentLimit { until } => {
                inner.metrics.challenge_refused();
                tracing::debug!(target: "aauth::challenge", limit = "per_agent", "too many open pending requests for this agent");
                return Err(response::too_many_pending(
                    inner.pending_limits.per_agent.unwrap_or_default(),
                    wait(until),
                ));
            }
            InsertOutcome::TotalLimit { until } => {
                inner.metrics.challenge_refused();
                tracing::debug!(target: "aauth::challenge", limit = "total", "pending-request limit of the resource reached");
                return Err(response::pending_capacity_reached(wait(until)));
            }
            // A store from a newer aauth-store version with outcomes this code does not know:
            // refuse rather than claim a pending request exists.
            _ => return Err(response::unavailable()),
        }
        tracing::info!(target: "aauth::challenge", "interaction required");
        Ok(InteractionRequired {
            url: format!(
                "{}{}/{}",
                inner.origin, inner.interaction_prefix, interaction_id
            ),
            code: code.display(),
            location: format!("{}/{}", inner.pending_prefix, id.as_str()),
            retry_after: inner.retry_after,
        })
    }
}

/// `Prefer: wait=N` (RFC 7240 §4.3), if present and well formed. A number too large for a
/// `u64` is still a wish to wait long: it saturates, and the caller caps it.
fn prefer_wait(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .filter_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            if !k.trim().eq_ignore_ascii_case("wait") {
                return None;
            }
            let digits = v.trim().trim_matches('"');
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(digits.parse::<u64>().unwrap_or(u64::MAX))
        })
        .next()
}

/// What a poll resolves to, decided inside the compare-and-swap.
enum PollAnswer {
    WrongAgent,
    StillPending(PendingStatus),
    TooFast,
    Deliver(aauth_store::Approval),
    Error(PollingErrorCode, &'static str),
    Gone,
}

async fn load_and_check(
    resource: &AAuthResource,
    req: Request,
) -> Result<(VerifiedAgent, PendingId, HeaderMap), Response> {
    let (parts, _body) = req.into_parts();
    let agent = resource.authenticate(&parts).await?.agent;
    let id_str = parts
        .uri
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let id = PendingId::parse(&id_str).ok_or_else(response::not_found)?;
    Ok((agent, id, parts.headers))
}

async fn poll(State(resource): State<AAuthResource>, req: Request) -> Response {
    let (agent, id, headers) = match load_and_check(&resource, req).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let span = tracing::info_span!(
        "aauth.poll",
        pending = ?id,
        jkt = agent.thumbprint.as_str(),
        outcome = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let resp = poll_in(&resource, agent, id, headers)
        .instrument(span.clone())
        .await;
    span.record("status", resp.status().as_u16());
    resp
}

async fn poll_in(
    resource: &AAuthResource,
    agent: VerifiedAgent,
    id: PendingId,
    headers: HeaderMap,
) -> Response {
    let span = tracing::Span::current();
    let inner = &resource.inner;
    let timeout = inner.interaction_timeout;
    let wait = prefer_wait(&headers).map(|w| w.min(inner.max_wait));
    let mut waited = false;
    loop {
        let now = resource.now();
        let result = update(inner.pending.as_ref(), &id, |rec| {
            decide_poll(rec, &agent, now, waited, timeout)
        })
        .await;
        let (rec, answer) = match result {
            Ok(x) => x,
            Err(aauth_store::StoreError::NotFound) => return response::not_found(),
            Err(_) => return response::unavailable(),
        };
        match answer {
            PollAnswer::StillPending(status) => {
                if let (Some(w), false) = (wait, waited)
                    && w > 0
                {
                    waited = true;
                    let _ = inner
                        .pending
                        .wait_for_change(&id, rec.version, Duration::from_secs(w))
                        .await;
                    continue;
                }
                inner.metrics.poll_pending();
                span.record("outcome", status_name(&status));
                return response::pending(status, rec.retry_after, None, None);
            }
            PollAnswer::WrongAgent => {
                inner.metrics.poll_wrong_agent();
                span.record("outcome", "wrong_agent");
                tracing::info!(target: "aauth::poll", outcome = "wrong_agent", "poll by a key other than the one that started the flow");
                return response::Denied::new("this pending request belongs to another agent")
                    .into_response();
            }
            PollAnswer::TooFast => {
                inner.metrics.poll_slow_down();
                span.record("outcome", "slow_down");
                let mut resp = response::polling_error(
                    PollingErrorCode::SlowDown,
                    "polling faster than Retry-After",
                );
                resp.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    HeaderValue::from(rec.retry_after + 5),
                );
                return resp;
            }
            PollAnswer::Gone => {
                span.record("outcome", "gone");
                return response::gone();
            }
            PollAnswer::Error(code, detail) => {
                inner.metrics.poll_terminal();
                span.record("outcome", code.as_str());
                return response::polling_error(code, detail);
            }
            PollAnswer::Deliver(approval) => {
                inner.metrics.poll_terminal();
                span.record("outcome", "approved");
                return deliver(resource, &rec, approval, now).await;
            }
        }
    }
}

fn status_name(s: &PendingStatus) -> &'static str {
    match s {
        PendingStatus::Interacting => "interacting",
        _ => "pending",
    }
}

/// The polling table (P "Deferred Response State Machine", DIGEST §3.5), as a pure function of
/// the record. Returns whether the record changed, and the answer.
fn decide_poll(
    rec: &mut PendingRecord,
    agent: &VerifiedAgent,
    now: u64,
    after_wait: bool,
    interaction_timeout: u64,
) -> (bool, PollAnswer) {
    // RM-12: the same key that started the flow, and nothing changes for anyone else.
    if rec.key_thumbprint != agent.thumbprint || rec.agent_id != agent.agent_id {
        return (false, PollAnswer::WrongAgent);
    }
    if rec.state.is_open() && now >= rec.expires_at {
        rec.state = PendingState::Expired;
    }
    // The person redeemed the code but has not decided in time (ERR-21).
    if rec.state == PendingState::Interacting
        && rec
            .interacting_since
            .is_some_and(|t| now >= t.saturating_add(interaction_timeout))
    {
        rec.state = PendingState::Abandoned;
    }
    let terminal = |rec: &mut PendingRecord, answer| {
        rec.state = PendingState::Done;
        (true, answer)
    };
    match rec.state.clone() {
        PendingState::Pending | PendingState::Interacting => {
            // POLL-04's other side: an agent that polls before Retry-After has passed is told
            // to slow down. One second of slack absorbs rounding of whole-second clocks.
            if !after_wait
                && let Some(last) = rec.last_poll_at
                && now.saturating_add(1) < last.saturating_add(rec.retry_after)
            {
                rec.last_poll_at = Some(now);
                return (true, PollAnswer::TooFast);
            }
            rec.last_poll_at = Some(now);
            let status = if rec.state == PendingState::Interacting {
                PendingStatus::Interacting
            } else {
                PendingStatus::Pending
            };
            (true, PollAnswer::StillPending(status))
        }
        PendingState::Approved(approval) => terminal(rec, PollAnswer::Deliver(approval)),
        PendingState::Denied => terminal(
            rec,
            PollAnswer::Error(PollingErrorCode::Denied, "the person declined the request"),
        ),
        PendingState::Abandoned => terminal(
            rec,
            PollAnswer::Error(PollingErrorCode::Abandoned, "no decision was made in time"),
        ),
        PendingState::Expired => terminal(
            rec,
            PollAnswer::Error(PollingErrorCode::Expired, "the pending request expired"),
        ),
        PendingState::CodeFailed => terminal(
            rec,
            PollAnswer::Error(
                PollingErrorCode::InvalidCode,
                "too many wrong interaction codes were entered",
            ),
        ),
        PendingState::Cancelled | PendingState::Done => (false, PollAnswer::Gone),
        _ => (false, PollAnswer::Gone),
    }
}

/// `200` + `AAuth-Access` (RM-14). The record is already `Done`, so this answer is given once.
async fn deliver(
    resource: &AAuthResource,
    rec: &PendingRecord,
    approval: aauth_store::Approval,
    now: u64,
) -> Response {
    let inner = &resource.inner;
    let terms = (inner.terms)(&GrantContext {
        key_thumbprint: &rec.key_thumbprint,
        agent_id: rec.agent_id.as_deref(),
        person: approval.person.as_deref(),
        requested_scope: approval.scope.as_deref(),
    });
    let mut body = serde_json::json!({ "status": "authorized" });
    if let Some(scope) = &terms.scope {
        body["scope"] = serde_json::Value::String(scope.clone());
    }
    let mut resp = (StatusCode::OK, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if terms.ttl == 0 {
        // RM-26: approval binds the agent without a session token.
        return resp;
    }
    let span = tracing::info_span!(
        "aauth.issue",
        reason = "approval",
        ttl = terms.ttl,
        outcome = tracing::field::Empty
    );
    let grant = SessionGrant::new(
        SessionBinding {
            key_thumbprint: rec.key_thumbprint.clone(),
            agent_id: rec.agent_id.clone(),
        },
        now,
        now.saturating_add(terms.ttl),
    )
    .with_person(approval.person)
    .with_scope(terms.scope);
    let token = match inner.sessions.issue(grant).instrument(span.clone()).await {
        Ok(t) => t,
        Err(_) => {
            span.record("outcome", "store_error");
            return response::server_error("the session token could not be stored");
        }
    };
    inner.metrics.session_issued();
    span.record("outcome", "issued");
    resp.headers_mut()
        .insert(headers::AAUTH_ACCESS, access_header_value(&token));
    resp
}

/// DELETE on the pending URL: the agent withdraws its request (POLL-11).
async fn cancel(State(resource): State<AAuthResource>, req: Request) -> Response {
    let (agent, id, _) = match load_and_check(&resource, req).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let result = update(resource.inner.pending.as_ref(), &id, |rec| {
        if rec.key_thumbprint != agent.thumbprint {
            return (false, Some(false));
        }
        if rec.state.is_open() || matches!(rec.state, PendingState::Approved(_)) {
            rec.state = PendingState::Cancelled;
            (true, Some(true))
        } else {
            (false, None)
        }
    })
    .await;
    match result {
        Ok((_, Some(true))) => StatusCode::NO_CONTENT.into_response(),
        Ok((_, Some(false))) => {
            response::Denied::new("this pending request belongs to another agent").into_response()
        }
        Ok((_, None)) => response::gone(),
        Err(aauth_store::StoreError::NotFound) => response::not_found(),
        Err(_) => response::unavailable(),
    }
}

#[cfg(test)]
mod prefer_tests {
    use super::prefer_wait;
    use http::{HeaderMap, HeaderValue};

    fn wait(v: &'static str) -> Option<u64> {
        let mut h = HeaderMap::new();
        h.insert("prefer", HeaderValue::from_static(v));
        prefer_wait(&h)
    }

    #[test]
    fn poll_06_prefer_wait_is_read_and_a_huge_value_saturates() {
        assert_eq!(wait("wait=10"), Some(10));
        assert_eq!(wait("respond-async, wait=\"7\""), Some(7));
        assert_eq!(wait("wait=99999999999999999999999"), Some(u64::MAX));
        assert_eq!(wait("wait=-1"), None);
        assert_eq!(wait("wait=+5"), None);
        assert_eq!(wait("wait="), None);
        assert_eq!(wait("handling=lenient"), None);
    }
}
