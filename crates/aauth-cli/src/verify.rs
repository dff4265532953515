//! `aauth verify`: check the signature of a captured request, given as raw HTTP/1.1 text or as
//! JSON `{method, url, headers, body}`. Kept in the library so it is testable without a
//! process, and so recorded vectors can be checked at a pinned time (`now`).
use std::time::Duration;

use aauth_sig::{
    RequestTarget, Scheme, Verifier, VerifierConfig, VerifyError, canonical_authority,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use serde::{Deserialize, Serialize};

/// A request as read from the capture.
#[derive(Debug)]
pub struct Captured {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
}

/// Why a capture could not be read (as opposed to a signature that does not verify).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    #[error("the capture is empty")]
    Empty,
    #[error("invalid request line: {0}")]
    RequestLine(String),
    #[error("invalid header line: {0}")]
    Header(String),
    #[error("no absolute URL: give an absolute request target or a Host header")]
    NoUrl,
    #[error("invalid URL: {0}")]
    Url(String),
    #[error("invalid JSON capture: {0}")]
    Json(String),
}

#[derive(Deserialize)]
struct JsonCapture {
    method: String,
    url: String,
    #[serde(default)]
    headers: serde_json::Value,
}

fn header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), CaptureError> {
    let n = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| CaptureError::Header(name.to_owned()))?;
    let v = HeaderValue::from_str(value.trim_matches([' ', '\t']))
        .map_err(|_| CaptureError::Header(format!("{name}: <invalid value>")))?;
    headers.append(n, v);
    Ok(())
}

fn parse_json(text: &str) -> Result<Captured, CaptureError> {
    let j: JsonCapture =
        serde_json::from_str(text).map_err(|e| CaptureError::Json(e.to_string()))?;
    let method = Method::from_bytes(j.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| CaptureError::RequestLine(j.method.clone()))?;
    let uri: Uri = j
        .url
        .parse()
        .map_err(|_| CaptureError::Url(j.url.clone()))?;
    if uri.authority().is_none() {
        return Err(CaptureError::NoUrl);
    }
    let mut headers = HeaderMap::new();
    match j.headers {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => header(&mut headers, &k, &s)?,
                    serde_json::Value::Array(a) => {
                        for item in a {
                            let s = item
                                .as_str()
                                .ok_or_else(|| CaptureError::Header(k.clone()))?;
                            header(&mut headers, &k, s)?;
                        }
                    }
                    _ => return Err(CaptureError::Header(k)),
                }
            }
        }
        serde_json::Value::Array(pairs) => {
            for p in pairs {
                let pair = p.as_array().filter(|a| a.len() == 2);
                let (Some(k), Some(v)) = (
                    pair.and_then(|a| a[0].as_str()),
                    pair.and_then(|a| a[1].as_str()),
                ) else {
                    return Err(CaptureError::Json("headers as [[name, value], …]".into()));
                };
                header(&mut headers, k, v)?;
            }
        }
        serde_json::Value::Null => {}
        _ => {
            return Err(CaptureError::Json(
                "headers must be an object or a list".into(),
            ));
        }
    }
    Ok(Captured {
        method,
        uri,
        headers,
    })
}

fn parse_raw(text: &str, scheme: &str) -> Result<Captured, CaptureError> {
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(CaptureError::Empty)?;
    let mut parts = request_line.split_whitespace();
    let (Some(m), Some(target)) = (parts.next(), parts.next()) else {
        return Err(CaptureError::RequestLine(request_line.to_owned()));
    };
    let method =
        Method::from_bytes(m.as_bytes()).map_err(|_| CaptureError::RequestLine(m.to_owned()))?;
    let mut headers = HeaderMap::new();
    for line in lines.by_ref() {
        if line.is_empty() {
            break; // the body follows; signatures here do not cover it without content-digest
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| CaptureError::Header(line.to_owned()))?;
        header(&mut headers, name, value)?;
    }
    let url = if target.starts_with("http://") || target.starts_with("https://") {
        target.to_owned()
    } else {
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or(CaptureError::NoUrl)?;
        format!("{scheme}://{host}{target}")
    };
    let uri: Uri = url.parse().map_err(|_| CaptureError::Url(url.clone()))?;
    Ok(Captured {
        method,
        uri,
        headers,
    })
}

/// Reads a capture: JSON when it starts with `{`, raw HTTP otherwise (`scheme` for an
/// origin-form request target).
pub fn parse_capture(text: &str, scheme: &str) -> Result<Captured, CaptureError> {
    let t = text.trim_start();
    if t.is_empty() {
        return Err(CaptureError::Empty);
    }
    if t.starts_with('{') {
        parse_json(t)
    } else {
        parse_raw(t, scheme)
    }
}

/// The verdict printed as JSON.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Verdict {
    /// `valid` or `invalid`.
    pub verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covered: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    /// The `Signature-Error` code a resource would answer with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Verifies `captured` at `now` (Unix seconds) with the AAuth `hwk` profile.
pub fn verify(captured: &Captured, now: u64, window: Duration) -> Verdict {
    let scheme = captured.uri.scheme_str().unwrap_or("https");
    let authority = captured
        .uri
        .authority()
        .map(|a| canonical_authority(scheme, a.as_str()))
        .unwrap_or_default();
    let mut config = VerifierConfig::new(authority.clone())
        .with_scheme(scheme)
        .with_window(window)
        .with_accepted_schemes(vec![Scheme::Hwk]);
    config.canonical_authority = authority.clone();
    let verifier = Verifier::new(config);
    let target = RequestTarget {
        method: &captured.method,
        scheme,
        authority: &authority,
        path: captured.uri.path(),
        query: captured.uri.query(),
        headers: &captured.headers,
    };
    match verifier.verify(&target, now) {
        Ok(v) => Verdict {
            verdict: "valid",
            thumbprint: Some(v.thumbprint.as_str().to_owned()),
            algorithm: Some(v.algorithm.jose_name().to_owned()),
            covered: Some(v.covered),
            created: Some(v.created),
            signature_error: None,
            detail: None,
        },
        Err(e) => invalid(&e),
    }
}

fn invalid(e: &VerifyError) -> Verdict {
    Verdict {
        verdict: "invalid",
        thumbprint: None,
        algorithm: None,
        covered: None,
        created: None,
        signature_error: Some(e.code().as_str().to_owned()),
        detail: Some(e.to_string()),
    }
}
