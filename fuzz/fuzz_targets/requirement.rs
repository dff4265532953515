//! AAuth-Requirement: parsing never panics, and whatever parses re-serialises to a value that
//! parses back to the same requirement.
#![no_main]
use aauth_wire::requirement::AAuthRequirement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(r) = AAuthRequirement::parse(s) {
        let out = r.to_header_string().expect("a parsed requirement re-serialises");
        assert_eq!(AAuthRequirement::parse(&out).expect("round trip"), r);
    }
});
