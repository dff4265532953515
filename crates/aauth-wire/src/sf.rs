//! Private helpers shared by the structured-field based modules: bounded parsing, type names
//! for error messages, and joining repeated field lines.

use http::{HeaderMap, HeaderName};
use sfv::{BareItem, Dictionary, List, ListEntry, Parser};

use crate::WireError;

/// Upper bound on any field value we parse. Structured-field parsing is linear, but a bound
/// keeps memory and CPU per request predictable; 64 KiB comfortably holds a large JWT.
pub(crate) const MAX_FIELD_LEN: usize = 64 * 1024;

fn check_len(field: &'static str, input: &str) -> Result<(), WireError> {
    if input.len() > MAX_FIELD_LEN {
        return Err(WireError::TooLong {
            field,
            len: input.len(),
            max: MAX_FIELD_LEN,
        });
    }
    Ok(())
}

fn syntax(field: &'static str, e: &sfv::Error) -> WireError {
    // `{:#}` is sfv's message without the index; it never contains input bytes.
    WireError::Syntax {
        field,
        reason: format!("{e:#}"),
    }
}

pub(crate) fn parse_dictionary(field: &'static str, input: &str) -> Result<Dictionary, WireError> {
    check_len(field, input)?;
    Parser::new(input)
        .parse::<Dictionary>()
        .map_err(|e| syntax(field, &e))
}

pub(crate) fn parse_dictionary_view<'a>(
    field: &'static str,
    input: &'a str,
) -> Result<crate::sf_view::DictionaryView<'a>, WireError> {
    check_len(field, input)?;
    crate::sf_view::DictionaryView::parse(input).map_err(|e| syntax(field, &e))
}

pub(crate) fn parse_list(field: &'static str, input: &str) -> Result<List, WireError> {
    check_len(field, input)?;
    Parser::new(input)
        .parse::<List>()
        .map_err(|e| syntax(field, &e))
}

/// Human-readable SF type of a bare item, for `WrongType` errors.
pub(crate) fn kind(item: &BareItem) -> &'static str {
    match item {
        BareItem::Decimal(_) => "a Decimal",
        BareItem::Integer(_) => "an Integer",
        BareItem::String(_) => "a String",
        BareItem::ByteSequence(_) => "a Byte Sequence",
        BareItem::Boolean(_) => "a Boolean",
        BareItem::Token(_) => "a Token",
        BareItem::Date(_) => "a Date",
        BareItem::DisplayString(_) => "a Display String",
    }
}

pub(crate) fn entry_kind(entry: &ListEntry) -> &'static str {
    match entry {
        ListEntry::Item(i) => kind(&i.bare_item),
        ListEntry::InnerList(_) => "an Inner List",
    }
}

/// All field lines of `name` joined with ", " (RFC 9110 §5.3), or `None` when absent.
///
/// Used for Dictionary and List fields, whose lines may legitimately be split.
pub(crate) fn joined(
    headers: &HeaderMap,
    name: &HeaderName,
    field: &'static str,
) -> Result<Option<String>, WireError> {
    let mut out: Option<String> = None;
    for value in headers.get_all(name) {
        let s = value.to_str().map_err(|_| WireError::NotAscii { field })?;
        match &mut out {
            None => out = Some(s.to_owned()),
            Some(acc) => {
                acc.push_str(", ");
                acc.push_str(s);
            }
        }
        if let Some(acc) = &out {
            check_len(field, acc)?;
        }
    }
    Ok(out)
}

/// Parses a List whose members must all be Tokens (parameters ignored), keeping their case.
pub(crate) fn parse_token_list(
    field: &'static str,
    name: &'static str,
    input: &str,
) -> Result<Vec<String>, WireError> {
    let list = parse_list(field, input)?;
    let mut out = Vec::with_capacity(list.len());
    for entry in &list {
        match entry {
            ListEntry::Item(item) => match &item.bare_item {
                BareItem::Token(t) => out.push(t.as_str().to_owned()),
                other => {
                    return Err(WireError::WrongType {
                        field,
                        name,
                        expected: "a Token",
                        found: kind(other),
                    });
                }
            },
            ListEntry::InnerList(_) => {
                return Err(WireError::WrongType {
                    field,
                    name,
                    expected: "a Token",
                    found: "an Inner List",
                });
            }
        }
    }
    Ok(out)
}

/// Serialises a non-empty List of Tokens, e.g. `Ed25519, ES256`.
pub(crate) fn token_list_value(
    field: &'static str,
    tokens: &[&str],
) -> Result<http::HeaderValue, WireError> {
    let mut ser = sfv::ListSerializer::new();
    for t in tokens {
        let tok = sfv::TokenRef::from_str(t).map_err(|_| WireError::Serialize {
            field,
            reason: "member is not a valid Token",
        })?;
        let _ = ser.bare_item(tok);
    }
    let s = ser.finish().ok_or(WireError::Serialize {
        field,
        reason: "an empty List is not serialised",
    })?;
    header_value(field, s)
}

pub(crate) fn header_value(field: &'static str, s: String) -> Result<http::HeaderValue, WireError> {
    http::HeaderValue::try_from(s).map_err(|_| WireError::Serialize {
        field,
        reason: "not a valid header value",
    })
}
