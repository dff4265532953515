//! Plays the person at a resource's built-in interaction page, over plain HTTP: opens
//! `{url}?code={code}`, then submits the approve (or deny) form the page returned, with the
//! cookie it set. Used by `aauth demo --auto-approve` and by tests.
use reqwest::header::{COOKIE, SET_COOKIE};

/// What the simulated person does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Approve,
    Deny,
}

/// Errors while driving the page.
#[derive(Debug, thiserror::Error)]
pub enum PersonError {
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the interaction page answered {0}")]
    Status(u16),
    #[error("the interaction page has no decision form")]
    NoForm,
}

fn hidden_value<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

/// Opens `approval_url` and submits `choice`.
pub async fn decide(approval_url: &str, choice: Choice) -> Result<(), PersonError> {
    crate::install_ring_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http.get(approval_url).send().await?;
    if !page.status().is_success() {
        return Err(PersonError::Status(page.status().as_u16()));
    }
    let cookie = page
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let html = page.text().await?;
    let nonce = hidden_value(&html, "nonce").ok_or(PersonError::NoForm)?;
    let action = approval_url.split('?').next().unwrap_or(approval_url);
    let decision = match choice {
        Choice::Approve => "approve",
        Choice::Deny => "deny",
    };
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("nonce", nonce)
        .append_pair("decision", decision)
        .finish();
    let mut post = http
        .post(action)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form);
    if let Some(c) = cookie {
        post = post.header(COOKIE, c);
    }
    let resp = post.send().await?;
    if !resp.status().is_success() {
        return Err(PersonError::Status(resp.status().as_u16()));
    }
    Ok(())
}
