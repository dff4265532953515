//! The interaction page: where the person compares the code, sees what is asked, and approves
//! or denies.
//!
//! The code only ties the browser to one pending request; it never authorises anything by
//! itself (IC-07). Who the person is comes from an [`InteractionAuthenticator`] — the
//! application's own login, session cookie or OIDC. The decision form carries a nonce that only
//! the browser which redeemed the code received (in the page and in a `SameSite=Strict`
//! cookie), so another site cannot post a decision.
use aauth_store::pending::update;
use aauth_store::{Approval, PendingRecord, PendingState};
use async_trait::async_trait;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Form, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use ring::digest;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::AAuthResource;
use crate::config::{CallbackPolicy, is_loopback_host};
use crate::html::{self, bad_request};
use crate::login::cookie_value;
use crate::pages::{CodeEntryView, DecisionView, Finished};

/// The person at the interaction page, as the application knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// A stable identifier (account id, OIDC `sub`…); recorded with the session it approves.
    pub id: String,
    pub display_name: Option<String>,
}

/// How the resource knows who is at the interaction page (IC-07, AMB-26).
///
/// The interaction code only ties a browser to one pending request; the approve/deny decision
/// is taken by the person this trait returns. Implement it over the application's own login:
/// read its session cookie from `request` and return the person, or return the response that
/// sends the browser to log in (e.g. a `303` to the login page with a `next` back here). The
/// built-in [`LocalLogin`](crate::LocalLogin) is a complete example.
#[async_trait]
pub trait InteractionAuthenticator: Send + Sync + 'static {
    /// The authenticated person, or the response to send instead (a login redirect, a `401`).
    async fn authenticate(&self, request: &Parts) -> Result<Person, Response>;

    /// Routes the authenticator serves itself (a login form), merged into
    /// [`AAuthResource::routes`](crate::AAuthResource::routes). None by default.
    fn routes(&self) -> Option<Router> {
        None
    }

    /// `true` for authenticators that trust whoever reaches the page; the builder accepts them
    /// only on a loopback origin in development mode.
    fn development_only(&self) -> bool {
        false
    }
}

/// Development only: every browser that reaches the page is the local developer. The builder
/// refuses it unless the resource runs on a loopback origin in development mode
/// ([`ResourceBuilder::allow_insecure_loopback`](crate::ResourceBuilder::allow_insecure_loopback)).
#[derive(Clone, Copy, Debug, Default)]
pub struct DevLoopbackPerson;

#[async_trait]
impl InteractionAuthenticator for DevLoopbackPerson {
    async fn authenticate(&self, _request: &Parts) -> Result<Person, Response> {
        Ok(Person {
            id: "local-developer".to_owned(),
            display_name: Some("Local developer".to_owned()),
        })
    }

    fn development_only(&self) -> bool {
        true
    }
}

const NONCE_COOKIE: &str = "aauth_interaction";

fn finished(resource: &AAuthResource, status: StatusCode, outcome: Finished) -> Response {
    html::response(status, resource.inner.pages.finished(outcome))
}

fn unknown() -> Response {
    html::response(
        StatusCode::NOT_FOUND,
        crate::html::page(
            "Request not found",
            "<p>This approval link is not known. It may have expired; ask the application to try again.</p>",
        ),
    )
}

#[derive(Deserialize)]
pub(crate) struct CodeQuery {
    code: Option<String>,
    callback: Option<String>,
}

fn hash_nonce(nonce: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, nonce.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Checks a `callback` against the configured policy (AMB-25): the resource must not become an
/// open redirector, so only `https` URLs (and `http` on loopback in development mode) without a
/// fragment are followed.
fn valid_callback(resource: &AAuthResource, raw: &str) -> Option<String> {
    let inner = &resource.inner;
    if inner.callback_policy == CallbackPolicy::Disabled || raw.len() > 2048 {
        return None;
    }
    let url = url::Url::parse(raw).ok()?;
    let host = url.host_str()?;
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => inner.insecure_loopback && is_loopback_host(host),
        _ => false,
    };
    (scheme_ok && url.fragment().is_none()).then(|| url.to_string())
}

/// `callback` with `error=…` appended (`&` when it already has a query), RM-23.
fn callback_with_error(callback: &str, error: Option<&str>) -> String {
    match (url::Url::parse(callback), error) {
        (Ok(mut url), Some(e)) => {
            url.query_pairs_mut().append_pair("error", e);
            url.to_string()
        }
        _ => callback.to_owned(),
    }
}

fn redirect(to: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    resp
}

fn agent_description(rec: &PendingRecord) -> (String, bool) {
    match &rec.agent_id {
        Some(id) => (id.clone(), false),
        None => (
            format!("pseudonymous agent (key {})", rec.key_thumbprint),
            true,
        ),
    }
}

enum Redeem {
    Ok(Box<PendingRecord>),
    Wrong { left: u32 },
    Locked,
    Used,
    Expired,
    Ended,
}

/// `GET {interaction}/{id}[?code=…][&callback=…]`.
pub(crate) async fn show(
    State(resource): State<AAuthResource>,
    interaction_id: Result<Path<String>, PathRejection>,
    q: Result<Query<CodeQuery>, QueryRejection>,
    parts: Parts,
) -> Response {
    let (Ok(Path(interaction_id)), Ok(Query(q))) = (interaction_id, q) else {
        return bad_request("The address of this page is malformed.");
    };
    let inner = &resource.inner;
    let person = match inner.authenticator.authenticate(&parts).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    if interaction_id.len() > 64 {
        return unknown();
    }
    let callback = match q.callback.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => match valid_callback(&resource, raw) {
            Some(c) => Some(c),
            None => return bad_request("The callback address is not allowed."),
        },
    };
    let rec = match inner.pending.get_by_interaction(&interaction_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return unknown(),
        Err(_) => return crate::response::unavailable(),
    };
    let action = format!("{}/{}", inner.interaction_prefix, interaction_id);
    let now = resource.now();
    let Some(input) = q.code.filter(|c| !c.trim().is_empty()) else {
        if rec.state.is_open() && now >= rec.expires_at {
            return finished(&resource, StatusCode::GONE, Finished::Expired);
        }
        if !rec.state.is_open() {
            return finished(&resource, StatusCode::GONE, Finished::Closed);
        }
        let view = CodeEntryView {
            form_action: &action,
            error: None,
        };
        return html::response(StatusCode::OK, inner.pages.enter_code(&view));
    };

    let nonce_raw = match aauth_store::random_bytes::<24>() {
        Ok(b) => URL_SAFE_NO_PAD.encode(b),
        Err(_) => return crate::response::server_error("random generator failure"),
    };
    let nonce_hash = hash_nonce(&nonce_raw);
    let max = inner.max_code_attempts;
    let result = update(inner.pending.as_ref(), &rec.id, |rec| {
        // IC-10: a code dies with its pending request.
        if rec.state.is_open() && now >= rec.expires_at {
            rec.state = PendingState::Expired;
            return (true, Redeem::Expired);
        }
        match rec.state {
            PendingState::Pending => {}
            PendingState::Interacting => return (false, Redeem::Used),
            PendingState::CodeFailed => return (false, Redeem::Locked),
            PendingState::Expired => return (false, Redeem::Expired),
            _ => return (false, Redeem::Ended),
        }
        if rec.code.matches(&input) {
            // The code is consumed here (IC-08) and the poll now reports `interacting`.
            rec.state = PendingState::Interacting;
            rec.interacting_since = Some(now);
            rec.decision_nonce_hash = Some(nonce_hash);
            rec.callback = callback.clone();
            (true, Redeem::Ok(Box::new(rec.clone())))
        } else {
            rec.failed_code_attempts += 1;
            if rec.failed_code_attempts >= max {
                rec.state = PendingState::CodeFailed;
                (true, Redeem::Locked)
            } else {
                (
                    true,
                    Redeem::Wrong {
                        left: max - rec.failed_code_attempts,
                    },
                )
            }
        }
    })
    .await;
    let outcome = match result {
        Ok((_, o)) => o,
        Err(aauth_store::StoreError::NotFound) => return unknown(),
        Err(_) => return crate::response::unavailable(),
    };
    match outcome {
        Redeem::Ok(rec) => {
            tracing::info!(target: "aauth::interaction", outcome = "code_redeemed", "person redeemed the code");
            let (agent, pseudonymous) = agent_description(&rec);
            let code = rec.code.display();
            let view = DecisionView {
                code: &code,
                agent: &agent,
                pseudonymous,
                method: &rec.method,
                path: &rec.path,
                scope: rec.scope.as_deref(),
                person: &person,
                form_action: &action,
                nonce: &nonce_raw,
            };
            let mut resp = html::response(StatusCode::OK, inner.pages.decide(&view));
            let secure = if inner.origin.starts_with("https:") {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{NONCE_COOKIE}={nonce_raw}; Path={action}; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                inner.pending_ttl
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(http::header::SET_COOKIE, v);
            }
            resp
        }
        Redeem::Wrong { left } => {
            tracing::info!(target: "aauth::interaction", outcome = "wrong_code", left, "wrong interaction code");
            let msg = format!("That code does not match. {left} attempt(s) left.");
            let view = CodeEntryView {
                form_action: &action,
                error: Some(&msg),
            };
            html::response(StatusCode::BAD_REQUEST, inner.pages.enter_code(&view))
        }
        Redeem::Locked => {
            tracing::info!(target: "aauth::interaction", outcome = "locked", "too many wrong codes");
            finished(&resource, StatusCode::GONE, Finished::Locked)
        }
        Redeem::Used => finished(&resource, StatusCode::GONE, Finished::CodeUsed),
        Redeem::Expired => finished(&resource, StatusCode::GONE, Finished::Expired),
        Redeem::Ended => finished(&resource, StatusCode::GONE, Finished::Closed),
    }
}

#[derive(Deserialize)]
pub(crate) struct DecisionForm {
    nonce: String,
    decision: String,
}

enum Decided {
    Approved,
    Denied,
    Forbidden,
    Expired,
    Abandoned,
    Ended,
}

/// `POST {interaction}/{id}` with `nonce` and `decision=approve|deny`.
pub(crate) async fn decide(
    State(resource): State<AAuthResource>,
    interaction_id: Result<Path<String>, PathRejection>,
    parts: Parts,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Response {
    let Ok(Path(interaction_id)) = interaction_id else {
        return bad_request("The address of this page is malformed.");
    };
    let Ok(Form(form)) = form else {
        return bad_request("The decision form was incomplete or malformed.");
    };
    let inner = &resource.inner;
    let person = match inner.authenticator.authenticate(&parts).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return bad_request("Unknown decision."),
    };
    let forbidden = || {
        html::response(
            StatusCode::FORBIDDEN,
            crate::html::page(
                "Not allowed",
                "<p>This decision did not come from the page that showed the request.</p>",
            ),
        )
    };
    let same_browser = cookie_value(&parts.headers, NONCE_COOKIE)
        .is_some_and(|c| bool::from(c.as_bytes().ct_eq(form.nonce.as_bytes())));
    if !same_browser {
        return forbidden();
    }
    if interaction_id.len() > 64 {
        return unknown();
    }
    let rec = match inner.pending.get_by_interaction(&interaction_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return unknown(),
        Err(_) => return crate::response::unavailable(),
    };
    let presented = hash_nonce(&form.nonce);
    let now = resource.now();
    let timeout = inner.interaction_timeout;
    let result = update(inner.pending.as_ref(), &rec.id, |rec| {
        if rec.state != PendingState::Interacting {
            return (false, Decided::Ended);
        }
        let nonce_ok = rec
            .decision_nonce_hash
            .is_some_and(|h| bool::from(h.ct_eq(&presented)));
        if !nonce_ok {
            return (false, Decided::Forbidden);
        }
        if now >= rec.expires_at {
            rec.state = PendingState::Expired;
            return (true, Decided::Expired);
        }
        if rec
            .interacting_since
            .is_some_and(|t| now >= t.saturating_add(timeout))
        {
            rec.state = PendingState::Abandoned;
            return (true, Decided::Abandoned);
        }
        rec.decision_nonce_hash = None;
        if approve {
            rec.state = PendingState::Approved(Approval {
                person: Some(person.id.clone()),
                scope: rec.scope.clone(),
            });
            (true, Decided::Approved)
        } else {
            rec.state = PendingState::Denied;
            (true, Decided::Denied)
        }
    })
    .await;
    let (rec, decided) = match result {
        Ok(x) => x,
        Err(aauth_store::StoreError::NotFound) => return unknown(),
        Err(_) => return crate::response::unavailable(),
    };
    // RM-22/RM-23/ERR-27: with a callback the browser goes back to it, carrying the error that
    // corresponds to what the pending URL will answer.
    let (status, outcome, callback_error) = match decided {
        Decided::Approved => (StatusCode::OK, Finished::Approved, None),
        Decided::Denied => (StatusCode::OK, Finished::Denied, Some("access_denied")),
        Decided::Expired => (
            StatusCode::GONE,
            Finished::Expired,
            Some("interaction_expired"),
        ),
        Decided::Abandoned => (StatusCode::GONE, Finished::Closed, Some("user_abandoned")),
        Decided::Forbidden => return forbidden(),
        Decided::Ended => return finished(&resource, StatusCode::GONE, Finished::Closed),
    };
    tracing::info!(
        target: "aauth::interaction",
        outcome = match outcome {
            Finished::Approved => "approved",
            Finished::Denied => "denied",
            Finished::Expired => "expired",
            _ => "abandoned",
        },
        "interaction decided"
    );
    if let Some(cb) = &rec.callback {
        return redirect(&callback_with_error(cb, callback_error));
    }
    finished(&resource, status, outcome)
}
