//! Signature-Input and Signature (RFC 9421 §4): parsing, label handling, component
//! identifiers and base building never panic, strict or lenient. The borrowed Dictionary view
//! the verifier parses with agrees with sfv's owned Dictionary on every input.
#![no_main]
use aauth_sig::{ComponentId, SignatureFields};
use aauth_wire::sf_view::DictionaryView;
use libfuzzer_sys::fuzz_target;

#[path = "sig_common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(f) = common::fields(data, 2) else {
        return;
    };
    let (input, sig) = (f[0], f[1]);
    for text in [input, sig] {
        let owned = sfv::Parser::new(text).parse::<sfv::Dictionary>();
        let view = DictionaryView::parse(text).map(|v| v.to_dictionary());
        match (owned, view) {
            (Ok(o), Ok(v)) => assert_eq!(o, v, "view differs from sfv"),
            (Err(_), Err(_)) => {}
            (o, v) => panic!("sfv {o:?} but view {v:?}"),
        }
    }
    for lenient in [false, true] {
        let mut h = http::HeaderMap::new();
        let (Ok(i), Ok(s)) = (input.parse(), sig.parse()) else {
            return;
        };
        h.insert("signature-input", i);
        h.insert("signature", s);
        let Ok(fields) = SignatureFields::from_headers_lenient(&h, lenient) else {
            continue;
        };
        let _ = fields.labels_match();
        let labels: Vec<String> = fields.labels().map(str::to_owned).collect();
        for label in labels {
            if let Ok(p) = fields.get(&label) {
                for c in &p.components {
                    let again = ComponentId::parse(c.as_str()).expect("serialised id re-parses");
                    assert_eq!(again.as_str(), c.as_str());
                }
            }
        }
    }
});
