//! The interaction page in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), a person's clicks included — sign in, compare the code, click Approve —
//! and then the agent's poll gets `200` + `AAuth-Access` (IC-07, IC-11, RM-14).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test says so and passes, except under `CI=true`, where a missing browser is a failure.
//! WebDriver is spoken directly with reqwest (a handful of JSON calls), so no WebDriver crate
//! and no second TLS stack are pulled in.
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aauth_axum::{AAuthResource, Authorized, LocalLogin};
use aauth_sig::{Algorithm, RequestTarget, SignOptions, Signer, SigningKey};
use aauth_wire::requirement::{AAuthRequirement, Requirement};
use axum::Router;
use axum::routing::get;
use http::{HeaderMap, Method};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    _profile: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    async fn start() -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!("aauth-chromium-{port}"));
        let _ = std::fs::create_dir_all(&profile);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        // Wait for chromedriver to listen.
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let mut driver = Driver {
            child,
            http,
            base,
            session: String::new(),
            _profile: TempDir(profile),
        };
        let v = driver.call(Method::POST, "/session", Some(caps)).await;
        driver.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        driver
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = self.http.request(method, &url);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let resp = req.send().await.expect("webdriver call");
        let v: Value = resp.json().await.expect("webdriver JSON");
        v["value"].clone()
    }

    async fn session_call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let p = format!("/session/{}{path}", self.session);
        self.call(method, &p, body).await
    }

    async fn goto(&self, url: &str) {
        self.session_call(Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Waits (up to 10 s) for the element: after a click the next page may still be loading.
    async fn find(&self, css: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let v = self
                .session_call(
                    Method::POST,
                    "/element",
                    Some(json!({ "using": "css selector", "value": css })),
                )
                .await;
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no element {css}: {v}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.session_call(
            Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.session_call(
            Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.session_call(Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn current_url(&self) -> String {
        self.session_call(Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn quit(&self) {
        self.session_call(Method::DELETE, "", None).await;
    }
}

/// Signs a request for `authority` (plain http on loopback) and sends it.
async fn signed(
    http: &reqwest::Client,
    signer: &Signer,
    authority: &str,
    path: &str,
) -> reqwest::Response {
    let mut headers = HeaderMap::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let snapshot = headers.clone();
    let target = RequestTarget {
        method: &Method::GET,
        scheme: "http",
        authority,
        path,
        query: None,
        headers: &snapshot,
    };
    let opts = SignOptions {
        components: ["@method", "@authority", "@path", "signature-key"]
            .map(str::to_owned)
            .to_vec(),
        created: now,
        expires: None,
        label: "sig".to_owned(),
    };
    signer.sign(&target, &mut headers, &opts).unwrap();
    http.get(format!("http://{authority}{path}"))
        .headers(headers)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ic_07_ic_11_rm_14_a_person_signs_in_and_approves_in_headless_chromium() {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "CI=true but {CHROMIUM} / {CHROMEDRIVER} are missing: .ci/run must install them"
            );
        }
        eprintln!(
            "SKIPPED ic_07_ic_11_rm_14 browser test: install `chromium chromium-driver` to run it"
        );
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();

    // The resource, on a loopback port, with a local login.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let login = LocalLogin::new()
        .with_user("alice", "s3cret-for-the-browser", Some("Alice Example"))
        .secure_cookies(false);
    let resource = AAuthResource::builder(format!("http://{authority}"))
        .accept_hwk()
        .allow_insecure_loopback()
        .authenticator(Arc::new(login))
        .retry_after(1)
        .build()
        .unwrap();
    async fn data(auth: Authorized) -> String {
        format!("hello {}", auth.person().unwrap_or("?"))
    }
    let app = Router::new()
        .route("/data", get(data))
        .layer(resource.layer())
        .merge(resource.routes());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // The agent asks and is told to get a person.
    let http = reqwest::Client::new();
    let signer = Signer::hwk(SigningKey::generate(Algorithm::Ed25519).unwrap());
    let first = signed(&http, &signer, &authority, "/data").await;
    assert_eq!(first.status(), 202);
    let req = AAuthRequirement::parse(
        first
            .headers()
            .get("aauth-requirement")
            .unwrap()
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let Requirement::Interaction { url, code } = req.requirement else {
        panic!("not an interaction requirement");
    };
    let location = first
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();

    // The person: open the link, sign in, compare the code, approve.
    let browser = Driver::start().await;
    browser.goto(&format!("{url}?code={code}")).await;
    assert!(
        browser.current_url().await.contains("/aauth/login"),
        "not sent to sign in first"
    );
    browser.type_into("#username", "alice").await;
    browser
        .type_into("#password", "s3cret-for-the-browser")
        .await;
    browser.click("#login").await;
    assert_eq!(
        browser.text("#code").await,
        code,
        "IC-11: the code is shown"
    );
    assert_eq!(browser.text("#person").await, "Alice Example");
    assert!(
        browser
            .text("#agent")
            .await
            .contains(signer.thumbprint().as_str())
    );
    browser.click("#approve").await;
    let outcome = browser.text("#outcome").await;
    browser.quit().await;
    assert!(outcome.starts_with("Done."), "{outcome}");

    // The agent's poll now gets the session token, and it works.
    let done = signed(&http, &signer, &authority, &location).await;
    assert_eq!(done.status(), 200);
    assert!(done.headers().contains_key("aauth-access"));
    server.abort();
}
