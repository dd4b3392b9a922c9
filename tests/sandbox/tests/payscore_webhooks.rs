//! Payscore webhooks: the documented codes in order, signatures that verify with an
//! independent HMAC, retries, suppression, arbitrary codes, automatic progress.

mod common;

use common::{Receiver, create_group, group_body, start, start_with, token, verifies};
use sandbox::SandboxConfig;
use sandbox::payscore::SendWebhook;
use sandbox::payscore::webhooks::{Suppression, WebhookFaults};
use serde_json::Value;
use std::time::Duration;

fn json(received: &common::Received) -> Value {
    serde_json::from_slice(&received.body).expect("JSON body")
}

#[tokio::test]
async fn completing_a_household_sends_the_documented_webhooks_in_order_with_valid_signatures() {
    let sandbox = start().await;
    let receiver = Receiver::start().await;
    let token = token(&sandbox).await;
    let group = create_group(
        &sandbox,
        &token,
        &group_body("entrata:1:1", Some(&receiver.url)),
    )
    .await;
    let id = group["id"].as_str().expect("id");

    let outcome = sandbox
        .control()
        .complete_group(id)
        .await
        .expect("completed");
    assert!(outcome.webhooks.iter().all(|w| w.delivered));
    let got = receiver.wait_for(5).await;
    let codes: Vec<String> = got
        .iter()
        .map(|r| json(r)["code"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        codes,
        [
            "BEGIN_SCREENING",
            "SCREENING_COMPLETED",
            "BEGIN_SCREENING",
            "SCREENING_COMPLETED",
            "SCREENING_GROUP_COMPLETED"
        ]
    );
    for r in &got {
        assert!(
            verifies(r, "sandbox-webhook-secret"),
            "signature of {:?}",
            r.body
        );
        assert!(!verifies(r, "another-secret"));
        assert_eq!(json(r)["screening_group_id"], id);
    }
    assert_eq!(json(&got[0])["screening_id"], group["screenings"][0]["id"]);
    assert!(json(&got[4]).get("screening_id").is_none());
}

#[tokio::test]
async fn reopening_sends_re_open_screening_for_that_applicant() {
    let sandbox = start().await;
    let receiver = Receiver::start().await;
    let token = token(&sandbox).await;
    let group = create_group(
        &sandbox,
        &token,
        &group_body("entrata:1:2", Some(&receiver.url)),
    )
    .await;
    let id = group["id"].as_str().expect("id");
    let screening = group["screenings"][1]["id"].as_str().expect("screening id");
    sandbox
        .control()
        .complete_group(id)
        .await
        .expect("completed");
    let outcome = sandbox
        .control()
        .reopen(id, Some(screening))
        .await
        .expect("reopened");
    assert_eq!(outcome.webhooks.len(), 1);
    let got = receiver.wait_for(6).await;
    assert_eq!(json(&got[5])["code"], "RE_OPEN_SCREENING");
    assert_eq!(json(&got[5])["screening_id"], screening);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_the_receiver_accepts_it() {
    let sandbox = start().await;
    let receiver = Receiver::start().await;
    receiver.answer_next(&[500, 503]);
    let token = token(&sandbox).await;
    let group = create_group(
        &sandbox,
        &token,
        &group_body("entrata:1:3", Some(&receiver.url)),
    )
    .await;
    let id = group["id"].as_str().expect("id");
    let outcome = sandbox.control().begin_group(id).await.expect("begun");
    let first = &outcome.webhooks[0];
    assert!(first.delivered);
    let statuses: Vec<_> = first.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(202)]);
    let got = receiver.received();
    assert_eq!(got[0].body, got[2].body, "a retry sends the same bytes");
}

#[tokio::test]
async fn suppressed_webhooks_are_recorded_but_not_sent() {
    let sandbox = start().await;
    let receiver = Receiver::start().await;
    let token = token(&sandbox).await;
    let group = create_group(
        &sandbox,
        &token,
        &group_body("entrata:1:4", Some(&receiver.url)),
    )
    .await;
    let id = group["id"].as_str().expect("id");
    let suppression = Suppression {
        all: false,
        codes: ["SCREENING_GROUP_COMPLETED".to_owned()].into(),
    };
    sandbox
        .control()
        .suppress_webhooks(&suppression)
        .await
        .expect("suppressed");
    let outcome = sandbox
        .control()
        .complete_group(id)
        .await
        .expect("completed");
    let last = outcome.webhooks.last().expect("webhooks");
    assert_eq!(
        (last.code.as_str(), last.suppressed, last.attempts.len()),
        ("SCREENING_GROUP_COMPLETED", true, 0)
    );
    let got = receiver.wait_for(4).await;
    assert!(
        got.iter()
            .all(|r| json(r)["code"] != "SCREENING_GROUP_COMPLETED")
    );
    assert_eq!(
        sandbox.control().webhooks_sent().await.expect("list").len(),
        5
    );
}

#[tokio::test]
async fn any_webhook_code_can_be_sent_in_concurrent_copies() {
    let sandbox = start().await;
    let receiver = Receiver::start().await;
    let token = token(&sandbox).await;
    let group = create_group(
        &sandbox,
        &token,
        &group_body("entrata:1:5", Some(&receiver.url)),
    )
    .await;
    let id = group["id"].as_str().expect("id");
    let request = SendWebhook {
        code: "SOMETHING_NEW".into(),
        screening_id: None,
        value: Some("First Bank".into()),
        copies: Some(3),
    };
    let sent = sandbox
        .control()
        .send_webhook(id, &request)
        .await
        .expect("sent");
    assert_eq!(sent.len(), 3);
    let got = receiver.wait_for(3).await;
    assert!(
        got.iter()
            .all(|r| json(r)["code"] == "SOMETHING_NEW" && json(r)["value"] == "First Bank")
    );
    assert!(got.iter().all(|r| verifies(r, "sandbox-webhook-secret")));
}

#[tokio::test]
async fn configured_delays_move_screenings_forward_without_any_control_call() {
    let mut config = SandboxConfig::default();
    config.payscore.begin_after = Some(Duration::from_millis(50));
    config.payscore.complete_after = Some(Duration::from_millis(150));
    let sandbox = start_with(config).await;
    let receiver = Receiver::start().await;
    let token = token(&sandbox).await;
    let group = create_group(
        &sandbox,
        &token,
        &group_body("entrata:1:6", Some(&receiver.url)),
    )
    .await;
    let got = receiver.wait_for(5).await;
    assert_eq!(json(&got[4])["code"], "SCREENING_GROUP_COMPLETED");
    let id = group["id"].as_str().expect("id");
    let control = sandbox.control().group(id).await.expect("group");
    assert_eq!(control.status, sandbox::payscore::model::Status::Completed);
}

#[tokio::test]
async fn webhook_faults_lose_or_repeat_step_webhooks_but_not_explicit_sends() {
    let sandbox = start().await;
    let receiver = Receiver::start().await;
    let token = token(&sandbox).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let group = create_group(
            &sandbox,
            &token,
            &group_body(&format!("entrata:1:{}", 60 + n), Some(&receiver.url)),
        )
        .await;
        ids.push(group["id"].as_str().expect("id").to_owned());
    }
    let lose = WebhookFaults {
        loss_rate: 1.0,
        repeat_rate: 0.0,
    };
    sandbox
        .control()
        .set_webhook_faults(&lose)
        .await
        .expect("set");
    let outcome = sandbox
        .control()
        .complete_group(&ids[0])
        .await
        .expect("completed");
    assert!(!outcome.webhooks.is_empty());
    assert!(
        outcome
            .webhooks
            .iter()
            .all(|w| w.lost && !w.suppressed && w.attempts.is_empty())
    );
    // An explicit send is not subject to the faults.
    let request = SendWebhook {
        code: "SCREENING_GROUP_COMPLETED".into(),
        screening_id: None,
        value: None,
        copies: Some(1),
    };
    let sent = sandbox
        .control()
        .send_webhook(&ids[0], &request)
        .await
        .expect("sent");
    assert!(sent[0].delivered && !sent[0].lost);
    assert_eq!(receiver.wait_for(1).await.len(), 1);

    let repeat = WebhookFaults {
        loss_rate: 0.0,
        repeat_rate: 1.0,
    };
    sandbox
        .control()
        .set_webhook_faults(&repeat)
        .await
        .expect("set");
    let outcome = sandbox
        .control()
        .complete_group(&ids[1])
        .await
        .expect("completed");
    let completions: Vec<_> = outcome
        .webhooks
        .iter()
        .filter(|w| w.code == "SCREENING_GROUP_COMPLETED")
        .collect();
    assert_eq!(completions.len(), 2, "sent twice");
    assert!(completions.iter().all(|w| w.delivered));
    assert_eq!(completions[0].body, completions[1].body);

    sandbox
        .control()
        .set_webhook_faults(&WebhookFaults::default())
        .await
        .expect("lift");
    let outcome = sandbox
        .control()
        .complete_group(&ids[2])
        .await
        .expect("completed");
    assert_eq!(
        outcome
            .webhooks
            .iter()
            .filter(|w| w.code == "SCREENING_GROUP_COMPLETED" && w.delivered)
            .count(),
        1
    );
    let bad = WebhookFaults {
        loss_rate: 1.5,
        repeat_rate: 0.0,
    };
    assert!(sandbox.control().set_webhook_faults(&bad).await.is_err());
}
