//! Session-token readers on arbitrary header bytes: no panics; an accepted token is token68
//! and survives the request/response round trip.
#![no_main]
use aauth_wire::access::{
    SessionToken, access_header_value, authorization_value, session_token_from_request,
    session_token_from_response,
};
use aauth_wire::headers::AAUTH_ACCESS;
use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = SessionToken::parse(s);
    }
    let Ok(v) = HeaderValue::from_bytes(data) else { return };
    let mut resp = HeaderMap::new();
    resp.insert(AAUTH_ACCESS, v.clone());
    if let Ok(Some(t)) = session_token_from_response(&resp) {
        let mut req = HeaderMap::new();
        req.insert(AUTHORIZATION, authorization_value(&t));
        assert_eq!(session_token_from_request(&req), Ok(Some(t.clone())));
        assert_eq!(access_header_value(&t), v);
    }
    let mut req = HeaderMap::new();
    req.insert(AUTHORIZATION, v);
    let _ = session_token_from_request(&req);
});
