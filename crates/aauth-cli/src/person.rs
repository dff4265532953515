//! Plays the person at a resource's built-in interaction page, over plain HTTP: opens
//! `{url}?code={code}`, signs in when the page asks for it, then submits the approve (or deny)
//! form the page returned, with the cookies it set ([`decide`]), or stops once the page is open
//! ([`open`]: the person has arrived, the code is redeemed, nothing is decided yet). Used by
//! `aauth demo --auto-approve`, `cargo xtask conformance resource` and tests.
use std::fmt;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};

/// What the simulated person does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Approve,
    Deny,
}

/// A username and password for the resource's login page.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Errors while driving the page.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersonError {
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the interaction page answered {0}")]
    Status(u16),
    #[error("the interaction page has no decision form")]
    NoForm,
    #[error("the sign-in was refused")]
    LoginRefused,
    #[error("the page redirected to an unusable address")]
    BadRedirect,
}

fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(html[start..start + len].replace("&amp;", "&"))
}

/// Every `name=value` the response sets.
fn cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

fn redirect_target(base: &str, resp: &Response) -> Result<String, PersonError> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(PersonError::BadRedirect)?;
    let base = url::Url::parse(base).map_err(|_| PersonError::BadRedirect)?;
    let target = base.join(loc).map_err(|_| PersonError::BadRedirect)?;
    // Only follow redirects on the resource's own origin.
    if target.origin() != base.origin() {
        return Err(PersonError::BadRedirect);
    }
    Ok(target.to_string())
}

/// Opens `approval_url` and submits `choice`, signing in as the `aauth serve` / `aauth demo`
/// demo user if asked to.
pub async fn decide(approval_url: &str, choice: Choice) -> Result<(), PersonError> {
    decide_as(
        approval_url,
        Some(crate::demo_resource::demo_login()),
        choice,
    )
    .await
}

/// Opens `approval_url`, signs in with `login` if the page redirects to a login form, and
/// submits `choice`.
pub async fn decide_as(
    approval_url: &str,
    login: Option<&Login>,
    choice: Choice,
) -> Result<(), PersonError> {
    crate::install_ring_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    decide_with(&http, approval_url, login, choice).await
}

/// Opens `approval_url`; when the page sends the person to a login form, signs in with `login`
/// and opens it again with the session. Returns the cookies set so far and the page.
async fn sign_in_and_open(
    http: &reqwest::Client,
    approval_url: &str,
    login: Option<&Login>,
) -> Result<(Vec<String>, Response), PersonError> {
    let mut jar: Vec<String> = Vec::new();
    let mut page = http.get(approval_url).send().await?;
    if page.status() == StatusCode::SEE_OTHER {
        let login = login.ok_or(PersonError::LoginRefused)?;
        let login_url = redirect_target(approval_url, &page)?;
        let form_page = http.get(&login_url).send().await?;
        if !form_page.status().is_success() {
            return Err(PersonError::Status(form_page.status().as_u16()));
        }
        let csrf_cookies = cookies(&form_page);
        let html = form_page.text().await?;
        let csrf = hidden_value(&html, "csrf").ok_or(PersonError::NoForm)?;
        let next = hidden_value(&html, "next").unwrap_or_else(|| "/".to_owned());
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .append_pair("next", &next)
            .append_pair("username", &login.username)
            .append_pair("password", &login.password)
            .finish();
        let action = login_url.split('?').next().unwrap_or(&login_url).to_owned();
        let signed_in = http
            .post(&action)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(COOKIE, csrf_cookies.join("; "))
            .body(form)
            .send()
            .await?;
        if signed_in.status() != StatusCode::SEE_OTHER {
            return Err(PersonError::LoginRefused);
        }
        jar.extend(cookies(&signed_in));
        page = http
            .get(approval_url)
            .header(COOKIE, jar.join("; "))
            .send()
            .await?;
    }
    Ok((jar, page))
}

/// [`decide_as`] over a caller's HTTP client (e.g. one that resolves the resource's host to a
/// particular instance). The client must not follow redirects.
pub async fn decide_with(
    http: &reqwest::Client,
    approval_url: &str,
    login: Option<&Login>,
    choice: Choice,
) -> Result<(), PersonError> {
    let page = open_with(http, approval_url, login).await?;
    if !(200..300).contains(&page.status) {
        return Err(PersonError::Status(page.status));
    }
    page.decide(choice).await
}

/// The interaction page as the person saw it after opening the approval link, with the
/// browser state needed to decide later ([`OpenedPage::decide`]).
#[derive(Clone)]
pub struct OpenedPage {
    /// The page's HTTP status: `200` when the code was accepted and the decision form shown,
    /// an error status when the page refused the code (wrong, used, expired, locked).
    pub status: u16,
    pub html: String,
    http: reqwest::Client,
    /// The form's target: the approval URL without its query.
    action: String,
    /// The person's cookies (session, decision nonce).
    jar: Vec<String>,
}

impl fmt::Debug for OpenedPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedPage")
            .field("status", &self.status)
            .field("action", &self.action)
            .field("cookies", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl OpenedPage {
    /// Submits the page's decision form with `choice`, as the same browser.
    pub async fn decide(&self, choice: Choice) -> Result<(), PersonError> {
        let nonce = hidden_value(&self.html, "nonce").ok_or(PersonError::NoForm)?;
        let decision = match choice {
            Choice::Approve => "approve",
            Choice::Deny => "deny",
        };
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("nonce", &nonce)
            .append_pair("decision", decision)
            .finish();
        let resp = self
            .http
            .post(&self.action)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(COOKIE, self.jar.join("; "))
            .body(form)
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(PersonError::Status(resp.status().as_u16()));
        }
        Ok(())
    }
}

/// Opens `approval_url` as the `aauth serve` / `aauth demo` demo user (signing in if asked)
/// and stops there, without deciding: on our resource the code is now redeemed, the poll
/// reports `interacting`, and the page shows the code and the agent.
pub async fn open(approval_url: &str) -> Result<OpenedPage, PersonError> {
    open_as(approval_url, Some(crate::demo_resource::demo_login())).await
}

/// [`open`] with `login` for the login form.
pub async fn open_as(approval_url: &str, login: Option<&Login>) -> Result<OpenedPage, PersonError> {
    crate::install_ring_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    open_with(&http, approval_url, login).await
}

/// [`open_as`] over a caller's HTTP client, which must not follow redirects. A page that
/// refuses the code is returned with its status, not as an error; a refused sign-in is an
/// error.
pub async fn open_with(
    http: &reqwest::Client,
    approval_url: &str,
    login: Option<&Login>,
) -> Result<OpenedPage, PersonError> {
    let (mut jar, page) = sign_in_and_open(http, approval_url, login).await?;
    if page.status().is_redirection() {
        // Still sent elsewhere after signing in: not a page the person can read.
        return Err(PersonError::BadRedirect);
    }
    jar.extend(cookies(&page));
    let status = page.status().as_u16();
    let html = page.text().await?;
    Ok(OpenedPage {
        status,
        html,
        http: http.clone(),
        action: approval_url
            .split('?')
            .next()
            .unwrap_or(approval_url)
            .to_owned(),
        jar,
    })
}
