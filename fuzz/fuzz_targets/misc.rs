//! Retry-After, AAuth-Capabilities and the JSON bodies: no panics on any input.
#![no_main]
use std::time::{Duration, SystemTime};

use aauth_wire::{capabilities, polling::PendingBody, problem::ProblemDetails, retry_after};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = PendingBody::from_json_slice(data);
    if let Ok(p) = ProblemDetails::from_json_slice(data) {
        let _ = ProblemDetails::from_json_slice(&p.to_json_bytes()).expect("round trip");
    }
    let Ok(s) = std::str::from_utf8(data) else { return };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_730_217_600);
    let _ = retry_after::parse(s, now);
    let _ = capabilities::parse(s);
});
