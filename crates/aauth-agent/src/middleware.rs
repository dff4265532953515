//! The client as a `reqwest-middleware` middleware, for applications that already build their
//! HTTP stack that way (retries, tracing, …). Same behaviour as [`crate::AAuthClient`]:
//! requests are signed, interaction is handled, session tokens are attached.
use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::AAuthError;
use crate::client::{Core, SendFuture, Transport};

/// Signs and drives AAuth inside a `reqwest_middleware::ClientWithMiddleware`; get one from
/// [`crate::AAuthClient::middleware`]. Put it last (closest to the network) so that it signs
/// what is actually sent; polls and replays go through the middlewares after it.
#[derive(Clone)]
pub struct AAuthMiddleware {
    core: Arc<Core>,
}

impl std::fmt::Debug for AAuthMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AAuthMiddleware").finish_non_exhaustive()
    }
}

impl AAuthMiddleware {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        AAuthMiddleware { core }
    }
}

struct NextTransport<'a> {
    next: Next<'a>,
    extensions: Extensions,
}

impl Transport for NextTransport<'_> {
    fn send(&self, req: Request) -> SendFuture<'_> {
        let next = self.next.clone();
        let mut extensions = self.extensions.clone();
        Box::pin(async move {
            next.run(req, &mut extensions).await.map_err(|e| match e {
                reqwest_middleware::Error::Reqwest(e) => AAuthError::Http(e),
                other => AAuthError::Protocol(format!("middleware: {other}")),
            })
        })
    }
}

#[async_trait::async_trait]
impl Middleware for AAuthMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let transport = NextTransport {
            next,
            extensions: extensions.clone(),
        };
        self.core
            .execute(&transport, req, None)
            .await
            .map_err(|e| match e {
                AAuthError::Http(e) => reqwest_middleware::Error::Reqwest(e),
                other => reqwest_middleware::Error::middleware(other),
            })
    }
}
