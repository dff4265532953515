//! `Signature-Input` and `Signature` (RFC 9421 §4.1, §4.2).

use std::borrow::Cow;

use aauth_wire::sf_view::{DictionaryView, EntryView, InnerListView};
use http::HeaderMap;
use http::header::HeaderName;
use sfv::{BareItemFromInput, RefBareItem};

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

/// Both signature fields of a message, checked to be Dictionaries.
///
/// An owned handle over [`FieldsView`], which does the work: it keeps the two field values
/// and parses them again, without copying, when a signature is asked for.
#[derive(Debug, Clone)]
pub struct SignatureFields {
    signature_input: String,
    signature: String,
    labels: Vec<String>,
    labels_match: bool,
}

impl SignatureFields {
    /// Parses `Signature-Input` and `Signature`. Absent → `MissingHeader`; unparseable →
    /// `MalformedSignature` (AMB-06).
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, VerifyError> {
        Self::from_headers_lenient(headers, false)
    }

    /// As [`SignatureFields::from_headers`]; with `base64url_signatures`, a `Signature` field
    /// that fails the strict parse is retried with base64url byte sequences rewritten to the
    /// standard alphabet (for peers that write `-`/`_` and drop padding).
    pub fn from_headers_lenient(
        headers: &HeaderMap,
        base64url_signatures: bool,
    ) -> Result<Self, VerifyError> {
        let (input, sig) = read_fields(headers)?;
        let rewritten;
        let (view, sig) = match FieldsView::parse(&input, &sig) {
            Err(e) if base64url_signatures && e.is_unparseable_signature_field() => {
                rewritten = base64url_to_standard(&sig);
                (FieldsView::parse(&input, &rewritten)?, rewritten.as_str())
            }
            other => (other?, sig.as_ref()),
        };
        Ok(Self::own(&view, &input, sig))
    }

    /// Parses the two field values.
    pub fn parse(signature_input: &str, signature: &str) -> Result<Self, VerifyError> {
        let view = FieldsView::parse(signature_input, signature)?;
        Ok(Self::own(&view, signature_input, signature))
    }

    fn own(view: &FieldsView<'_>, signature_input: &str, signature: &str) -> Self {
        SignatureFields {
            signature_input: signature_input.to_owned(),
            signature: signature.to_owned(),
            labels: view.labels().map(str::to_owned).collect(),
            labels_match: view.labels_match(),
        }
    }

    /// Labels in `Signature-Input` order.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(String::as_str)
    }

    /// Whether both fields name exactly the same labels (SIG-30).
    pub fn labels_match(&self) -> bool {
        self.labels_match
    }

    /// The parsed signature for `label`.
    pub fn get(&self, label: &str) -> Result<ParsedSignature, VerifyError> {
        FieldsView::parse(&self.signature_input, &self.signature)?.get(label)
    }
}

/// `Signature-Input` and `Signature`, each joined from its lines; `Signature-Input` is read
/// first so that its errors come first.
pub(crate) fn read_fields(
    headers: &HeaderMap,
) -> Result<(Cow<'_, str>, Cow<'_, str>), VerifyError> {
    let input = joined(headers, &aauth_wire::headers::SIGNATURE_INPUT)
        .map_err(|_| VerifyError::MalformedSignature("Signature-Input is not ASCII"))?
        .ok_or(VerifyError::MissingHeader("Signature-Input"))?;
    let sig = joined(headers, &aauth_wire::headers::SIGNATURE)
        .map_err(|_| VerifyError::MalformedSignature("Signature is not ASCII"))?
        .ok_or(VerifyError::MissingHeader("Signature"))?;
    Ok((input, sig))
}

const UNPARSEABLE_INPUT: &str = "Signature-Input is not a dictionary";
const UNPARSEABLE_SIGNATURE: &str = "Signature is not a dictionary";

impl VerifyError {
    /// Whether this is the `Signature` field failing to parse (what the base64url leniency
    /// retries).
    pub(crate) fn is_unparseable_signature_field(&self) -> bool {
        matches!(self, VerifyError::MalformedSignature(m) if *m == UNPARSEABLE_SIGNATURE)
    }
}

/// Both signature fields parsed without copying: keys, component names and parameters borrow
/// from the field values. The verifier's path; [`SignatureFields`] wraps it.
#[derive(Debug, Clone)]
pub(crate) struct FieldsView<'a> {
    inputs: DictionaryView<'a>,
    signatures: DictionaryView<'a>,
}

impl<'a> FieldsView<'a> {
    pub(crate) fn parse(signature_input: &'a str, signature: &'a str) -> Result<Self, VerifyError> {
        let inputs = DictionaryView::parse(signature_input)
            .map_err(|_| VerifyError::MalformedSignature(UNPARSEABLE_INPUT))?;
        let signatures = DictionaryView::parse(signature)
            .map_err(|_| VerifyError::MalformedSignature(UNPARSEABLE_SIGNATURE))?;
        // A label names one signature in the message (SIG-30); structured-field parsing would
        // quietly keep the last of two, so a repeat is refused here.
        if inputs.has_repeated_keys() || signatures.has_repeated_keys() {
            return Err(VerifyError::MalformedSignature(
                "a label appears more than once",
            ));
        }
        Ok(FieldsView { inputs, signatures })
    }

    /// Labels in `Signature-Input` order.
    pub(crate) fn labels(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.inputs.keys()
    }

    /// Whether both fields name exactly the same labels (SIG-30).
    pub(crate) fn labels_match(&self) -> bool {
        self.inputs.len() == self.signatures.len()
            && self.inputs.keys().all(|k| self.signatures.contains_key(k))
    }

    /// The parsed signature for `label`.
    pub(crate) fn get(&self, label: &str) -> Result<ParsedSignature, VerifyError> {
        let Some(EntryView::InnerList(inner)) = self.inputs.get(label) else {
            return Err(VerifyError::MalformedSignature(
                "label is not an inner list in Signature-Input",
            ));
        };
        let signature = match self.signatures.get(label) {
            Some(EntryView::Item(item)) => match &item.bare_item {
                BareItemFromInput::ByteSequence(b) => b.clone(),
                _ => {
                    return Err(VerifyError::MalformedSignature(
                        "Signature is not a byte sequence",
                    ));
                }
            },
            Some(EntryView::InnerList(_)) => {
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
        ParsedSignature::from_view(label, inner, signature)
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
    fn from_view(
        label: &str,
        inner: &InnerListView<'_>,
        signature: Vec<u8>,
    ) -> Result<Self, VerifyError> {
        let mut created = None;
        let mut expires = None;
        let mut keyid = None;
        let mut alg = None;
        let mut nonce = None;
        let mut tag = None;
        let bad = || VerifyError::MalformedSignature("signature parameter has the wrong type");
        let string = |v: &BareItemFromInput<'_>| {
            v.as_string().map(|s| s.as_str().to_owned()).ok_or_else(bad)
        };
        for (k, v) in inner.params.iter() {
            match k.as_str() {
                "created" => created = Some(v.as_integer().ok_or_else(bad)?.into()),
                "expires" => expires = Some(v.as_integer().ok_or_else(bad)?.into()),
                "keyid" => keyid = Some(string(v)?),
                "alg" => alg = Some(string(v)?),
                "nonce" => nonce = Some(string(v)?),
                "tag" => tag = Some(string(v)?),
                _ => {}
            }
        }
        let components = inner
            .items
            .iter()
            .map(ComponentId::from_view)
            .collect::<Result<Vec<_>, BaseError>>()
            .map_err(VerifyError::Base)?;
        Ok(ParsedSignature {
            label: label.to_owned(),
            params_line: params_line(&components, inner),
            components,
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

/// The `@signature-params` value: the inner list serialised with items and parameters in
/// received order (RFC 9421 §2.3: the verifier must not re-sort). Each component already
/// holds its item's serialisation, so only the list's parameters are serialised here.
fn params_line(components: &[ComponentId], inner: &InnerListView<'_>) -> String {
    let items: usize = components.iter().map(|c| c.as_str().len() + 1).sum();
    let mut out = String::with_capacity(items + 16 * inner.params.len() + 2);
    out.push('(');
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(c.as_str());
    }
    out.push(')');
    if !inner.params.is_empty() {
        // sfv serialises parameters only after a bare item; write a placeholder and drop it.
        let at = out.len();
        let _ = sfv::ItemSerializer::with_buffer(&mut out)
            .bare_item(true)
            .parameters(inner.params.iter().map(|(k, v)| (k, RefBareItem::from(v))))
            .finish();
        out.replace_range(at..at + 2, "");
    }
    out
}

/// Rewrites every `:…:` byte sequence from base64url to standard base64 with padding. Text
/// outside the colons is copied unchanged; a sequence already in the standard alphabet is
/// unchanged apart from padding.
pub(crate) fn base64url_to_standard(field: &str) -> String {
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
