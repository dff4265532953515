//! The built-in interaction pages: small, self-contained, no scripts, escaped throughout.

use axum::response::{Html, IntoResponse as _, Response};
use http::{HeaderValue, StatusCode};

/// What every page of ours carries: never cached (it shows codes and nonces), never framed
/// (clickjacking the Approve button), no scripts or foreign form targets.
pub(crate) fn guard(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    resp
}

/// `document` as a guarded HTML response.
pub(crate) fn response(status: StatusCode, document: String) -> Response {
    guard((status, Html(document)).into_response())
}

/// A guarded `400` page saying `text`: what a malformed form or query on our pages gets (not
/// axum's plain-text rejection, which would carry none of the page headers).
pub(crate) fn bad_request(text: &str) -> Response {
    response(
        StatusCode::BAD_REQUEST,
        page("Bad request", &format!("<p>{}</p>", escape(text))),
    )
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Wraps `body` (already escaped HTML) in a page.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }}
.code {{ font-family: ui-monospace, monospace; font-size: 2rem; letter-spacing: .15em; padding: .5rem 1rem; border: 2px solid #444; display: inline-block; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }}
dt {{ font-weight: 600; }} dd {{ margin: 0; word-break: break-all; }}
button {{ font-size: 1.1rem; padding: .6rem 1.4rem; margin-right: 1rem; cursor: pointer; }}
button:focus-visible, input:focus-visible {{ outline: 3px solid #0b5fff; outline-offset: 2px; }}
.approve {{ background: #0b6b2b; color: #fff; border: none; }}
.deny {{ background: #fff; color: #8a1111; border: 2px solid #8a1111; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = escape(title),
        body = body
    )
}
