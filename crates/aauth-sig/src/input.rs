//! `Signature-Input` and `Signature` (RFC 9421 §4.1, §4.2).

use std::borrow::Cow;

use http::HeaderMap;
use http::header::HeaderName;
use sfv::{BareItem, Dictionary, InnerList, ListEntry, Parser};

use crate::components::ComponentId;
use crate::error::BaseError;
use crate::verify_error::VerifyError;

/// Joins a field's lines with ", " (RFC 9110 §5.3), borrowing when there is only one line.
/// `Ok(None)` when the field is absent; `Err` when a line is not visible ASCII.
pub(crate) fn joined<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<Cow<'h, str>>, ()> {
    let mut iter = headers.get_all(name).iter();
    let Some(first) = iter.next() else {
        return Ok(None);
    };
    let first = first.to_str().map_err(|_| ())?;
    let Some(second) = iter.next() else {
        return Ok(Some(Cow::Borrowed(first)));
    };
    let mut s = String::with_capacity(first.len() * 2 + 2);
    s.push_str(first);
    for v in std::iter::once(second).chain(iter) {
        s.push_str(", ");
        s.push_str(v.to_str().map_err(|_| ())?);
    }
    Ok(Some(Cow::Owned(s)))
}

/// Both signature fields of a message, parsed as dictionaries.
#[derive(Debug, Clone)]
pub struct SignatureFields {
    inputs: Dictionary,
    signatures: Dictionary,
}

impl SignatureFields {
    /// Parses `Signature-Input` and `Signature`. Absent → `MissingHeader`; unparseable →
    /// `MalformedSignature` (AMB-06).
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, VerifyError> {
        let input = joined(headers, &aauth_wire::headers::SIGNATURE_INPUT)
            .map_err(|_| VerifyError::MalformedSignature("Signature-Input is not ASCII"))?
            .ok_or(VerifyError::MissingHeader("Signature-Input"))?;
        let sig = joined(headers, &aauth_wire::headers::SIGNATURE)
            .map_err(|_| VerifyError::MalformedSignature("Signature is not ASCII"))?
            .ok_or(VerifyError::MissingHeader("Signature"))?;
        Self::parse(&input, &sig)
    }

    /// As [`SignatureFields::from_headers`]; with `base64url_signatures`, a `Signature` field
    /// that fails the strict parse is retried with base64url byte sequences rewritten to the
    /// standard alphabet (for peers that write `-`/`_` and drop padding).
    pub fn from_headers_lenient(
        headers: &HeaderMap,
        base64url_signatures: bool,
    ) -> Result<Self, VerifyError> {
        let strict = Self::from_headers(headers);
        if !base64url_signatures
            || !matches!(
                strict,
                Err(VerifyError::MalformedSignature(
                    "Signature is not a dictionary"
                ))
            )
        {
            return strict;
        }
        let input = joined(headers, &aauth_wire::headers::SIGNATURE_INPUT)
            .map_err(|_| VerifyError::MalformedSignature("Signature-Input is not ASCII"))?
            .ok_or(VerifyError::MissingHeader("Signature-Input"))?;
        let sig = joined(headers, &aauth_wire::headers::SIGNATURE)
            .map_err(|_| VerifyError::MalformedSignature("Signature is not ASCII"))?
            .ok_or(VerifyError::MissingHeader("Signature"))?;
        Self::parse(&input, &base64url_to_standard(&sig))
    }

    /// Parses the two field values.
    pub fn parse(signature_input: &str, signature: &str) -> Result<Self, VerifyError> {
        let inputs: Dictionary = Parser::new(signature_input)
            .parse()
            .map_err(|_| VerifyError::MalformedSignature("Signature-Input is not a dictionary"))?;
        let signatures: Dictionary = Parser::new(signature)
            .parse()
            .map_err(|_| VerifyError::MalformedSignature("Signature is not a dictionary"))?;
        Ok(SignatureFields { inputs, signatures })
    }

    /// Labels in `Signature-Input` order.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.inputs.keys().map(|k| k.as_str())
    }

    /// Whether both fields name exactly the same labels (SIG-30).
    pub fn labels_match(&self) -> bool {
        self.inputs.len() == self.signatures.len()
            && self.inputs.keys().all(|k| self.signatures.contains_key(k))
    }

    /// The parsed signature for `label`.
    pub fn get(&self, label: &str) -> Result<ParsedSignature, VerifyError> {
        let Some(ListEntry::InnerList(inner)) = self.inputs.get(label) else {
            return Err(VerifyError::MalformedSignature(
                "label is not an inner list in Signature-Input",
            ));
        };
        let signature = match self.signatures.get(label) {
            Some(ListEntry::Item(item)) => match &item.bare_item {
                BareItem::ByteSequence(b) => b.clone(),
                _ => {
                    return Err(VerifyError::MalformedSignature(
                        "Signature is not a byte sequence",
                    ));
                }
            },
            Some(ListEntry::InnerList(_)) => {
                return Err(VerifyError::MalformedSignature(
                    "Signature is not a byte sequence",
                ));
            }
            None => {
                return Err(VerifyError::MalformedSignature(
                    "label missing from Signature",
                ));
            }
        };
        ParsedSignature::from_inner_list(label, inner, signature)
    }
}

/// One signature: its covered components, parameters and bytes.
#[derive(Debug, Clone)]
pub struct ParsedSignature {
    pub label: String,
    /// Covered components in signed order.
    pub components: Vec<ComponentId>,
    /// The serialised inner list: the `@signature-params` value.
    pub params_line: String,
    pub created: Option<i64>,
    pub expires: Option<i64>,
    pub keyid: Option<String>,
    /// The `alg` signature parameter, reported but never used to pick an algorithm (SIG-14).
    pub alg: Option<String>,
    pub nonce: Option<String>,
    pub tag: Option<String>,
    pub signature: Vec<u8>,
}

impl ParsedSignature {
    fn from_inner_list(
        label: &str,
        inner: &InnerList,
        signature: Vec<u8>,
    ) -> Result<Self, VerifyError> {
        let mut created = None;
        let mut expires = None;
        let mut keyid = None;
        let mut alg = None;
        let mut nonce = None;
        let mut tag = None;
        let bad = VerifyError::MalformedSignature("signature parameter has the wrong type");
        for (k, v) in &inner.params {
            match k.as_str() {
                "created" => created = Some(v.as_integer().ok_or(bad.clone())?.into()),
                "expires" => expires = Some(v.as_integer().ok_or(bad.clone())?.into()),
                "keyid" => keyid = Some(v.as_string().ok_or(bad.clone())?.as_str().to_owned()),
                "alg" => alg = Some(v.as_string().ok_or(bad.clone())?.as_str().to_owned()),
                "nonce" => nonce = Some(v.as_string().ok_or(bad.clone())?.as_str().to_owned()),
                "tag" => tag = Some(v.as_string().ok_or(bad.clone())?.as_str().to_owned()),
                _ => {}
            }
        }
        let components = inner
            .items
            .iter()
            .map(ComponentId::from_item)
            .collect::<Result<Vec<_>, BaseError>>()
            .map_err(VerifyError::Base)?;
        Ok(ParsedSignature {
            label: label.to_owned(),
            components,
            params_line: serialize_inner_list(inner),
            created,
            expires,
            keyid,
            alg,
            nonce,
            tag,
            signature,
        })
    }
}

/// Rewrites every `:…:` byte sequence from base64url to standard base64 with padding. Text
/// outside the colons is copied unchanged; a sequence already in the standard alphabet is
/// unchanged apart from padding.
fn base64url_to_standard(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 8);
    let mut inside = false;
    let mut run = 0usize;
    for c in field.chars() {
        match (inside, c) {
            (false, ':') => {
                inside = true;
                run = 0;
                out.push(c);
            }
            (true, ':') => {
                for _ in 0..(4 - run % 4) % 4 {
                    out.push('=');
                }
                inside = false;
                out.push(c);
            }
            (true, '-') => {
                run += 1;
                out.push('+');
            }
            (true, '_') => {
                run += 1;
                out.push('/');
            }
            (true, _) => {
                run += 1;
                out.push(c);
            }
            (false, _) => out.push(c),
        }
    }
    out
}

/// Serialises an inner list with its parameters, preserving the received order of both
/// items and parameters (RFC 9421 §2.3: the verifier must not re-sort).
pub(crate) fn serialize_inner_list(inner: &InnerList) -> String {
    let mut out = String::with_capacity(16 * inner.items.len() + 32);
    let mut ser = sfv::ListSerializer::with_buffer(&mut out);
    {
        let mut list = ser.inner_list();
        list.items(&inner.items);
        let _ = list.finish().parameters(&inner.params);
    }
    let _ = ser.finish();
    out
}
