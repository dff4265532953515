//! `AAuth-Requirement` (protocol draft "AAuth-Requirement Header Structure").
//!
//! A Dictionary whose `requirement` member is a Token; requirement data ride as parameters on
//! that member. The value set is an extension point, so unknown values parse to
//! [`Requirement::Unknown`] and the agent decides what to do (REQ-04/REQ-05). Unknown parameters
//! and members are ignored (REQ-01).

use http::{HeaderMap, HeaderValue};
use sfv::{BareItem, KeyRef, ListEntry, Parameters, StringRef, TokenRef};

use crate::{WireError, headers, sf};

const FIELD: &str = "AAuth-Requirement";

/// A requirement value with the parameters this crate understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `interaction` (202): send the person to `{url}?code={code}` and poll.
    Interaction { url: String, code: String },
    /// `agent-token` (401): present an agent token.
    AgentToken,
    /// `person-token` (401): present a person token.
    PersonToken,
    /// `auth-token` (401/402/202): exchange `resource_token` for an auth token.
    AuthToken { resource_token: String },
    /// `approval` (202): nothing to show; poll.
    Approval,
    /// `clarification` (202): a question in the body.
    Clarification,
    /// `claims` (202): identity claims required.
    Claims,
    /// Any other well-formed Token, verbatim.
    Unknown(String),
}

impl Requirement {
    /// The Token sent as the `requirement` member value.
    pub fn as_str(&self) -> &str {
        match self {
            Requirement::Interaction { .. } => "interaction",
            Requirement::AgentToken => "agent-token",
            Requirement::PersonToken => "person-token",
            Requirement::AuthToken { .. } => "auth-token",
            Requirement::Approval => "approval",
            Requirement::Clarification => "clarification",
            Requirement::Claims => "claims",
            Requirement::Unknown(s) => s,
        }
    }
}

/// A parsed or to-be-sent `AAuth-Requirement` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AAuthRequirement {
    pub requirement: Requirement,
}

fn string_param(params: &Parameters, name: &'static str) -> Result<String, WireError> {
    match params.get(name) {
        None => Err(WireError::MissingParameter {
            field: FIELD,
            param: name,
        }),
        Some(BareItem::String(s)) => Ok(s.as_str().to_owned()),
        Some(other) => Err(WireError::WrongType {
            field: FIELD,
            name,
            expected: "a String",
            found: sf::kind(other),
        }),
    }
}

impl AAuthRequirement {
    pub fn new(requirement: Requirement) -> Self {
        AAuthRequirement { requirement }
    }

    /// Parses a field value.
    ///
    /// * `requirement` must be present and a Token — a String `"interaction"` is refused
    ///   (RM-03, REQ-01).
    /// * `interaction` needs String `url` and `code` (RM-04, RM-05; IC-01 refuses a Token
    ///   `code`); `auth-token` needs a String `resource-token` (REQ-08).
    /// * Unknown parameters and members are ignored.
    pub fn parse(value: &str) -> Result<Self, WireError> {
        let dict = sf::parse_dictionary(FIELD, value)?;
        let item = match dict.get("requirement") {
            None => {
                return Err(WireError::MissingMember {
                    field: FIELD,
                    member: "requirement",
                });
            }
            Some(ListEntry::Item(item)) => item,
            Some(entry @ ListEntry::InnerList(_)) => {
                return Err(WireError::WrongType {
                    field: FIELD,
                    name: "requirement",
                    expected: "a Token",
                    found: sf::entry_kind(entry),
                });
            }
        };
        let token = match &item.bare_item {
            BareItem::Token(t) => t.as_str(),
            other => {
                return Err(WireError::WrongType {
                    field: FIELD,
                    name: "requirement",
                    expected: "a Token",
                    found: sf::kind(other),
                });
            }
        };
        let p = &item.params;
        let requirement = match token {
            "interaction" => Requirement::Interaction {
                url: string_param(p, "url")?,
                code: string_param(p, "code")?,
            },
            "agent-token" => Requirement::AgentToken,
            "person-token" => Requirement::PersonToken,
            "auth-token" => Requirement::AuthToken {
                resource_token: string_param(p, "resource-token")?,
            },
            "approval" => Requirement::Approval,
            "clarification" => Requirement::Clarification,
            "claims" => Requirement::Claims,
            other => Requirement::Unknown(other.to_owned()),
        };
        Ok(AAuthRequirement { requirement })
    }

    /// Reads `AAuth-Requirement` from a header map (lines joined); `Ok(None)` when absent.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, WireError> {
        match sf::joined(headers, &headers::AAUTH_REQUIREMENT, FIELD)? {
            None => Ok(None),
            Some(v) => Self::parse(&v).map(Some),
        }
    }

    /// Serialises through sfv, e.g.
    /// `requirement=interaction;url="https://resource.example/interaction";code="7KQ2-M9XD"`.
    ///
    /// Fails if a parameter is not representable as an SF String (non-ASCII, control
    /// characters) or an `Unknown` value is not a Token; never emits a malformed header.
    pub fn to_header_string(&self) -> Result<String, WireError> {
        let bad_string = |_| WireError::Serialize {
            field: FIELD,
            reason: "parameter is not a valid String",
        };
        let token =
            TokenRef::from_str(self.requirement.as_str()).map_err(|_| WireError::Serialize {
                field: FIELD,
                reason: "requirement is not a valid Token",
            })?;
        let params: Vec<(&KeyRef, &StringRef)> = match &self.requirement {
            Requirement::Interaction { url, code } => vec![
                (
                    KeyRef::constant("url"),
                    StringRef::from_str(url).map_err(bad_string)?,
                ),
                (
                    KeyRef::constant("code"),
                    StringRef::from_str(code).map_err(bad_string)?,
                ),
            ],
            Requirement::AuthToken { resource_token } => vec![(
                KeyRef::constant("resource-token"),
                StringRef::from_str(resource_token).map_err(bad_string)?,
            )],
            _ => Vec::new(),
        };
        let mut ser = sfv::DictSerializer::new();
        let mut ps = ser.bare_item(KeyRef::constant("requirement"), token);
        for (k, v) in params {
            ps = ps.parameter(k, v);
        }
        let _ = ps.finish();
        ser.finish().ok_or(WireError::Serialize {
            field: FIELD,
            reason: "empty dictionary",
        })
    }

    /// [`Self::to_header_string`] as a `HeaderValue`.
    pub fn to_header_value(&self) -> Result<HeaderValue, WireError> {
        sf::header_value(FIELD, self.to_header_string()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERACTION: &str =
        r#"requirement=interaction;url="https://resource.example/interaction";code="7KQ2-M9XD""#;

    fn interaction() -> AAuthRequirement {
        AAuthRequirement::new(Requirement::Interaction {
            url: "https://resource.example/interaction".into(),
            code: "7KQ2-M9XD".into(),
        })
    }

    #[test]
    fn rm_03_requirement_is_a_token() {
        assert_eq!(AAuthRequirement::parse(INTERACTION).unwrap(), interaction());
        assert_eq!(
            AAuthRequirement::parse(
                r#"requirement="interaction";url="https://r.example/i";code="7KQ2-M9XD""#
            ),
            Err(WireError::WrongType {
                field: FIELD,
                name: "requirement",
                expected: "a Token",
                found: "a String"
            })
        );
        assert!(matches!(
            AAuthRequirement::parse("requirement=(interaction)"),
            Err(WireError::WrongType {
                found: "an Inner List",
                ..
            })
        ));
        assert!(matches!(
            AAuthRequirement::parse("requirement"),
            Err(WireError::WrongType {
                found: "a Boolean",
                ..
            })
        ));
    }

    #[test]
    fn rm_03_serialises_exactly() {
        assert_eq!(interaction().to_header_string().unwrap(), INTERACTION);
        assert_eq!(interaction().to_header_value().unwrap(), INTERACTION);
    }

    #[test]
    fn rm_04_rm_05_interaction_needs_url_and_code() {
        assert_eq!(
            AAuthRequirement::parse(r#"requirement=interaction;code="7KQ2-M9XD""#),
            Err(WireError::MissingParameter {
                field: FIELD,
                param: "url"
            })
        );
        assert_eq!(
            AAuthRequirement::parse(r#"requirement=interaction;url="https://r.example/i""#),
            Err(WireError::MissingParameter {
                field: FIELD,
                param: "code"
            })
        );
        assert!(matches!(
            AAuthRequirement::parse(r#"requirement=interaction;url=https;code="A""#),
            Err(WireError::WrongType { name: "url", .. })
        ));
    }

    #[test]
    fn ic_01_token_code_is_rejected() {
        assert_eq!(
            AAuthRequirement::parse(
                r#"requirement=interaction;url="https://r.example/i";code=X7KQ2"#
            ),
            Err(WireError::WrongType {
                field: FIELD,
                name: "code",
                expected: "a String",
                found: "a Token"
            })
        );
        // A code that starts with a digit cannot even be a Token; as an Integer it is refused too.
        assert!(matches!(
            AAuthRequirement::parse(
                r#"requirement=interaction;url="https://r.example/i";code=1234"#
            ),
            Err(WireError::WrongType {
                found: "an Integer",
                ..
            })
        ));
    }

    #[test]
    fn req_01_unknown_params_and_members_ignored_and_whitespace_allowed() {
        let v = r#"requirement=interaction;url="https://resource.example/interaction";code="7KQ2-M9XD";future="x", other=1"#;
        assert_eq!(AAuthRequirement::parse(v).unwrap(), interaction());
        let v = r#"requirement=interaction; url="https://resource.example/interaction"; code="7KQ2-M9XD""#;
        assert_eq!(AAuthRequirement::parse(v).unwrap(), interaction());
        assert_eq!(
            AAuthRequirement::parse("other=1"),
            Err(WireError::MissingMember {
                field: FIELD,
                member: "requirement"
            })
        );
        assert!(matches!(
            AAuthRequirement::parse(""),
            Err(WireError::MissingMember { .. })
        ));
    }

    #[test]
    fn req_05_unknown_value_is_kept() {
        let r = AAuthRequirement::parse("requirement=frobnicate").unwrap();
        assert_eq!(r.requirement, Requirement::Unknown("frobnicate".into()));
        assert_eq!(r.to_header_string().unwrap(), "requirement=frobnicate");
    }

    #[test]
    fn req_06_to_req_12_each_value_round_trips() {
        let cases = [
            ("requirement=agent-token", Requirement::AgentToken),
            ("requirement=person-token", Requirement::PersonToken),
            (
                r#"requirement=auth-token;resource-token="eyJ.e30.sig""#,
                Requirement::AuthToken {
                    resource_token: "eyJ.e30.sig".into(),
                },
            ),
            ("requirement=approval", Requirement::Approval),
            ("requirement=clarification", Requirement::Clarification),
            ("requirement=claims", Requirement::Claims),
        ];
        for (wire, req) in cases {
            let parsed = AAuthRequirement::parse(wire).unwrap();
            assert_eq!(parsed.requirement, req, "{wire}");
            assert_eq!(parsed.to_header_string().unwrap(), wire);
        }
        assert_eq!(
            AAuthRequirement::parse("requirement=auth-token"),
            Err(WireError::MissingParameter {
                field: FIELD,
                param: "resource-token"
            })
        );
    }

    #[test]
    fn serialise_refuses_unrepresentable_values() {
        let r = AAuthRequirement::new(Requirement::Interaction {
            url: "https://r.example/\u{e9}".into(),
            code: "A".into(),
        });
        assert!(r.to_header_value().is_err());
        let r = AAuthRequirement::new(Requirement::Unknown("two words".into()));
        assert!(r.to_header_value().is_err());
        // quotes and backslashes are escaped, not broken
        let r = AAuthRequirement::new(Requirement::AuthToken {
            resource_token: r#"a"b\c"#.into(),
        });
        let s = r.to_header_string().unwrap();
        assert_eq!(s, r#"requirement=auth-token;resource-token="a\"b\\c""#);
        assert_eq!(AAuthRequirement::parse(&s).unwrap(), r);
    }

    #[test]
    fn req_02_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(AAuthRequirement::from_headers(&h).unwrap(), None);
        h.insert(
            &headers::AAUTH_REQUIREMENT,
            HeaderValue::from_static(INTERACTION),
        );
        assert_eq!(
            AAuthRequirement::from_headers(&h).unwrap(),
            Some(interaction())
        );
    }
}
