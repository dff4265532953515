//! `AAuth-Capabilities` (protocol draft "AAuth-Capabilities Request Header"): a List of Tokens
//! naming what the agent can handle, e.g. `interaction, clarification, payment`.
//!
//! Unknown tokens are returned as-is; the resource ignores what it does not know. Absence of
//! the header must not be read as "interaction supported" (AMB-16), which is why
//! [`from_headers`] distinguishes `None` from an empty list.

use http::{HeaderMap, HeaderValue};

use crate::{WireError, headers, sf};

const FIELD: &str = "AAuth-Capabilities";

/// Parses the List of Tokens (parameters ignored, order kept).
pub fn parse(value: &str) -> Result<Vec<String>, WireError> {
    sf::parse_token_list(FIELD, "capability", value)
}

/// Reads the header (lines joined); `Ok(None)` when absent.
pub fn from_headers(headers: &HeaderMap) -> Result<Option<Vec<String>>, WireError> {
    sf::joined(headers, &headers::AAUTH_CAPABILITIES, FIELD)?
        .map(|v| parse(&v))
        .transpose()
}

/// Serialises a non-empty list, e.g. `interaction, clarification`.
pub fn header_value(capabilities: &[&str]) -> Result<HeaderValue, WireError> {
    sf::token_list_value(FIELD, capabilities)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_01_cap_03_amb_16_capabilities_round_trip_and_absence() {
        let v = header_value(&["interaction", "clarification", "payment"]).unwrap();
        assert_eq!(v, "interaction, clarification, payment");
        assert_eq!(
            parse(v.to_str().unwrap()).unwrap(),
            ["interaction", "clarification", "payment"]
        );
        let mut h = HeaderMap::new();
        assert_eq!(from_headers(&h).unwrap(), None);
        h.insert(
            &headers::AAUTH_CAPABILITIES,
            HeaderValue::from_static("interaction;v=1"),
        );
        assert_eq!(from_headers(&h).unwrap().unwrap(), ["interaction"]);
        // CAP-03: unknown values and unknown parameters do not fail the header.
        assert_eq!(
            parse("interaction;x=1, teleport").unwrap(),
            ["interaction", "teleport"]
        );
        assert!(parse(r#""interaction""#).is_err());
        assert!(header_value(&[]).is_err());
    }
}
