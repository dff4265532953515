//! Server and agent identifiers (P "Server Identifiers", "Agent Identifiers").
//!
//! Both are compared as exact strings (AGT-02, AGT-03); these functions only decide whether a
//! string is well formed, so that nothing malformed is fetched from or recorded.

/// Whether `s` is a valid DNS host as AAuth writes it: lowercase A-labels, dot separated, no
/// empty label, no leading or trailing hyphen, and a non-numeric last label (so IP literals,
/// which are not server identifiers, are refused).
pub fn is_valid_domain(s: &str) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    let mut last = "";
    for label in s.split('.') {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return false;
        }
        last = label;
    }
    !last.bytes().all(|b| b.is_ascii_digit())
}

/// AGT-03: `https://` + host, nothing else (no port, path, query, fragment, trailing slash),
/// lowercase, IDNs as A-labels.
pub fn is_server_identifier(s: &str) -> bool {
    s.strip_prefix("https://").is_some_and(is_valid_domain)
}

/// The host of a valid server identifier.
pub fn server_identifier_host(s: &str) -> Option<&str> {
    s.strip_prefix("https://").filter(|h| is_valid_domain(h))
}

/// AGT-01: `aauth:local@domain`; `local` is 1–255 of `a-z 0-9 - _ + .`; `domain` as for a
/// server identifier without the scheme. The `+` rules for sub-agents are deliberately not
/// checked here: P forbids parsing `local` for decisions (AGT-02).
pub fn is_agent_identifier(s: &str) -> bool {
    agent_identifier_parts(s).is_some()
}

/// `(local, domain)` of a valid agent identifier.
pub fn agent_identifier_parts(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix("aauth:")?;
    let (local, domain) = rest.split_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 255
        && local.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'+' | b'.')
        });
    (local_ok && is_valid_domain(domain)).then_some((local, domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agt_01_agent_identifiers() {
        for ok in [
            "aauth:assistant-v2@agent.example",
            "aauth:planner.7f3c+search1@vendor.example",
            "aauth:planner.7f3c@vendor.example",
        ] {
            assert!(is_agent_identifier(ok), "{ok}");
        }
        let long = format!("aauth:{}@agent.example", "a".repeat(256));
        for bad in [
            "My Agent@agent.example",
            "aauth:@agent.example",
            "aauth:x@http://agent.example",
            "aauth:UPPER@agent.example",
            "aauth:a@Agent.example",
            "aauth:a@agent.example:443",
            "aauth:a",
            "agent@agent.example",
            long.as_str(),
        ] {
            assert!(!is_agent_identifier(bad), "{bad}");
        }
        let max = format!("aauth:{}@agent.example", "a".repeat(255));
        assert!(is_agent_identifier(&max));
    }

    #[test]
    fn agt_03_server_identifiers() {
        assert!(is_server_identifier("https://agent.example"));
        assert!(is_server_identifier("https://xn--nxasmq6b.example"));
        for bad in [
            "http://agent.example",
            "https://Agent.Example",
            "https://agent.example:8443",
            "https://agent.example/v1",
            "https://agent.example/",
            "https://agent.example?x",
            "https://agent.example#f",
            "https://127.0.0.1",
            "https://",
            "https://-a.example",
            "https://a..example",
        ] {
            assert!(!is_server_identifier(bad), "{bad}");
        }
    }
}
