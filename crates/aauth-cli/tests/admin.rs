//! The admin listener takes requests from local tools only: a web page in the operator's
//! browser (it sends `Origin`) or a DNS-rebinding name (a foreign `Host`) is refused.
use aauth_cli::{admin, demo_resource};
use axum::body::Body;
use http::{Request, StatusCode};
use tower::ServiceExt as _;

async fn status(host: &str, extra: Option<(&str, &str)>) -> StatusCode {
    let resource = demo_resource::resource("http://127.0.0.1:1").unwrap();
    let mut req = Request::post("/revoke/person/demo").header("host", host);
    if let Some((k, v)) = extra {
        req = req.header(k, v);
    }
    let resp = admin::router(resource)
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    resp.status()
}

#[tokio::test]
async fn local_tools_are_served() {
    assert_eq!(status("127.0.0.1:9999", None).await, StatusCode::OK);
    assert_eq!(status("localhost:9999", None).await, StatusCode::OK);
    assert_eq!(status("[::1]:9999", None).await, StatusCode::OK);
}

#[tokio::test]
async fn cross_site_and_rebinding_requests_are_refused() {
    assert_eq!(
        status("127.0.0.1:9999", Some(("origin", "http://evil.example"))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status("127.0.0.1:9999", Some(("sec-fetch-site", "cross-site"))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status("evil.example:9999", None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status("127.0.0.1.evil.example", None).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_bad_session_body_gets_problem_json() {
    let resource = demo_resource::resource("http://127.0.0.1:1").unwrap();
    for (body, want) in [
        (vec![0xff, 0xfe], StatusCode::BAD_REQUEST),
        (vec![b'a'; 5 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE),
        (b"not a token!".to_vec(), StatusCode::BAD_REQUEST),
    ] {
        let req = Request::post("/revoke/session")
            .header("host", "127.0.0.1:9999")
            .body(Body::from(body))
            .unwrap();
        let resp = admin::router(resource.clone()).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), want);
        assert_eq!(
            resp.headers()["content-type"],
            "application/problem+json",
            "{want}"
        );
    }
}

#[tokio::test]
async fn bad_path_segments_and_non_thumbprints_get_problem_json() {
    let resource = demo_resource::resource("http://127.0.0.1:1").unwrap();
    let long = "a".repeat(20_000);
    for path in [
        "/revoke/key/%FF".to_owned(),
        "/revoke/person/%FF".to_owned(),
        "/revoke/agent/%FF".to_owned(),
        format!("/revoke/key/{long}"),
        "/revoke/key/not-a-thumbprint".to_owned(),
    ] {
        let req = Request::post(path.as_str())
            .header("host", "127.0.0.1:9999")
            .body(Body::empty())
            .unwrap();
        let resp = admin::router(resource.clone()).oneshot(req).await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            &path[..40.min(path.len())]
        );
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    // A well-formed thumbprint of no known key revokes nothing, successfully.
    let req = Request::post(format!("/revoke/key/{}", "A".repeat(43)))
        .header("host", "127.0.0.1:9999")
        .body(Body::empty())
        .unwrap();
    let resp = admin::router(resource).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
