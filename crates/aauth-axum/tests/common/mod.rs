//! A resource at `https://resource.example` driven in-process through `tower::ServiceExt`, with
//! a clock the test controls and agents that sign with real Ed25519 keys.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aauth_axum::{AAuthResource, Authorized, InvalidSessionPolicy, LocalLogin};
use aauth_sig::{Algorithm, RequestTarget, SignOptions, Signer, SigningKey};
use aauth_wire::requirement::{AAuthRequirement, Requirement};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use tower::ServiceExt;

pub const ORIGIN: &str = "https://resource.example";
pub const AUTHORITY: &str = "resource.example";
pub const T0: u64 = 1_730_217_600;
pub const PERSON: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Harness {
    pub app: Router,
    pub resource: AAuthResource,
    pub clock: Arc<AtomicU64>,
    /// The person's login cookie once signed in.
    pub login_cookie: Mutex<Option<String>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `(url, code, location)` of an interaction 202.
    pub fn interaction(&self) -> (String, String, String) {
        assert_eq!(self.status, StatusCode::ACCEPTED, "{}", self.text());
        let req = AAuthRequirement::parse(self.header("aauth-requirement").expect("requirement"))
            .expect("parseable requirement");
        let Requirement::Interaction { url, code } = req.requirement else {
            panic!("not an interaction requirement");
        };
        (
            url,
            code,
            self.header("location").expect("location").to_owned(),
        )
    }

    pub fn signature_error(&self) -> Option<String> {
        self.header("signature-error").map(str::to_owned)
    }
}

pub fn harness() -> Harness {
    harness_with(|b| b)
}

pub fn harness_with(
    configure: impl FnOnce(aauth_axum::ResourceBuilder) -> aauth_axum::ResourceBuilder,
) -> Harness {
    let clock = Arc::new(AtomicU64::new(T0));
    let c = clock.clone();
    let c2 = clock.clone();
    let login = LocalLogin::new()
        .with_user(PERSON, PASSWORD, Some("Alice Example"))
        .clock(move || c2.load(Ordering::SeqCst));
    let builder = AAuthResource::builder(ORIGIN)
        .authenticator(Arc::new(login))
        .accept_hwk()
        .retry_after(2)
        .pending_ttl(600)
        .invalid_session(InvalidSessionPolicy::Restart)
        .clock(move || c.load(Ordering::SeqCst));
    let resource = configure(builder).build().expect("valid config");
    async fn data(auth: Authorized) -> String {
        format!("data for {}", auth.agent.thumbprint)
    }
    let app = Router::new()
        .route("/data", get(data).post(data))
        .layer(resource.layer())
        .merge(resource.routes());
    Harness {
        app,
        resource,
        clock,
        login_cookie: Mutex::new(None),
    }
}

/// The first `name=value` of a `Set-Cookie` named `name`.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|kv| kv.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of the hidden input `name` in an HTML page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

impl Harness {
    pub fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub fn advance(&self, secs: u64) {
        self.clock.fetch_add(secs, Ordering::SeqCst);
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body")
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Signs in at the login page with `password`; the reply of the form post.
    pub async fn sign_in_with(&self, password: &str) -> Reply {
        let page = self
            .send(
                Request::get("/aauth/login?next=/")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let csrf_cookie = set_cookie(&page, "aauth_login_csrf").expect("csrf cookie");
        let csrf = hidden(&page.text(), "csrf");
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .append_pair("next", "/")
            .append_pair("username", PERSON)
            .append_pair("password", password)
            .finish();
        self.send(
            Request::post("/aauth/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", csrf_cookie)
                .body(Body::from(form))
                .unwrap(),
        )
        .await
    }

    /// The person's login cookie, signing in on first use.
    pub async fn person_cookie(&self) -> String {
        if let Some(c) = self.login_cookie.lock().unwrap().clone() {
            return c;
        }
        let done = self.sign_in_with(PASSWORD).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
        let cookie = set_cookie(&done, "aauth_login").expect("login cookie");
        *self.login_cookie.lock().unwrap() = Some(cookie.clone());
        cookie
    }

    /// Plays the signed-in person: opens `{url}?code={input}` and returns the reply.
    pub async fn open_page(&self, url: &str, input: &str) -> Reply {
        let cookie = self.person_cookie().await;
        self.open_page_as(url, input, Some(&cookie)).await
    }

    /// Opens `{url}?code={input}` with the given cookie header (or none).
    pub async fn open_page_as(&self, url: &str, input: &str, cookie: Option<&str>) -> Reply {
        let path = url.strip_prefix(ORIGIN).expect("same origin");
        let mut req = Request::get(format!("{path}?code={input}"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// Posts a decision with the nonce and cookie the redeeming page handed out.
    pub async fn post_decision(&self, url: &str, page: &Reply, decision: &str) -> Reply {
        let nonce = hidden(&page.text(), "nonce");
        let nonce_cookie = set_cookie(page, "aauth_interaction").expect("nonce cookie");
        let login = self.person_cookie().await;
        let path = url.strip_prefix(ORIGIN).unwrap();
        let req = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("{login}; {nonce_cookie}"))
            .body(Body::from(format!("nonce={nonce}&decision={decision}")))
            .unwrap();
        self.send(req).await
    }

    /// Redeems the code and approves (or denies).
    pub async fn person_decides(&self, url: &str, code: &str, decision: &str) {
        let page = self.open_page(url, code).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let done = self.post_decision(url, &page, decision).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    }
}

/// An agent with its own Ed25519 key, signing `hwk` requests for the harness resource.
pub struct Agent {
    pub signer: Signer,
}

impl Agent {
    pub fn new() -> Self {
        Agent {
            signer: Signer::hwk(SigningKey::generate(Algorithm::Ed25519).unwrap()),
        }
    }

    pub fn request(&self, method: Method, path_and_query: &str, created: u64) -> Request<Body> {
        self.request_with(method, path_and_query, created, HeaderMap::new(), None)
    }

    /// Signs a request. `components` defaults to the agent profile (mandatory four, plus
    /// `@query` and `authorization` when present).
    pub fn request_with(
        &self,
        method: Method,
        path_and_query: &str,
        created: u64,
        mut headers: HeaderMap,
        components: Option<Vec<&str>>,
    ) -> Request<Body> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let components = components
            .map(|c| c.into_iter().map(str::to_owned).collect())
            .unwrap_or_else(|| {
                let mut c = vec![
                    "@method".to_owned(),
                    "@authority".to_owned(),
                    "@path".to_owned(),
                ];
                if query.is_some() {
                    c.push("@query".to_owned());
                }
                if headers.contains_key("authorization") {
                    c.push("authorization".to_owned());
                }
                c.push("signature-key".to_owned());
                c
            });
        let snapshot = headers.clone();
        let target = RequestTarget {
            method: &method,
            scheme: "https",
            authority: AUTHORITY,
            path,
            query,
            headers: &snapshot,
        };
        let opts = SignOptions {
            components,
            created,
            expires: None,
            label: "sig".to_owned(),
        };
        self.signer
            .sign(&target, &mut headers, &opts)
            .expect("sign");
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(Body::empty())
            .unwrap();
        headers.insert("host", HeaderValue::from_static(AUTHORITY));
        *req.headers_mut() = headers;
        req
    }

    pub fn with_token(
        &self,
        method: Method,
        path: &str,
        created: u64,
        token: &str,
    ) -> Request<Body> {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("AAuth {token}")).unwrap(),
        );
        self.request_with(method, path, created, h, None)
    }
}

/// Runs the whole flow for `agent` up to a session token.
pub async fn obtain_token(h: &Harness, agent: &Agent) -> String {
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    h.person_decides(&url, &code, "approve").await;
    h.advance(2);
    let done = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    done.header("aauth-access")
        .expect("AAuth-Access")
        .to_owned()
}
