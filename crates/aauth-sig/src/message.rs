//! What a signature base is built from: a request (or a response and its request).

use http::{HeaderMap, Method, Uri};

/// The parts of a request that RFC 9421 derived components and fields are taken from.
///
/// `authority` is the canonical authority (lowercase host, default port removed): a resource
/// takes it from configuration rather than from the `Host` header it was sent, so that a
/// client cannot steer which authority is verified (SIG-32).
#[derive(Clone, Copy, Debug)]
pub struct RequestTarget<'a> {
    pub method: &'a Method,
    /// `https` or `http`, lowercase.
    pub scheme: &'a str,
    /// Canonical authority: `host[:port]`, lowercase, default port removed.
    pub authority: &'a str,
    /// Absolute path as sent (percent-encoding untouched); empty means `/`.
    pub path: &'a str,
    /// Query without the leading `?`; `None` when the URI has no `?`.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// `from_uri` needs a canonical authority it can borrow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The URI has no authority and none was supplied.
    #[error("request URI has no authority and no canonical authority was given")]
    NoAuthority,
    /// The URI's authority is not in canonical form; pass
    /// `Some(&canonical_authority(scheme, authority))` instead.
    #[error("request URI authority is not canonical (lowercase, default port removed)")]
    NonCanonicalAuthority,
}

impl<'a> RequestTarget<'a> {
    /// Builds a target from a request URI.
    ///
    /// The scheme defaults to `https` for origin-form URIs (a server sees `/path?query`). The
    /// authority is `canonical_authority_override` when given (a server passes its configured
    /// name), otherwise the URI's own authority, which must already be canonical — a borrowed
    /// target cannot hold a rewritten one; use [`canonical_authority`] to produce it.
    pub fn from_uri(
        method: &'a Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
        canonical_authority_override: Option<&'a str>,
    ) -> Result<Self, TargetError> {
        let scheme = uri.scheme_str().unwrap_or("https");
        let authority = match canonical_authority_override {
            Some(a) => a,
            None => {
                let a = uri.authority().ok_or(TargetError::NoAuthority)?.as_str();
                if canonical_authority(scheme, a) != a {
                    return Err(TargetError::NonCanonicalAuthority);
                }
                a
            }
        };
        Ok(RequestTarget {
            method,
            scheme,
            authority,
            path: uri.path(),
            query: uri.query(),
            headers,
        })
    }
}

/// Canonical `@authority` (RFC 9421 §2.2.3): lowercase, without userinfo and without the
/// scheme's default port (443 for https, 80 for http).
pub fn canonical_authority(scheme: &str, authority: &str) -> String {
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let mut lower = host_port.to_ascii_lowercase();
    let default = if scheme.eq_ignore_ascii_case("http") {
        ":80"
    } else if scheme.eq_ignore_ascii_case("https") {
        ":443"
    } else {
        ""
    };
    // Only strip when the suffix is the whole port (not part of an IPv6 literal).
    if !default.is_empty() && lower.ends_with(default) {
        let head = &lower[..lower.len() - default.len()];
        if !head.is_empty() && (!head.contains(':') || head.ends_with(']')) {
            lower.truncate(head.len());
        }
    }
    lower
}

/// A response, with the request it answers when `;req` components are used.
#[derive(Clone, Copy, Debug)]
pub struct ResponseTarget<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub request: Option<RequestTarget<'a>>,
}

/// The message a signature base is built from.
#[derive(Clone, Copy, Debug)]
pub enum Message<'m, 'a> {
    /// A request. `request_target` overrides `@request-target` for the absolute, authority
    /// and asterisk forms (RFC 9421 §2.2.5); `None` means origin form (`path?query`).
    Request {
        target: &'m RequestTarget<'a>,
        request_target: Option<&'a str>,
    },
    /// A response.
    Response(&'m ResponseTarget<'a>),
}

impl<'m, 'a> Message<'m, 'a> {
    /// A request in origin form.
    pub fn request(target: &'m RequestTarget<'a>) -> Self {
        Message::Request {
            target,
            request_target: None,
        }
    }

    pub(crate) fn headers(&self) -> &'a HeaderMap {
        match self {
            Message::Request { target, .. } => target.headers,
            Message::Response(r) => r.headers,
        }
    }
}
