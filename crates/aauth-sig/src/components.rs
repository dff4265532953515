//! RFC 9421 component identifiers and their values (§2.1, §2.2).

use aauth_wire::sf_view::ItemView;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use sfv::{BareItem, BareItemFromInput, FieldType, Item, ListSerializer, Parser, RefBareItem};

use crate::error::{BaseError, clip};
use crate::message::{Message, RequestTarget};

/// The derived components of RFC 9421 §2.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Derived {
    Method,
    TargetUri,
    Authority,
    Scheme,
    RequestTarget,
    Path,
    Query,
    QueryParam,
    Status,
}

impl Derived {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "@method" => Derived::Method,
            "@target-uri" => Derived::TargetUri,
            "@authority" => Derived::Authority,
            "@scheme" => Derived::Scheme,
            "@request-target" => Derived::RequestTarget,
            "@path" => Derived::Path,
            "@query" => Derived::Query,
            "@query-param" => Derived::QueryParam,
            "@status" => Derived::Status,
            _ => return None,
        })
    }
}

/// A parsed component identifier: a name plus the parameters `sf`, `key`, `bs`, `req`, `name`.
///
/// It keeps its serialised form (parameters in received order), which is what the base line
/// starts with, so verification reproduces the signer's bytes instead of a re-ordered copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentId {
    /// Length of the name, which `serialized` carries right after its opening quote.
    name_len: usize,
    derived: Option<Derived>,
    sf: bool,
    key: Option<String>,
    bs: bool,
    req: bool,
    query_name: Option<String>,
    serialized: String,
}

impl ComponentId {
    /// Parses an identifier written either as a serialised SF item (`"content-type";sf`,
    /// `"@query-param";name="x"`) or as a bare name (`@method`, `content-type`; a field name
    /// is lowercased).
    pub fn parse(text: &str) -> Result<Self, BaseError> {
        if text.starts_with('"') {
            let item: Item = Parser::new(text)
                .parse()
                .map_err(|_| BaseError::InvalidComponent(clip(text)))?;
            Self::from_item(&item)
        } else {
            // A bare name is an item without parameters; field names are lowercased.
            let name: std::borrow::Cow<'_, str> =
                if text.starts_with('@') || !text.bytes().any(|b| b.is_ascii_uppercase()) {
                    std::borrow::Cow::Borrowed(text)
                } else {
                    std::borrow::Cow::Owned(text.to_ascii_lowercase())
                };
            Self::build(&name, std::iter::empty(), String::new)
        }
    }

    /// Builds an identifier from an item of a `Signature-Input` inner list.
    pub fn from_item(item: &Item) -> Result<Self, BaseError> {
        let BareItem::String(name) = &item.bare_item else {
            return Err(BaseError::InvalidComponent("(not a string)".into()));
        };
        Self::build(
            name.as_str(),
            item.params
                .iter()
                .map(|(k, v)| (k.as_str(), RefBareItem::from(v))),
            || item.serialize(),
        )
    }

    /// As [`ComponentId::from_item`], from a borrowed view of the item.
    pub fn from_view(item: &ItemView<'_>) -> Result<Self, BaseError> {
        let BareItemFromInput::String(name) = &item.bare_item else {
            return Err(BaseError::InvalidComponent("(not a string)".into()));
        };
        Self::build(
            name.as_str(),
            item.params
                .iter()
                .map(|(k, v)| (k.as_str(), RefBareItem::from(v))),
            || {
                sfv::ItemSerializer::new()
                    .bare_item(&item.bare_item)
                    .parameters(item.params.iter().map(|(k, v)| (k, RefBareItem::from(v))))
                    .finish()
            },
        )
    }

    fn build<'p>(
        name: &str,
        params: impl ExactSizeIterator<Item = (&'p str, RefBareItem<'p>)>,
        serialize: impl FnOnce() -> String,
    ) -> Result<Self, BaseError> {
        let invalid = || BaseError::InvalidComponent(clip(name));
        let derived = if name.starts_with('@') {
            Some(Derived::from_name(name).ok_or_else(invalid)?)
        } else {
            // Field names in identifiers are lowercase tokens (RFC 9421 §2.1). The allowed
            // characters need no escaping, so the serialised form starts with `"name"`.
            if name.is_empty()
                || !name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
                })
            {
                return Err(invalid());
            }
            None
        };
        let mut id = ComponentId {
            name_len: name.len(),
            derived,
            sf: false,
            key: None,
            bs: false,
            req: false,
            query_name: None,
            serialized: String::new(),
        };
        let has_params = params.len() > 0;
        for (k, v) in params {
            match (k, v) {
                ("sf", RefBareItem::Boolean(true)) if !id.sf => id.sf = true,
                ("bs", RefBareItem::Boolean(true)) if !id.bs => id.bs = true,
                ("req", RefBareItem::Boolean(true)) if !id.req => id.req = true,
                ("key", RefBareItem::String(s)) if id.key.is_none() => {
                    id.key = Some(s.as_str().to_owned())
                }
                ("name", RefBareItem::String(s)) if id.query_name.is_none() => {
                    id.query_name = Some(s.as_str().to_owned())
                }
                // `tr` (trailers) and anything unknown: we cannot produce a value for them.
                _ => return Err(invalid()),
            }
        }
        match id.derived {
            Some(d) => {
                if id.sf || id.bs || id.key.is_some() {
                    return Err(invalid());
                }
                if (d == Derived::QueryParam) != id.query_name.is_some() {
                    return Err(invalid());
                }
            }
            None => {
                if id.query_name.is_some() || (id.bs && (id.sf || id.key.is_some())) {
                    return Err(invalid());
                }
            }
        }
        id.serialized = if has_params {
            serialize()
        } else {
            let mut s = String::with_capacity(name.len() + 2);
            s.push('"');
            s.push_str(name);
            s.push('"');
            s
        };
        Ok(id)
    }

    /// The component name (`@method`, `content-type`).
    pub fn name(&self) -> &str {
        // `serialized` starts with the name in quotes (see `build`).
        &self.serialized[1..1 + self.name_len]
    }

    /// The serialised identifier as it appears in `Signature-Input` and the base.
    pub fn as_str(&self) -> &str {
        &self.serialized
    }

    /// Whether the identifier carries `;req`.
    pub fn is_req(&self) -> bool {
        self.req
    }

    /// Appends this component's value to `out` (RFC 9421 §2.1, §2.2).
    pub(crate) fn write_value(
        &self,
        msg: &Message<'_, '_>,
        out: &mut String,
    ) -> Result<(), BaseError> {
        // `;req` switches to the request a response answers (§2.4).
        let related;
        let msg = if self.req {
            match msg {
                Message::Response(r) => match &r.request {
                    Some(req) => {
                        related = Message::request(req);
                        &related
                    }
                    None => return Err(BaseError::NoRelatedRequest(clip(&self.serialized))),
                },
                Message::Request { .. } => {
                    return Err(BaseError::NotApplicable(clip(&self.serialized)));
                }
            }
        } else {
            msg
        };
        let start = out.len();
        match self.derived {
            Some(d) => self.write_derived(d, msg, out)?,
            None => self.write_field(msg.headers(), out)?,
        }
        // The base is ASCII and line-oriented; nothing may smuggle a newline or a non-ASCII
        // byte into it (SIG-33).
        if !out.as_bytes()[start..]
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            return Err(BaseError::NonAscii(clip(&self.serialized)));
        }
        Ok(())
    }

    fn write_derived(
        &self,
        d: Derived,
        msg: &Message<'_, '_>,
        out: &mut String,
    ) -> Result<(), BaseError> {
        let not_applicable = || BaseError::NotApplicable(clip(&self.serialized));
        let (t, raw_target): (&RequestTarget<'_>, Option<&str>) = match (d, msg) {
            (Derived::Status, Message::Response(r)) => {
                if !(100..=999).contains(&r.status) {
                    return Err(not_applicable());
                }
                out.push_str(&r.status.to_string());
                return Ok(());
            }
            (Derived::Status, Message::Request { .. }) | (_, Message::Response(_)) => {
                return Err(not_applicable());
            }
            (
                _,
                Message::Request {
                    target,
                    request_target,
                },
            ) => (target, *request_target),
        };
        match d {
            Derived::Method => out.push_str(t.method.as_str()),
            Derived::TargetUri => {
                out.push_str(t.scheme);
                out.push_str("://");
                out.push_str(t.authority);
                push_request_target(t, raw_target, out);
            }
            Derived::Authority => out.push_str(t.authority),
            Derived::Scheme => out.push_str(t.scheme),
            Derived::RequestTarget => match raw_target {
                Some(raw) => out.push_str(raw),
                None => push_request_target(t, None, out),
            },
            Derived::Path => push_path(t.path, out),
            Derived::Query => {
                out.push('?');
                out.push_str(t.query.unwrap_or(""));
            }
            Derived::QueryParam => {
                let wanted = self.query_name.as_deref().unwrap_or("");
                let mut found: Option<String> = None;
                for pair in t.query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
                    let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if form_reencode(n) == wanted {
                        if found.is_some() {
                            return Err(BaseError::RepeatedQueryParam(clip(wanted)));
                        }
                        found = Some(form_reencode(v));
                    }
                }
                out.push_str(&found.ok_or_else(|| BaseError::MissingQueryParam(clip(wanted)))?);
            }
            Derived::Status => return Err(not_applicable()),
        }
        Ok(())
    }

    fn write_field(&self, headers: &HeaderMap, out: &mut String) -> Result<(), BaseError> {
        let missing = || BaseError::MissingField(clip(self.name()));
        let mut lines = headers.get_all(self.name()).iter().peekable();
        if lines.peek().is_none() {
            return Err(missing());
        }
        if self.bs {
            // §2.1.3: each field line separately, trimmed, as a Byte Sequence.
            for (i, line) in lines.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push(':');
                STANDARD.encode_string(trim_ows(line.as_bytes()), out);
                out.push(':');
            }
            return Ok(());
        }
        if !self.sf && self.key.is_none() {
            for (i, line) in lines.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_ascii(trim_ows(line.as_bytes()), out)
                    .map_err(|_| BaseError::NonAscii(clip(self.name())))?;
            }
            return Ok(());
        }
        let mut joined = String::new();
        for (i, line) in lines.enumerate() {
            if i > 0 {
                joined.push_str(", ");
            }
            push_ascii(trim_ows(line.as_bytes()), &mut joined)
                .map_err(|_| BaseError::NotStructured(clip(self.name())))?;
        }
        let not_sf = || BaseError::NotStructured(clip(self.name()));
        if let Some(key) = &self.key {
            let dict: sfv::Dictionary = Parser::new(&joined).parse().map_err(|_| not_sf())?;
            let entry = dict
                .get(key.as_str())
                .ok_or_else(|| BaseError::MissingDictionaryKey {
                    field: clip(self.name()),
                    key: clip(key),
                })?;
            let mut ser = ListSerializer::new();
            ser.members(std::iter::once(entry));
            out.push_str(&ser.finish().ok_or_else(not_sf)?);
            return Ok(());
        }
        // `;sf`: the field's type is not registered with us, so try the structured types in
        // the order that keeps serialisation faithful (a dictionary of bare keys serialises
        // exactly like the equivalent list of tokens).
        if let Ok(dict) = Parser::new(&joined).parse::<sfv::Dictionary>() {
            out.push_str(&dict.serialize().ok_or_else(not_sf)?);
        } else if let Ok(list) = Parser::new(&joined).parse::<sfv::List>() {
            out.push_str(&list.serialize().ok_or_else(not_sf)?);
        } else {
            let item: Item = Parser::new(&joined).parse().map_err(|_| not_sf())?;
            out.push_str(&item.serialize());
        }
        Ok(())
    }
}

impl std::fmt::Display for ComponentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.serialized)
    }
}

fn push_path(path: &str, out: &mut String) {
    if path.is_empty() {
        out.push('/');
    } else {
        out.push_str(path);
    }
}

fn push_request_target(t: &RequestTarget<'_>, raw: Option<&str>, out: &mut String) {
    if let Some(raw) = raw
        && raw.starts_with('/')
    {
        out.push_str(raw);
        return;
    }
    push_path(t.path, out);
    if let Some(q) = t.query {
        out.push('?');
        out.push_str(q);
    }
}

/// Field values are trimmed of leading and trailing SP/HTAB (RFC 9110 §5.5).
fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if *first == b' ' || *first == b'\t' {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if *last == b' ' || *last == b'\t' {
            b = rest;
        } else {
            break;
        }
    }
    b
}

fn push_ascii(b: &[u8], out: &mut String) -> Result<(), ()> {
    let s = std::str::from_utf8(b).map_err(|_| ())?;
    if !s.is_ascii() {
        return Err(());
    }
    out.push_str(s);
    Ok(())
}

/// `application/x-www-form-urlencoded` parse (`+` → space, percent-decode, UTF-8 with
/// replacement) and re-encode with every byte outside `A-Za-z0-9*-._` percent-encoded and space
/// as `%20`, which is how RFC 9421 §2.2.8 canonicalises `@query-param` names and values.
fn form_reencode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' if i + 2 < bytes.len()
                && hex(bytes[i + 1]).is_some()
                && hex(bytes[i + 2]).is_some() =>
            {
                let hi = hex(bytes[i + 1]).unwrap_or(0);
                let lo = hex(bytes[i + 2]).unwrap_or(0);
                decoded.push(hi << 4 | lo);
                i += 2;
            }
            b => decoded.push(b),
        }
        i += 1;
    }
    let text = String::from_utf8_lossy(&decoded);
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_') {
            out.push(b as char);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Builds the signature base (RFC 9421 §2.5): one `"id": value` line per component, LF
/// separated, then `"@signature-params": ` and the received parameters line, no trailing LF.
pub(crate) fn build_base(
    msg: &Message<'_, '_>,
    components: &[ComponentId],
    params_line: &str,
) -> Result<String, BaseError> {
    let mut base = String::with_capacity(64 * components.len() + params_line.len() + 24);
    for (i, c) in components.iter().enumerate() {
        if components[..i].iter().any(|p| p.serialized == c.serialized) {
            return Err(BaseError::DuplicateComponent(clip(&c.serialized)));
        }
        base.push_str(&c.serialized);
        base.push_str(": ");
        c.write_value(msg, &mut base)?;
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params_line);
    Ok(base)
}

/// Public entry point of the base builder for generic RFC 9421 use.
pub fn signature_base(
    msg: &Message<'_, '_>,
    components: &[ComponentId],
    params_line: &str,
) -> Result<String, BaseError> {
    build_base(msg, components, params_line)
}
