//! Signature-Key: parsing and the scheme readers never panic; members re-serialise to
//! something that parses to the same member; the borrowed view the verifier reads judges
//! every member exactly as the owned parse does.
#![no_main]
use aauth_wire::signature_key::{
    HwkParams, HwkView, JwtParams, SignatureKey, SignatureKeyView, signature_key_field,
    signature_key_member_field,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let view = SignatureKeyView::parse(s);
    assert_eq!(
        view.as_ref()
            .map(SignatureKeyView::to_owned)
            .map_err(Clone::clone),
        SignatureKey::parse(s),
        "view and owned parse differ"
    );
    if let Ok(view) = &view {
        for label in view.labels() {
            if let (Some(Ok(v)), Some(Ok(o))) = (
                view.get(label),
                SignatureKey::parse(s)
                    .ok()
                    .and_then(|k| k.get(label).map(|r| r.cloned().map_err(Clone::clone))),
            ) {
                assert_eq!(
                    HwkView::from_member(&v).map(|h| h.to_params()),
                    HwkParams::from_member(&o)
                );
            }
        }
    }
    let Ok(sk) = SignatureKey::parse(s) else {
        return;
    };
    for label in sk.labels() {
        let Some(m) = sk.member(label) else { continue };
        if let Ok(field) = signature_key_member_field(label, m) {
            let back = SignatureKey::parse(&field).expect("re-serialised member parses");
            assert_eq!(back.member(label), Some(m));
        }
        if let Ok(h) = HwkParams::from_member(m)
            && let Ok(field) = signature_key_field(label, &h)
        {
            let back = SignatureKey::parse(&field).expect("hwk field parses");
            let m2 = back.member(label).expect("member present");
            assert_eq!(HwkParams::from_member(m2).expect("hwk reads back"), h);
        }
        let _ = JwtParams::from_member(m);
    }
});
