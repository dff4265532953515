//! The two-party flow between a real agent and a real resource over loopback HTTP.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aauth_agent::{AAuthClient, AAuthError, InteractionPrompt};
use aauth_cli::{demo_resource, person};
use aauth_sig::{Algorithm, SigningKey};
use tokio::sync::mpsc;

async fn resource() -> String {
    let (_addr, resource, _handle) = demo_resource::spawn(([127, 0, 0, 1], 0).into(), None)
        .await
        .expect("bind loopback");
    resource.origin().to_owned()
}

/// A client whose interaction callback forwards each prompt to the test.
fn client(
    key: SigningKey,
) -> (
    AAuthClient,
    mpsc::UnboundedReceiver<InteractionPrompt>,
    Arc<AtomicUsize>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let client = AAuthClient::builder(key)
        .use_hwk()
        .with_interaction_handling(move |o| {
            o.on_interaction_required(move |prompt| {
                counter.fetch_add(1, Ordering::SeqCst);
                let tx = tx.clone();
                async move {
                    let _ = tx.send(prompt);
                }
            });
            o.polling_timeout(Duration::from_secs(30));
        })
        .build()
        .expect("client");
    (client, rx, calls)
}

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::Ed25519).unwrap()
}

#[tokio::test]
async fn full_flow_agent_202_approve_poll_token_data() {
    let origin = resource().await;
    let (client, mut prompts, calls) = client(key());
    let person = tokio::spawn(async move {
        let prompt = prompts.recv().await.expect("a prompt");
        // RM-20: the URL the person opens is exactly url?code=code.
        assert_eq!(
            prompt.approval_url(),
            format!("{}?code={}", prompt.url, prompt.code)
        );
        person::decide(&prompt.approval_url(), person::Choice::Approve)
            .await
            .expect("approve");
    });
    let resp = client
        .get(format!("{origin}/data"))
        .send()
        .await
        .expect("approved data");
    person.await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    // SK-25: the resource sees the key derived for its origin.
    assert_eq!(body["agent"], client.thumbprint_for(&origin).as_str());
    assert_ne!(body["agent"], client.thumbprint().as_str());
    assert_eq!(body["approved_by"], demo_resource::DEMO_USER);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "callback fires once per interaction"
    );
    assert!(
        client.session_token(&origin).is_some(),
        "token cached for the origin"
    );

    // The next call rides on the session token: no new prompt.
    let again = client.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn denial_comes_back_as_a_typed_error() {
    let origin = resource().await;
    let (client, mut prompts, _) = client(key());
    tokio::spawn(async move {
        let prompt = prompts.recv().await.unwrap();
        person::decide(&prompt.approval_url(), person::Choice::Deny)
            .await
            .unwrap();
    });
    let err = client
        .get(format!("{origin}/data"))
        .send()
        .await
        .unwrap_err();
    match err {
        AAuthError::Denied { error, .. } => assert_eq!(error, "denied"),
        other => panic!("expected Denied, got {other:?}"),
    }
    assert!(client.session_token(&origin).is_none());
}

#[tokio::test]
async fn no_decision_within_the_polling_timeout_is_a_timeout_error() {
    let origin = resource().await;
    let (tx, _rx) = mpsc::unbounded_channel::<()>();
    let client = AAuthClient::builder(key())
        .use_hwk()
        .with_interaction_handling(move |o| {
            let _keep = tx.clone();
            o.polling_timeout(Duration::from_secs(3));
        })
        .build()
        .unwrap();
    let err = client
        .get(format!("{origin}/data"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, AAuthError::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn without_interaction_handling_the_202_is_returned_to_the_caller() {
    let origin = resource().await;
    let client = AAuthClient::builder(key()).use_hwk().build().unwrap();
    let resp = client.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    assert!(resp.headers().contains_key("aauth-requirement"));
    assert!(resp.headers().contains_key("location"));
}

#[tokio::test]
async fn a_token_obtained_by_one_key_does_not_open_the_resource_for_another() {
    let origin = resource().await;
    let (owner, mut prompts, _) = client(key());
    tokio::spawn(async move {
        while let Some(p) = prompts.recv().await {
            let _ = person::decide(&p.approval_url(), person::Choice::Approve).await;
        }
    });
    owner.get(format!("{origin}/data")).send().await.unwrap();
    let token = owner.session_token(&origin).unwrap();

    // Another agent replays the token under its own key, by hand.
    let other = AAuthClient::builder(key()).use_hwk().build().unwrap();
    let mut req = reqwest::Request::new(
        reqwest::Method::GET,
        format!("{origin}/data").parse().unwrap(),
    );
    req.headers_mut().insert(
        "authorization",
        aauth_wire::access::authorization_value(&token),
    );
    other.sign(&mut req).unwrap();
    let http = reqwest::Client::new();
    let resp = http.execute(req).await.unwrap();
    assert_eq!(
        resp.status(),
        202,
        "treated as a new agent, never as the owner"
    );
}

#[tokio::test]
async fn a_stale_signature_is_a_typed_signature_error() {
    let origin = resource().await;
    let client = AAuthClient::builder(key()).use_hwk().build().unwrap();
    let mut req = reqwest::Request::new(
        reqwest::Method::GET,
        format!("{origin}/data").parse().unwrap(),
    );
    client.sign(&mut req).unwrap();
    // Replace the signature with one made two minutes ago.
    let input = req.headers()["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    let created: u64 = input
        .split("created=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let stale = input.replace(
        &format!("created={created}"),
        &format!("created={}", created - 120),
    );
    req.headers_mut()
        .insert("signature-input", stale.parse().unwrap());
    let resp = reqwest::Client::new().execute(req).await.unwrap();
    assert_eq!(resp.status(), 401);
    let code = resp.headers()["signature-error"].to_str().unwrap();
    assert!(code.contains("invalid_signature"), "{code}");
}

/// IC-11: `person::open` signs in and stops at the page, which shows the code and the agent;
/// nothing is decided, the redeemed code cannot be used again (IC-08), and the opened page
/// can still decide later.
#[tokio::test]
async fn ic_11_person_open_shows_the_code_and_the_agent_and_decides_later() {
    let origin = resource().await;
    let (client, mut prompts, _) = client(key());
    let thumbprint = client.thumbprint_for(&origin).as_str().to_owned();
    let agent = tokio::spawn(async move { client.get(format!("{origin}/data")).send().await });
    let prompt = prompts.recv().await.expect("a prompt");
    let page = person::open(&prompt.approval_url()).await.expect("open");
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains(&prompt.code), "{}", page.html);
    assert!(page.html.contains(&thumbprint), "{}", page.html);
    let again = person::open(&prompt.approval_url()).await.expect("open");
    assert_eq!(
        again.status, 410,
        "a redeemed code is refused: {}",
        again.html
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!agent.is_finished(), "no decision yet");
    page.decide(person::Choice::Approve).await.expect("approve");
    let resp = agent.await.unwrap().expect("approved data");
    assert_eq!(resp.status(), 200);
}
