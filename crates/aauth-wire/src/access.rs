//! Session tokens: `AAuth-Access: <token68>` on responses and `Authorization: AAuth <token68>`
//! on requests (protocol draft "AAuth-Access Response Header"; RFC 9110 §11.2, §11.6.2).
//!
//! The value is a token68, not a structured field: it may contain `/`, `+` and trailing `=`.
//! The draft's rejection rules (empty, embedded whitespace/control characters, more than one
//! credential — SESS-11…13) are enforced here so every crate applies them identically.
//! A session token is a credential, so [`SessionToken`] never prints its value and the header
//! values built from it are marked sensitive (kept out of HPACK/QPACK tables and `Debug`).

use std::fmt;
use std::hash::{Hash, Hasher};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};

use crate::WireError;
use crate::headers::{AAUTH_ACCESS, AUTH_SCHEME};

const ACCESS_FIELD: &str = "AAuth-Access";
const AUTHZ_FIELD: &str = "Authorization";

/// Longest session token accepted. Tokens are opaque to the agent (SESS-02), but an unbounded
/// credential would let a peer make us store and replay arbitrarily large headers.
pub const MAX_SESSION_TOKEN_LEN: usize = 4096;

/// A validated token68 session token.
///
/// `Debug` is redacted and there is deliberately no `Display`: getting at the value takes an
/// explicit [`SessionToken::expose`], which is easy to spot in review.
#[derive(Clone)]
pub struct SessionToken {
    token: String,
    access_value: HeaderValue,
    authorization_value: HeaderValue,
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// Checks `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`, classifying the
/// failure so that callers can tell SESS-11/12/13 apart without the value being echoed.
fn check_token68(field: &'static str, v: &[u8]) -> Result<(), WireError> {
    if v.is_empty() {
        return Err(WireError::Empty { field });
    }
    if v.len() > MAX_SESSION_TOKEN_LEN {
        return Err(WireError::TooLong {
            field,
            len: v.len(),
            max: MAX_SESSION_TOKEN_LEN,
        });
    }
    if v.iter()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(WireError::InvalidToken68 {
            field,
            reason: "contains whitespace or a control character",
        });
    }
    if v.contains(&b',') {
        // A comma is how several field lines combine: more than one credential (SESS-13).
        return Err(WireError::MultipleValues { field });
    }
    let body_len = v.iter().take_while(|b| is_token68_char(**b)).count();
    if body_len == 0 {
        return Err(WireError::InvalidToken68 {
            field,
            reason: "must start with a token68 character",
        });
    }
    let rest = v.get(body_len..).unwrap_or_default();
    if rest.iter().all(|b| *b == b'=') {
        Ok(())
    } else if rest.iter().any(|b| !is_token68_char(*b) && *b != b'=') {
        Err(WireError::InvalidToken68 {
            field,
            reason: "character outside the token68 alphabet",
        })
    } else {
        Err(WireError::InvalidToken68 {
            field,
            reason: "'=' is only allowed as trailing padding",
        })
    }
}

fn sensitive(field: &'static str, s: String) -> Result<HeaderValue, WireError> {
    let mut v = HeaderValue::try_from(s).map_err(|_| WireError::InvalidToken68 {
        field,
        reason: "not a valid header value",
    })?;
    v.set_sensitive(true);
    Ok(v)
}

impl SessionToken {
    /// Validates a token68 value (as found in `AAuth-Access` or after `AAuth `).
    pub fn parse(value: &str) -> Result<Self, WireError> {
        Self::parse_field(ACCESS_FIELD, value.as_bytes())
    }

    fn parse_field(field: &'static str, v: &[u8]) -> Result<Self, WireError> {
        check_token68(field, v)?;
        // check_token68 admits ASCII only, so this cannot fail; map rather than unwrap anyway.
        let token = std::str::from_utf8(v)
            .map_err(|_| WireError::NotAscii { field })?
            .to_owned();
        Ok(SessionToken {
            access_value: sensitive(field, token.clone())?,
            authorization_value: sensitive(field, format!("{AUTH_SCHEME} {token}"))?,
            token,
        })
    }

    /// The raw token, for storage lookups (hash it first) and for sending.
    pub fn expose(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl PartialEq for SessionToken {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token
    }
}

impl Eq for SessionToken {}

impl Hash for SessionToken {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.token.hash(state);
    }
}

/// Reads the session token from a response's `AAuth-Access`.
///
/// `Ok(None)` when absent. Errors for two field lines or a comma-joined value (SESS-13), an
/// empty value (SESS-11), whitespace or control characters (SESS-12), or anything else that
/// is not token68 (SESS-10). On an error the agent keeps its previous token.
pub fn session_token_from_response(headers: &HeaderMap) -> Result<Option<SessionToken>, WireError> {
    let mut lines = headers.get_all(AAUTH_ACCESS).iter();
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    if lines.next().is_some() {
        return Err(WireError::MultipleValues {
            field: ACCESS_FIELD,
        });
    }
    SessionToken::parse_field(ACCESS_FIELD, first.as_bytes()).map(Some)
}

/// Reads the session token from a request's `Authorization: AAuth <token68>`.
///
/// * No `Authorization`, or another scheme such as `Bearer` → `Ok(None)`: a foreign credential
///   is not ours to judge (AMB-17).
/// * Two `Authorization` field lines → error, whatever their schemes (SESS-13).
/// * Scheme `AAuth` (any case) must be followed by 1*SP and one token68; a missing or empty
///   credential is an error (SESS-11), as is a second credential after a comma (SESS-13).
pub fn session_token_from_request(headers: &HeaderMap) -> Result<Option<SessionToken>, WireError> {
    let mut lines = headers.get_all(AUTHORIZATION).iter();
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    if lines.next().is_some() {
        return Err(WireError::MultipleValues { field: AUTHZ_FIELD });
    }
    let v = first.as_bytes();
    let scheme_len = v
        .iter()
        .take_while(|b| !matches!(**b, b' ' | b'\t' | b','))
        .count();
    let (scheme, rest) = v.split_at(scheme_len);
    if !scheme.eq_ignore_ascii_case(AUTH_SCHEME.as_bytes()) {
        return Ok(None);
    }
    let credential_start = rest.iter().take_while(|b| **b == b' ').count();
    if credential_start == 0 && !rest.is_empty() {
        // e.g. `AAuth\tabc` or `AAuth,`: the separator must be SP.
        return Err(WireError::InvalidToken68 {
            field: AUTHZ_FIELD,
            reason: "auth-scheme must be followed by SP",
        });
    }
    let credential = rest.get(credential_start..).unwrap_or_default();
    SessionToken::parse_field(AUTHZ_FIELD, credential).map(Some)
}

/// `AAuth <token>` for the request's `Authorization` header (marked sensitive).
pub fn authorization_value(token: &SessionToken) -> HeaderValue {
    token.authorization_value.clone()
}

/// The bare token for the response's `AAuth-Access` header (marked sensitive).
pub fn access_header_value(token: &SessionToken) -> HeaderValue {
    token.access_value.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "c2Vzcy0xLjg0YjYx.Zk9xT3hwWQ";

    fn resp(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AAUTH_ACCESS, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    fn req(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn sess_10_token68_grammar() {
        for ok in ["abc", "a.b-c_d~e+f/g==", T, "A", "x=", "9/+"] {
            assert_eq!(SessionToken::parse(ok).unwrap().expose(), ok, "{ok}");
        }
        for bad in ["a=b", "=abc", "=", "a==b", "a\"b", "a;b", "a@b", "é"] {
            assert!(
                matches!(
                    SessionToken::parse(bad),
                    Err(WireError::InvalidToken68 { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn sess_10_length_bound() {
        assert!(SessionToken::parse(&"a".repeat(MAX_SESSION_TOKEN_LEN)).is_ok());
        assert!(matches!(
            SessionToken::parse(&"a".repeat(MAX_SESSION_TOKEN_LEN + 1)),
            Err(WireError::TooLong { .. })
        ));
    }

    #[test]
    fn sess_11_rejects_empty() {
        assert_eq!(
            SessionToken::parse(""),
            Err(WireError::Empty {
                field: ACCESS_FIELD
            })
        );
        assert_eq!(
            session_token_from_response(&resp(&[b""])),
            Err(WireError::Empty {
                field: ACCESS_FIELD
            })
        );
        for v in [&b"AAuth"[..], b"AAuth ", b"AAuth   ", b"aauth"] {
            assert_eq!(
                session_token_from_request(&req(&[v])),
                Err(WireError::Empty { field: AUTHZ_FIELD }),
                "{v:?}"
            );
        }
    }

    #[test]
    fn sess_12_rejects_whitespace_and_controls() {
        // Whitespace survives into a HeaderValue, so the header-level reader must refuse it.
        for v in [&b"a b"[..], b"a\tb", b" abc", b"abc ", b"a  b"] {
            assert!(
                matches!(
                    session_token_from_response(&resp(&[v])),
                    Err(WireError::InvalidToken68 { .. })
                ),
                "{v:?}"
            );
        }
        // `http` already refuses most controls in a HeaderValue; the token parser refuses
        // them too, for values that arrive by other routes (config, storage).
        for s in ["a\u{0}b", "a\u{1}b", "a\nb", "a\rb", "a\u{1f}b", "a\x7fb"] {
            assert!(
                matches!(
                    SessionToken::parse(s),
                    Err(WireError::InvalidToken68 { .. })
                ),
                "{s:?}"
            );
        }
        assert!(session_token_from_request(&req(&[b"AAuth a b"])).is_err());
        assert!(session_token_from_request(&req(&[b"AAuth abc "])).is_err());
        assert!(session_token_from_request(&req(&[b"AAuth\tabc"])).is_err());
    }

    #[test]
    fn sess_13_rejects_two_access_lines_or_comma_join() {
        assert_eq!(
            session_token_from_response(&resp(&[b"abc", b"def"])),
            Err(WireError::MultipleValues {
                field: ACCESS_FIELD
            })
        );
        assert_eq!(
            session_token_from_response(&resp(&[b"abc,def"])),
            Err(WireError::MultipleValues {
                field: ACCESS_FIELD
            })
        );
        assert!(session_token_from_response(&resp(&[b"abc, def"])).is_err());
    }

    #[test]
    fn sess_13_rejects_two_authorization_lines_or_second_credential() {
        assert_eq!(
            session_token_from_request(&req(&[b"AAuth abc", b"AAuth def"])),
            Err(WireError::MultipleValues { field: AUTHZ_FIELD })
        );
        assert_eq!(
            session_token_from_request(&req(&[b"AAuth abc", b"Bearer def"])),
            Err(WireError::MultipleValues { field: AUTHZ_FIELD })
        );
        assert_eq!(
            session_token_from_request(&req(&[b"AAuth abc,def"])),
            Err(WireError::MultipleValues { field: AUTHZ_FIELD })
        );
        assert!(session_token_from_request(&req(&[b"AAuth abc, Bearer x"])).is_err());
    }

    #[test]
    fn amb_17_foreign_scheme_or_absent_is_none() {
        assert_eq!(session_token_from_request(&HeaderMap::new()), Ok(None));
        for v in [
            &b"Bearer abc"[..],
            b"Basic dXNlcjpwYXNz",
            b"AAuthX abc",
            b"AAut abc",
            b"Bearer",
        ] {
            assert_eq!(session_token_from_request(&req(&[v])), Ok(None), "{v:?}");
        }
        assert_eq!(session_token_from_response(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn sess_04_request_form_round_trip_case_insensitive_scheme() {
        let t = SessionToken::parse(T).unwrap();
        let v = authorization_value(&t);
        assert_eq!(v, "AAuth c2Vzcy0xLjg0YjYx.Zk9xT3hwWQ");
        assert!(v.is_sensitive());
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, v);
        assert_eq!(session_token_from_request(&h).unwrap(), Some(t.clone()));
        for v in [&b"aauth abc"[..], b"AAUTH abc", b"AAuth    abc"] {
            assert_eq!(
                session_token_from_request(&req(&[v]))
                    .unwrap()
                    .unwrap()
                    .expose(),
                "abc"
            );
        }
    }

    #[test]
    fn sess_01_response_form_round_trip() {
        let t = SessionToken::parse("a.b-c_d~e+f/g==").unwrap();
        let v = access_header_value(&t);
        assert!(v.is_sensitive());
        assert_eq!(v, "a.b-c_d~e+f/g==");
        let mut h = HeaderMap::new();
        h.insert(AAUTH_ACCESS, v);
        assert_eq!(session_token_from_response(&h).unwrap(), Some(t));
    }

    #[test]
    fn sess_15_debug_and_errors_are_redacted() {
        let t = SessionToken::parse(T).unwrap();
        assert_eq!(format!("{t:?}"), "SessionToken(<redacted>)");
        assert!(!format!("{:?}", Some(&t)).contains("c2Vz"));
        let e = session_token_from_request(&req(&[b"AAuth secret-tok en"])).unwrap_err();
        assert!(!e.to_string().contains("secret"));
        assert!(!format!("{e:?}").contains("secret"));
        let e = SessionToken::parse("secret=oops").unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }

    #[test]
    fn equality_and_hash_follow_the_token() {
        use std::collections::HashSet;
        let a = SessionToken::parse("abc").unwrap();
        let b = SessionToken::parse("abc").unwrap();
        let c = SessionToken::parse("abd").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let set: HashSet<_> = [a, b, c].into_iter().collect();
        assert_eq!(set.len(), 2);
    }
}
