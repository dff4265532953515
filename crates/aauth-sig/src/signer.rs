//! Signing requests: `Signature-Key`, `Signature-Input`, `Signature`.

use std::fmt::Write as _;

use aauth_wire::Thumbprint;
use aauth_wire::headers::{SIGNATURE, SIGNATURE_INPUT, SIGNATURE_KEY};
use aauth_wire::signature_key::{HwkParams, JwtParams, Scheme, SignatureKeyMember};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};

use crate::agent_token::AgentToken;
use crate::components::{ComponentId, build_base};
use crate::error::SignError;
use crate::keys::SigningKey;
use crate::message::{Message, RequestTarget};

/// The components every AAuth request covers (SIG-09).
pub const MANDATORY_COMPONENTS: [&str; 4] = ["@method", "@authority", "@path", "signature-key"];

/// Largest Integer a structured field can carry (RFC 8941 §3.3.1).
const SF_INTEGER_MAX: u64 = 999_999_999_999_999;

/// What to sign and how to label it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignOptions {
    /// Covered components in signing order, as bare names (`@method`, `content-type`) or
    /// serialised identifiers (`"example-dict";key="a"`). Nothing is added implicitly: a
    /// request carrying `Authorization: AAuth …` must list `authorization` (SESS-06), and
    /// metadata extras (SIG-11) are the caller's to add.
    pub components: Vec<String>,
    /// `created`, Unix seconds (SIG-13).
    pub created: u64,
    /// Optional `expires`, Unix seconds (SIG-16).
    pub expires: Option<u64>,
    /// Signature label; AAuth examples use `sig`.
    pub label: String,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            components: MANDATORY_COMPONENTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            created: 0,
            expires: None,
            label: "sig".to_owned(),
        }
    }
}

impl SignOptions {
    /// The AAuth mandatory components, label `sig`, created at `created`.
    pub fn new(created: u64) -> Self {
        SignOptions {
            created,
            ..SignOptions::default()
        }
    }

    /// Also covers `component` (appended after the current ones).
    pub fn with_component(mut self, component: impl Into<String>) -> Self {
        self.components.push(component.into());
        self
    }

    /// Sets `expires`.
    pub fn with_expires(mut self, expires: u64) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Sets the label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
}

/// A key plus the `Signature-Key` member that conveys it.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    member: String,
    /// The member carries a token (`jwt`): keep it out of `Debug`.
    sensitive: bool,
    /// Add a random `nonce` to every signature (see [`Signer::with_nonce`]).
    nonce: bool,
    /// `member` is one SF list entry (token + parameters), checked once at construction rather
    /// than on every signature: with a valid label, `{label}={member}` is then a one-member
    /// dictionary.
    member_ok: bool,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let member: &str = if self.sensitive {
            "<redacted>"
        } else {
            &self.member
        };
        f.debug_struct("Signer")
            .field("key", &self.key)
            .field("member", &member)
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl Signer {
    /// An `hwk` signer in the SK8 form (`alg` included, no `kid`).
    pub fn hwk(key: SigningKey) -> Signer {
        let member = hwk_params(&key).to_member_value().unwrap_or_default();
        Signer::from_parts(key, member, false)
    }

    fn from_parts(key: SigningKey, member: String, sensitive: bool) -> Signer {
        // One list entry (an Item or an Inner List) is exactly what may follow `label=`; a
        // leading space would not be allowed there.
        let member_ok = !member.starts_with(' ')
            && sfv::Parser::new(&member)
                .parse::<sfv::List>()
                .is_ok_and(|list| list.len() == 1);
        Signer {
            key,
            member,
            sensitive,
            nonce: false,
            member_ok,
        }
    }

    /// A `jwt` signer (AGT-08): `Signature-Key: sig=jwt;jwt="<agent token>"`. `key` must be
    /// the private half of the token's `cnf.jwk`; [`Signer::sign`] fails if the token is not
    /// a valid SF String (it never is for a compact JWT).
    pub fn jwt(key: SigningKey, token: &AgentToken) -> Signer {
        let member = JwtParams::jwt(token.expose())
            .to_member_value()
            .unwrap_or_default();
        Signer::from_parts(key, member, true)
    }

    /// A `jwks_uri` signer (SK8 §3.6): the verifier finds the key at `{id}/.well-known/{dwk}`
    /// under `kid`. Not for agents (SIG-07); a server signing to another server uses it.
    pub fn jwks_uri(key: SigningKey, id: &str, dwk: &str, kid: &str) -> Result<Signer, SignError> {
        let member = SignatureKeyMember::new(Scheme::JwksUri)
            .with_str_param("id", id)
            .and_then(|m| m.with_str_param("dwk", dwk))
            .and_then(|m| m.with_str_param("kid", kid))
            .and_then(|m| m.to_member_value())
            .map_err(|_| SignError::InvalidMember)?;
        Ok(Signer::from_parts(key, member, false))
    }

    /// Adds a fresh random `nonce` signature parameter to every signature. It makes two
    /// otherwise identical Ed25519 signatures (same request, same second) differ, so a
    /// verifier's replay guard never mistakes the second for a replay (SIG-17, SIG-19).
    pub fn with_nonce(mut self, on: bool) -> Signer {
        self.nonce = on;
        self
    }

    /// An `hwk` signer in the SK4–7 form (no `alg`), for seed compatibility (AMB-01).
    pub fn hwk_without_alg(key: SigningKey) -> Signer {
        let mut params = hwk_params(&key);
        params.alg = None;
        let member = params.to_member_value().unwrap_or_default();
        Signer::from_parts(key, member, false)
    }

    /// A signer sending an arbitrary member value (e.g. `jwt;jwt="…"`). The value is checked
    /// when signing.
    pub fn with_member(key: SigningKey, member_value: String) -> Signer {
        Signer::from_parts(key, member_value, true)
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Thumbprint of the signing key (the `hwk` identity).
    pub fn thumbprint(&self) -> Thumbprint {
        self.key.thumbprint()
    }

    /// The `Signature-Key` member value sent with each request.
    pub fn member_value(&self) -> &str {
        &self.member
    }

    /// Signs a request.
    ///
    /// Writes `Signature-Key` first because it is itself covered (SK-06), then builds the base
    /// from `target`'s method, scheme, authority, path and query and from the fields in
    /// `headers` — `target.headers` is not consulted, since `headers` is the map that will be
    /// sent. Any previous `Signature-Key`, `Signature-Input` and `Signature` are replaced.
    pub fn sign(
        &self,
        target: &RequestTarget<'_>,
        headers: &mut HeaderMap,
        opts: &SignOptions,
    ) -> Result<(), SignError> {
        let (input, signature) = {
            let key_field = self.signature_key_field(&opts.label)?;
            headers.insert(SIGNATURE_KEY, key_field);
            self.compute(target, headers, opts)?
        };
        headers.insert(SIGNATURE_INPUT, input);
        headers.insert(SIGNATURE, signature);
        Ok(())
    }

    /// Returns the signature base `sign` would sign, after writing `Signature-Key`
    /// (diagnostics and tests).
    pub fn signature_base(
        &self,
        target: &RequestTarget<'_>,
        headers: &mut HeaderMap,
        opts: &SignOptions,
    ) -> Result<String, SignError> {
        headers.insert(SIGNATURE_KEY, self.signature_key_field(&opts.label)?);
        let (_, base) = self.base(target, headers, opts)?;
        Ok(base)
    }

    fn signature_key_field(&self, label: &str) -> Result<HeaderValue, SignError> {
        sfv::KeyRef::from_str(label).map_err(|_| SignError::InvalidLabel)?;
        // The member must be one SF item (token + parameters) so the field stays a dictionary;
        // checked once in `from_parts`.
        if !self.member_ok {
            return Err(SignError::InvalidMember);
        }
        let mut field = String::with_capacity(label.len() + 1 + self.member.len());
        field.push_str(label);
        field.push('=');
        field.push_str(&self.member);
        HeaderValue::try_from(field).map_err(|_| SignError::InvalidHeaderValue)
    }

    fn base(
        &self,
        target: &RequestTarget<'_>,
        headers: &HeaderMap,
        opts: &SignOptions,
    ) -> Result<(String, String), SignError> {
        if opts.created > SF_INTEGER_MAX || opts.expires.is_some_and(|e| e > SF_INTEGER_MAX) {
            return Err(SignError::InvalidHeaderValue);
        }
        let components = opts
            .components
            .iter()
            .map(|c| ComponentId::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut params = String::with_capacity(96);
        params.push('(');
        for (i, c) in components.iter().enumerate() {
            if i > 0 {
                params.push(' ');
            }
            params.push_str(c.as_str());
        }
        // Writing to a String cannot fail.
        let _ = write!(params, ");created={}", opts.created);
        if let Some(e) = opts.expires {
            let _ = write!(params, ";expires={e}");
        }
        if self.nonce {
            let mut bytes = [0u8; 16];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
                .map_err(|_| crate::error::KeyError::Crypto)?;
            params.push_str(";nonce=\"");
            params.push_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
            params.push('"');
        }
        let t = RequestTarget { headers, ..*target };
        let base = build_base(&Message::request(&t), &components, &params)?;
        Ok((params, base))
    }

    fn compute(
        &self,
        target: &RequestTarget<'_>,
        headers: &HeaderMap,
        opts: &SignOptions,
    ) -> Result<(HeaderValue, HeaderValue), SignError> {
        let (params, base) = self.base(target, headers, opts)?;
        let sig = self.key.sign(base.as_bytes())?;
        let label = &opts.label;
        let mut input = String::with_capacity(label.len() + 1 + params.len());
        input.push_str(label);
        input.push('=');
        input.push_str(&params);
        let mut signature = String::with_capacity(label.len() + 4 + sig.len().div_ceil(3) * 4);
        signature.push_str(label);
        signature.push_str("=:");
        STANDARD.encode_string(&sig, &mut signature);
        signature.push(':');
        // `TryFrom<String>` takes the buffer over instead of copying it.
        let input = HeaderValue::try_from(input).map_err(|_| SignError::InvalidHeaderValue)?;
        let signature =
            HeaderValue::try_from(signature).map_err(|_| SignError::InvalidHeaderValue)?;
        Ok((input, signature))
    }
}

fn hwk_params(key: &SigningKey) -> HwkParams {
    let jwk = key.public_jwk_ref();
    HwkParams {
        kty: jwk.kty.clone(),
        crv: jwk.crv.clone(),
        x: jwk.x.clone(),
        y: jwk.y.clone(),
        n: None,
        e: None,
        alg: Some(key.algorithm().jose_name().to_owned()),
        kid: None,
    }
}
