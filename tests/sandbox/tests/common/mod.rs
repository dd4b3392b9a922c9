//! Helpers shared by the sandbox's integration tests: start a sandbox, authenticate, call
//! Entrata, wait for a condition, and a tiny webhook receiver that records what it gets.
#![allow(dead_code)]

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// A sandbox with the test defaults.
pub async fn start() -> Sandbox {
    start_with(SandboxConfig::default()).await
}

/// A sandbox with `config`.
pub async fn start_with(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("the sandbox starts")
}

/// An HTTP client with a timeout, so no test can hang.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A Payscore token for the default credentials.
pub async fn token(sandbox: &Sandbox) -> String {
    let response = http()
        .post(format!("{}/api/v1/tenants/auth", sandbox.payscore_url()))
        .json(&json!({ "client_id": "sandbox-client", "secret_key": "sandbox-secret" }))
        .send()
        .await
        .expect("auth answers");
    assert_eq!(response.status(), 204);
    response.headers()["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// A valid v1 create body for `correlation_id`.
pub fn group_body(correlation_id: &str, webhook_url: Option<&str>) -> Value {
    json!({
        "applicants": [
            { "applicant_first_name": "Ann", "applicant_last_name": "Lee",
              "applicant_email": "ann.lee@example.com", "applicant_phone_number": "+15125550142" },
            { "applicant_first_name": "Bo", "applicant_last_name": "Kim",
              "applicant_email": "bo.kim@example.com" }
        ],
        "property": { "street_address": "4100 Lakeshore Dr", "city": "Austin", "state": "Texas",
                      "zip_code": "78701", "unit": "1204" },
        "is_decision_maker_paying": true,
        "decision_maker_display_name": "Sandbox Property Management",
        "monthly_rent": 1650.5,
        "webhook_url": webhook_url,
        "correlation_id": correlation_id,
    })
}

/// Create a group and return its JSON.
pub async fn create_group(sandbox: &Sandbox, token: &str, body: &Value) -> Value {
    let response = http()
        .post(format!(
            "{}/api/v1/screening_groups",
            sandbox.payscore_url()
        ))
        .header("authorization", token)
        .json(body)
        .send()
        .await
        .expect("create answers");
    assert_eq!(response.status(), 201);
    response.json().await.expect("json")
}

/// An Entrata envelope.
pub fn envelope(method: &str, params: Value) -> Value {
    json!({ "auth": { "type": "apikey" }, "requestId": 15,
            "method": { "name": method, "version": "r1", "params": params } })
}

/// Call an Entrata method with the default key: (status, headers, body).
pub async fn entrata(
    sandbox: &Sandbox,
    service: &str,
    method: &str,
    params: Value,
) -> (u16, HeaderMap, Value) {
    entrata_with(sandbox, service, "", &envelope(method, params)).await
}

/// Post a whole envelope to an Entrata service with the default key, with a URL query
/// (`"page_no=2&per_page=10"`, or `""` for none): (status, headers, body).
pub async fn entrata_with(
    sandbox: &Sandbox,
    service: &str,
    query: &str,
    envelope: &Value,
) -> (u16, HeaderMap, Value) {
    let mut url = format!("{}/{service}", sandbox.entrata_url());
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    let response = http()
        .post(url)
        .header("x-api-key", "sandbox-api-key")
        .json(envelope)
        .send()
        .await
        .expect("entrata answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.expect("json"))
}

/// A wrapped list (`leases.lease`, …) as a list, whether it came as a list or an object.
pub fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

/// Poll `check` until it returns `Some`, or panic after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
struct ReceiverState {
    got: Mutex<Vec<Received>>,
    answers: Mutex<VecDeque<u16>>,
}

/// A webhook receiver on 127.0.0.1:0 that records every request and answers 202, or the
/// statuses queued with [`Receiver::answer_next`].
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let state = Arc::new(ReceiverState::default());
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    pub fn answer_next(&self, statuses: &[u16]) {
        self.state.answers.lock().expect("lock").extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.got.lock().expect("lock").clone()
    }

    /// Wait until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(Duration::from_secs(10), "webhooks", || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    state
        .got
        .lock()
        .expect("lock")
        .push(Received { headers, body });
    let status = state
        .answers
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(202);
    StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED)
}

/// Verify `Verification-Signature` the way a receiver would, independently of the sandbox:
/// hex HMAC-SHA256 of the raw body.
pub fn verifies(received: &Received, secret: &str) -> bool {
    use hmac::{Hmac, Mac};
    let Some(signature) = received.headers.get("verification-signature") else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(&received.body);
    let expected = mac.finalize().into_bytes();
    hex::decode(signature.as_bytes()).is_ok_and(|given| given == expected.as_slice())
}
