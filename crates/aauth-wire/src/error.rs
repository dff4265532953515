//! The crate's one error type.
//!
//! Variants name the field and the rule that failed so that callers can map them onto protocol
//! error codes (e.g. `invalid_request`) and log something useful. No variant ever carries a
//! field *value*: values can be session tokens or JWTs, and error messages end up in logs.

/// Everything that can go wrong while reading or writing an AAuth wire value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The value is not valid structured-field syntax (RFC 9651) for the field's type.
    #[error("{field}: structured-field syntax error: {reason}")]
    Syntax {
        field: &'static str,
        /// The parser's description (no input bytes are echoed).
        reason: String,
    },
    /// A required dictionary member is absent.
    #[error("{field}: missing required member `{member}`")]
    MissingMember {
        field: &'static str,
        member: &'static str,
    },
    /// A required parameter is absent.
    #[error("{field}: missing required parameter `{param}`")]
    MissingParameter {
        field: &'static str,
        param: &'static str,
    },
    /// A member or parameter has the wrong structured-field type (e.g. String for Token).
    #[error("{field}: `{name}` must be {expected}, found {found}")]
    WrongType {
        field: &'static str,
        name: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    /// A value does not satisfy the field-specific grammar or constraints.
    #[error("{field}: invalid `{name}`: {reason}")]
    InvalidValue {
        field: &'static str,
        name: &'static str,
        reason: &'static str,
    },
    /// The value is not a token68 (RFC 9110 §11.2). The value itself is never shown.
    #[error("{field}: not a valid token68: {reason}")]
    InvalidToken68 {
        field: &'static str,
        reason: &'static str,
    },
    /// More than one field line, or a list where a single value is required.
    #[error("{field}: more than one value present")]
    MultipleValues { field: &'static str },
    /// The field is present but empty.
    #[error("{field}: empty value")]
    Empty { field: &'static str },
    /// The value exceeds the bound this crate puts on it (defence against oversized input).
    #[error("{field}: value too long ({len} bytes, limit {max})")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// The field value contains bytes outside visible ASCII / SP / HTAB.
    #[error("{field}: value is not visible ASCII")]
    NotAscii { field: &'static str },
    /// A Signature-Key member was read with the wrong scheme-specific reader.
    #[error("Signature-Key: expected scheme `{expected}`, found `{found}`")]
    WrongScheme {
        expected: &'static str,
        found: String,
    },
    /// A value could not be serialised (e.g. a non-ASCII string or an invalid token).
    #[error("cannot serialise {field}: {reason}")]
    Serialize {
        field: &'static str,
        reason: &'static str,
    },
    /// A JSON body could not be read. Only serde's error category and position are kept,
    /// because serde messages can quote body content.
    #[error("{what}: invalid JSON ({category} error at line {line}, column {column})")]
    Json {
        what: &'static str,
        category: &'static str,
        line: usize,
        column: usize,
    },
}

impl WireError {
    pub(crate) fn json(what: &'static str, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        WireError::Json {
            what,
            category: match e.classify() {
                Category::Io => "I/O",
                Category::Syntax => "syntax",
                Category::Data => "data",
                Category::Eof => "end-of-input",
            },
            line: e.line(),
            column: e.column(),
        }
    }
}
