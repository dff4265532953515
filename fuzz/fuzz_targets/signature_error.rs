//! Signature-Error and the Accept-Signature-* lists: no panics; round trips hold.
#![no_main]
use aauth_wire::signature_error::{
    SignatureErrorField, accept_signature_alg, parse_accept_signature_alg,
    parse_accept_signature_scheme,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(f) = SignatureErrorField::parse(s)
        && let Ok(out) = f.to_header_string()
    {
        assert_eq!(SignatureErrorField::parse(&out).expect("round trip"), f);
    }
    let _ = parse_accept_signature_scheme(s);
    if let Ok(algs) = parse_accept_signature_alg(s)
        && !algs.is_empty()
    {
        let refs: Vec<&str> = algs.iter().map(String::as_str).collect();
        let v = accept_signature_alg(&refs).expect("parsed tokens re-serialise");
        let again = parse_accept_signature_alg(v.to_str().expect("ascii")).expect("parses");
        assert_eq!(again, algs);
    }
});
