//! HTTP plumbing shared by the suites: a client without redirects, replies, and the wire facts
//! every negative check looks at.
use std::time::Duration;

use aauth_wire::signature_error::{SignatureErrorCode, SignatureErrorField};
use http::{HeaderMap, Method, StatusCode};

use crate::raw::Signed;

pub fn client() -> Result<reqwest::Client, String> {
    aauth_cli::install_ring_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())
}

/// A response, read in full.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn count(&self, name: &str) -> usize {
        self.headers.get_all(name).iter().count()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// `status` plus the Signature-Error value, for details.
    pub fn summary(&self) -> String {
        let mut s = self.status.as_u16().to_string();
        if let Some(e) = self.header("signature-error") {
            s.push_str(&format!(" Signature-Error: {e}"));
        }
        if self.status.is_client_error()
            && let Some(j) = self.json()
            && let Some(err) = j.get("error")
        {
            s.push_str(&format!(" body error {err}"));
        }
        s
    }

    pub fn sig_error(&self) -> Result<SignatureErrorField, String> {
        let raw = self
            .header("signature-error")
            .ok_or_else(|| format!("no Signature-Error on {}", self.summary()))?;
        SignatureErrorField::parse(raw).map_err(|e| format!("Signature-Error {raw:?}: {e}"))
    }

    /// ERR-06/SIG-27 + ERR-01/ERR-02: a 401 with a parseable Signature-Error whose code is
    /// one of `codes`.
    pub fn expect_401(&self, codes: &[SignatureErrorCode]) -> Result<String, String> {
        if self.status != StatusCode::UNAUTHORIZED {
            return Err(format!("expected 401, got {}", self.summary()));
        }
        let e = self.sig_error()?;
        if codes.contains(&e.code) {
            Ok(self.summary())
        } else {
            let want: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
            Err(format!(
                "expected {}, got {}",
                want.join(" or "),
                self.summary()
            ))
        }
    }

    /// Signature accepted: anything but a 401 with Signature-Error (the route may answer 202
    /// interaction or 200).
    pub fn expect_accepted(&self) -> Result<String, String> {
        if self.status == StatusCode::UNAUTHORIZED || self.header("signature-error").is_some() {
            Err(format!("signature refused: {}", self.summary()))
        } else if self.status.is_server_error() {
            Err(format!("server error {}", self.summary()))
        } else {
            Ok(self.summary())
        }
    }
}

pub async fn send(http: &reqwest::Client, req: &Signed) -> Result<Reply, String> {
    let mut b = http
        .request(req.method.clone(), req.url.clone())
        .headers(req.headers.clone());
    if let Some(body) = &req.body {
        b = b.body(body.clone());
    }
    read(b.send().await.map_err(|e| format!("HTTP: {e}"))?).await
}

pub async fn plain(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Result<Reply, String> {
    let mut b = http.request(method, url);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    if let Some(body) = body {
        b = b.body(body);
    }
    read(b.send().await.map_err(|e| format!("HTTP: {e}"))?).await
}

pub async fn read(resp: reqwest::Response) -> Result<Reply, String> {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}
