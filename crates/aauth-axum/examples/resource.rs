//! A complete two-party resource: a local login for the person, a policy with scopes, session
//! terms, metadata, and a route that always needs a person.
//!
//! ```sh
//! cargo run -p aauth-axum --example resource            # serve on 127.0.0.1:8080 until Ctrl-C
//! cargo run -p aauth-axum --example resource -- --check # start, fetch own metadata, stop
//! ```
//! Then `aauth fetch http://127.0.0.1:8080/data` and sign in with the printed password.
use std::sync::Arc;

use aauth_axum::{
    AAuthResource, Authorized, Decision, LocalLogin, RequireInteraction, SessionTerms,
};
use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};

async fn data(auth: Authorized) -> String {
    format!(
        "hello {}, your agent {} may {}",
        auth.person().unwrap_or("(no person)"),
        auth.agent.thumbprint,
        auth.scope().unwrap_or("read")
    )
}

/// Deleting always asks the person again, whatever session the agent holds.
async fn purge(gate: RequireInteraction) -> Response {
    gate.respond(Some("data.delete".to_owned())).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let check = std::env::args().any(|a| a == "--check");
    let listener = tokio::net::TcpListener::bind(if check {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:8080"
    })
    .await?;
    let origin = format!("http://{}", listener.local_addr()?);

    let (login, password) = LocalLogin::new()
        .secure_cookies(false) // plain http on loopback only
        .with_generated_password("me", Some("Me"))
        .ok_or("no randomness")?;
    let resource = AAuthResource::builder(&origin)
        .accept_hwk()
        .allow_insecure_loopback()
        .authenticator(Arc::new(login))
        .policy(|ctx| match ctx.session {
            Some(_) => Decision::Allow,
            None => Decision::Interact {
                scope: Some("data.read".to_owned()),
            },
        })
        .session_terms(|ctx| SessionTerms {
            scope: ctx.requested_scope.map(str::to_owned),
            ttl: 15 * 60,
        })
        .metadata("name", serde_json::json!("Example resource"))
        .build()?;

    let app = Router::new()
        .route("/data", get(data))
        .route("/purge", post(purge))
        .layer(resource.layer())
        .merge(resource.routes());

    println!("resource at {origin}; sign in as `me` with password {password}");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    if check {
        let md = tokio::net::TcpStream::connect(origin.trim_start_matches("http://")).await?;
        drop(md);
        let doc = resource.metadata_document();
        assert_eq!(doc["issuer"], origin.as_str());
        println!("metadata: {doc}");
        server.abort();
        return Ok(());
    }
    tokio::select! {
        r = server => { r??; }
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
