//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
//!
//! AAuth servers send whole seconds (RM-08), but the field's grammar allows a date and an
//! agent must not choke on one (AMB-12). A date in the past means "now".

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};

use crate::WireError;

const FIELD: &str = "Retry-After";
/// More digits than this cannot be a sensible delay (and would overflow u64 at 20).
const MAX_DIGITS: usize = 12;

fn invalid(reason: &'static str) -> WireError {
    WireError::InvalidValue {
        field: FIELD,
        name: "value",
        reason,
    }
}

/// Parses a `Retry-After` value relative to `now`.
pub fn parse(value: &str, now: SystemTime) -> Result<Duration, WireError> {
    let v = value.trim_matches([' ', '\t']);
    if v.is_empty() {
        return Err(WireError::Empty { field: FIELD });
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        if v.len() > MAX_DIGITS {
            return Err(invalid("delay-seconds out of range"));
        }
        let secs: u64 = v
            .parse()
            .map_err(|_| invalid("delay-seconds out of range"))?;
        return Ok(Duration::from_secs(secs));
    }
    if v.len() > 64 {
        return Err(invalid("neither delay-seconds nor an HTTP-date"));
    }
    let at = httpdate::parse_http_date(v)
        .map_err(|_| invalid("neither delay-seconds nor an HTTP-date"))?;
    Ok(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reads `Retry-After` from a header map: `Ok(None)` when absent, an error for several field
/// lines (the field is a singleton) or an unparseable value.
pub fn from_headers(headers: &HeaderMap, now: SystemTime) -> Result<Option<Duration>, WireError> {
    let mut lines = headers.get_all(http::header::RETRY_AFTER).iter();
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    if lines.next().is_some() {
        return Err(WireError::MultipleValues { field: FIELD });
    }
    let s = first
        .to_str()
        .map_err(|_| WireError::NotAscii { field: FIELD })?;
    parse(s, now).map(Some)
}

/// `Retry-After: <seconds>` — the form AAuth servers emit (RM-08).
pub fn header_value(delay: Duration) -> HeaderValue {
    HeaderValue::from(delay.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_730_217_600) // Tue, 29 Oct 2024 16:00:00 GMT
    }

    #[test]
    fn rm_08_delay_seconds() {
        assert_eq!(parse("5", now()).unwrap(), Duration::from_secs(5));
        assert_eq!(parse("0", now()).unwrap(), Duration::ZERO);
        assert_eq!(parse(" 120 ", now()).unwrap(), Duration::from_secs(120));
        assert_eq!(header_value(Duration::from_secs(5)), "5");
        assert_eq!(header_value(Duration::from_millis(5900)), "5");
    }

    #[test]
    fn amb_12_http_date_future_and_past() {
        assert_eq!(
            parse("Tue, 29 Oct 2024 16:00:30 GMT", now()).unwrap(),
            Duration::from_secs(30)
        );
        assert_eq!(
            parse("Tue, 29 Oct 2024 15:00:00 GMT", now()).unwrap(),
            Duration::ZERO
        );
        assert_eq!(
            parse("Sun, 06 Nov 1994 08:49:37 GMT", now()).unwrap(),
            Duration::ZERO
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "  ",
            "-1",
            "1.5",
            "5s",
            "soon",
            "99999999999999999999",
            "+5",
            "0x10",
        ] {
            assert!(parse(bad, now()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn poll_03_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(from_headers(&h, now()).unwrap(), None);
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            from_headers(&h, now()).unwrap(),
            Some(Duration::from_secs(7))
        );
        h.append(http::header::RETRY_AFTER, HeaderValue::from_static("8"));
        assert!(matches!(
            from_headers(&h, now()),
            Err(WireError::MultipleValues { .. })
        ));
    }
}
