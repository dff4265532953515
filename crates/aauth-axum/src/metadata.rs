//! `/.well-known/aauth-resource.json` (MD-01..MD-09) and the JWKS of the resource's own keys.
//!
//! Every value that describes verification is read from the verifier's own configuration, so
//! what the document promises is what the resource enforces.
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use serde_json::{Value, json};

use crate::AAuthResource;

pub(crate) const METADATA_PATH: &str = "/.well-known/aauth-resource.json";

impl AAuthResource {
    /// The resource metadata document, as served at `/.well-known/aauth-resource.json`.
    pub fn metadata_document(&self) -> Value {
        let inner = &self.inner;
        let config = inner.verifier.config();
        let mut doc = serde_json::Map::new();
        // Application-supplied members first, so the computed ones below always win.
        for (k, v) in &inner.metadata_extra {
            doc.insert(k.clone(), v.clone());
        }
        doc.insert("issuer".into(), json!(inner.issuer));
        doc.insert("access_mode".into(), json!(inner.access_mode.as_str()));
        doc.insert("signature_window".into(), json!(config.window.as_secs()));
        doc.insert(
            "accept_signature_algs".into(),
            json!(inner.accepted_alg_names),
        );
        // Not a draft member: the out-of-band twin of `Accept-Signature-Scheme`, as
        // `accept_signature_algs` is of `Accept-Signature-Alg`. Unknown members are ignored
        // by readers, so it costs nothing to agents that do not know it.
        doc.insert(
            "accept_signature_schemes".into(),
            json!(inner.accepted_scheme_names),
        );
        doc.insert(
            "additional_signature_components".into(),
            json!(config.required_components),
        );
        doc.insert(
            "revocation_endpoint".into(),
            json!(format!("{}{}", inner.origin, inner.revocation_path)),
        );
        if !inner.signing_keys.is_empty() {
            doc.insert(
                "jwks_uri".into(),
                json!(format!("{}{}", inner.origin, inner.jwks_path)),
            );
        }
        Value::Object(doc)
    }

    /// The public JWK Set of the resource's signing keys.
    pub fn jwks_document(&self) -> Value {
        json!({ "keys": self.inner.signing_keys })
    }
}

fn cacheable(mut resp: Response) -> Response {
    // Public and identical for everyone; a short cache keeps key rotation quick.
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

pub(crate) async fn metadata(State(resource): State<AAuthResource>) -> Response {
    cacheable(Json(resource.metadata_document()).into_response())
}

pub(crate) async fn jwks(State(resource): State<AAuthResource>) -> Response {
    let mut resp = Json(resource.jwks_document()).into_response();
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    cacheable(resp)
}
