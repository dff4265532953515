//! [`LocalLogin`]: a small username/password login for the interaction page, for demos and
//! single-operator deployments. Real applications plug their own session or OIDC login in
//! through [`InteractionAuthenticator`](crate::InteractionAuthenticator).
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use aauth_store::UnixTime;
use async_trait::async_trait;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use ring::{digest, pbkdf2};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::html::{bad_request, escape, guard, page};
use crate::interaction::{InteractionAuthenticator, Person};

const SESSION_COOKIE: &str = "aauth_login";
const CSRF_COOKIE: &str = "aauth_login_csrf";
const PBKDF2_ROUNDS: u32 = 10_000;
/// Wrong passwords in a row before a user is locked for [`LOCK_SECS`].
const MAX_FAILURES: u32 = 10;
const LOCK_SECS: u64 = 300;
/// Login sessions kept at most; the oldest are dropped first.
const MAX_SESSIONS: usize = 10_000;

struct User {
    salt: [u8; 16],
    hash: [u8; 32],
    display_name: Option<String>,
    failures: u32,
    locked_until: UnixTime,
}

struct LoginSession {
    person: Person,
    expires_at: UnixTime,
}

struct State_ {
    users: HashMap<String, User>,
    /// Keyed by SHA-256 of the cookie value, so a memory dump holds no usable cookie.
    sessions: HashMap<[u8; 32], LoginSession>,
}

/// Username/password login with an `HttpOnly`, `SameSite=Lax` session cookie.
///
/// Passwords are kept as salted PBKDF2-HMAC-SHA256 hashes and checked in constant time; a user
/// is locked for five minutes after ten wrong passwords in a row. The login form is protected
/// against cross-site posting by a double-submit nonce. Login sessions live in this process
/// only. Clone it freely: clones share users and sessions.
#[derive(Clone)]
pub struct LocalLogin {
    state: Arc<Mutex<State_>>,
    path: String,
    session_ttl: u64,
    secure_cookies: bool,
    clock: Arc<dyn Fn() -> UnixTime + Send + Sync>,
}

impl std::fmt::Debug for LocalLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users = self.state.lock().map(|s| s.users.len()).unwrap_or(0);
        f.debug_struct("LocalLogin")
            .field("path", &self.path)
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

impl Default for LocalLogin {
    fn default() -> Self {
        Self::new()
    }
}

fn hash_password(salt: &[u8; 16], password: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let rounds = NonZeroU32::new(PBKDF2_ROUNDS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        salt,
        password.as_bytes(),
        &mut out,
    );
    out
}

fn sha256(s: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, s.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `next` must be a path on this origin: one leading `/`, no `//` or `\` that a browser would
/// read as another host. Anything else falls back to `/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn random_token() -> Option<String> {
    aauth_store::random_bytes::<24>()
        .ok()
        .map(|b| URL_SAFE_NO_PAD.encode(b))
}

impl LocalLogin {
    /// No users yet; the login page is served at `/aauth/login`.
    pub fn new() -> Self {
        LocalLogin {
            state: Arc::new(Mutex::new(State_ {
                users: HashMap::new(),
                sessions: HashMap::new(),
            })),
            path: "/aauth/login".to_owned(),
            session_ttl: 3600,
            secure_cookies: true,
            clock: Arc::new(crate::config::system_now),
        }
    }

    /// Adds (or replaces) a user.
    pub fn with_user(self, username: &str, password: &str, display_name: Option<&str>) -> Self {
        // Without the OS generator the salt falls back to one derived from the username: still
        // per-user, merely predictable.
        let salt = aauth_store::random_bytes::<16>().unwrap_or_else(|_| {
            let mut s = [0u8; 16];
            s.copy_from_slice(&sha256(username)[..16]);
            s
        });
        let user = User {
            salt,
            hash: hash_password(&salt, password),
            display_name: display_name.map(str::to_owned),
            failures: 0,
            locked_until: 0,
        };
        if let Ok(mut s) = self.state.lock() {
            s.users.insert(username.to_owned(), user);
        }
        self
    }

    /// Adds a user with a fresh random password (96 bits, base64url) and returns it, for a
    /// demo that prints it on the console. `None` if the OS random generator failed.
    pub fn with_generated_password(
        self,
        username: &str,
        display_name: Option<&str>,
    ) -> Option<(Self, String)> {
        let password = URL_SAFE_NO_PAD.encode(aauth_store::random_bytes::<12>().ok()?);
        Some((self.with_user(username, &password, display_name), password))
    }

    /// How long a login lasts (default 3600 s).
    pub fn session_ttl(mut self, secs: u64) -> Self {
        self.session_ttl = secs;
        self
    }

    /// Marks the session cookie `Secure` (default on). Turn it off only for plain-http
    /// loopback development, where browsers would otherwise drop the cookie.
    pub fn secure_cookies(mut self, on: bool) -> Self {
        self.secure_cookies = on;
        self
    }

    /// Replaces the clock (Unix seconds); for tests.
    pub fn clock(mut self, clock: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The login page's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn cookie(&self, name: &str, value: &str, max_age: u64, path: &str) -> Option<HeaderValue> {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .ok()
    }

    fn form(&self, next: &str, message: Option<&str>) -> Response {
        let Some(nonce) = random_token() else {
            return crate::response::server_error("random generator failure");
        };
        let msg = message
            .map(|m| format!("<p role=\"alert\"><strong>{}</strong></p>", escape(m)))
            .unwrap_or_default();
        let body = format!(
            r#"{msg}<form method="post" action="{action}">
<input type="hidden" name="csrf" value="{nonce}">
<input type="hidden" name="next" value="{next}">
<p><label for="username">Username</label><br><input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button id="login" type="submit">Sign in</button></p>
</form>"#,
            action = escape(&self.path),
            next = escape(next),
        );
        let status = if message.is_some() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        let mut resp = guard((status, Html(page("Sign in", &body))).into_response());
        if let Some(v) = self.cookie(CSRF_COOKIE, &nonce, 600, &self.path) {
            resp.headers_mut().insert(http::header::SET_COOKIE, v);
        }
        resp
    }

    /// Checks a password; `Some(person)` on success. Counts failures and locks.
    fn check(&self, username: &str, password: &str) -> Option<Person> {
        let now = (self.clock)();
        let mut state = self.state.lock().ok()?;
        let Some(user) = state.users.get_mut(username) else {
            // Spend the same time as for a known user, so timing does not reveal usernames.
            let _ = hash_password(&[0; 16], password);
            return None;
        };
        if user.locked_until > now {
            return None;
        }
        let ok = pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(PBKDF2_ROUNDS).unwrap_or(NonZeroU32::MIN),
            &user.salt,
            password.as_bytes(),
            &user.hash,
        )
        .is_ok();
        if !ok {
            user.failures += 1;
            if user.failures >= MAX_FAILURES {
                user.failures = 0;
                user.locked_until = now + LOCK_SECS;
                tracing::warn!(target: "aauth::login", user = username, "too many wrong passwords; user locked");
            }
            return None;
        }
        user.failures = 0;
        Some(Person {
            id: username.to_owned(),
            display_name: user.display_name.clone(),
        })
    }

    fn start_session(&self, person: Person) -> Option<String> {
        let now = (self.clock)();
        let token = random_token()?;
        let mut state = self.state.lock().ok()?;
        state.sessions.retain(|_, s| s.expires_at > now);
        if state.sessions.len() >= MAX_SESSIONS {
            return None;
        }
        state.sessions.insert(
            sha256(&token),
            LoginSession {
                person,
                expires_at: now.saturating_add(self.session_ttl),
            },
        );
        Some(token)
    }

    /// Ends every login session (e.g. after changing a password).
    pub fn sign_out_everyone(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.sessions.clear();
        }
    }
}

#[async_trait]
impl InteractionAuthenticator for LocalLogin {
    async fn authenticate(&self, request: &Parts) -> Result<Person, Response> {
        let now = (self.clock)();
        if let Some(cookie) = cookie_value(&request.headers, SESSION_COOKIE) {
            let key = sha256(&cookie);
            if let Ok(state) = self.state.lock()
                && let Some(s) = state.sessions.get(&key)
                && s.expires_at > now
            {
                return Ok(s.person.clone());
            }
        }
        // Not signed in: to the login page, coming back here afterwards.
        let here = request
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("next", here)
            .finish();
        let location = format!("{}?{query}", self.path);
        let mut resp = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
        Err(guard(resp))
    }

    fn routes(&self) -> Option<Router> {
        Some(
            Router::new()
                .route(&self.path, get(login_page).post(login_submit))
                .with_state(self.clone()),
        )
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(login): State<LocalLogin>,
    q: Result<Query<NextQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return bad_request("The address of this page is malformed.");
    };
    login.form(&safe_next(q.next.as_deref()), None)
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    next: Option<String>,
    username: String,
    password: String,
}

async fn login_submit(
    State(login): State<LocalLogin>,
    headers: HeaderMap,
    form: Result<axum::Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(axum::Form(form)) = form else {
        return bad_request("The sign-in form was incomplete or malformed.");
    };
    let next = safe_next(form.next.as_deref());
    let same_browser = cookie_value(&headers, CSRF_COOKIE)
        .is_some_and(|c| bool::from(c.as_bytes().ct_eq(form.csrf.as_bytes())));
    if !same_browser {
        return guard(
            (
                StatusCode::FORBIDDEN,
                Html(page(
                    "Not allowed",
                    "<p>This sign-in did not come from the sign-in page.</p>",
                )),
            )
                .into_response(),
        );
    }
    let Some(person) = login.check(&form.username, &form.password) else {
        tracing::info!(target: "aauth::login", outcome = "rejected", "sign-in refused");
        return login.form(&next, Some("Wrong username or password."));
    };
    let Some(session) = login.start_session(person) else {
        return crate::response::unavailable();
    };
    tracing::info!(target: "aauth::login", outcome = "signed_in", user = form.username.as_str(), "person signed in");
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&next) {
        h.insert(http::header::LOCATION, v);
    }
    if let Some(v) = login.cookie(SESSION_COOKIE, &session, login.session_ttl, "/") {
        h.append(http::header::SET_COOKIE, v);
    }
    guard(resp)
}
