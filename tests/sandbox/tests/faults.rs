//! Random fault injection does what it says: fractions of 5xx and 429, latency, faults
//! set at start, listing and clearing.

mod common;

use common::{create_group, group_body, http, start, start_with, token};
use futures_util::StreamExt;
use sandbox::{Faults, Latency, SandboxConfig, Simulator};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn thirty_percent_5xx_over_1000_calls_fails_between_25_and_35_percent() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let faults = Faults {
        error_rate: 0.3,
        error_status: 503,
        ..Faults::default()
    };
    sandbox
        .control()
        .set_faults(Simulator::Payscore, "applicant_groups", faults)
        .await
        .expect("set");
    let client = http();
    let url = format!("{}/api/v1/applicant_groups", sandbox.payscore_url());
    let statuses: Vec<u16> = futures_util::stream::iter(0..1000)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            async move {
                client
                    .get(url)
                    .header("authorization", token)
                    .send()
                    .await
                    .expect("answers")
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let failures = statuses.iter().filter(|s| **s == 503).count();
    assert!(
        (250..=350).contains(&failures),
        "{failures} failures out of 1000"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1000 - failures
    );
    let counts = sandbox
        .control()
        .call_counts(Simulator::Payscore)
        .await
        .expect("counts");
    assert_eq!(counts["applicant_groups"]["503"], failures as u64);
}

#[tokio::test]
async fn added_latency_delays_the_answer() {
    let sandbox = start().await;
    let faults = Faults {
        latency: Some(Latency::Fixed(250)),
        ..Faults::default()
    };
    sandbox
        .control()
        .set_faults(Simulator::Payscore, "auth", faults)
        .await
        .expect("set");
    let started = Instant::now();
    token(&sandbox).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(
        sandbox
            .control()
            .faults(Simulator::Payscore)
            .await
            .expect("list")[0]
            .route,
        "auth"
    );
    sandbox
        .control()
        .clear_faults(Simulator::Payscore)
        .await
        .expect("cleared");
    assert!(
        sandbox
            .control()
            .faults(Simulator::Payscore)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn faults_given_at_start_apply_from_the_first_call() {
    let mut config = SandboxConfig::default();
    config.faults.payscore.insert(
        "auth".into(),
        Faults {
            error_rate: 1.0,
            error_status: 502,
            ..Faults::default()
        },
    );
    let sandbox = start_with(config).await;
    let response = http()
        .post(format!("{}/api/v1/tenants/auth", sandbox.payscore_url()))
        .json(&json!({ "client_id": "sandbox-client", "secret_key": "sandbox-secret" }))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn injected_entrata_429s_carry_retry_after_and_an_error_envelope() {
    let sandbox = start().await;
    let faults = Faults {
        throttle_rate: 1.0,
        retry_after_seconds: 3,
        ..Faults::default()
    };
    sandbox
        .control()
        .set_faults(Simulator::Entrata, "leads/getLeads", faults)
        .await
        .expect("set");
    let (status, headers, body) = common::entrata(
        &sandbox,
        "leads",
        "getLeads",
        json!({ "propertyId": 100001 }),
    )
    .await;
    assert_eq!(
        (status, headers["retry-after"].to_str().ok()),
        (429, Some("3"))
    );
    assert_eq!(body["response"]["error"]["code"], 429);
    let token = token(&sandbox).await;
    create_group(&sandbox, &token, &group_body("entrata:1:1", None)).await;
}
