//! Interaction codes: normalisation never panics and is idempotent; matching agrees with
//! normalised equality; any ≥5 random bytes give a valid canonical code.
#![no_main]
use aauth_wire::interaction_code::InteractionCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(code) = InteractionCode::from_random_bytes(data) {
        let again = InteractionCode::parse_canonical(code.as_str()).expect("canonical");
        assert_eq!(again, code);
        assert!(code.matches(&code.display()));
        assert!(code.matches(&code.display().to_lowercase()));
    }
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(n) = InteractionCode::normalize_input(s) {
        assert_eq!(InteractionCode::normalize_input(&n).as_deref(), Ok(n.as_str()));
        if let Ok(c) = InteractionCode::parse_canonical(&n) {
            assert!(c.matches(s));
        }
    }
});
