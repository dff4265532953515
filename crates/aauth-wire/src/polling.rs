//! The deferred-response vocabulary: polling error codes with their status codes (protocol
//! draft "Polling Error Codes"; DIGEST §6.3) and the `202` body `{"status": …}`.

use std::fmt;

use http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::WireError;
use crate::problem::ProblemDetails;

/// Terminal (and `slow_down`) answers on a pending URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PollingErrorCode {
    Denied,
    Abandoned,
    Expired,
    InvalidCode,
    SlowDown,
    ServerError,
}

impl PollingErrorCode {
    pub const ALL: [PollingErrorCode; 6] = [
        PollingErrorCode::Denied,
        PollingErrorCode::Abandoned,
        PollingErrorCode::Expired,
        PollingErrorCode::InvalidCode,
        PollingErrorCode::SlowDown,
        PollingErrorCode::ServerError,
    ];

    /// The `error` value in the problem-details body.
    pub fn as_str(self) -> &'static str {
        match self {
            PollingErrorCode::Denied => "denied",
            PollingErrorCode::Abandoned => "abandoned",
            PollingErrorCode::Expired => "expired",
            PollingErrorCode::InvalidCode => "invalid_code",
            PollingErrorCode::SlowDown => "slow_down",
            PollingErrorCode::ServerError => "server_error",
        }
    }

    /// The HTTP status the draft pairs with the code.
    pub fn status(self) -> StatusCode {
        match self {
            PollingErrorCode::Denied | PollingErrorCode::Abandoned => StatusCode::FORBIDDEN,
            PollingErrorCode::Expired => StatusCode::REQUEST_TIMEOUT,
            PollingErrorCode::InvalidCode => StatusCode::GONE,
            PollingErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
            PollingErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Maps an `error` value back to a code; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The problem-details body for this code (ERR-05), with `status` filled in.
    pub fn problem(self, detail: impl Into<String>) -> ProblemDetails {
        ProblemDetails::new(self.as_str(), detail).with_status(self.status())
    }
}

impl fmt::Display for PollingErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `status` member of a pending (202) body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PendingStatus {
    Pending,
    /// The person has reached the interaction page (POLL-08).
    Interacting,
    /// Any other value, kept verbatim; agents treat it as `pending` (POLL-07).
    Unknown(String),
}

impl PendingStatus {
    pub fn as_str(&self) -> &str {
        match self {
            PendingStatus::Pending => "pending",
            PendingStatus::Interacting => "interacting",
            PendingStatus::Unknown(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => PendingStatus::Pending,
            "interacting" => PendingStatus::Interacting,
            other => PendingStatus::Unknown(other.to_owned()),
        }
    }

    /// Whether the agent should behave as for `pending`: true for `pending` and for any
    /// unknown value (POLL-07), false for `interacting`.
    pub fn treat_as_pending(&self) -> bool {
        !matches!(self, PendingStatus::Interacting)
    }
}

impl Serialize for PendingStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PendingStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(PendingStatus::parse(&s))
    }
}

/// The 202 body, e.g. `{"status":"pending"}`. Other members may appear (RM-09) and are
/// ignored when reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBody {
    pub status: PendingStatus,
}

impl PendingBody {
    pub fn new(status: PendingStatus) -> Self {
        PendingBody { status }
    }

    pub fn to_json_bytes(&self) -> Vec<u8> {
        // A struct with one string member always serialises; fall back rather than panic.
        serde_json::to_vec(self).unwrap_or_else(|_| br#"{"status":"pending"}"#.to_vec())
    }

    pub fn from_json_slice(body: &[u8]) -> Result<Self, WireError> {
        serde_json::from_slice(body).map_err(|e| WireError::json("pending body", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_20_to_err_25_codes_and_statuses() {
        let table = [
            (PollingErrorCode::Denied, "denied", 403),
            (PollingErrorCode::Abandoned, "abandoned", 403),
            (PollingErrorCode::Expired, "expired", 408),
            (PollingErrorCode::InvalidCode, "invalid_code", 410),
            (PollingErrorCode::SlowDown, "slow_down", 429),
            (PollingErrorCode::ServerError, "server_error", 500),
        ];
        for (code, name, status) in table {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.status().as_u16(), status);
            assert_eq!(PollingErrorCode::parse(name), Some(code));
            let p = code.problem("x");
            assert_eq!(p.error, name);
            assert_eq!(p.status, Some(status));
        }
        assert_eq!(PollingErrorCode::parse("Denied"), None);
        assert_eq!(PollingErrorCode::parse("access_denied"), None);
    }

    #[test]
    fn rm_09_pending_body_serialises() {
        assert_eq!(
            PendingBody::new(PendingStatus::Pending).to_json_bytes(),
            br#"{"status":"pending"}"#
        );
        assert_eq!(
            PendingBody::new(PendingStatus::Interacting).to_json_bytes(),
            br#"{"status":"interacting"}"#
        );
    }

    #[test]
    fn poll_07_unknown_status_kept_and_treated_as_pending() {
        let b = PendingBody::from_json_slice(br#"{"status":"weird","extra":1}"#).unwrap();
        assert_eq!(b.status, PendingStatus::Unknown("weird".into()));
        assert!(b.status.treat_as_pending());
        assert!(PendingStatus::Pending.treat_as_pending());
        assert!(!PendingStatus::Interacting.treat_as_pending());
        assert_eq!(b.to_json_bytes(), br#"{"status":"weird"}"#);
    }

    #[test]
    fn poll_08_interacting_parses() {
        let b = PendingBody::from_json_slice(br#"{"status":"interacting"}"#).unwrap();
        assert_eq!(b.status, PendingStatus::Interacting);
    }

    #[test]
    fn pending_body_errors() {
        assert!(PendingBody::from_json_slice(br#"{}"#).is_err());
        assert!(PendingBody::from_json_slice(br#"{"status":5}"#).is_err());
        assert!(PendingBody::from_json_slice(b"not json").is_err());
    }
}
