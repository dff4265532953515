//! Component identifiers: parse never panics; what parses re-serialises to a fixed point.
#![no_main]
use aauth_sig::ComponentId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(id) = ComponentId::parse(s) {
        let again = ComponentId::parse(id.as_str()).expect("re-parses");
        assert_eq!(again.as_str(), id.as_str());
    }
});
