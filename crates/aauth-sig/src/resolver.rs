//! Step 5 of P "Verification (Server)" for the schemes whose key is not inline: `jwt` (agent
//! tokens, P "Agent Token Verification", SK8 §3.8) and `jwks_uri` (SK8 §3.6).
//!
//! [`crate::Verifier::verify_with`] handles `hwk` itself and hands every other accepted scheme
//! to a [`KeyResolver`]. [`DiscoveryResolver`] is the one this crate provides: JWT checks on
//! `ring`, then issuer discovery through a [`JwksCache`] and a pluggable [`crate::Fetcher`].

use std::sync::Arc;
use std::time::Duration;

use aauth_wire::signature_key::{JwtParams, Scheme, SignatureKeyMember};
use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::discovery::{CacheConfig, DiscoveryError, JwksCache, Lookup};
use crate::fetch::{Fetcher, HttpsUrl};
use crate::ident::{agent_identifier_parts, is_agent_identifier, server_identifier_host};
use crate::jose::{JwtError, UnverifiedJwt, jwk_from_value};
use crate::keys::{KeyPolicy, VerifyingKey};
use crate::verify_error::VerifyError;

/// What a resolver gets besides the member: the verifier's clock and key rules.
#[derive(Clone, Copy, Debug)]
pub struct ResolveContext {
    /// The verification time (Unix seconds).
    pub now_unix: u64,
    /// The signature window, also the leeway for a JWT `iat` in the future (AMB-10).
    pub leeway: Duration,
    /// How conveyed keys (`cnf.jwk`, JWKS entries) are judged (SIG-03, AMB-44).
    pub key_policy: KeyPolicy,
    /// Report a future `iat` as `clock_skew` instead of `invalid_jwt` (AMB-10).
    pub clock_skew_code: bool,
}

/// Who signed, beyond the key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerIdentity {
    /// An agent presenting an agent token (`scheme=jwt`).
    Agent(AgentIdentity),
    /// A signer discovered through `jwks_uri`: the identity is `id`, byte for byte.
    JwksUri { id: String, kid: String },
}

impl SignerIdentity {
    /// The agent identity, for `jwt`.
    pub fn agent(&self) -> Option<&AgentIdentity> {
        match self {
            SignerIdentity::Agent(a) => Some(a),
            SignerIdentity::JwksUri { .. } => None,
        }
    }
}

/// The verified claims of an agent token. The durable identity is `(issuer, agent_id)`
/// (AGT-17); compare both as exact strings (AGT-02).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentIdentity {
    /// `sub`: the agent identifier, `aauth:local@domain`.
    pub agent_id: String,
    /// `iss`: the agent provider's server identifier.
    pub issuer: String,
    pub jti: String,
    pub issued_at: u64,
    pub expires_at: u64,
    /// `ps`, if present (validated as a server identifier).
    pub person_server: Option<String>,
    /// `parent_agent`, if present (validated as an agent identifier): marks a sub-agent.
    pub parent_agent: Option<String>,
    /// Every claim of the token, including ones we do not interpret (AGT-07).
    pub claims: Map<String, Value>,
}

/// The key a resolver found, and the identity that comes with it.
#[derive(Clone, Debug)]
pub struct ResolvedKey {
    pub key: VerifyingKey,
    pub identity: Option<SignerIdentity>,
}

/// Resolves the signing key of a `Signature-Key` member whose key is not inline.
///
/// Failures are [`VerifyError`]s so that each keeps its own Signature-Error code.
#[async_trait]
pub trait KeyResolver: Send + Sync {
    /// The key and identity for `member`. Only called for accepted schemes other than `hwk`.
    async fn resolve(
        &self,
        member: &SignatureKeyMember,
        ctx: &ResolveContext,
    ) -> Result<ResolvedKey, VerifyError>;

    /// Called once when the HTTP signature failed with a key this resolver served from a
    /// cache: a resolver that can refetch (silent re-keying under the same `kid`, SK8 §7.2)
    /// returns a fresh key; the default declines.
    async fn refresh(
        &self,
        _member: &SignatureKeyMember,
        _ctx: &ResolveContext,
    ) -> Option<Result<ResolvedKey, VerifyError>> {
        None
    }
}

/// A resolver for verifiers that accept only `hwk`: every other scheme is unsupported.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDiscovery;

#[async_trait]
impl KeyResolver for NoDiscovery {
    async fn resolve(
        &self,
        member: &SignatureKeyMember,
        _ctx: &ResolveContext,
    ) -> Result<ResolvedKey, VerifyError> {
        Err(VerifyError::UnsupportedScheme(crate::error::clip(
            member.scheme.as_str(),
        )))
    }
}

/// Rules for agent tokens beyond the draft's fixed ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentTokenPolicy {
    /// Required `typ` (AGT-09).
    pub typ: String,
    /// Required `dwk` (AGT-10).
    pub dwk: String,
    /// AMB-11: the domain of `sub` must equal the host of `iss`. On by default.
    pub require_sub_domain_match: bool,
    /// AGT-06 (optional policy): refuse tokens whose `exp - iat` exceeds this.
    pub max_lifetime: Option<Duration>,
}

impl Default for AgentTokenPolicy {
    fn default() -> Self {
        AgentTokenPolicy {
            typ: "aa-agent+jwt".to_owned(),
            dwk: "aauth-agent.json".to_owned(),
            require_sub_domain_match: true,
            max_lifetime: None,
        }
    }
}

/// The resolver for `jwt` agent tokens and `jwks_uri`, discovering issuer keys through a
/// shared [`JwksCache`].
#[derive(Clone, Debug)]
pub struct DiscoveryResolver {
    cache: Arc<JwksCache>,
    agent: AgentTokenPolicy,
}

impl DiscoveryResolver {
    /// A resolver with the default cache settings over `fetcher`.
    pub fn new(fetcher: Arc<dyn Fetcher>) -> Self {
        Self::with_cache(Arc::new(JwksCache::new(fetcher, CacheConfig::default())))
    }

    /// A resolver over an existing cache (e.g. shared between resolvers or with custom
    /// limits).
    pub fn with_cache(cache: Arc<JwksCache>) -> Self {
        DiscoveryResolver {
            cache,
            agent: AgentTokenPolicy::default(),
        }
    }

    /// Replaces the agent-token policy.
    pub fn with_agent_policy(mut self, policy: AgentTokenPolicy) -> Self {
        self.agent = policy;
        self
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<JwksCache> {
        &self.cache
    }

    /// The agent-token policy.
    pub fn agent_policy(&self) -> &AgentTokenPolicy {
        &self.agent
    }

    /// Verifies an agent token and returns its `cnf.jwk` and identity (AGT-09…AGT-15,
    /// SK-16). Every check that needs no network comes before discovery.
    pub async fn verify_agent_token(
        &self,
        token: &str,
        ctx: &ResolveContext,
    ) -> Result<ResolvedKey, VerifyError> {
        let jwt = UnverifiedJwt::parse(token).map_err(jwt_error)?;
        let header = jwt.header();
        if header.typ.as_deref() != Some(self.agent.typ.as_str()) {
            return Err(VerifyError::InvalidJwt(
                "typ is not the expected token type",
            ));
        }
        let legacy = ctx.key_policy.legacy_algorithms;
        jwt.algorithm(legacy).map_err(jwt_error)?;
        let kid = header
            .kid
            .clone()
            .ok_or(VerifyError::InvalidJwt("JWT header has no kid"))?;
        let claims = jwt.claims();
        let exp = int_claim(claims, "exp")?;
        if ctx.now_unix >= exp {
            return Err(VerifyError::ExpiredJwt);
        }
        let iat = int_claim(claims, "iat")?;
        if iat > ctx.now_unix.saturating_add(ctx.leeway.as_secs()) {
            return Err(VerifyError::JwtIssuedInFuture {
                clock_skew: ctx.clock_skew_code,
            });
        }
        if let Some(max) = self.agent.max_lifetime
            && exp.saturating_sub(iat) > max.as_secs()
        {
            return Err(VerifyError::InvalidJwt("token lifetime exceeds the policy"));
        }
        let iss = str_claim(claims, "iss")?;
        let iss_host = server_identifier_host(iss)
            .ok_or(VerifyError::InvalidJwt("iss is not a server identifier"))?;
        if str_claim(claims, "dwk")? != self.agent.dwk {
            return Err(VerifyError::InvalidJwt(
                "dwk is not the agent metadata document",
            ));
        }
        let sub = str_claim(claims, "sub")?;
        let (_, sub_domain) = agent_identifier_parts(sub)
            .ok_or(VerifyError::InvalidJwt("sub is not an agent identifier"))?;
        if self.agent.require_sub_domain_match && sub_domain != iss_host {
            return Err(VerifyError::InvalidJwt("sub domain is not the issuer host"));
        }
        let jti = str_claim(claims, "jti")?;
        if jti.is_empty() {
            return Err(VerifyError::InvalidJwt("jti is empty"));
        }
        let ps = opt_str_claim(claims, "ps")?;
        if ps.is_some_and(|p| server_identifier_host(p).is_none()) {
            return Err(VerifyError::InvalidJwt("ps is not a server identifier"));
        }
        let parent = opt_str_claim(claims, "parent_agent")?;
        if parent.is_some_and(|p| !is_agent_identifier(p)) {
            return Err(VerifyError::InvalidJwt(
                "parent_agent is not an agent identifier",
            ));
        }
        let cnf_jwk = claims
            .get("cnf")
            .and_then(|c| c.get("jwk"))
            .filter(|j| j.get("kty").is_some_and(Value::is_string))
            .ok_or(VerifyError::InvalidJwt("cnf.jwk is missing or has no kty"))?;
        let cnf_jwk =
            jwk_from_value(cnf_jwk).ok_or(VerifyError::InvalidJwt("cnf.jwk is not a JWK"))?;

        // Discovery, then the JWT signature; one refresh if a cached key fails (SK-22).
        let issuer_key = self.issuer_key(iss, &kid, ctx, Lookup::Normal).await?;
        if let Err(e) = jwt.verify(&issuer_key, legacy) {
            if e != JwtError::BadSignature {
                return Err(jwt_error(e));
            }
            let fresh = self.issuer_key(iss, &kid, ctx, Lookup::Refresh).await?;
            jwt.verify(&fresh, legacy).map_err(jwt_error)?;
        }

        // cnf.jwk: alg required and fully specified (SIG-03), consistent with kty/crv.
        let key = VerifyingKey::from_jwk_deferred(cnf_jwk, &ctx.key_policy)?;
        let identity = AgentIdentity {
            agent_id: sub.to_owned(),
            issuer: iss.to_owned(),
            jti: jti.to_owned(),
            issued_at: iat,
            expires_at: exp,
            person_server: ps.map(str::to_owned),
            parent_agent: parent.map(str::to_owned),
            claims: jwt.into_claims(),
        };
        Ok(ResolvedKey {
            key,
            identity: Some(SignerIdentity::Agent(identity)),
        })
    }

    async fn issuer_key(
        &self,
        iss: &str,
        kid: &str,
        ctx: &ResolveContext,
        mode: Lookup,
    ) -> Result<VerifyingKey, VerifyError> {
        let jwk = self
            .cache
            .lookup(iss, &self.agent.dwk, kid, ctx.now_unix, mode)
            .await
            .map_err(|e| discovery_error(e, true))?;
        let jwk = jwk_from_value(&jwk).ok_or(VerifyError::InvalidJwt("issuer key is not a JWK"))?;
        // The issuer's key must carry a fully specified alg (AGT-16); legacy mode may derive it.
        VerifyingKey::from_jwk_owned(jwk, &ctx.key_policy)
            .map_err(|_| VerifyError::InvalidJwt("issuer key is unusable"))
    }

    async fn jwks_uri_key(
        &self,
        member: &SignatureKeyMember,
        ctx: &ResolveContext,
        mode: Lookup,
    ) -> Result<ResolvedKey, VerifyError> {
        let missing = VerifyError::InvalidKey("jwks_uri needs String id, dwk and kid");
        let (Some(id), Some(dwk), Some(kid)) = (
            member.param_str("id"),
            member.param_str("dwk"),
            member.param_str("kid"),
        ) else {
            return Err(missing);
        };
        HttpsUrl::parse(id).map_err(|_| VerifyError::InvalidKey("id is not an https URL"))?;
        let jwk = self
            .cache
            .lookup(id, dwk, kid, ctx.now_unix, mode)
            .await
            .map_err(|e| discovery_error(e, false))?;
        let jwk = jwk_from_value(&jwk).ok_or(VerifyError::InvalidKey("key is not a JWK"))?;
        let key = VerifyingKey::from_jwk_deferred(jwk, &ctx.key_policy)?;
        Ok(ResolvedKey {
            key,
            identity: Some(SignerIdentity::JwksUri {
                id: id.to_owned(),
                kid: kid.to_owned(),
            }),
        })
    }
}

#[async_trait]
impl KeyResolver for DiscoveryResolver {
    async fn resolve(
        &self,
        member: &SignatureKeyMember,
        ctx: &ResolveContext,
    ) -> Result<ResolvedKey, VerifyError> {
        match member.scheme {
            Scheme::Jwt => {
                let params = JwtParams::from_member(member).map_err(|_| {
                    VerifyError::InvalidJwt("jwt parameter is missing or not a String")
                })?;
                self.verify_agent_token(&params.jwt, ctx).await
            }
            Scheme::JwksUri => self.jwks_uri_key(member, ctx, Lookup::Normal).await,
            ref other => Err(VerifyError::UnsupportedScheme(crate::error::clip(
                other.as_str(),
            ))),
        }
    }

    async fn refresh(
        &self,
        member: &SignatureKeyMember,
        ctx: &ResolveContext,
    ) -> Option<Result<ResolvedKey, VerifyError>> {
        // Under `jwt` the request key is `cnf.jwk`, never cached; only `jwks_uri` serves the
        // request key itself from the JWKS.
        match member.scheme {
            Scheme::JwksUri => Some(self.jwks_uri_key(member, ctx, Lookup::Refresh).await),
            _ => None,
        }
    }
}

fn jwt_error(e: JwtError) -> VerifyError {
    VerifyError::InvalidJwt(match e {
        JwtError::TooLong => "JWT is too long",
        JwtError::Structure => "JWT is not a compact JWS",
        JwtError::Header => "JWT header is malformed",
        JwtError::Payload => "JWT payload is not a JSON object",
        JwtError::Critical => "JWT header has crit",
        JwtError::Algorithm(_) => "JWT algorithm is not accepted",
        JwtError::AlgorithmMismatch => "JWT algorithm does not match the issuer key",
        JwtError::BadSignature => "JWT signature does not verify",
    })
}

/// AMB-06 / AMB-36: issuer and key codes keep their names; fetch failures become
/// `invalid_jwt` under `jwt` and `invalid_key` under `jwks_uri`.
fn discovery_error(e: DiscoveryError, jwt: bool) -> VerifyError {
    match e {
        DiscoveryError::IssuerMissing => VerifyError::IssuerMissing,
        DiscoveryError::IssuerMismatch => VerifyError::IssuerMismatch,
        DiscoveryError::UnknownKey => VerifyError::UnknownKey,
        _ if jwt => VerifyError::InvalidJwt("issuer keys could not be discovered"),
        _ => VerifyError::InvalidKey("keys could not be discovered"),
    }
}

fn int_claim(claims: &Map<String, Value>, name: &'static str) -> Result<u64, VerifyError> {
    claims
        .get(name)
        .and_then(numeric_date)
        .ok_or(VerifyError::InvalidJwt(match name {
            "exp" => "exp is missing or not a NumericDate",
            _ => "iat is missing or not a NumericDate",
        }))
}

/// An RFC 7519 NumericDate: a non-negative JSON number of seconds, possibly with a fraction,
/// which is dropped (an `exp` then ends up to a second early, never late).
pub(crate) fn numeric_date(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let f = v.as_f64()?;
    // 2^53: beyond it an f64 no longer holds whole seconds exactly; far past any real date.
    (f.is_finite() && (0.0..9_007_199_254_740_992.0).contains(&f)).then(|| f.floor() as u64)
}

fn str_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, VerifyError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .ok_or(VerifyError::InvalidJwt(missing_claim(name)))
}

fn opt_str_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(VerifyError::InvalidJwt(missing_claim(name))),
    }
}

fn missing_claim(name: &str) -> &'static str {
    match name {
        "iss" => "iss is missing or not a String",
        "dwk" => "dwk is missing or not a String",
        "sub" => "sub is missing or not a String",
        "jti" => "jti is missing or not a String",
        "ps" => "ps is not a String",
        "parent_agent" => "parent_agent is not a String",
        _ => "a required claim is missing",
    }
}
