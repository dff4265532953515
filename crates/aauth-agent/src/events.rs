//! What the client reports as it goes, for verbose output (`aauth fetch -v`) and tracing.
use std::time::Duration;

use http::Method;
use url::Url;

use crate::flow::InteractionPrompt;
use crate::metadata::ResourceMetadata;

/// One protocol step. Never carries a session token or key material.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ProtocolEvent {
    /// The metadata lookup for `origin` finished (`None`: not published or unusable).
    Metadata {
        origin: String,
        metadata: Option<ResourceMetadata>,
    },
    /// A request was signed; `base` is the RFC 9421 signature base.
    Signed {
        method: Method,
        url: Url,
        base: String,
    },
    /// A response arrived.
    Response {
        method: Method,
        url: Url,
        status: u16,
    },
    /// The resource asked for components it requires; the request is re-signed once.
    Resigning { components: Vec<String> },
    /// A person must act: the prompt was handed to the callback.
    Interaction {
        prompt: InteractionPrompt,
        location: Url,
    },
    /// `approval` (REQ-10): nothing to show; polling.
    AwaitingApproval { location: Url },
    /// Sleeping `wait` before poll number `attempt + 1`.
    Waiting { wait: Duration, attempt: u32 },
    /// A poll was answered.
    Polled { status: u16, interacting: bool },
    /// A session token for `origin` was stored (`rotated`: it replaced a different one).
    SessionStored { origin: String, rotated: bool },
    /// The session token for `origin` was dropped (refused or superseded by a challenge).
    SessionDropped { origin: String },
    /// The pending URL was withdrawn with DELETE.
    Withdrawn { location: Url },
}
