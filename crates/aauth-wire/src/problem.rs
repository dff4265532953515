//! RFC 9457 problem details with AAuth's `error` member.
//!
//! AAuth receivers decide on `error` (ERR-05); the Signature Keys draft wants `type` to be
//! `urn:ietf:params:sig-error:<code>` when the body accompanies `Signature-Error` (ERR-04).
//! Sending both members satisfies both drafts (AMB-40).

use serde::{Deserialize, Serialize};

use crate::WireError;
use crate::signature_error::SignatureErrorCode;

/// The media type of problem-details bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Prefix of the problem `type` for Signature-Error codes (SK8 §5.2).
pub const SIG_ERROR_TYPE_PREFIX: &str = "urn:ietf:params:sig-error:";

/// A problem-details body. Unknown members are kept in `extensions` so a body can be read,
/// inspected and passed on without loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProblemDetails {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The AAuth error code (REQUIRED in AAuth bodies).
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ProblemDetails {
    /// A body with just `error` and `detail`, e.g. `{"error":"denied","detail":"…"}`.
    pub fn new(error: impl Into<String>, detail: impl Into<String>) -> Self {
        ProblemDetails {
            type_: None,
            error: error.into(),
            title: None,
            status: None,
            detail: Some(detail.into()),
            extensions: serde_json::Map::new(),
        }
    }

    /// The body for a signature failure: `type` = `urn:ietf:params:sig-error:<code>` and
    /// `error` = `<code>` (ERR-04), so it serves SK8 and AAuth receivers alike.
    pub fn signature(code: &SignatureErrorCode, detail: impl Into<String>) -> Self {
        let mut p = Self::new(code.as_str(), detail);
        p.type_ = Some(format!("{SIG_ERROR_TYPE_PREFIX}{}", code.as_str()));
        p
    }

    /// Sets the optional `status` member.
    pub fn with_status(mut self, status: http::StatusCode) -> Self {
        self.status = Some(status.as_u16());
        self
    }

    /// Sets the optional `title` member.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The compact JSON encoding. Serialising this struct cannot fail (string keys only), so
    /// a failure would be a serde bug; it then yields a minimal hand-built body instead of a
    /// panic.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| br#"{"error":"server_error"}"#.to_vec())
    }

    /// Parses a body; `error` must be present and a string.
    pub fn from_json_slice(body: &[u8]) -> Result<Self, WireError> {
        serde_json::from_slice(body).map_err(|e| WireError::json("problem details", &e))
    }

    /// The Signature-Error code named by `type`, if it has the sig-error URN form.
    pub fn signature_code_from_type(&self) -> Option<SignatureErrorCode> {
        self.type_
            .as_deref()
            .and_then(|t| t.strip_prefix(SIG_ERROR_TYPE_PREFIX))
            .map(SignatureErrorCode::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn as_value(p: &ProblemDetails) -> Value {
        serde_json::from_slice(&p.to_json_bytes()).unwrap()
    }

    #[test]
    fn err_04_signature_body_has_type_and_error() {
        let p = ProblemDetails::signature(
            &SignatureErrorCode::InvalidSignature,
            "signature does not verify",
        );
        assert_eq!(
            String::from_utf8(p.to_json_bytes()).unwrap(),
            r#"{"type":"urn:ietf:params:sig-error:invalid_signature","error":"invalid_signature","detail":"signature does not verify"}"#
        );
        assert_eq!(
            p.signature_code_from_type(),
            Some(SignatureErrorCode::InvalidSignature)
        );
    }

    #[test]
    fn err_05_plain_body_omits_absent_members() {
        let p = ProblemDetails::new("denied", "The user declined the request.");
        assert_eq!(
            as_value(&p),
            json!({"error":"denied","detail":"The user declined the request."})
        );
        assert_eq!(p.signature_code_from_type(), None);
        let p = p
            .with_status(http::StatusCode::FORBIDDEN)
            .with_title("Denied");
        assert_eq!(as_value(&p)["status"], 403);
        assert_eq!(as_value(&p)["title"], "Denied");
    }

    #[test]
    fn err_05_parse_requires_error_and_keeps_extensions() {
        let p = ProblemDetails::from_json_slice(
            br#"{"type":"about:blank","error":"mission_terminated","mission_status":"terminated"}"#,
        )
        .unwrap();
        assert_eq!(p.error, "mission_terminated");
        assert_eq!(p.extensions["mission_status"], "terminated");
        assert_eq!(as_value(&p)["mission_status"], "terminated");
        assert!(matches!(
            ProblemDetails::from_json_slice(br#"{"detail":"no code"}"#),
            Err(WireError::Json {
                category: "data",
                ..
            })
        ));
        assert!(matches!(
            ProblemDetails::from_json_slice(br#"{"error":"#),
            Err(WireError::Json {
                category: "end-of-input",
                ..
            })
        ));
    }

    #[test]
    fn json_errors_do_not_echo_body_content() {
        let e =
            ProblemDetails::from_json_slice(br#"{"error":42, "secret":"hunter2"}"#).unwrap_err();
        assert!(!e.to_string().contains("42"));
        let e =
            ProblemDetails::from_json_slice(br#"{"error":"x","status":"hunter2"}"#).unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn problem_json_media_type() {
        assert_eq!(PROBLEM_JSON, "application/problem+json");
        assert!(http::HeaderValue::from_str(PROBLEM_JSON).is_ok());
    }
}
