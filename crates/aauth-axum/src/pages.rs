//! The hook through which an application replaces the built-in interaction page with its own.
//!
//! The library keeps everything that is security-relevant — code redemption, lock-out, the
//! anti-forgery nonce and its cookie, the state transitions, the response headers
//! (`Cache-Control: no-store`, `Content-Security-Policy`, `X-Frame-Options`) — and asks the
//! [`InteractionPage`] only for HTML. A replacement page must:
//!
//! * in [`InteractionPage::enter_code`], submit a `GET` form to `form_action` with a `code` field;
//! * in [`InteractionPage::decide`], show `code` (so the person can compare it with what the
//!   agent displayed, IC-11) and who asks for what, and `POST` to `form_action` the hidden field
//!   `nonce` (value `nonce`) with a `decision` of `approve` or `deny`;
//! * escape every value it interpolates (the views hold untrusted text such as the request path).
//!
//! Install it with [`ResourceBuilder::interaction_page`](crate::ResourceBuilder::interaction_page).
use crate::html::{escape, page};
use crate::interaction::Person;

/// What the code-entry page shows.
#[derive(Debug)]
#[non_exhaustive]
pub struct CodeEntryView<'a> {
    /// Where the form goes (`GET`, field `code`).
    pub form_action: &'a str,
    /// Why the person is asked again (a wrong code, with attempts left), if so.
    pub error: Option<&'a str>,
}

/// What the decision page shows.
#[derive(Debug)]
#[non_exhaustive]
pub struct DecisionView<'a> {
    /// The code as issued, grouped for display (IC-11).
    pub code: &'a str,
    /// Who is asking: the agent identifier, or a description of a pseudonymous key.
    pub agent: &'a str,
    /// `true` for an `hwk` agent known only by its key thumbprint.
    pub pseudonymous: bool,
    pub method: &'a str,
    pub path: &'a str,
    pub scope: Option<&'a str>,
    /// The signed-in person.
    pub person: &'a Person,
    /// Where the decision form posts.
    pub form_action: &'a str,
    /// The value of the hidden `nonce` field.
    pub nonce: &'a str,
}

/// How an interaction ended, for the last page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finished {
    Approved,
    Denied,
    /// The request expired before the person acted (IC-10).
    Expired,
    /// The code was already used (IC-08).
    CodeUsed,
    /// Too many wrong codes (IC-09).
    Locked,
    /// Any other closed state (cancelled, abandoned, already answered).
    Closed,
}

/// Renders the interaction pages. Every method returns a complete HTML document.
pub trait InteractionPage: Send + Sync + 'static {
    fn enter_code(&self, view: &CodeEntryView<'_>) -> String;
    fn decide(&self, view: &DecisionView<'_>) -> String;
    fn finished(&self, outcome: Finished) -> String;
}

/// The built-in page: small, no scripts, labelled controls, escaped throughout.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultPage;

impl InteractionPage for DefaultPage {
    fn enter_code(&self, view: &CodeEntryView<'_>) -> String {
        let msg = view
            .error
            .map(|m| format!("<p role=\"alert\"><strong>{}</strong></p>", escape(m)))
            .unwrap_or_default();
        page(
            "Approve a request",
            &format!(
                r#"{msg}<form method="get" action="{action}">
<p><label for="code">Enter the code the application shows you</label></p>
<p><input id="code" name="code" autocomplete="off" autocapitalize="characters" spellcheck="false" required maxlength="64" size="14"></p>
<p><button type="submit">Continue</button></p>
</form>"#,
                action = escape(view.form_action)
            ),
        )
    }

    fn decide(&self, view: &DecisionView<'_>) -> String {
        let who = view
            .person
            .display_name
            .as_deref()
            .unwrap_or(&view.person.id);
        let scope = view
            .scope
            .map(|s| format!("<dt>Scope</dt><dd>{}</dd>", escape(s)))
            .unwrap_or_default();
        page(
            "Approve a request",
            &format!(
                r#"<p>Check that this code matches the one the application showed you:</p>
<p class="code" id="code" aria-label="code">{code}</p>
<dl>
<dt>Signed in as</dt><dd id="person">{who}</dd>
<dt>Requested by</dt><dd id="agent">{agent}</dd>
<dt>Request</dt><dd>{method} {path}</dd>
{scope}
</dl>
<form method="post" action="{action}">
<input type="hidden" name="nonce" value="{nonce}">
<button class="approve" id="approve" type="submit" name="decision" value="approve">Approve</button>
<button class="deny" id="deny" type="submit" name="decision" value="deny">Deny</button>
</form>"#,
                code = escape(view.code),
                who = escape(who),
                agent = escape(view.agent),
                method = escape(view.method),
                path = escape(view.path),
                action = escape(view.form_action),
                nonce = escape(view.nonce),
            ),
        )
    }

    fn finished(&self, outcome: Finished) -> String {
        let (title, text) = match outcome {
            Finished::Approved => (
                "Approved",
                "Done. You can close this window; the application continues on its own.",
            ),
            Finished::Denied => (
                "Denied",
                "The request was denied. You can close this window.",
            ),
            Finished::Expired => (
                "Request expired",
                "This request has expired. Ask the application to start again.",
            ),
            Finished::CodeUsed => (
                "Code already used",
                "This code has already been used. Each code works once.",
            ),
            Finished::Locked => (
                "Too many attempts",
                "Too many wrong codes were entered; this request has been cancelled.",
            ),
            Finished::Closed => (
                "Request closed",
                "This request is no longer waiting for a decision.",
            ),
        };
        page(title, &format!("<p id=\"outcome\">{}</p>", escape(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>&amp;";

    /// AGT-21: whatever reaches the page from a token, the request or the login (agent
    /// identifier, method, path, scope, display name, error text) renders as inert text.
    #[test]
    fn agt_21_token_and_request_data_render_inert_on_every_page() {
        let person = Person {
            id: HOSTILE.to_owned(),
            display_name: Some(HOSTILE.to_owned()),
        };
        let view = DecisionView {
            code: HOSTILE,
            agent: HOSTILE,
            pseudonymous: false,
            method: HOSTILE,
            path: HOSTILE,
            scope: Some(HOSTILE),
            person: &person,
            form_action: HOSTILE,
            nonce: HOSTILE,
        };
        let pages = [
            DefaultPage.decide(&view),
            DefaultPage.enter_code(&CodeEntryView {
                form_action: HOSTILE,
                error: Some(HOSTILE),
            }),
        ];
        for html in pages {
            for raw in ["<script", "<img", "\"'>", "onerror=alert(2)>"] {
                assert!(!html.contains(raw), "{raw} left unescaped in:\n{html}");
            }
            assert!(html.contains("&lt;script&gt;"), "{html}");
            // `&amp;` in the input is text, so its `&` is escaped too.
            assert!(html.contains("&amp;amp;"), "{html}");
        }
    }
}
