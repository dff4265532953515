//! Verifying signed requests in the order P "Verification (Server)" prescribes (DIGEST §4.4).

use std::sync::Arc;
use std::time::Duration;

use aauth_wire::Thumbprint;
use aauth_wire::headers::{SIGNATURE, SIGNATURE_INPUT, SIGNATURE_KEY};
use aauth_wire::signature_key::{
    HwkParams, HwkView, MemberView, Scheme, SignatureKeyMember, SignatureKeyView,
};

use crate::alg::Algorithm;
use crate::components::{ComponentId, build_base};
use crate::error::BaseError;
use crate::input::{FieldsView, ParsedSignature, base64url_to_standard, joined, read_fields};
use crate::jwk::Jwk;
use crate::keys::{KeyPolicy, VerifyingKey};
use crate::message::{Message, RequestTarget};
use crate::replay::{ReplayGuard, ReplayScope, replay_key};
use crate::resolver::{KeyResolver, NoDiscovery, ResolveContext, SignerIdentity};
use crate::signer::MANDATORY_COMPONENTS;
use crate::verify_error::VerifyError;

/// How the `alg` parameter of an `hwk` member is treated (AMB-01, SK-11).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HwkAlgPolicy {
    /// SK8: `alg` required; absent → `unsupported_algorithm`.
    #[default]
    Required,
    /// SK4–7: `alg` must be absent (present → `invalid_key`); derived from `kty`/`crv`.
    Forbidden,
    /// Accept both; derive from `kty`/`crv` when absent.
    Either,
}

/// Verifier settings. `Default` is the strict-draft profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The resource's own authority (lowercase, default port removed). When non-empty it is
    /// used for `@authority` (and `scheme` for `@scheme`) instead of what the request claims.
    pub canonical_authority: String,
    /// Scheme used with `canonical_authority`, normally `https`.
    pub scheme: String,
    /// Freshness window for `created`, applied in both directions (SIG-18).
    pub window: Duration,
    /// Signature-Key schemes accepted (SIG-23). Strict draft: `[Jwt]`; seed mode adds `Hwk`.
    pub accepted_schemes: Vec<Scheme>,
    /// Algorithms accepted (SIG-25), also what `Accept-Signature-Alg` should list.
    pub accepted_algorithms: Vec<Algorithm>,
    /// Components required beyond the mandatory four (SIG-12), as bare names or serialised
    /// identifiers.
    pub required_components: Vec<String>,
    /// `alg` handling for `hwk` keys.
    pub hwk_alg: HwkAlgPolicy,
    /// AMB-44: accept `EdDSA` on Ed25519 keys and derive a missing `alg` for OKP/EC.
    pub legacy_algorithms: bool,
    /// AMB-10: report a future `created` (and a future JWT `iat`) as `clock_skew` instead of
    /// `invalid_signature` / `invalid_jwt`.
    pub clock_skew_code: bool,
    /// Leniency for peers that write the `Signature` bytes in base64url (`-`, `_`, no
    /// padding) instead of the standard alphabet RFC 8941 requires. Off by default; only
    /// consulted when the strict parse fails.
    pub accept_base64url_signatures: bool,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            canonical_authority: String::new(),
            scheme: "https".to_owned(),
            window: Duration::from_secs(60),
            accepted_schemes: vec![Scheme::Jwt],
            accepted_algorithms: vec![Algorithm::Ed25519, Algorithm::Es256],
            required_components: Vec::new(),
            hwk_alg: HwkAlgPolicy::Required,
            legacy_algorithms: false,
            clock_skew_code: false,
            accept_base64url_signatures: false,
        }
    }
}

impl VerifierConfig {
    /// Defaults with the resource's canonical authority.
    pub fn new(canonical_authority: impl Into<String>) -> Self {
        VerifierConfig {
            canonical_authority: canonical_authority.into(),
            ..VerifierConfig::default()
        }
    }

    pub fn with_scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    pub fn with_accepted_schemes(mut self, schemes: Vec<Scheme>) -> Self {
        self.accepted_schemes = schemes;
        self
    }

    pub fn with_accepted_algorithms(mut self, algs: Vec<Algorithm>) -> Self {
        self.accepted_algorithms = algs;
        self
    }

    pub fn require_component(mut self, component: impl Into<String>) -> Self {
        self.required_components.push(component.into());
        self
    }

    pub fn with_hwk_alg(mut self, policy: HwkAlgPolicy) -> Self {
        self.hwk_alg = policy;
        self
    }

    pub fn with_legacy_algorithms(mut self, on: bool) -> Self {
        self.legacy_algorithms = on;
        self
    }

    pub fn with_clock_skew_code(mut self, on: bool) -> Self {
        self.clock_skew_code = on;
        self
    }

    /// See [`VerifierConfig::accept_base64url_signatures`].
    pub fn with_accept_base64url_signatures(mut self, on: bool) -> Self {
        self.accept_base64url_signatures = on;
        self
    }
}

/// What a successful verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub label: String,
    pub scheme: Scheme,
    pub algorithm: Algorithm,
    /// RFC 7638 thumbprint of the key that signed (the `hwk` identity; session binding).
    pub thumbprint: Thumbprint,
    pub public_jwk: Jwk,
    /// Covered components, in the notation [`crate::SignOptions`] uses.
    pub covered: Vec<String>,
    pub created: u64,
    pub expires: Option<u64>,
    /// Who signed, when the scheme says more than the key: the agent for `jwt`, the `id` for
    /// `jwks_uri`; `None` for `hwk` (the thumbprint is the identity).
    pub identity: Option<SignerIdentity>,
}

impl VerifiedSignature {
    /// The agent identifier (`sub` of the agent token), for `jwt`.
    pub fn agent_id(&self) -> Option<&str> {
        self.identity
            .as_ref()
            .and_then(SignerIdentity::agent)
            .map(|a| a.agent_id.as_str())
    }

    /// The agent provider (`iss` of the agent token), for `jwt`.
    pub fn issuer(&self) -> Option<&str> {
        self.identity
            .as_ref()
            .and_then(SignerIdentity::agent)
            .map(|a| a.issuer.as_str())
    }
}

/// Steps 1–4 done; the key is still to be resolved (by `hwk` here, by a JWT resolver later).
#[derive(Debug, Clone)]
pub struct PreparedSignature {
    stage: Stage,
    member: SignatureKeyMember,
}

/// What steps 1–4 leave for steps 5–7, apart from the `Signature-Key` member (which the
/// `hwk` path reads in place and only discovery schemes copy).
#[derive(Debug, Clone)]
struct Stage {
    parsed: ParsedSignature,
    scheme: Scheme,
    /// Built before the key is resolved but reported only at step 7, so that key errors keep
    /// their place in the order.
    base: Result<String, BaseError>,
    created: u64,
    now: u64,
    /// `(@method, @authority, @path)` for the replay guard, captured only when it applies.
    replay: Option<(String, String, String)>,
}

impl PreparedSignature {
    /// The label being verified.
    pub fn label(&self) -> &str {
        &self.stage.parsed.label
    }

    /// The selected `Signature-Key` member.
    pub fn member(&self) -> &SignatureKeyMember {
        &self.member
    }

    /// Its scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.stage.scheme
    }

    /// The parsed signature (components, parameters, bytes).
    pub fn signature(&self) -> &ParsedSignature {
        &self.stage.parsed
    }
}

/// A required component: its identifier for matching and its name for `required_input`.
#[derive(Clone, Debug)]
struct Required {
    serialized: String,
    display: String,
}

/// Verifies AAuth-signed requests.
#[derive(Clone, Debug)]
pub struct Verifier {
    config: VerifierConfig,
    required: Vec<Required>,
    authorization: Required,
    replay: Option<(Arc<dyn ReplayGuard>, ReplayScope)>,
}

fn required_entry(text: &str) -> Required {
    match ComponentId::parse(text) {
        Ok(id) => Required {
            display: short_form(&id),
            serialized: id.as_str().to_owned(),
        },
        // An unparseable requirement can never be met: fail closed and list it as given.
        Err(_) => Required {
            serialized: String::new(),
            display: text.to_owned(),
        },
    }
}

/// A parameterless identifier as its bare name, otherwise the serialised identifier.
fn short_form(id: &ComponentId) -> String {
    let s = id.as_str();
    if s.len() == id.name().len() + 2 {
        id.name().to_owned()
    } else {
        s.to_owned()
    }
}

impl Verifier {
    /// Builds a verifier; required components are parsed once here.
    pub fn new(config: VerifierConfig) -> Self {
        let mut required: Vec<Required> = Vec::new();
        for text in MANDATORY_COMPONENTS
            .iter()
            .copied()
            .chain(config.required_components.iter().map(String::as_str))
        {
            let r = required_entry(text);
            if r.serialized.is_empty() || !required.iter().any(|x| x.serialized == r.serialized) {
                required.push(r);
            }
        }
        Verifier {
            config,
            required,
            authorization: required_entry("authorization"),
            replay: None,
        }
    }

    /// Turns on the replay guard (SIG-19) for the requests `scope` selects. Off by default.
    pub fn with_replay_guard(mut self, guard: Arc<dyn ReplayGuard>, scope: ReplayScope) -> Self {
        self.replay = Some((guard, scope));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Verifies the request's signature at time `now_unix` (seconds), for `hwk` only.
    ///
    /// Synchronous: the `hwk` key is inline. Schemes that need key discovery (`jwt`,
    /// `jwks_uri`) go through [`Verifier::verify_with`]; called here they answer
    /// `unsupported_scheme`, as a verifier must for a scheme it cannot process (SK-04).
    pub fn verify(
        &self,
        target: &RequestTarget<'_>,
        now_unix: u64,
    ) -> Result<VerifiedSignature, VerifyError> {
        self.staged(target, now_unix, |stage, member| {
            if member.is(&Scheme::Hwk) {
                let key = self.hwk_key_of(HwkView::from_member(&member))?;
                self.finish_stage(stage, key, None)
            } else {
                Err(VerifyError::UnsupportedScheme(crate::error::clip(
                    member.scheme_token(),
                )))
            }
        })
    }

    /// Verifies the request's signature for every accepted scheme: `hwk` inline, anything
    /// else through `resolver` (P steps 1–7, then the replay guard if configured).
    ///
    /// With [`NoDiscovery`] this behaves as [`Verifier::verify`].
    pub async fn verify_with(
        &self,
        target: &RequestTarget<'_>,
        now_unix: u64,
        resolver: &dyn KeyResolver,
    ) -> Result<VerifiedSignature, VerifyError> {
        // `hwk` is finished in place; other schemes leave with an owned member to resolve.
        let prepared = match self.staged(target, now_unix, |stage, member| {
            if member.is(&Scheme::Hwk) {
                let key = self.hwk_key_of(HwkView::from_member(&member))?;
                self.finish_stage(stage, key, None).map(Ok)
            } else {
                Ok(Err(PreparedSignature {
                    stage,
                    member: member.to_member(),
                }))
            }
        })? {
            Ok(done) => return Ok(done),
            Err(prepared) => prepared,
        };
        let ctx = self.resolve_context(now_unix);
        let resolved = resolver.resolve(&prepared.member, &ctx).await?;
        match self.finish_with_identity(prepared.clone(), resolved.key, resolved.identity) {
            Err(VerifyError::BadSignature) => {
                // A cached key may have been replaced under the same kid (SK-22).
                match resolver.refresh(&prepared.member, &ctx).await {
                    Some(fresh) => {
                        let fresh = fresh?;
                        self.finish_with_identity(prepared, fresh.key, fresh.identity)
                    }
                    None => Err(VerifyError::BadSignature),
                }
            }
            other => other,
        }
    }

    /// What a [`KeyResolver`] needs from this verifier's configuration.
    pub fn resolve_context(&self, now_unix: u64) -> ResolveContext {
        ResolveContext {
            now_unix,
            leeway: self.config.window,
            key_policy: KeyPolicy {
                legacy_algorithms: self.config.legacy_algorithms,
                derive_missing_alg: false,
            },
            clock_skew_code: self.config.clock_skew_code,
        }
    }

    /// A resolver that refuses every discovered scheme; see [`Verifier::verify_with`].
    pub fn no_discovery() -> NoDiscovery {
        NoDiscovery
    }

    /// Steps 1–4: headers present, label chosen, covered components, freshness, scheme.
    pub fn prepare(
        &self,
        target: &RequestTarget<'_>,
        now_unix: u64,
    ) -> Result<PreparedSignature, VerifyError> {
        self.staged(target, now_unix, |stage, member| {
            Ok(PreparedSignature {
                stage,
                member: member.to_member(),
            })
        })
    }

    /// Steps 1–4 on borrowed field values, then `next` with the selected member still
    /// borrowed from the request (so the `hwk` path copies nothing it does not keep).
    fn staged<R>(
        &self,
        target: &RequestTarget<'_>,
        now_unix: u64,
        next: impl FnOnce(Stage, MemberView<'_, '_>) -> Result<R, VerifyError>,
    ) -> Result<R, VerifyError> {
        let headers = target.headers;
        // Step 1: all three headers, before parsing anything (AMB-05).
        for (name, shown) in [
            (&SIGNATURE_INPUT, "Signature-Input"),
            (&SIGNATURE, "Signature"),
            (&SIGNATURE_KEY, "Signature-Key"),
        ] {
            if !headers.contains_key(name) {
                return Err(VerifyError::MissingHeader(shown));
            }
        }
        let (input, sig) = read_fields(headers)?;
        let rewritten;
        let fields = match FieldsView::parse(&input, &sig) {
            Err(e)
                if self.config.accept_base64url_signatures
                    && e.is_unparseable_signature_field() =>
            {
                rewritten = base64url_to_standard(&sig);
                FieldsView::parse(&input, &rewritten)?
            }
            other => other?,
        };
        if !fields.labels_match() {
            return Err(VerifyError::MalformedSignature(
                "a label appears in only one of Signature-Input and Signature",
            ));
        }
        let key_field = joined(headers, &SIGNATURE_KEY)
            .map_err(|_| VerifyError::MalformedSignatureKey)?
            .ok_or(VerifyError::MissingHeader("Signature-Key"))?;
        let signature_key =
            SignatureKeyView::parse(&key_field).map_err(|_| VerifyError::MalformedSignatureKey)?;

        // Label selection (AMB-23): the first label, in Signature-Input order, whose member has
        // an accepted scheme; members of other labels are ignored whatever their scheme
        // (SK-03, SK-05). If none is accepted, the first label with a member is carried on
        // so that it fails with `unsupported_scheme` at step 4.
        let mut fallback: Option<(&str, MemberView<'_, '_>)> = None;
        let mut selected: Option<(&str, MemberView<'_, '_>)> = None;
        for label in fields.labels() {
            if let Some(member) = signature_key.member(label) {
                if self.config.accepted_schemes.iter().any(|s| member.is(s)) {
                    selected = Some((label, member));
                    break;
                }
                fallback.get_or_insert((label, member));
            }
        }
        let (label, member) = selected
            .or(fallback)
            .ok_or(VerifyError::NoSignatureKeyMember)?;
        let parsed = fields.get(label)?;

        // Step 2: covered components (SIG-21, SESS-06).
        let covers = |r: &Required| {
            !r.serialized.is_empty() && parsed.components.iter().any(|c| c.as_str() == r.serialized)
        };
        let needs_authorization = carries_aauth_authorization(headers);
        if !self.required.iter().all(covers)
            || (needs_authorization && !covers(&self.authorization))
        {
            let mut required: Vec<String> =
                self.required.iter().map(|r| r.display.clone()).collect();
            if needs_authorization {
                required.push(self.authorization.display.clone());
            }
            return Err(VerifyError::MissingComponents { required });
        }

        // Step 3: freshness (SIG-13, SIG-16, SIG-18).
        let created = parsed.created.ok_or(VerifyError::MissingCreated)?;
        let now = i128::from(now_unix);
        let window = i128::from(self.config.window.as_secs());
        let created_i = i128::from(created);
        if created_i < now - window {
            return Err(VerifyError::CreatedTooOld);
        }
        if created_i > now + window {
            return Err(VerifyError::CreatedInFuture {
                clock_skew: self.config.clock_skew_code,
            });
        }
        if let Some(expires) = parsed.expires
            && i128::from(expires) < now
        {
            return Err(VerifyError::Expired);
        }

        // Step 4: scheme.
        if !self.config.accepted_schemes.iter().any(|s| member.is(s)) {
            return Err(VerifyError::UnsupportedScheme(crate::error::clip(
                member.scheme_token(),
            )));
        }

        // The base is built now, while the request is borrowed; errors surface at step 7.
        let t = if self.config.canonical_authority.is_empty() {
            *target
        } else {
            RequestTarget {
                authority: &self.config.canonical_authority,
                scheme: &self.config.scheme,
                ..*target
            }
        };
        let base = build_base(
            &Message::request(&t),
            &parsed.components,
            &parsed.params_line,
        );
        let replay = self
            .replay
            .as_ref()
            .filter(|(_, scope)| scope.applies_to(t.method))
            .map(|_| {
                (
                    t.method.as_str().to_owned(),
                    t.authority.to_owned(),
                    t.path.to_owned(),
                )
            });
        let stage = Stage {
            scheme: member.scheme(),
            parsed,
            base,
            // Checked against `now` above, so non-negative.
            created: u64::try_from(created).unwrap_or(0),
            now: now_unix,
            replay,
        };
        next(stage, member)
    }

    /// Step 5 for `hwk`: the inline key, checked against the `alg`/`kid` rules (SK-11, SK-12).
    pub fn hwk_key(&self, member: &SignatureKeyMember) -> Result<VerifyingKey, VerifyError> {
        match HwkParams::from_member(member) {
            Ok(params) => self.hwk_key_of(Ok(params.view())),
            Err(e) => self.hwk_key_of(Err(e)),
        }
    }

    fn hwk_key_of(
        &self,
        params: Result<HwkView<'_>, aauth_wire::WireError>,
    ) -> Result<VerifyingKey, VerifyError> {
        let params = params.map_err(|_| VerifyError::InvalidKey("hwk parameters are malformed"))?;
        if params.kid.is_some() {
            return Err(VerifyError::InvalidKey("kid is not allowed in hwk"));
        }
        match (self.config.hwk_alg, params.alg) {
            (HwkAlgPolicy::Required, None) if !self.config.legacy_algorithms => {
                return Err(VerifyError::UnsupportedAlgorithm("(absent)".into()));
            }
            (HwkAlgPolicy::Forbidden, Some(_)) => {
                return Err(VerifyError::InvalidKey("alg is not allowed in hwk"));
            }
            _ => {}
        }
        let own = |s: Option<&str>| s.map(str::to_owned);
        let jwk = Jwk {
            kty: params.kty.to_owned(),
            crv: own(params.crv),
            x: own(params.x),
            y: own(params.y),
            n: own(params.n),
            e: own(params.e),
            alg: own(params.alg),
            kid: None,
            d: None,
        };
        let policy = KeyPolicy {
            legacy_algorithms: self.config.legacy_algorithms,
            derive_missing_alg: self.config.hwk_alg != HwkAlgPolicy::Required,
        };
        VerifyingKey::from_jwk_deferred(jwk, &policy)
    }

    /// Steps 6–7: the key's algorithm must be accepted, then the signature must verify over
    /// the rebuilt base.
    pub fn finish(
        &self,
        prepared: PreparedSignature,
        key: VerifyingKey,
    ) -> Result<VerifiedSignature, VerifyError> {
        self.finish_with_identity(prepared, key, None)
    }

    /// As [`Verifier::finish`], recording the identity a resolver established.
    pub fn finish_with_identity(
        &self,
        prepared: PreparedSignature,
        key: VerifyingKey,
        identity: Option<SignerIdentity>,
    ) -> Result<VerifiedSignature, VerifyError> {
        self.finish_stage(prepared.stage, key, identity)
    }

    fn finish_stage(
        &self,
        prepared: Stage,
        key: VerifyingKey,
        identity: Option<SignerIdentity>,
    ) -> Result<VerifiedSignature, VerifyError> {
        let algorithm = key.algorithm();
        if !self.config.accepted_algorithms.contains(&algorithm) {
            return Err(VerifyError::UnsupportedAlgorithm(
                algorithm.jose_name().to_owned(),
            ));
        }
        // A key whose validation was deferred is checked only on failure, so that a bad key
        // is still reported as `invalid_key` ahead of step 7 (SK-12).
        let base = match prepared.base {
            Ok(b) => b,
            Err(e) => {
                key.ensure_valid()?;
                return Err(VerifyError::Base(e));
            }
        };
        if key
            .verify(base.as_bytes(), &prepared.parsed.signature)
            .is_err()
        {
            key.ensure_valid()?;
            return Err(VerifyError::BadSignature);
        }
        let (public_jwk, thumbprint) = key.into_parts();
        if let (Some((guard, _)), Some((method, authority, path))) =
            (&self.replay, &prepared.replay)
        {
            let k = replay_key(
                thumbprint.as_str(),
                prepared.created,
                method,
                authority,
                path,
                &prepared.parsed.signature,
            );
            let until = prepared
                .created
                .saturating_add(self.config.window.as_secs());
            guard
                .check_and_record(k, until, prepared.now)
                .map_err(|_| VerifyError::Replayed)?;
        }
        let parsed = prepared.parsed;
        Ok(VerifiedSignature {
            covered: parsed.components.iter().map(short_form).collect(),
            label: parsed.label,
            scheme: prepared.scheme,
            algorithm,
            thumbprint,
            public_jwk,
            created: prepared.created,
            expires: parsed.expires.and_then(|e| u64::try_from(e).ok()),
            identity,
        })
    }
}

/// Whether the request carries `Authorization: AAuth …`, which must then be covered (SESS-06).
fn carries_aauth_authorization(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .any(|v| {
            let b = v.as_bytes();
            b.len() >= 5
                && b[..5].eq_ignore_ascii_case(b"aauth")
                && (b.len() == 5 || b[5] == b' ' || b[5] == b'\t')
        })
}
