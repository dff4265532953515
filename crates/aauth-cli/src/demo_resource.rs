//! The demo resource behind `aauth serve` and `aauth demo`: `/data` needs a person's approval.
use std::net::SocketAddr;

use aauth_axum::{AAuthResource, Authorized};
use axum::Router;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

async fn data(auth: Authorized) -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "message": "Hello from the AAuth demo resource",
        "agent": auth.agent.thumbprint.as_str(),
        "approved_by": auth.person(),
    }))
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><title>AAuth demo resource</title><h1>AAuth demo resource</h1>\
         <p><code>/data</code> answers signed requests once a person has approved the agent.</p>",
    )
}

/// The demo application: `/` (public), `/data` (signed + approved), and the AAuth routes.
pub fn app(resource: &AAuthResource) -> Router {
    Router::new()
        .route("/data", get(data))
        .layer(resource.layer())
        .route("/", get(index))
        .merge(resource.routes())
}

/// Builds the demo resource for an origin on a loopback address.
pub fn resource(public_url: &str) -> Result<AAuthResource, aauth_axum::ConfigError> {
    AAuthResource::builder(public_url)
        .accept_hwk()
        .allow_insecure_loopback()
        .retry_after(1)
        .build()
}

/// Binds `addr` and serves the demo app in the background; returns the bound address.
pub async fn spawn(
    addr: SocketAddr,
    public_url: Option<String>,
) -> std::io::Result<(SocketAddr, AAuthResource, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let url = public_url.unwrap_or_else(|| format!("http://{local}"));
    let resource = resource(&url).map_err(|e| std::io::Error::other(e.to_string()))?;
    let router = app(&resource);
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok((local, resource, handle))
}
