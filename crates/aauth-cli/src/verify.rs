//! `aauth verify`: check the signature of a captured request, given as raw HTTP/1.1 text or as
//! JSON `{method, url, headers, body}`. Kept in the library so it is testable without a
//! process, and so recorded vectors can be checked at a pinned time (`now`).
//!
//! The body is checked as a resource checks it: when the signature covers `content-digest`,
//! `Content-Digest` must match the captured body (a capture without a body has an empty one),
//! and a mismatch is an invalid signature. A body the signature does not cover is reported as
//! unprotected in the verdict's `body` member.
use std::time::Duration;

use aauth_sig::digest::{DigestError, verify_content_digest};
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
    /// The body; `None` when the capture has none (a JSON capture without `body`, raw HTTP
    /// with nothing after the blank line), which a resource would see as an empty body.
    pub body: Option<Vec<u8>>,
}

/// Why a capture could not be read (as opposed to a signature that does not verify). Input
/// echoed in the messages is clipped to [`ECHO_LIMIT`] characters.
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
    #[error("more than one Host line (RFC 9112 §3.2 allows exactly one)")]
    DuplicateHost,
    #[error("the body is shorter than its Content-Length ({got} of {declared} bytes)")]
    ShortBody { declared: usize, got: usize },
    #[error("Content-Length {0:?} is not one non-negative decimal number")]
    ContentLength(String),
}

/// How many characters of the capture an error message repeats.
pub const ECHO_LIMIT: usize = 80;

/// `s` cut to [`ECHO_LIMIT`] characters, with a note of how much was left out.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(ECHO_LIMIT) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}… ({} bytes in all)", &s[..at], s.len()),
    }
}

#[derive(Deserialize)]
struct JsonCapture {
    method: String,
    url: String,
    #[serde(default)]
    headers: serde_json::Value,
    #[serde(default)]
    body: serde_json::Value,
}

/// Adds a raw-HTTP header line's name and value.
fn header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), CaptureError> {
    let n = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| CaptureError::Header(clip(name)))?;
    let v = HeaderValue::from_str(value.trim_matches([' ', '\t']))
        .map_err(|_| CaptureError::Header(format!("{}: <invalid value>", clip(name))))?;
    headers.append(n, v);
    Ok(())
}

/// Adds a JSON capture's header member, with JSON wording for the errors.
fn json_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), CaptureError> {
    let n = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        CaptureError::Json(format!(
            "headers: {:?} is not a valid field name",
            clip(name)
        ))
    })?;
    let v = HeaderValue::from_str(value.trim_matches([' ', '\t'])).map_err(|_| {
        CaptureError::Json(format!(
            "headers: the value of {:?} is not a valid field value (control characters?)",
            clip(name)
        ))
    })?;
    headers.append(n, v);
    Ok(())
}

/// What `http::Uri` lets through but an http(s) request cannot carry (RFC 9110 §4.2): user
/// information, and a port that is not 1–65535.
fn check_authority(uri: &Uri) -> Result<(), &'static str> {
    let Some(authority) = uri.authority() else {
        return Ok(());
    };
    if authority.as_str().contains('@') {
        return Err("user information is not allowed in an http(s) URL");
    }
    // `Authority::port` is `None` for a port too large for a u16, so read the text itself
    // (no user information is left to skip: it was refused above).
    let port = authority
        .as_str()
        .strip_prefix(authority.host())
        .and_then(|rest| rest.strip_prefix(':'))
        .filter(|p| !p.is_empty());
    if let Some(p) = port
        && !matches!(p.parse::<u16>(), Ok(1..))
    {
        return Err("the port is not 1–65535");
    }
    Ok(())
}

fn parse_json(text: &str) -> Result<Captured, CaptureError> {
    let j: JsonCapture =
        serde_json::from_str(text).map_err(|e| CaptureError::Json(clip(&e.to_string())))?;
    let method = Method::from_bytes(j.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
        CaptureError::Json(format!(
            "method {:?} is not an HTTP method token",
            clip(&j.method)
        ))
    })?;
    let uri: Uri = j.url.parse().map_err(|_| {
        CaptureError::Json(format!("url {:?} is not an absolute URL", clip(&j.url)))
    })?;
    // `http::Uri` also takes a bare `host` (authority-form) or `/path`: only http(s) with a
    // host names the request's target.
    let http_scheme = matches!(uri.scheme_str(), Some("http" | "https"));
    if uri.authority().is_none() || !http_scheme {
        return Err(CaptureError::Json(format!(
            "url {:?} is not an absolute http(s) URL (scheme and host)",
            clip(&j.url)
        )));
    }
    if let Err(why) = check_authority(&uri) {
        return Err(CaptureError::Json(format!("url {:?}: {why}", clip(&j.url))));
    }
    let not_string = |k: &str| {
        CaptureError::Json(format!(
            "headers: the value of {:?} must be a string or a list of strings",
            clip(k)
        ))
    };
    let mut headers = HeaderMap::new();
    match j.headers {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => json_header(&mut headers, &k, &s)?,
                    serde_json::Value::Array(a) => {
                        for item in a {
                            let s = item.as_str().ok_or_else(|| not_string(&k))?;
                            json_header(&mut headers, &k, s)?;
                        }
                    }
                    _ => return Err(not_string(&k)),
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
                    return Err(CaptureError::Json(
                        "headers must be an object or a list of [name, value] strings".into(),
                    ));
                };
                json_header(&mut headers, k, v)?;
            }
        }
        serde_json::Value::Null => {}
        _ => {
            return Err(CaptureError::Json(
                "headers must be an object or a list".into(),
            ));
        }
    }
    let body = match j.body {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.into_bytes()),
        _ => {
            return Err(CaptureError::Json(
                "body must be a string (the request body as text)".into(),
            ));
        }
    };
    Ok(Captured {
        method,
        uri,
        headers,
        body,
    })
}

fn parse_raw(text: &str, scheme: &str) -> Result<Captured, CaptureError> {
    // Lines end in CRLF or LF; `offset` follows them so the body is kept byte for byte.
    let mut offset = 0;
    let mut next_line = || -> Option<&str> {
        if offset >= text.len() {
            return None;
        }
        let rest = &text[offset..];
        let (line, used) = match rest.find('\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        offset += used;
        Some(line.strip_suffix('\r').unwrap_or(line))
    };
    let request_line = next_line().ok_or(CaptureError::Empty)?;
    let mut parts = request_line.split_whitespace();
    let (Some(m), Some(target)) = (parts.next(), parts.next()) else {
        return Err(CaptureError::RequestLine(clip(request_line)));
    };
    let method =
        Method::from_bytes(m.as_bytes()).map_err(|_| CaptureError::RequestLine(clip(m)))?;
    let mut headers = HeaderMap::new();
    while let Some(line) = next_line() {
        if line.is_empty() {
            break; // the body follows
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| CaptureError::Header(clip(line)))?;
        header(&mut headers, name, value)?;
    }
    if headers.get_all(http::header::HOST).iter().count() > 1 {
        return Err(CaptureError::DuplicateHost);
    }
    let rest = text.get(offset..).unwrap_or_default().as_bytes();
    // RFC 9110 §8.6: one decimal number; several lines or a bad value leave the body's end
    // unknown, which a verifier must not guess at.
    let mut lengths = headers.get_all(http::header::CONTENT_LENGTH).iter();
    let declared = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(v), None) => {
            let text = String::from_utf8_lossy(v.as_bytes());
            let digits = text.trim();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CaptureError::ContentLength(clip(digits)));
            }
            Some(
                digits
                    .parse::<usize>()
                    .map_err(|_| CaptureError::ContentLength(clip(digits)))?,
            )
        }
        (Some(_), Some(_)) => {
            return Err(CaptureError::ContentLength("more than one line".into()));
        }
    };
    let body = match declared {
        // Content-Length says where the body ends (a final newline an editor added is not
        // part of it).
        Some(n) if rest.len() < n => {
            return Err(CaptureError::ShortBody {
                declared: n,
                got: rest.len(),
            });
        }
        Some(n) => Some(rest[..n].to_vec()),
        None if rest.is_empty() => None,
        None => Some(rest.to_vec()),
    };
    let url = if target.starts_with("http://") || target.starts_with("https://") {
        target.to_owned()
    } else if !target.starts_with('/') {
        // Asterisk-form (`OPTIONS *`) and authority-form (`CONNECT host:port`) name no
        // resource whose `@target-uri` a signature could cover.
        return Err(CaptureError::RequestLine(format!(
            "request target {:?} is neither a path nor an absolute URL",
            clip(target)
        )));
    } else {
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or(CaptureError::NoUrl)?;
        format!("{scheme}://{host}{target}")
    };
    let uri: Uri = url.parse().map_err(|_| CaptureError::Url(clip(&url)))?;
    if let Err(why) = check_authority(&uri) {
        return Err(CaptureError::Url(format!("{}: {why}", clip(&url))));
    }
    Ok(Captured {
        method,
        uri,
        headers,
        body,
    })
}

/// Reads a capture: JSON when it starts with `{`, raw HTTP otherwise (`scheme` for an
/// origin-form request target).
pub fn parse_capture(text: &str, scheme: &str) -> Result<Captured, CaptureError> {
    let t = text.trim_start();
    if t.is_empty() {
        return Err(CaptureError::Empty);
    }
    if is_json(t) {
        parse_json(t)
    } else {
        parse_raw(t, scheme)
    }
}

/// Whether [`parse_capture`] reads `text` as a JSON capture.
pub fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
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
    /// What was found about the body once the signature verified: checked against a covered
    /// `Content-Digest`, or not protected by the signature. Absent when there is no body and
    /// `content-digest` is not covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Verifies `captured` at `now` (Unix seconds) with the AAuth `hwk` profile, then its body
/// against `Content-Digest` when the signature covers it.
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
    let v = match verifier.verify(&target, now) {
        Ok(v) => v,
        Err(e) => return invalid(&e),
    };
    let mut verdict = Verdict {
        verdict: "valid",
        thumbprint: Some(v.thumbprint.as_str().to_owned()),
        algorithm: Some(v.algorithm.jose_name().to_owned()),
        covered: None,
        created: Some(v.created),
        signature_error: None,
        detail: None,
        body: None,
    };
    let has_body = captured.body.as_ref().is_some_and(|b| !b.is_empty());
    if v.covered.iter().any(|c| c == "content-digest") {
        // As a resource does: the body received (none is an empty one) must be the one whose
        // digest was signed; a mismatch is answered like a bad signature.
        let body = captured.body.as_deref().unwrap_or_default();
        match verify_content_digest(&captured.headers, body) {
            Ok(()) => {
                verdict.body = Some("matches the covered Content-Digest".into());
            }
            Err(e) => {
                let why = match e {
                    DigestError::Mismatch if captured.body.is_none() => {
                        "does not match the body (the capture has no body)".to_owned()
                    }
                    DigestError::Mismatch => "does not match the body".to_owned(),
                    other => other
                        .to_string()
                        .trim_start_matches("Content-Digest ")
                        .to_owned(),
                };
                verdict.verdict = "invalid";
                verdict.thumbprint = None;
                verdict.algorithm = None;
                verdict.created = None;
                verdict.signature_error = Some("invalid_signature".into());
                verdict.detail = Some(format!("Content-Digest {why}"));
                verdict.body = Some(format!(
                    "not the signed body: the covered Content-Digest {why}"
                ));
            }
        }
    } else if has_body {
        verdict.body = Some(
            "not protected: the signature does not cover content-digest, so any body would \
             verify"
                .into(),
        );
    }
    verdict.covered = Some(v.covered);
    verdict
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
        body: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text() {
        assert_eq!(clip("GET"), "GET");
        let long = "[".repeat(100_000);
        let c = clip(&long);
        assert!(c.len() < 200, "{c}");
        assert!(c.ends_with("(100000 bytes in all)"), "{c}");
    }

    #[test]
    fn a_bad_content_length_or_a_url_that_is_not_http_is_malformed() {
        for cl in ["99999999999999999999999", "-1", "+2", "", "2, 2", "0x10"] {
            let capture =
                format!("POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: {cl}\r\n\r\nhi");
            assert!(
                matches!(
                    parse_capture(&capture, "https"),
                    Err(CaptureError::ContentLength(_))
                ),
                "{cl:?}"
            );
        }
        for raw in [
            "GET * HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        ] {
            assert!(
                matches!(
                    parse_capture(raw, "https"),
                    Err(CaptureError::RequestLine(_))
                ),
                "{raw:?}"
            );
        }
        for raw in [
            "GET / HTTP/1.1\r\nHost: a:99999999\r\n\r\n",
            "GET http://user:pw@a/ HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse_capture(raw, "https"), Err(CaptureError::Url(_))),
                "{raw:?}"
            );
        }
        // An IPv6 literal with and without a port is fine.
        for raw in [
            "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n",
        ] {
            assert!(parse_capture(raw, "https").is_ok(), "{raw:?}");
        }
        let twice = "POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi";
        assert!(matches!(
            parse_capture(twice, "https"),
            Err(CaptureError::ContentLength(_))
        ));
        for url in [
            "nope",
            "/x",
            "ftp://a.example/x",
            "a.example:443",
            "https://a:0/",
            "https://a:99999999/",
            "http://user:pw@a/",
        ] {
            let json = format!(r#"{{"method":"GET","url":"{url}","headers":{{}}}}"#);
            assert!(
                matches!(parse_capture(&json, "https"), Err(CaptureError::Json(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn raw_body_is_cut_at_content_length_and_a_short_one_is_refused() {
        let c = parse_capture(
            "POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2\r\n\r\nhi\n",
            "https",
        )
        .unwrap();
        assert_eq!(c.body.as_deref(), Some(&b"hi"[..]));
        let c = parse_capture("POST /x HTTP/1.1\nHost: a.example\n\nhi\r\n", "https").unwrap();
        assert_eq!(c.body.as_deref(), Some(&b"hi\r\n"[..]));
        let c = parse_capture("GET /x HTTP/1.1\r\nHost: a.example\r\n\r\n", "https").unwrap();
        assert_eq!(c.body, None);
        assert!(matches!(
            parse_capture(
                "POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 9\r\n\r\nhi",
                "https"
            ),
            Err(CaptureError::ShortBody {
                declared: 9,
                got: 2
            })
        ));
        assert!(matches!(
            parse_capture(
                "GET /x HTTP/1.1\r\nHost: a.example\r\nHost: evil\r\n\r\n",
                "https"
            ),
            Err(CaptureError::DuplicateHost)
        ));
    }

    #[test]
    fn json_captures_get_json_wording() {
        let e = parse_capture(
            r#"{"method":"G E T","url":"http://x/","headers":{}}"#,
            "https",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("method \"G E T\" is not an HTTP method token"),
            "{e}"
        );
        let e = parse_capture(
            r#"{"method":"GET","url":"http://x/","headers":{"signature":1}}"#,
            "https",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("the value of \"signature\" must be a string"),
            "{e}"
        );
        let e = parse_capture(
            r#"{"method":"GET","url":"http://x/","headers":{},"body":{}}"#,
            "https",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("body must be a string"), "{e}");
    }
}
