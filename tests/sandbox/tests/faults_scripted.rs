//! Deterministic faults ("the next N calls"): statuses, `Retry-After`, hangs, dropped
//! connections, and a create that is handled but never answered.

mod common;

use common::{group_body, http, start, token};
use sandbox::{Outcome, Scripted, ScriptedAction, Simulator};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn payscore_fails_twice_with_500_then_creates_exactly_one_group() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    sandbox
        .control()
        .fail_next(
            Simulator::Payscore,
            "create_group",
            Scripted::status(2, 500),
        )
        .await
        .expect("queued");
    let url = format!("{}/api/v1/screening_groups", sandbox.payscore_url());
    let body = group_body("entrata:9:9", None);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = http()
            .post(&url)
            .header("authorization", &token)
            .json(&body)
            .send()
            .await
            .expect("answers");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [500, 500, 201]);
    let calls = sandbox
        .control()
        .calls(Simulator::Payscore, Some("create_group"))
        .await
        .expect("calls");
    let seen: Vec<_> = calls.iter().map(|c| (c.status, c.outcome)).collect();
    assert_eq!(
        seen,
        [
            (Some(500), Outcome::Injected),
            (Some(500), Outcome::Injected),
            (Some(201), Outcome::Answered)
        ]
    );
    assert_eq!(
        sandbox
            .control()
            .groups_by_correlation("entrata:9:9")
            .await
            .expect("groups")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_429_with_retry_after_2_is_served_once() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let next = Scripted::status(1, 429).with_retry_after(2);
    sandbox
        .control()
        .fail_next(Simulator::Payscore, "create_group", next)
        .await
        .expect("queued");
    let url = format!("{}/api/v1/screening_groups", sandbox.payscore_url());
    let body = group_body("entrata:9:8", None);
    let first = http()
        .post(&url)
        .header("authorization", &token)
        .json(&body)
        .send()
        .await
        .expect("answers");
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "2");
    let second = http()
        .post(&url)
        .header("authorization", &token)
        .json(&body)
        .send()
        .await
        .expect("answers");
    assert_eq!(second.status(), 201);
}

#[tokio::test]
async fn entrata_uploads_fail_twice_with_5xx_then_succeed() {
    let sandbox = start().await;
    let app = sandbox
        .control()
        .submit_application(&Default::default())
        .await
        .expect("submitted");
    sandbox
        .control()
        .fail_next(
            Simulator::Entrata,
            "leases/sendLeaseDocuments",
            Scripted::status(2, 502),
        )
        .await
        .expect("queued");
    let envelope = common::envelope(
        "sendLeaseDocuments",
        json!({
        "propertyId": app.property_id, "applicationId": app.application_id,
        "files": { "file": { "fileName": "r.pdf", "leaseFileType": "SR" } } }),
    );
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let form = reqwest::multipart::Form::new()
            .text("requestBody", envelope.to_string())
            .part(
                "file1",
                reqwest::multipart::Part::bytes(b"%PDF-1.4".to_vec()).file_name("r.pdf"),
            );
        let r = http()
            .post(format!("{}/leases", sandbox.entrata_url()))
            .header("x-api-key", "sandbox-api-key")
            .multipart(form)
            .send()
            .await
            .expect("answers");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [502, 502, 200]);
    let uploads = sandbox
        .control()
        .uploads(app.application_id)
        .await
        .expect("uploads");
    assert_eq!(
        uploads.iter().filter(|u| u.file_name == "r.pdf").count(),
        1,
        "the faulted calls stored nothing"
    );
}

#[tokio::test]
async fn a_hanging_request_times_out_on_the_client_and_is_recorded_as_hung() {
    let sandbox = start().await;
    sandbox
        .control()
        .fail_next(
            Simulator::Payscore,
            "auth",
            Scripted::action(1, ScriptedAction::Hang),
        )
        .await
        .expect("queued");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let result = client
        .post(format!("{}/api/v1/tenants/auth", sandbox.payscore_url()))
        .json(&json!({ "client_id": "sandbox-client", "secret_key": "sandbox-secret" }))
        .send()
        .await;
    assert!(result.expect_err("no answer").is_timeout());
    let calls = sandbox
        .control()
        .calls(Simulator::Payscore, Some("auth"))
        .await
        .expect("calls");
    assert_eq!((calls[0].status, calls[0].outcome), (None, Outcome::Hung));
    let started = Instant::now();
    sandbox.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a hung request does not hold up shutdown"
    );
}

#[tokio::test]
async fn a_dropped_connection_answers_nothing() {
    let sandbox = start().await;
    sandbox
        .control()
        .fail_next(
            Simulator::Entrata,
            "*",
            Scripted::action(1, ScriptedAction::Drop),
        )
        .await
        .expect("queued");
    let result = http()
        .post(format!("{}/properties", sandbox.entrata_url()))
        .header("x-api-key", "sandbox-api-key")
        .json(&common::envelope("getProperties", json!({})))
        .send()
        .await;
    let error = result.expect_err("no answer");
    assert!(!error.is_timeout(), "closed, not timed out: {error}");
    let (status, _, _) = common::entrata(&sandbox, "properties", "getProperties", json!({})).await;
    assert_eq!(status, 200, "only the next call was dropped");
}

#[tokio::test]
async fn a_create_that_hangs_after_handling_still_stores_the_group() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let next = Scripted::action(1, ScriptedAction::HangAfterHandling);
    sandbox
        .control()
        .fail_next(Simulator::Payscore, "create_group", next)
        .await
        .expect("queued");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let result = client
        .post(format!(
            "{}/api/v1/screening_groups",
            sandbox.payscore_url()
        ))
        .header("authorization", &token)
        .json(&group_body("entrata:5:5", None))
        .send()
        .await;
    assert!(result.expect_err("no answer").is_timeout());
    let lookup: serde_json::Value = http()
        .get(format!(
            "{}/api/v1/applicant_groups?correlation_id=entrata:5:5",
            sandbox.payscore_url()
        ))
        .header("authorization", &token)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(lookup["total_count"], 1, "the timed-out create happened");
}
