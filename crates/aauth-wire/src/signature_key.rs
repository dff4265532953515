//! The `Signature-Key` request header (HTTP Signature Keys -08 §3).
//!
//! The field is a structured-field Dictionary keyed by signature label. Each member's value is
//! a Token naming the key-distribution *scheme*; the scheme's data ride as parameters on that
//! Token. This module parses the field into per-label members without judging policy (which
//! schemes or algorithms are acceptable is decided in `aauth-sig`), and builds members for
//! signers.
//!
//! A member that is not a Token (e.g. a String or an Inner List) is kept as *malformed* rather
//! than failing the whole field, because a verifier must not reject a request over a member it
//! does not select (SK8 §3 "Unknown schemes", SK-05).

use std::fmt;

use http::HeaderMap;
use sfv::{BareItem, BareItemFromInput, KeyRef, ListEntry, Parameters, StringRef, TokenRef};

use crate::sf_view::{self, DictionaryView, EntryView, ParamsView};
use crate::{WireError, headers, sf};

const FIELD: &str = "Signature-Key";

/// A Signature-Key scheme token. Unknown tokens are kept so that a verifier can answer
/// `unsupported_scheme` for them (SK-04) instead of failing to parse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `hwk`: inline public key ("header web key").
    Hwk,
    /// `jwt`: a JWT whose `cnf.jwk` is the signing key (AAuth agent/auth tokens).
    Jwt,
    /// `jwks_uri`: key discovered through `{id}/.well-known/{dwk}`.
    JwksUri,
    /// `jwks`: key found in a JWKS at `url` (SK8).
    Jwks,
    /// `jkt-jwt`: self-issued JWT naming its key by thumbprint.
    JktJwt,
    /// `self-jwt`: JWT signed by the same key that signs the request (SK8).
    SelfJwt,
    /// `x509`: certificate chain.
    X509,
    /// `cached`: reference to an assertion the verifier cached (SK8 strawman).
    Cached,
    /// Any other token, verbatim.
    Unknown(String),
}

impl Scheme {
    /// The wire token.
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Hwk => "hwk",
            Scheme::Jwt => "jwt",
            Scheme::JwksUri => "jwks_uri",
            Scheme::Jwks => "jwks",
            Scheme::JktJwt => "jkt-jwt",
            Scheme::SelfJwt => "self-jwt",
            Scheme::X509 => "x509",
            Scheme::Cached => "cached",
            Scheme::Unknown(s) => s,
        }
    }

    /// Maps a token to a scheme. Comparison is exact: Tokens are case-sensitive.
    pub fn parse(token: &str) -> Scheme {
        match token {
            "hwk" => Scheme::Hwk,
            "jwt" => Scheme::Jwt,
            "jwks_uri" => Scheme::JwksUri,
            "jwks" => Scheme::Jwks,
            "jkt-jwt" => Scheme::JktJwt,
            "self-jwt" => Scheme::SelfJwt,
            "x509" => Scheme::X509,
            "cached" => Scheme::Cached,
            other => Scheme::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One member of `Signature-Key`: the scheme and its parameters, in wire order.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureKeyMember {
    pub scheme: Scheme,
    params: Parameters,
}

impl SignatureKeyMember {
    /// A member with no parameters yet; add them with the `with_*` builders.
    pub fn new(scheme: Scheme) -> Self {
        SignatureKeyMember {
            scheme,
            params: Parameters::new(),
        }
    }

    fn key(name: &str) -> Result<&KeyRef, WireError> {
        KeyRef::from_str(name).map_err(|_| WireError::Serialize {
            field: FIELD,
            reason: "parameter name is not a valid key",
        })
    }

    /// Adds (or replaces) a String parameter. Fails for names that are not SF keys and for
    /// values outside printable ASCII, which an SF String cannot carry.
    pub fn with_str_param(mut self, name: &str, value: &str) -> Result<Self, WireError> {
        let key = Self::key(name)?.to_owned();
        let v = StringRef::from_str(value).map_err(|_| WireError::Serialize {
            field: FIELD,
            reason: "parameter value is not a valid String",
        })?;
        self.params.insert(key, BareItem::String(v.to_owned()));
        Ok(self)
    }

    /// Adds (or replaces) a Byte Sequence parameter (e.g. `x5t`).
    pub fn with_bytes_param(mut self, name: &str, value: &[u8]) -> Result<Self, WireError> {
        let key = Self::key(name)?.to_owned();
        self.params
            .insert(key, BareItem::ByteSequence(value.to_vec()));
        Ok(self)
    }

    /// Adds (or replaces) a Boolean parameter (e.g. `cache`).
    pub fn with_bool_param(mut self, name: &str, value: bool) -> Result<Self, WireError> {
        let key = Self::key(name)?.to_owned();
        self.params.insert(key, BareItem::Boolean(value));
        Ok(self)
    }

    /// Whether a parameter of that name is present (whatever its type).
    pub fn has_param(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    /// Parameter names in wire order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(|k| k.as_str())
    }

    /// The parameter's value if it is a String.
    pub fn param_str(&self, name: &str) -> Option<&str> {
        match self.params.get(name) {
            Some(BareItem::String(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The parameter's value if it is a Byte Sequence.
    pub fn param_bytes(&self, name: &str) -> Option<&[u8]> {
        match self.params.get(name) {
            Some(BareItem::ByteSequence(b)) => Some(b.as_slice()),
            _ => None,
        }
    }

    /// The parameter's value if it is a Boolean (a bare `;cache` is `true`).
    pub fn param_bool(&self, name: &str) -> Option<bool> {
        match self.params.get(name) {
            Some(BareItem::Boolean(b)) => Some(*b),
            _ => None,
        }
    }

    /// The parameter's value if it is a Token.
    pub fn param_token(&self, name: &str) -> Option<&str> {
        match self.params.get(name) {
            Some(BareItem::Token(t)) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The parameter's value if it is an Integer.
    pub fn param_integer(&self, name: &str) -> Option<i64> {
        match self.params.get(name) {
            Some(BareItem::Integer(i)) => Some(i64::from(*i)),
            _ => None,
        }
    }

    /// A String parameter that must be present: distinguishes "absent" from "wrong type",
    /// because both are errors but only the second says the sender misread the draft.
    pub fn require_str(&self, name: &'static str) -> Result<&str, WireError> {
        self.optional_str(name)?.ok_or(WireError::MissingParameter {
            field: FIELD,
            param: name,
        })
    }

    /// A String parameter that may be absent but, if present, must be a String.
    pub fn optional_str(&self, name: &'static str) -> Result<Option<&str>, WireError> {
        match self.params.get(name) {
            None => Ok(None),
            Some(BareItem::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(WireError::WrongType {
                field: FIELD,
                name,
                expected: "a String",
                found: sf::kind(other),
            }),
        }
    }

    /// Serialises the member value (scheme token plus parameters), e.g.
    /// `jwt;jwt="eyJ…"`. Fails only if the scheme is not a valid Token.
    pub fn to_member_value(&self) -> Result<String, WireError> {
        let token = TokenRef::from_str(self.scheme.as_str()).map_err(|_| WireError::Serialize {
            field: FIELD,
            reason: "scheme is not a valid Token",
        })?;
        Ok(sfv::ItemSerializer::new()
            .bare_item(token)
            .parameters(&self.params)
            .finish())
    }

    fn from_entry(entry: &ListEntry) -> Result<Self, WireError> {
        match entry {
            ListEntry::Item(item) => match &item.bare_item {
                BareItem::Token(t) => Ok(SignatureKeyMember {
                    scheme: Scheme::parse(t.as_str()),
                    params: item.params.clone(),
                }),
                other => Err(WireError::WrongType {
                    field: FIELD,
                    name: "scheme",
                    expected: "a Token",
                    found: sf::kind(other),
                }),
            },
            ListEntry::InnerList(_) => Err(WireError::WrongType {
                field: FIELD,
                name: "scheme",
                expected: "a Token",
                found: "an Inner List",
            }),
        }
    }
}

/// A parsed `Signature-Key` field: members by label, in wire order.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureKey {
    members: Vec<(String, Result<SignatureKeyMember, WireError>)>,
}

impl SignatureKey {
    /// Parses one field value (already joined if it came in several lines).
    ///
    /// Fails on structured-field syntax errors only; a member whose value is not a Token is
    /// recorded as malformed and reported by [`SignatureKey::get`].
    pub fn parse(value: &str) -> Result<Self, WireError> {
        let dict = sf::parse_dictionary(FIELD, value)?;
        let members = dict
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), SignatureKeyMember::from_entry(v)))
            .collect();
        Ok(SignatureKey { members })
    }

    /// Reads `Signature-Key` from a header map; several field lines are joined with ", " as
    /// RFC 9110 §5.3 prescribes. `Ok(None)` when the header is absent.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, WireError> {
        match sf::joined(headers, &headers::SIGNATURE_KEY, FIELD)? {
            None => Ok(None),
            Some(v) => Self::parse(&v).map(Some),
        }
    }

    /// The well-formed member for `label`, if any. A malformed member reads as absent here,
    /// which leads a verifier to the same outcome as a missing member (SK-02).
    pub fn member(&self, label: &str) -> Option<&SignatureKeyMember> {
        match self.get(label) {
            Some(Ok(m)) => Some(m),
            _ => None,
        }
    }

    /// The member for `label` with its parse outcome: `None` if absent, `Some(Err)` if the
    /// member exists but is not a Token with parameters.
    pub fn get(&self, label: &str) -> Option<Result<&SignatureKeyMember, &WireError>> {
        self.members
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, m)| m.as_ref())
    }

    /// Labels in wire order (including those of malformed members).
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(l, _)| l.as_str())
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when the dictionary has no members (an empty field value).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Serialises a whole single-member field value `label=<member>`.
pub fn signature_key_member_field(
    label: &str,
    member: &SignatureKeyMember,
) -> Result<String, WireError> {
    let key = KeyRef::from_str(label).map_err(|_| WireError::Serialize {
        field: FIELD,
        reason: "label is not a valid key",
    })?;
    let mut out = String::with_capacity(label.len() + 64);
    out.push_str(key.as_str());
    out.push('=');
    out.push_str(&member.to_member_value()?);
    Ok(out)
}

/// The `hwk` scheme's parameters (SK8 §3.4): a public JWK spelled out as String parameters.
///
/// Which members are required depends on `kty` (SK-11): OKP needs `crv`+`x`, EC needs
/// `crv`+`x`+`y`, RSA needs `n`+`e`. `alg` and `kid` are only *reported* here; whether `alg`
/// is required (SK8) or forbidden (SK4) and whether `kid` is refused is verifier policy in
/// `aauth-sig`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HwkParams {
    pub kty: String,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub alg: Option<String>,
    pub kid: Option<String>,
}

impl HwkParams {
    /// An OKP key (e.g. Ed25519) with its fully-specified `alg`.
    pub fn okp(crv: &str, x: &str, alg: &str) -> Self {
        HwkParams {
            kty: "OKP".into(),
            crv: Some(crv.into()),
            x: Some(x.into()),
            alg: Some(alg.into()),
            ..Default::default()
        }
    }

    /// An EC key (e.g. P-256) with its fully-specified `alg`.
    pub fn ec(crv: &str, x: &str, y: &str, alg: &str) -> Self {
        HwkParams {
            kty: "EC".into(),
            crv: Some(crv.into()),
            x: Some(x.into()),
            y: Some(y.into()),
            alg: Some(alg.into()),
            ..Default::default()
        }
    }

    /// Reads an `hwk` member. Every known parameter, when present, must be a String; the
    /// key-type-specific members must be present. An unrecognised `kty` is *not* an error
    /// here: SK-09 makes it an `unsupported_algorithm` decision for the verifier.
    pub fn from_member(member: &SignatureKeyMember) -> Result<Self, WireError> {
        HwkView::read(member).map(|v| v.to_params())
    }

    /// A borrowed view of these parameters.
    pub fn view(&self) -> HwkView<'_> {
        HwkView {
            kty: &self.kty,
            crv: self.crv.as_deref(),
            x: self.x.as_deref(),
            y: self.y.as_deref(),
            n: self.n.as_deref(),
            e: self.e.as_deref(),
            alg: self.alg.as_deref(),
            kid: self.kid.as_deref(),
        }
    }

    /// Builds the member in the canonical order `kty, crv, x, y, n, e, alg` (then `kid` if
    /// set, which only a negative test should do). The order is fixed because the exact
    /// bytes are signed as the `signature-key` component.
    pub fn to_member(&self) -> Result<SignatureKeyMember, WireError> {
        let mut m = SignatureKeyMember::new(Scheme::Hwk).with_str_param("kty", &self.kty)?;
        let optional = [
            ("crv", &self.crv),
            ("x", &self.x),
            ("y", &self.y),
            ("n", &self.n),
            ("e", &self.e),
            ("alg", &self.alg),
            ("kid", &self.kid),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                m = m.with_str_param(name, v)?;
            }
        }
        Ok(m)
    }

    /// The member value, e.g. `hwk;kty="OKP";crv="Ed25519";x="…";alg="Ed25519"`.
    pub fn to_member_value(&self) -> Result<String, WireError> {
        self.to_member()?.to_member_value()
    }
}

/// `label=hwk;…` — the whole `Signature-Key` field value for one inline key.
pub fn signature_key_field(label: &str, hwk: &HwkParams) -> Result<String, WireError> {
    signature_key_member_field(label, &hwk.to_member()?)
}

/// The `hwk` parameters borrowed from a member: what [`HwkParams`] holds, without copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HwkView<'v> {
    pub kty: &'v str,
    pub crv: Option<&'v str>,
    pub x: Option<&'v str>,
    pub y: Option<&'v str>,
    pub n: Option<&'v str>,
    pub e: Option<&'v str>,
    pub alg: Option<&'v str>,
    pub kid: Option<&'v str>,
}

impl<'v> HwkView<'v> {
    /// Reads an `hwk` member of a [`SignatureKeyView`], with the rules of
    /// [`HwkParams::from_member`].
    pub fn from_member(member: &MemberView<'v, '_>) -> Result<Self, WireError> {
        Self::read(*member)
    }

    fn read(member: impl MemberParams<'v>) -> Result<Self, WireError> {
        let scheme = member.scheme_token();
        if scheme != "hwk" {
            return Err(WireError::WrongScheme {
                expected: "hwk",
                found: scheme.to_owned(),
            });
        }
        let v = HwkView {
            kty: member
                .str_param("kty")?
                .ok_or(WireError::MissingParameter {
                    field: FIELD,
                    param: "kty",
                })?,
            crv: member.str_param("crv")?,
            x: member.str_param("x")?,
            y: member.str_param("y")?,
            n: member.str_param("n")?,
            e: member.str_param("e")?,
            alg: member.str_param("alg")?,
            kid: member.str_param("kid")?,
        };
        let need = |present: Option<&str>, param: &'static str| {
            if present.is_none() {
                Err(WireError::MissingParameter {
                    field: FIELD,
                    param,
                })
            } else {
                Ok(())
            }
        };
        match v.kty {
            "OKP" => {
                need(v.crv, "crv")?;
                need(v.x, "x")?;
            }
            "EC" => {
                need(v.crv, "crv")?;
                need(v.x, "x")?;
                need(v.y, "y")?;
            }
            "RSA" => {
                need(v.n, "n")?;
                need(v.e, "e")?;
            }
            _ => {}
        }
        Ok(v)
    }

    /// An owned copy.
    pub fn to_params(&self) -> HwkParams {
        let own = |s: Option<&str>| s.map(str::to_owned);
        HwkParams {
            kty: self.kty.to_owned(),
            crv: own(self.crv),
            x: own(self.x),
            y: own(self.y),
            n: own(self.n),
            e: own(self.e),
            alg: own(self.alg),
            kid: own(self.kid),
        }
    }
}

/// Read access to a member's parameters, shared by the owned and the borrowed member so that
/// both are judged by one set of rules.
trait MemberParams<'v> {
    fn scheme_token(&self) -> &str;
    /// A String parameter that may be absent but, if present, must be a String.
    fn str_param(&self, name: &'static str) -> Result<Option<&'v str>, WireError>;
}

impl<'v> MemberParams<'v> for &'v SignatureKeyMember {
    fn scheme_token(&self) -> &str {
        self.scheme.as_str()
    }

    fn str_param(&self, name: &'static str) -> Result<Option<&'v str>, WireError> {
        self.optional_str(name)
    }
}

impl<'v> MemberParams<'v> for MemberView<'v, '_> {
    fn scheme_token(&self) -> &str {
        self.token
    }

    fn str_param(&self, name: &'static str) -> Result<Option<&'v str>, WireError> {
        self.optional_str(name)
    }
}

/// `Signature-Key` parsed without copying: members borrow from the field value.
///
/// For verifiers on a hot path, which read one member and drop the rest; the rules are those
/// of [`SignatureKey`], and [`SignatureKeyView::to_owned`] gives the same value that
/// [`SignatureKey::parse`] would.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureKeyView<'a> {
    dict: DictionaryView<'a>,
}

impl<'a> SignatureKeyView<'a> {
    /// Parses one field value (already joined if it came in several lines).
    pub fn parse(value: &'a str) -> Result<Self, WireError> {
        Ok(SignatureKeyView {
            dict: sf::parse_dictionary_view(FIELD, value)?,
        })
    }

    /// The well-formed member for `label`, if any (see [`SignatureKey::member`]).
    pub fn member(&self, label: &str) -> Option<MemberView<'_, 'a>> {
        self.get(label).and_then(Result::ok)
    }

    /// The member for `label` with its parse outcome (see [`SignatureKey::get`]).
    pub fn get(&self, label: &str) -> Option<Result<MemberView<'_, 'a>, WireError>> {
        self.dict.get(label).map(MemberView::from_entry)
    }

    /// Labels in wire order.
    pub fn labels(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.dict.keys()
    }

    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// An owned copy.
    pub fn to_owned(&self) -> SignatureKey {
        SignatureKey {
            members: self
                .dict
                .iter()
                .map(|(label, e)| {
                    (
                        label.to_owned(),
                        MemberView::from_entry(e).map(|m| m.to_member()),
                    )
                })
                .collect(),
        }
    }
}

/// One member of a [`SignatureKeyView`].
#[derive(Clone, Copy, Debug)]
pub struct MemberView<'v, 'a> {
    token: &'a str,
    params: &'v ParamsView<'a>,
}

impl<'v, 'a> MemberView<'v, 'a> {
    fn from_entry(entry: &'v EntryView<'a>) -> Result<Self, WireError> {
        match entry {
            EntryView::Item(item) => match &item.bare_item {
                BareItemFromInput::Token(t) => Ok(MemberView {
                    token: t.as_str(),
                    params: &item.params,
                }),
                other => Err(WireError::WrongType {
                    field: FIELD,
                    name: "scheme",
                    expected: "a Token",
                    found: sf_view::kind(other),
                }),
            },
            EntryView::InnerList(_) => Err(WireError::WrongType {
                field: FIELD,
                name: "scheme",
                expected: "a Token",
                found: "an Inner List",
            }),
        }
    }

    /// The scheme token as written.
    pub fn scheme_token(&self) -> &'a str {
        self.token
    }

    /// The scheme (allocates only for an unknown token).
    pub fn scheme(&self) -> Scheme {
        Scheme::parse(self.token)
    }

    /// Whether the member names `scheme`.
    pub fn is(&self, scheme: &Scheme) -> bool {
        self.token == scheme.as_str()
    }

    /// Whether a parameter of that name is present (whatever its type).
    pub fn has_param(&self, name: &str) -> bool {
        self.params.contains(name)
    }

    /// The parameter's value if it is a String.
    pub fn param_str(&self, name: &str) -> Option<&'v str> {
        match self.params.get(name) {
            Some(BareItemFromInput::String(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// A String parameter that may be absent but, if present, must be a String.
    pub fn optional_str(&self, name: &'static str) -> Result<Option<&'v str>, WireError> {
        match self.params.get(name) {
            None => Ok(None),
            Some(BareItemFromInput::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(WireError::WrongType {
                field: FIELD,
                name,
                expected: "a String",
                found: sf_view::kind(other),
            }),
        }
    }

    /// An owned copy.
    pub fn to_member(&self) -> SignatureKeyMember {
        SignatureKeyMember {
            scheme: self.scheme(),
            params: self.params.to_parameters(),
        }
    }
}

/// The JWT-carrying schemes' parameters (`jwt`, `jkt-jwt`, `self-jwt`): the token as a String
/// and the optional `cache` Boolean.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtParams {
    pub scheme: Scheme,
    pub jwt: String,
    pub cache: Option<bool>,
}

/// JWTs are bearer-like credentials; keep them out of logs.
impl fmt::Debug for JwtParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtParams")
            .field("scheme", &self.scheme)
            .field("jwt", &"<redacted>")
            .field("cache", &self.cache)
            .finish()
    }
}

impl JwtParams {
    /// A plain `jwt` member.
    pub fn jwt(jwt: impl Into<String>) -> Self {
        JwtParams {
            scheme: Scheme::Jwt,
            jwt: jwt.into(),
            cache: None,
        }
    }

    /// Reads a `jwt`, `jkt-jwt` or `self-jwt` member: `jwt` must be a String, `cache` (if
    /// present) a Boolean.
    pub fn from_member(member: &SignatureKeyMember) -> Result<Self, WireError> {
        if !matches!(
            member.scheme,
            Scheme::Jwt | Scheme::JktJwt | Scheme::SelfJwt
        ) {
            return Err(WireError::WrongScheme {
                expected: "jwt",
                found: member.scheme.as_str().to_owned(),
            });
        }
        let jwt = member.require_str("jwt")?.to_owned();
        let cache = match member.params.get("cache") {
            None => None,
            Some(BareItem::Boolean(b)) => Some(*b),
            Some(other) => {
                return Err(WireError::WrongType {
                    field: FIELD,
                    name: "cache",
                    expected: "a Boolean",
                    found: sf::kind(other),
                });
            }
        };
        Ok(JwtParams {
            scheme: member.scheme.clone(),
            jwt,
            cache,
        })
    }

    pub fn to_member(&self) -> Result<SignatureKeyMember, WireError> {
        let mut m =
            SignatureKeyMember::new(self.scheme.clone()).with_str_param("jwt", &self.jwt)?;
        if let Some(c) = self.cache {
            m = m.with_bool_param("cache", c)?;
        }
        Ok(m)
    }

    /// The member value, e.g. `jwt;jwt="eyJ…"`.
    pub fn to_member_value(&self) -> Result<String, WireError> {
        self.to_member()?.to_member_value()
    }
}

/// `label=jwt;jwt="…"` — the whole `Signature-Key` field value for a JWT credential.
pub fn signature_key_jwt_field(label: &str, jwt: &str) -> Result<String, WireError> {
    signature_key_member_field(label, &JwtParams::jwt(jwt).to_member()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const X: &str = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";
    const DIGEST_10_2: &str = r#"sig=hwk;kty="OKP";crv="Ed25519";x="JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";alg="Ed25519""#;

    #[test]
    fn sk_01_parse_jwt_member() {
        let sk = SignatureKey::parse(r#"sig=jwt;jwt="a.b.c""#).unwrap();
        let m = sk.member("sig").unwrap();
        assert_eq!(m.scheme, Scheme::Jwt);
        assert_eq!(m.param_str("jwt"), Some("a.b.c"));
        assert_eq!(JwtParams::from_member(m).unwrap().jwt, "a.b.c");
    }

    #[test]
    fn sk_01_scheme_must_be_token() {
        let sk = SignatureKey::parse(r#"sig="jwt";jwt="a.b.c""#).unwrap();
        assert!(sk.member("sig").is_none());
        assert!(matches!(
            sk.get("sig"),
            Some(Err(WireError::WrongType {
                found: "a String",
                ..
            }))
        ));
        let sk = SignatureKey::parse(r#"sig=(jwt)"#).unwrap();
        assert!(matches!(
            sk.get("sig"),
            Some(Err(WireError::WrongType { .. }))
        ));
    }

    #[test]
    fn sk_01_syntax_error_is_reported() {
        assert!(matches!(
            SignatureKey::parse("sig=hwk;kty=\"OKP"),
            Err(WireError::Syntax { .. })
        ));
        assert!(SignatureKey::parse("Sig=hwk").is_err()); // keys are lowercase only
    }

    #[test]
    fn sk_02_missing_label_is_none() {
        let sk = SignatureKey::parse(r#"other=jwt;jwt="x""#).unwrap();
        assert!(sk.member("sig").is_none());
        assert!(sk.get("sig").is_none());
    }

    #[test]
    fn sk_03_multiple_members_and_labels() {
        let sk = SignatureKey::parse(
            r#"sig1=jwt;jwt="eyJ", sig2=jwks_uri;id="https://example.com";dwk="eg-config";kid="k1""#,
        )
        .unwrap();
        assert_eq!(sk.labels().collect::<Vec<_>>(), ["sig1", "sig2"]);
        let m2 = sk.member("sig2").unwrap();
        assert_eq!(m2.scheme, Scheme::JwksUri);
        assert_eq!(m2.param_str("kid"), Some("k1"));
        assert_eq!(m2.param_names().collect::<Vec<_>>(), ["id", "dwk", "kid"]);
    }

    #[test]
    fn sk_04_unknown_scheme_is_kept_not_rejected() {
        let sk = SignatureKey::parse(r#"sig=frob-nicate;a="b""#).unwrap();
        let m = sk.member("sig").unwrap();
        assert_eq!(m.scheme, Scheme::Unknown("frob-nicate".into()));
        assert_eq!(m.scheme.as_str(), "frob-nicate");
    }

    #[test]
    fn sk_05_bad_unselected_member_does_not_break_selected() {
        let sk = SignatureKey::parse(r#"x="not-a-token", sig=jwt;jwt="a""#).unwrap();
        assert!(sk.member("sig").is_some());
        assert!(sk.get("x").unwrap().is_err());
        assert_eq!(sk.len(), 2);
    }

    #[test]
    fn scheme_round_trip() {
        for s in [
            Scheme::Hwk,
            Scheme::Jwt,
            Scheme::JwksUri,
            Scheme::Jwks,
            Scheme::JktJwt,
            Scheme::SelfJwt,
            Scheme::X509,
            Scheme::Cached,
        ] {
            assert_eq!(Scheme::parse(s.as_str()), s);
        }
        // Tokens are case-sensitive: `HWK` is not `hwk`.
        assert_eq!(Scheme::parse("HWK"), Scheme::Unknown("HWK".into()));
    }

    #[test]
    fn sk_11_hwk_field_reproduces_digest_10_2_byte_for_byte() {
        let p = HwkParams::okp("Ed25519", X, "Ed25519");
        assert_eq!(signature_key_field("sig", &p).unwrap(), DIGEST_10_2);
        assert_eq!(
            p.to_member_value().unwrap(),
            DIGEST_10_2.strip_prefix("sig=").unwrap()
        );
    }

    #[test]
    fn sk_11_hwk_round_trip() {
        let sk = SignatureKey::parse(DIGEST_10_2).unwrap();
        let p = HwkParams::from_member(sk.member("sig").unwrap()).unwrap();
        assert_eq!(p, HwkParams::okp("Ed25519", X, "Ed25519"));
        let ec = HwkParams::ec("P-256", "xx", "yy", "ES256");
        let v = signature_key_field("s", &ec).unwrap();
        assert_eq!(v, r#"s=hwk;kty="EC";crv="P-256";x="xx";y="yy";alg="ES256""#);
        let back = SignatureKey::parse(&v).unwrap();
        assert_eq!(
            HwkParams::from_member(back.member("s").unwrap()).unwrap(),
            ec
        );
    }

    #[test]
    fn sk_11_hwk_required_members_per_kty() {
        let cases = [
            (r#"sig=hwk;kty="OKP";x="a";alg="Ed25519""#, Some("crv")),
            (
                r#"sig=hwk;kty="OKP";crv="Ed25519";alg="Ed25519""#,
                Some("x"),
            ),
            (
                r#"sig=hwk;kty="EC";crv="P-256";x="a";alg="ES256""#,
                Some("y"),
            ),
            (r#"sig=hwk;kty="RSA";n="a";alg="PS256""#, Some("e")),
            (r#"sig=hwk;kty="RSA";e="AQAB";alg="PS256""#, Some("n")),
            (r#"sig=hwk;crv="Ed25519";x="a""#, Some("kty")),
            (r#"sig=hwk;kty="RSA";n="a";e="AQAB";alg="PS256""#, None),
            // unknown kty: the verifier answers unsupported_algorithm, not a parse error (SK-09)
            (r#"sig=hwk;kty="AKP";pub="a";alg="ML-DSA-44""#, None),
        ];
        for (value, missing) in cases {
            let sk = SignatureKey::parse(value).unwrap();
            let got = HwkParams::from_member(sk.member("sig").unwrap());
            match missing {
                Some(param) => assert_eq!(
                    got,
                    Err(WireError::MissingParameter {
                        field: FIELD,
                        param
                    }),
                    "{value}"
                ),
                None => assert!(got.is_ok(), "{value}"),
            }
        }
    }

    #[test]
    fn sk_11_hwk_reports_alg_absence_and_kid_presence() {
        // -04 style key without alg: parses, alg reported absent; policy lives in aauth-sig.
        let sk =
            SignatureKey::parse(&format!(r#"sig=hwk;kty="OKP";crv="Ed25519";x="{X}""#)).unwrap();
        let p = HwkParams::from_member(sk.member("sig").unwrap()).unwrap();
        assert_eq!(p.alg, None);
        let sk = SignatureKey::parse(&format!(
            r#"sig=hwk;kty="OKP";crv="Ed25519";x="{X}";alg="Ed25519";kid="k""#
        ))
        .unwrap();
        let p = HwkParams::from_member(sk.member("sig").unwrap()).unwrap();
        assert_eq!(p.kid.as_deref(), Some("k"));
    }

    #[test]
    fn sk_11_hwk_params_must_be_strings() {
        let sk = SignatureKey::parse(r#"sig=hwk;kty=OKP;crv="Ed25519";x="a""#).unwrap();
        assert_eq!(
            HwkParams::from_member(sk.member("sig").unwrap()),
            Err(WireError::WrongType {
                field: FIELD,
                name: "kty",
                expected: "a String",
                found: "a Token"
            })
        );
        let sk = SignatureKey::parse(r#"sig=hwk;kty="OKP";crv="Ed25519";x=:AAAA:"#).unwrap();
        assert!(matches!(
            HwkParams::from_member(sk.member("sig").unwrap()),
            Err(WireError::WrongType { name: "x", .. })
        ));
    }

    #[test]
    fn hwk_reader_refuses_other_scheme() {
        let sk = SignatureKey::parse(r#"sig=jwt;jwt="a""#).unwrap();
        assert!(matches!(
            HwkParams::from_member(sk.member("sig").unwrap()),
            Err(WireError::WrongScheme { .. })
        ));
        let sk = SignatureKey::parse(r#"sig=hwk;kty="OKP""#).unwrap();
        assert!(matches!(
            JwtParams::from_member(sk.member("sig").unwrap()),
            Err(WireError::WrongScheme { .. })
        ));
    }

    #[test]
    fn jwt_member_build_and_read() {
        assert_eq!(
            signature_key_jwt_field("sig", "eyJ.a.b").unwrap(),
            r#"sig=jwt;jwt="eyJ.a.b""#
        );
        let sk = SignatureKey::parse(r#"sig=jkt-jwt;jwt="h.p.s";cache"#).unwrap();
        let p = JwtParams::from_member(sk.member("sig").unwrap()).unwrap();
        assert_eq!(p.scheme, Scheme::JktJwt);
        assert_eq!(p.cache, Some(true));
        assert_eq!(p.to_member_value().unwrap(), r#"jkt-jwt;jwt="h.p.s";cache"#);
        let sk = SignatureKey::parse(r#"sig=jwt;jwt="h.p.s";cache="yes""#).unwrap();
        assert!(JwtParams::from_member(sk.member("sig").unwrap()).is_err());
        let sk = SignatureKey::parse(r#"sig=jwt;jwt=tok"#).unwrap();
        assert!(matches!(
            JwtParams::from_member(sk.member("sig").unwrap()),
            Err(WireError::WrongType { name: "jwt", .. })
        ));
        assert!(!format!("{p:?}").contains("h.p.s"));
    }

    #[test]
    fn serialisation_rejects_invalid_input_instead_of_panicking() {
        assert!(signature_key_jwt_field("Sig", "a").is_err()); // uppercase label
        assert!(signature_key_jwt_field("sig", "caf\u{e9}").is_err()); // non-ASCII String
        assert!(
            SignatureKeyMember::new(Scheme::Unknown("1bad".into()))
                .to_member_value()
                .is_err()
        );
        assert!(
            SignatureKeyMember::new(Scheme::Hwk)
                .with_str_param("X", "a")
                .is_err()
        );
    }

    #[test]
    fn other_param_types_are_readable() {
        let sk = SignatureKey::parse(r#"sig=x509;x5u="https://a/b";x5t=:AQID:;n=5;t=tok"#).unwrap();
        let m = sk.member("sig").unwrap();
        assert_eq!(m.param_bytes("x5t"), Some(&[1u8, 2, 3][..]));
        assert_eq!(m.param_integer("n"), Some(5));
        assert_eq!(m.param_token("t"), Some("tok"));
        assert_eq!(m.param_str("t"), None);
        assert!(m.has_param("x5u"));
        let built = SignatureKeyMember::new(Scheme::X509)
            .with_str_param("x5u", "https://a/b")
            .unwrap()
            .with_bytes_param("x5t", &[1, 2, 3])
            .unwrap();
        assert_eq!(
            built.to_member_value().unwrap(),
            r#"x509;x5u="https://a/b";x5t=:AQID:"#
        );
    }

    #[test]
    fn from_headers_joins_lines() {
        let mut h = HeaderMap::new();
        assert_eq!(SignatureKey::from_headers(&h).unwrap(), None);
        h.append(
            &headers::SIGNATURE_KEY,
            HeaderValue::from_static(r#"a=jwt;jwt="1""#),
        );
        h.append(
            &headers::SIGNATURE_KEY,
            HeaderValue::from_static(r#"b=jwt;jwt="2""#),
        );
        let sk = SignatureKey::from_headers(&h).unwrap().unwrap();
        assert_eq!(sk.labels().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(sk.member("b").unwrap().param_str("jwt"), Some("2"));
    }

    #[test]
    fn duplicate_label_keeps_last_value() {
        let sk = SignatureKey::parse(r#"sig=jwt;jwt="1", sig=jwt;jwt="2""#).unwrap();
        assert_eq!(sk.len(), 1);
        assert_eq!(sk.member("sig").unwrap().param_str("jwt"), Some("2"));
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = format!(r#"sig=jwt;jwt="{}""#, "a".repeat(sf::MAX_FIELD_LEN));
        assert!(matches!(
            SignatureKey::parse(&big),
            Err(WireError::TooLong { .. })
        ));
    }

    /// The borrowed parse the verifier uses must judge every member exactly as the owned one.
    #[test]
    fn view_agrees_with_the_owned_parse() {
        let cases = [
            DIGEST_10_2,
            r#"sig=hwk;kty="EC";crv="P-256";x="a";y="b";alg="ES256""#,
            r#"sig=hwk;kty="EC";crv="P-256";x="a";alg="ES256""#,
            r#"sig=hwk;kty="RSA";n="n";e="AQAB";alg="PS512";kid="k""#,
            r#"sig=hwk;kty=OKP;crv="Ed25519";x="a""#,
            r#"sig=hwk;crv="Ed25519";x="a""#,
            r#"sig=hwk;kty="AKP";alg="ML-DSA-44""#,
            r#"sig=hwk;kty="OKP";crv="Ed25519";x="a";x="b";alg=1"#,
            r#"sig=jwt;jwt="e30.e30.sig";cache, sig=hwk;kty="OKP";crv="X";x="y""#,
            r#"sig="hwk", other=(a b)"#,
            r#"a=jwks_uri;id="https://a.example";dwk="aauth-agent.json";kid="k1""#,
            r#"sig=zz9;foo=:AQID:;bar=?1;baz=1.5"#,
            "sig=hwk;kty=\"OKP\", sig2=jwt",
            "",
            "sig=(",
            "sig=hwk;kty=\"O\\\"KP\";crv=\"Ed25519\";x=\"a\"",
        ];
        for field in cases {
            let owned = SignatureKey::parse(field);
            let view = SignatureKeyView::parse(field);
            assert_eq!(
                view.as_ref()
                    .map(SignatureKeyView::to_owned)
                    .map_err(Clone::clone),
                owned,
                "{field}"
            );
            let (Ok(view), Ok(owned)) = (view, owned) else {
                continue;
            };
            for label in owned.labels() {
                let o = owned.get(label).map(|r| r.cloned().map_err(Clone::clone));
                let v = view.get(label).map(|r| r.map(|m| m.to_member()));
                assert_eq!(v, o, "{field} / {label}");
                if let (Some(Ok(m)), Some(Ok(om))) = (view.get(label), owned.get(label)) {
                    assert_eq!(
                        HwkView::from_member(&m).map(|h| h.to_params()),
                        HwkParams::from_member(om),
                        "{field} / {label}"
                    );
                    assert_eq!(m.scheme(), om.scheme);
                    assert!(m.is(&om.scheme));
                    assert_eq!(m.param_str("x"), om.param_str("x"));
                }
            }
        }
        let big = format!("sig=hwk;x=\"{}\"", "a".repeat(70 * 1024));
        assert!(matches!(
            SignatureKeyView::parse(&big),
            Err(WireError::TooLong { .. })
        ));
    }
}
