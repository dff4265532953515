//! `Signature-Error` (HTTP Signature Keys -08 §5.1) and the `Accept-Signature-Scheme` /
//! `Accept-Signature-Alg` advertisement headers (§4.1, §4.2).
//!
//! `Signature-Error` is a Dictionary whose REQUIRED `error` member is a Token; other members
//! are defined per code and unknown ones are ignored (ERR-02). The two `Accept-*` headers are
//! Lists of Tokens, case preserved (JOSE names are case-sensitive: `ES256`, not `es256`).

use std::fmt;

use http::{HeaderMap, HeaderValue};
use sfv::{BareItem, KeyRef, ListEntry, StringRef, TokenRef};

use crate::{WireError, headers, sf};

const FIELD: &str = "Signature-Error";
const SCHEME_FIELD: &str = "Accept-Signature-Scheme";
const ALG_FIELD: &str = "Accept-Signature-Alg";

/// A `Signature-Error` code (SK8 §5.4, plus `revoked_jwt` / `clock_skew` from -09).
/// Unrecognised codes are kept verbatim so an agent can treat them as a generic failure
/// (ERR-19) instead of failing to parse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureErrorCode {
    InvalidRequest,
    InvalidInput,
    InvalidSignature,
    UnsupportedScheme,
    UnsupportedAlgorithm,
    InvalidKey,
    UnknownKey,
    IssuerMissing,
    IssuerMismatch,
    InvalidJwt,
    ExpiredJwt,
    CacheMiss,
    RevokedJwt,
    ClockSkew,
    Unknown(String),
}

impl SignatureErrorCode {
    /// Every code this crate knows, for table-driven tests and docs.
    pub const KNOWN: [SignatureErrorCode; 14] = [
        SignatureErrorCode::InvalidRequest,
        SignatureErrorCode::InvalidInput,
        SignatureErrorCode::InvalidSignature,
        SignatureErrorCode::UnsupportedScheme,
        SignatureErrorCode::UnsupportedAlgorithm,
        SignatureErrorCode::InvalidKey,
        SignatureErrorCode::UnknownKey,
        SignatureErrorCode::IssuerMissing,
        SignatureErrorCode::IssuerMismatch,
        SignatureErrorCode::InvalidJwt,
        SignatureErrorCode::ExpiredJwt,
        SignatureErrorCode::CacheMiss,
        SignatureErrorCode::RevokedJwt,
        SignatureErrorCode::ClockSkew,
    ];

    /// The snake_case wire name.
    pub fn as_str(&self) -> &str {
        match self {
            SignatureErrorCode::InvalidRequest => "invalid_request",
            SignatureErrorCode::InvalidInput => "invalid_input",
            SignatureErrorCode::InvalidSignature => "invalid_signature",
            SignatureErrorCode::UnsupportedScheme => "unsupported_scheme",
            SignatureErrorCode::UnsupportedAlgorithm => "unsupported_algorithm",
            SignatureErrorCode::InvalidKey => "invalid_key",
            SignatureErrorCode::UnknownKey => "unknown_key",
            SignatureErrorCode::IssuerMissing => "issuer_missing",
            SignatureErrorCode::IssuerMismatch => "issuer_mismatch",
            SignatureErrorCode::InvalidJwt => "invalid_jwt",
            SignatureErrorCode::ExpiredJwt => "expired_jwt",
            SignatureErrorCode::CacheMiss => "cache_miss",
            SignatureErrorCode::RevokedJwt => "revoked_jwt",
            SignatureErrorCode::ClockSkew => "clock_skew",
            SignatureErrorCode::Unknown(s) => s,
        }
    }

    /// Maps a wire name to a code (exact, case-sensitive match).
    pub fn parse(s: &str) -> SignatureErrorCode {
        Self::KNOWN
            .iter()
            .find(|c| c.as_str() == s)
            .cloned()
            .unwrap_or_else(|| SignatureErrorCode::Unknown(s.to_owned()))
    }
}

impl fmt::Display for SignatureErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed or to-be-sent `Signature-Error` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureErrorField {
    pub code: SignatureErrorCode,
    /// `required_input` (with `invalid_input`): component identifiers the server requires.
    pub required_input: Option<Vec<String>>,
}

impl SignatureErrorField {
    /// A field with just the code.
    pub fn new(code: SignatureErrorCode) -> Self {
        SignatureErrorField {
            code,
            required_input: None,
        }
    }

    /// `error=invalid_input` with the components the server requires (ERR-09).
    pub fn invalid_input<S: AsRef<str>>(required: &[S]) -> Self {
        SignatureErrorField {
            code: SignatureErrorCode::InvalidInput,
            required_input: Some(required.iter().map(|s| s.as_ref().to_owned()).collect()),
        }
    }

    /// Parses the field. `error` must be present and a Token. Unknown members are ignored
    /// (ERR-02). A `required_input` that is not an Inner List of Strings is ignored too: it
    /// is advisory, and dropping the whole header over it would lose the error code.
    pub fn parse(value: &str) -> Result<Self, WireError> {
        let dict = sf::parse_dictionary(FIELD, value)?;
        let code = match dict.get("error") {
            None => {
                return Err(WireError::MissingMember {
                    field: FIELD,
                    member: "error",
                });
            }
            Some(ListEntry::Item(item)) => match &item.bare_item {
                BareItem::Token(t) => SignatureErrorCode::parse(t.as_str()),
                other => {
                    return Err(WireError::WrongType {
                        field: FIELD,
                        name: "error",
                        expected: "a Token",
                        found: sf::kind(other),
                    });
                }
            },
            Some(entry @ ListEntry::InnerList(_)) => {
                return Err(WireError::WrongType {
                    field: FIELD,
                    name: "error",
                    expected: "a Token",
                    found: sf::entry_kind(entry),
                });
            }
        };
        let required_input = match dict.get("required_input") {
            Some(ListEntry::InnerList(list)) => list
                .items
                .iter()
                .map(|i| match &i.bare_item {
                    BareItem::String(s) => Some(s.as_str().to_owned()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        Ok(SignatureErrorField {
            code,
            required_input,
        })
    }

    /// Reads `Signature-Error` from a header map (lines joined); `Ok(None)` when absent.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, WireError> {
        match sf::joined(headers, &headers::SIGNATURE_ERROR, FIELD)? {
            None => Ok(None),
            Some(v) => Self::parse(&v).map(Some),
        }
    }

    /// Serialises the field, e.g.
    /// `error=invalid_input, required_input=("@method" "@authority" "@path" "signature-key")`.
    /// Fails only for an `Unknown` code that is not a Token or a component that is not an
    /// ASCII String.
    pub fn to_header_string(&self) -> Result<String, WireError> {
        let token = TokenRef::from_str(self.code.as_str()).map_err(|_| WireError::Serialize {
            field: FIELD,
            reason: "error code is not a valid Token",
        })?;
        let strings = match &self.required_input {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|s| StringRef::from_str(s))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| WireError::Serialize {
                        field: FIELD,
                        reason: "required_input entry is not a valid String",
                    })?,
            ),
        };
        let mut ser = sfv::DictSerializer::new();
        let _ = ser.bare_item(KeyRef::constant("error"), token);
        if let Some(strings) = strings {
            let mut inner = ser.inner_list(KeyRef::constant("required_input"));
            for s in strings {
                let _ = inner.bare_item(s);
            }
            let _ = inner.finish();
        }
        ser.finish().ok_or(WireError::Serialize {
            field: FIELD,
            reason: "empty dictionary",
        })
    }

    /// [`Self::to_header_string`] as a `HeaderValue`.
    pub fn to_header_value(&self) -> Result<HeaderValue, WireError> {
        sf::header_value(FIELD, self.to_header_string()?)
    }
}

/// `Accept-Signature-Scheme: jwt, hwk` — schemes in preference order (SK-26).
pub fn accept_signature_scheme(schemes: &[&str]) -> Result<HeaderValue, WireError> {
    sf::token_list_value(SCHEME_FIELD, schemes)
}

/// `Accept-Signature-Alg: Ed25519, ES256` — JOSE identifiers, case preserved (SK-27).
pub fn accept_signature_alg(algs: &[&str]) -> Result<HeaderValue, WireError> {
    sf::token_list_value(ALG_FIELD, algs)
}

/// Parses an `Accept-Signature-Scheme` value into its Tokens (in order). Any non-Token member
/// makes the value malformed; unknown *tokens* are returned so the caller can ignore them.
pub fn parse_accept_signature_scheme(value: &str) -> Result<Vec<String>, WireError> {
    sf::parse_token_list(SCHEME_FIELD, "scheme", value)
}

/// Parses an `Accept-Signature-Alg` value into its Tokens (in order, case preserved).
pub fn parse_accept_signature_alg(value: &str) -> Result<Vec<String>, WireError> {
    sf::parse_token_list(ALG_FIELD, "alg", value)
}

/// `Accept-Signature-Scheme` from a header map (lines joined); `Ok(None)` when absent.
pub fn accept_signature_scheme_from_headers(
    headers: &HeaderMap,
) -> Result<Option<Vec<String>>, WireError> {
    sf::joined(headers, &headers::ACCEPT_SIGNATURE_SCHEME, SCHEME_FIELD)?
        .map(|v| parse_accept_signature_scheme(&v))
        .transpose()
}

/// `Accept-Signature-Alg` from a header map (lines joined); `Ok(None)` when absent.
pub fn accept_signature_alg_from_headers(
    headers: &HeaderMap,
) -> Result<Option<Vec<String>>, WireError> {
    sf::joined(headers, &headers::ACCEPT_SIGNATURE_ALG, ALG_FIELD)?
        .map(|v| parse_accept_signature_alg(&v))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_is_kept() {
        for c in SignatureErrorCode::KNOWN {
            assert_eq!(SignatureErrorCode::parse(c.as_str()), c);
            assert!(TokenRef::from_str(c.as_str()).is_ok());
        }
        assert_eq!(
            SignatureErrorCode::parse("zzz"),
            SignatureErrorCode::Unknown("zzz".into())
        );
        assert_eq!(
            SignatureErrorCode::parse("Invalid_Signature"),
            SignatureErrorCode::Unknown("Invalid_Signature".into())
        );
    }

    #[test]
    fn err_02_unknown_members_ignored() {
        let f = SignatureErrorField::parse("error=invalid_signature, foo=1").unwrap();
        assert_eq!(f.code, SignatureErrorCode::InvalidSignature);
        assert_eq!(f.required_input, None);
        // -04 `supported_algorithms` is just another unknown member under -08.
        let f = SignatureErrorField::parse(
            r#"error=unsupported_algorithm, supported_algorithms=("ed25519")"#,
        )
        .unwrap();
        assert_eq!(f.code, SignatureErrorCode::UnsupportedAlgorithm);
    }

    #[test]
    fn err_02_error_must_be_token() {
        assert_eq!(
            SignatureErrorField::parse(r#"error="invalid_signature""#),
            Err(WireError::WrongType {
                field: FIELD,
                name: "error",
                expected: "a Token",
                found: "a String"
            })
        );
        assert!(matches!(
            SignatureErrorField::parse("error=(invalid_signature)"),
            Err(WireError::WrongType {
                found: "an Inner List",
                ..
            })
        ));
        assert!(matches!(
            SignatureErrorField::parse("error"), // Boolean true
            Err(WireError::WrongType {
                found: "a Boolean",
                ..
            })
        ));
        assert_eq!(
            SignatureErrorField::parse("required_input=(\"@method\")"),
            Err(WireError::MissingMember {
                field: FIELD,
                member: "error"
            })
        );
        assert!(matches!(
            SignatureErrorField::parse("error=invalid signature"),
            Err(WireError::Syntax { .. })
        ));
    }

    #[test]
    fn err_19_unknown_code_parses_as_unknown() {
        let f = SignatureErrorField::parse("error=zzz").unwrap();
        assert_eq!(f.code, SignatureErrorCode::Unknown("zzz".into()));
    }

    #[test]
    fn err_09_invalid_input_round_trip() {
        let want = r#"error=invalid_input, required_input=("@method" "@authority" "@path" "signature-key")"#;
        let f = SignatureErrorField::invalid_input(&[
            "@method",
            "@authority",
            "@path",
            "signature-key",
        ]);
        assert_eq!(f.to_header_string().unwrap(), want);
        assert_eq!(f.to_header_value().unwrap(), want);
        assert_eq!(SignatureErrorField::parse(want).unwrap(), f);
    }

    #[test]
    fn malformed_required_input_is_ignored_not_fatal() {
        let f = SignatureErrorField::parse(r#"error=invalid_input, required_input=("@path" 1)"#)
            .unwrap();
        assert_eq!(f.code, SignatureErrorCode::InvalidInput);
        assert_eq!(f.required_input, None);
        let f =
            SignatureErrorField::parse(r#"error=invalid_input, required_input="@path""#).unwrap();
        assert_eq!(f.required_input, None);
    }

    #[test]
    fn plain_code_serialises() {
        let f = SignatureErrorField::new(SignatureErrorCode::UnsupportedScheme);
        assert_eq!(f.to_header_string().unwrap(), "error=unsupported_scheme");
        let bad = SignatureErrorField::new(SignatureErrorCode::Unknown("not a token".into()));
        assert!(bad.to_header_value().is_err());
    }

    #[test]
    fn sk_27_accept_signature_alg_case_preserved() {
        assert_eq!(
            accept_signature_alg(&["Ed25519", "ES256"]).unwrap(),
            "Ed25519, ES256"
        );
        assert_eq!(
            parse_accept_signature_alg("Ed25519, ES256").unwrap(),
            ["Ed25519", "ES256"]
        );
        assert_eq!(
            parse_accept_signature_alg("ML-DSA-44").unwrap(),
            ["ML-DSA-44"]
        );
        assert!(accept_signature_alg(&[]).is_err());
        assert!(accept_signature_alg(&["has space"]).is_err());
    }

    #[test]
    fn sk_26_accept_signature_scheme_keeps_unknown_tokens_in_order() {
        assert_eq!(
            accept_signature_scheme(&["jwt", "hwk"]).unwrap(),
            "jwt, hwk"
        );
        assert_eq!(
            parse_accept_signature_scheme("foo, jwt").unwrap(),
            ["foo", "jwt"]
        );
        // parameters on members are ignored
        assert_eq!(parse_accept_signature_scheme("jwt;q=1").unwrap(), ["jwt"]);
        assert!(matches!(
            parse_accept_signature_scheme(r#""jwt""#),
            Err(WireError::WrongType { .. })
        ));
        assert!(parse_accept_signature_scheme("(jwt hwk)").is_err());
    }

    #[test]
    fn from_headers_variants() {
        let mut h = HeaderMap::new();
        assert_eq!(SignatureErrorField::from_headers(&h).unwrap(), None);
        assert_eq!(accept_signature_alg_from_headers(&h).unwrap(), None);
        h.insert(
            &headers::SIGNATURE_ERROR,
            HeaderValue::from_static("error=cache_miss"),
        );
        h.append(
            &headers::ACCEPT_SIGNATURE_ALG,
            HeaderValue::from_static("Ed25519"),
        );
        h.append(
            &headers::ACCEPT_SIGNATURE_ALG,
            HeaderValue::from_static("ES256"),
        );
        h.insert(
            &headers::ACCEPT_SIGNATURE_SCHEME,
            HeaderValue::from_static("jwt"),
        );
        assert_eq!(
            SignatureErrorField::from_headers(&h).unwrap().unwrap().code,
            SignatureErrorCode::CacheMiss
        );
        assert_eq!(
            accept_signature_alg_from_headers(&h).unwrap().unwrap(),
            ["Ed25519", "ES256"]
        );
        assert_eq!(
            accept_signature_scheme_from_headers(&h).unwrap().unwrap(),
            ["jwt"]
        );
    }
}
