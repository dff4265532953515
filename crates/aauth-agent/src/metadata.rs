//! The resource's metadata document (`/.well-known/aauth-resource.json`, DIGEST §9.2): read
//! once per origin so the agent signs what the resource asks for (SIG-11) before being told
//! off with a `401`. It is advisory — the runtime answers always win (MD-04) — so a missing or
//! broken document never fails a request.
use serde::Deserialize;

/// Path of the document under the resource's origin.
pub const WELL_KNOWN_PATH: &str = "/.well-known/aauth-resource.json";

/// The fields of the resource metadata the agent uses or shows. Unknown fields are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ResourceMetadata {
    /// The resource's server identifier; must equal the origin it was fetched from (MD-02).
    pub issuer: String,
    /// Advisory access mode (`session-token` for two-party, MD-04); unknown values are kept
    /// and ignored.
    pub access_mode: Option<String>,
    /// Freshness window for `created`, seconds (MD-05).
    pub signature_window: Option<u64>,
    /// Exactly the accepted algorithms (MD-07).
    pub accept_signature_algs: Option<Vec<String>>,
    /// Components to cover beyond the mandatory ones (MD-06, SIG-11).
    pub additional_signature_components: Vec<String>,
    pub authorization_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub name: Option<String>,
}

/// Largest metadata document read.
pub(crate) const MAX_METADATA: usize = 64 * 1024;

/// Parses a document fetched from `origin` (ASCII serialisation, no trailing slash); `None`
/// for anything unusable, including an `issuer` for another origin (MD-02).
pub fn parse(origin: &str, body: &[u8]) -> Option<ResourceMetadata> {
    let md: ResourceMetadata = serde_json::from_slice(body).ok()?;
    (md.issuer.trim_end_matches('/') == origin).then_some(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md_02_issuer_must_match_the_origin() {
        let doc = br#"{"issuer":"https://r.example","additional_signature_components":["content-type"],"x":1}"#;
        let md = parse("https://r.example", doc).unwrap();
        assert_eq!(md.additional_signature_components, ["content-type"]);
        assert!(parse("https://other.example", doc).is_none());
        assert!(parse("https://r.example", b"not json").is_none());
    }

    #[test]
    fn md_04_unknown_access_mode_is_kept_not_fatal() {
        let md = parse(
            "https://r.example",
            br#"{"issuer":"https://r.example","access_mode":"per-call"}"#,
        )
        .unwrap();
        assert_eq!(md.access_mode.as_deref(), Some("per-call"));
    }
}
