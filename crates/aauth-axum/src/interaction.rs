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
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use ring::digest;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::AAuthResource;
use crate::html::{escape, page};

/// The person at the interaction page, as the application knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// A stable identifier (account id, OIDC `sub`…); recorded with the session it approves.
    pub id: String,
    pub display_name: Option<String>,
}

/// How the resource knows who is at the interaction page.
#[async_trait]
pub trait InteractionAuthenticator: Send + Sync + 'static {
    /// The authenticated person, or the response to send instead (a login redirect, a `401`).
    async fn authenticate(&self, request: &Parts) -> Result<Person, Response>;
}

/// Development only: every browser that reaches the page is the local developer. The builder
/// accepts it only when the resource runs on a loopback address.
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
}

const NONCE_COOKIE: &str = "aauth_interaction";

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let mut resp = (status, Html(page(title, body))).into_response();
    let h = resp.headers_mut();
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    resp
}

fn ended(title: &str, why: &str) -> Response {
    html(StatusCode::GONE, title, &format!("<p>{}</p>", escape(why)))
}

fn unknown() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Request not found",
        "<p>This approval link is not known. It may have expired; ask the application to try again.</p>",
    )
}

#[derive(Deserialize)]
pub(crate) struct CodeQuery {
    code: Option<String>,
}

fn hash_nonce(nonce: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, nonce.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn code_form(action: &str, message: Option<&str>) -> String {
    let msg = message
        .map(|m| format!("<p role=\"alert\"><strong>{}</strong></p>", escape(m)))
        .unwrap_or_default();
    format!(
        r#"{msg}<form method="get" action="{action}">
<p><label for="code">Enter the code the application shows you</label></p>
<p><input id="code" name="code" autocomplete="off" autocapitalize="characters" spellcheck="false" required maxlength="64" size="14"></p>
<p><button type="submit">Continue</button></p>
</form>"#,
        action = escape(action)
    )
}

fn decision_page(action: &str, rec: &PendingRecord, person: &Person, nonce: &str) -> String {
    let who = person.display_name.as_deref().unwrap_or(&person.id);
    let agent = rec
        .agent_id
        .clone()
        .unwrap_or_else(|| format!("pseudonymous agent (key {})", rec.key_thumbprint));
    let scope = rec
        .scope
        .as_deref()
        .map(|s| format!("<dt>Scope</dt><dd>{}</dd>", escape(s)))
        .unwrap_or_default();
    format!(
        r#"<p>Check that this code matches the one the application showed you:</p>
<p class="code" aria-label="code">{code}</p>
<dl>
<dt>Signed in as</dt><dd>{who}</dd>
<dt>Requested by</dt><dd>{agent}</dd>
<dt>Request</dt><dd>{method} {path}</dd>
{scope}
</dl>
<form method="post" action="{action}">
<input type="hidden" name="nonce" value="{nonce}">
<button class="approve" type="submit" name="decision" value="approve">Approve</button>
<button class="deny" type="submit" name="decision" value="deny">Deny</button>
</form>"#,
        code = escape(&rec.code.display()),
        who = escape(who),
        agent = escape(&agent),
        method = escape(&rec.method),
        path = escape(&rec.path),
        action = escape(action),
        nonce = escape(nonce),
    )
}

enum Redeem {
    Ok(Box<PendingRecord>),
    Wrong { left: u32 },
    Locked,
    Used,
    Ended,
}

/// `GET {interaction}/{id}[?code=…]`.
pub(crate) async fn show(
    State(resource): State<AAuthResource>,
    Path(interaction_id): Path<String>,
    Query(q): Query<CodeQuery>,
    parts: Parts,
) -> Response {
    let inner = &resource.inner;
    let person = match inner.authenticator.authenticate(&parts).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    if interaction_id.len() > 64 {
        return unknown();
    }
    let rec = match inner.pending.get_by_interaction(&interaction_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return unknown(),
        Err(_) => return crate::response::unavailable(),
    };
    let action = format!("{}/{}", inner.interaction_prefix, interaction_id);
    let Some(input) = q.code.filter(|c| !c.trim().is_empty()) else {
        if !rec.state.is_open() {
            return ended(
                "Request closed",
                "This request is no longer waiting for a decision.",
            );
        }
        return html(
            StatusCode::OK,
            "Approve a request",
            &code_form(&action, None),
        );
    };

    let nonce_raw = match aauth_store::random_bytes::<24>() {
        Ok(b) => URL_SAFE_NO_PAD.encode(b),
        Err(_) => return crate::response::server_error("random generator failure"),
    };
    let nonce_hash = hash_nonce(&nonce_raw);
    let now = resource.now();
    let max = inner.max_code_attempts;
    let result = update(inner.pending.as_ref(), &rec.id, |rec| {
        if rec.state.is_open() && now >= rec.expires_at {
            rec.state = PendingState::Expired;
            return (true, Redeem::Ended);
        }
        match rec.state {
            PendingState::Pending => {}
            PendingState::Interacting => return (false, Redeem::Used),
            PendingState::CodeFailed => return (false, Redeem::Locked),
            _ => return (false, Redeem::Ended),
        }
        if rec.code.matches(&input) {
            // The code is consumed here (IC-08) and the poll now reports `interacting`.
            rec.state = PendingState::Interacting;
            rec.decision_nonce_hash = Some(nonce_hash);
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
            let mut resp = html(
                StatusCode::OK,
                "Approve a request",
                &decision_page(&action, &rec, &person, &nonce_raw),
            );
            let cookie = format!(
                "{NONCE_COOKIE}={nonce_raw}; Path={action}; HttpOnly; SameSite=Strict; Max-Age={}",
                inner.pending_ttl
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(http::header::SET_COOKIE, v);
            }
            resp
        }
        Redeem::Wrong { left } => {
            let msg = format!("That code does not match. {left} attempt(s) left.");
            let mut resp = html(
                StatusCode::BAD_REQUEST,
                "Approve a request",
                &code_form(&action, Some(&msg)),
            );
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            resp
        }
        Redeem::Locked => ended(
            "Too many attempts",
            "Too many wrong codes were entered; this request has been cancelled.",
        ),
        Redeem::Used => ended(
            "Code already used",
            "This code has already been used. Each code works once.",
        ),
        Redeem::Ended => ended(
            "Request closed",
            "This request is no longer waiting for a decision.",
        ),
    }
}

#[derive(Deserialize)]
pub(crate) struct DecisionForm {
    nonce: String,
    decision: String,
}

fn cookie_nonce(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == NONCE_COOKIE)
        .map(|(_, v)| v.to_owned())
}

enum Decided {
    Approved,
    Denied,
    Forbidden,
    Ended,
}

/// `POST {interaction}/{id}` with `nonce` and `decision=approve|deny`.
pub(crate) async fn decide(
    State(resource): State<AAuthResource>,
    Path(interaction_id): Path<String>,
    parts: Parts,
    Form(form): Form<DecisionForm>,
) -> Response {
    let inner = &resource.inner;
    let person = match inner.authenticator.authenticate(&parts).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return html(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "<p>Unknown decision.</p>",
            );
        }
    };
    let same_browser = cookie_nonce(&parts.headers)
        .is_some_and(|c| bool::from(c.as_bytes().ct_eq(form.nonce.as_bytes())));
    if !same_browser {
        return html(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "<p>This decision did not come from the page that showed the request.</p>",
        );
    }
    let rec = match inner.pending.get_by_interaction(&interaction_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return unknown(),
        Err(_) => return crate::response::unavailable(),
    };
    let presented = hash_nonce(&form.nonce);
    let now = resource.now();
    let result = update(inner.pending.as_ref(), &rec.id, |rec| {
        if rec.state != PendingState::Interacting {
            return (false, Decided::Ended);
        }
        if now >= rec.expires_at {
            rec.state = PendingState::Expired;
            return (true, Decided::Ended);
        }
        let nonce_ok = rec
            .decision_nonce_hash
            .is_some_and(|h| bool::from(h.ct_eq(&presented)));
        if !nonce_ok {
            return (false, Decided::Forbidden);
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
    match result {
        Ok((_, Decided::Approved)) => {
            tracing::info!(target: "aauth::interaction", outcome = "approved", "person approved");
            html(
                StatusCode::OK,
                "Approved",
                "<p>Done. You can close this window; the application continues on its own.</p>",
            )
        }
        Ok((_, Decided::Denied)) => {
            tracing::info!(target: "aauth::interaction", outcome = "denied", "person denied");
            html(
                StatusCode::OK,
                "Denied",
                "<p>The request was denied. You can close this window.</p>",
            )
        }
        Ok((_, Decided::Forbidden)) => html(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "<p>This decision did not come from the page that showed the request.</p>",
        ),
        Ok((_, Decided::Ended)) => ended(
            "Request closed",
            "This request is no longer waiting for a decision.",
        ),
        Err(aauth_store::StoreError::NotFound) => unknown(),
        Err(_) => crate::response::unavailable(),
    }
}
