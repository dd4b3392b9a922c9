//! "Submit application": the application exists in the API and its webhook reaches the
//! configured URL with the configured authentication; ingest's answer is recorded.

mod common;

use base64::Engine;
use common::{Receiver, as_list, entrata, start, start_with};
use sandbox::entrata::Resend;
use sandbox::entrata::submit::SubmitOptions;
use sandbox::{IngestSettings, SandboxConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn a_submitted_application_is_posted_to_ingest_with_basic_auth_and_token() {
    let receiver = Receiver::start().await;
    let ingest = IngestSettings {
        url: Some(receiver.url.clone()),
        username: Some("entrata".into()),
        password: Some("pw".into()),
        token: Some("tok".into()),
    };
    let config = SandboxConfig {
        ingest: ingest.into(),
        ..SandboxConfig::default()
    };
    let sandbox = start_with(config).await;
    let submitted = sandbox
        .control()
        .submit_application(&SubmitOptions {
            applicants: Some(2),
            ..SubmitOptions::default()
        })
        .await
        .expect("submitted");
    let webhook = submitted.webhook.expect("sent");
    assert_eq!(webhook.status, Some(202));

    let got = receiver.wait_for(1).await;
    let expected = base64::engine::general_purpose::STANDARD.encode("entrata:pw");
    assert_eq!(
        got[0].headers["authorization"],
        format!("Basic {expected}").as_str()
    );
    assert_eq!(got[0].headers["x-webhook-token"], "tok");
    let payload: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert_eq!(payload["webhookType"], "oa.application.events");
    assert_eq!(payload["eventType"], "ApplicationSubmitted");
    assert_eq!(payload["propertyId"], submitted.property_id);
    assert_eq!(payload["applicationId"], submitted.application_id);
    assert_eq!(payload["applicantIds"], json!(submitted.applicant_ids));
    assert_eq!(
        got[0].body,
        webhook.payload.as_bytes(),
        "the recorded payload is what was sent"
    );

    let (_, _, leads) = entrata(&sandbox, "leads", "getLeads",
        json!({ "propertyId": submitted.property_id, "leadId": submitted.application_id.to_string() })).await;
    assert_eq!(
        leads["response"]["result"]["prospects"]["prospect"]["applicationId"],
        submitted.application_id.to_string()
    );
}

#[tokio::test]
async fn the_webhook_target_can_be_set_at_run_time_and_copies_resent_at_once() {
    let sandbox = start().await;
    let receiver = Receiver::start().await;
    let submitted = sandbox
        .control()
        .submit_application(&SubmitOptions::default())
        .await
        .expect("submitted");
    assert!(submitted.webhook.is_none(), "no ingest URL configured yet");
    let settings = IngestSettings {
        url: Some(receiver.url.clone()),
        ..IngestSettings::default()
    };
    sandbox.control().set_ingest(&settings).await.expect("set");
    receiver.answer_next(&[503]);
    let resend = Resend {
        copies: Some(10),
        event_type: None,
    };
    let sent = sandbox
        .control()
        .resend_application_webhook(submitted.application_id, &resend)
        .await
        .expect("resent");
    assert_eq!(sent.len(), 10);
    assert_eq!(sent.iter().filter(|d| d.status == Some(503)).count(), 1);
    assert_eq!(receiver.wait_for(10).await.len(), 10);
    assert_eq!(
        sandbox
            .control()
            .ingest_deliveries()
            .await
            .expect("list")
            .len(),
        10
    );
}

#[tokio::test]
async fn with_retries_configured_a_webhook_answered_503_or_429_is_sent_again_and_a_401_is_not() {
    let receiver = Receiver::start().await;
    let mut config = SandboxConfig::default();
    config.entrata.webhook_retry_delays = vec![std::time::Duration::from_millis(20); 3];
    config.ingest = IngestSettings {
        url: Some(receiver.url.clone()),
        ..IngestSettings::default()
    }
    .into();
    let sandbox = start_with(config).await;
    receiver.answer_next(&[503, 429]);
    let submitted = sandbox
        .control()
        .submit_application(&SubmitOptions::default())
        .await
        .expect("submitted");
    let last = submitted.webhook.expect("sent");
    assert_eq!((last.status, last.attempt), (Some(202), 3));
    let got = receiver.wait_for(3).await;
    assert!(
        got.windows(2).all(|w| w[0].body == w[1].body),
        "every attempt sends the same bytes"
    );
    let attempts: Vec<_> = sandbox
        .control()
        .ingest_deliveries()
        .await
        .expect("list")
        .iter()
        .map(|d| (d.attempt, d.status))
        .collect();
    assert_eq!(
        attempts,
        vec![(1, Some(503)), (2, Some(429)), (3, Some(202))]
    );
    // A refusal that another attempt cannot change is not retried.
    receiver.answer_next(&[401]);
    let resent = sandbox
        .control()
        .resend_application_webhook(submitted.application_id, &Resend::default())
        .await
        .expect("resent");
    assert_eq!(
        resent
            .iter()
            .map(|d| (d.attempt, d.status))
            .collect::<Vec<_>>(),
        vec![(1, Some(401))]
    );
}

#[tokio::test]
async fn by_default_a_failed_webhook_is_not_retried() {
    let receiver = Receiver::start().await;
    let config = SandboxConfig {
        ingest: IngestSettings {
            url: Some(receiver.url.clone()),
            ..IngestSettings::default()
        }
        .into(),
        ..SandboxConfig::default()
    };
    let sandbox = start_with(config).await;
    receiver.answer_next(&[503]);
    let submitted = sandbox
        .control()
        .submit_application(&SubmitOptions::default())
        .await
        .expect("submitted");
    assert_eq!(submitted.webhook.expect("sent").status, Some(503));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn options_shape_the_application_without_email_or_with_one_payscore_refuses() {
    let sandbox = start().await;
    let none = sandbox
        .control()
        .submit_application(&SubmitOptions {
            applicants: Some(3),
            without_email: true,
            ..SubmitOptions::default()
        })
        .await
        .expect("submitted");
    let app = sandbox
        .control()
        .application(none.application_id)
        .await
        .expect("app");
    assert_eq!(app.customers.len(), 3);
    assert!(app.customers.iter().all(|c| c.email.is_none()));

    let bad = sandbox
        .control()
        .submit_application(&SubmitOptions {
            nonexistent_email: true,
            property_id: Some(100002),
            ..SubmitOptions::default()
        })
        .await
        .expect("submitted");
    assert_eq!(bad.property_id, 100002);
    let app = sandbox
        .control()
        .application(bad.application_id)
        .await
        .expect("app");
    assert_eq!(
        app.customers[0].email.as_deref(),
        Some("does-not-exist@example.com")
    );

    let missing = sandbox
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(1),
            ..SubmitOptions::default()
        })
        .await;
    assert!(
        missing.is_err(),
        "an unknown property cannot take applications"
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_applications() {
    let (a, b) = (start().await, start().await);
    let options = SubmitOptions::default();
    let first = a.control().submit_application(&options).await.expect("a");
    let second = b.control().submit_application(&options).await.expect("b");
    assert_eq!(first.application_id, second.application_id);
    let (x, y) = (
        a.control()
            .application(first.application_id)
            .await
            .expect("a"),
        b.control()
            .application(second.application_id)
            .await
            .expect("b"),
    );
    assert_eq!(x, y);
}

#[tokio::test]
async fn without_rent_and_with_given_phones_the_lead_and_the_lease_show_them() {
    let sandbox = start().await;
    let options = SubmitOptions {
        applicants: Some(2),
        without_rent: true,
        phone: Some("+44 20 7946 0958".into()),
        phone_type: Some("mobile".into()),
        phone_country_code: Some("44".into()),
        work_phone: Some("0000000000".into()),
        ..SubmitOptions::default()
    };
    let submitted = sandbox
        .control()
        .submit_application(&options)
        .await
        .expect("submitted");
    let leads = json!({ "propertyId": submitted.property_id, "leadId": submitted.application_id });
    let (_, _, body) = entrata(&sandbox, "leads", "getLeads", leads).await;
    let prospect = &body["response"]["result"]["prospects"]["prospect"];
    let preferences = &prospect["customerPreferences"];
    assert_eq!(preferences["desiredUnit"]["initialRent"], "");
    assert_eq!(preferences["desiredUnit"]["marketRent"], "");
    assert_eq!(preferences["desiredMaxRent"], "");
    for customer in as_list(&prospect["customers"]["customer"]) {
        assert_eq!(customer["cellPhoneNumber"], "+44 20 7946 0958");
        assert_eq!(customer["officePhoneNumber"], "0000000000");
        assert_eq!(customer["personalPhoneNumber"], "");
    }

    let leases = json!({ "propertyId": submitted.property_id,
                         "applicationId": submitted.application_id, "leaseStatusTypeIds": "1" });
    let (_, _, body) = entrata(&sandbox, "leases", "getLeases", leases).await;
    let lease = &body["response"]["result"]["leases"]["lease"];
    let charges = as_list(&lease["scheduledCharges"]["scheduledCharge"]);
    assert!(
        !charges
            .iter()
            .any(|c| c["chargeUsage"] == "Base" || c["chargeCode"] == "Base Rent"),
        "no base rent"
    );
    for customer in as_list(&lease["customers"]["customer"]) {
        let phones = as_list(&customer["phones"]["phone"]);
        let shown: Vec<(Value, Value, Value)> = phones
            .iter()
            .map(|p| {
                (
                    p["phoneType"].clone(),
                    p["phoneNumber"].clone(),
                    p["countryCode"].clone(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                (json!("work"), json!("0000000000"), json!("44")),
                (json!("mobile"), json!("+44 20 7946 0958"), json!("44")),
            ]
        );
    }
}

#[tokio::test]
async fn the_webhook_of_an_application_without_a_lease_has_no_lease_id() {
    let receiver = Receiver::start().await;
    let config = SandboxConfig {
        ingest: IngestSettings {
            url: Some(receiver.url.clone()),
            ..IngestSettings::default()
        }
        .into(),
        ..SandboxConfig::default()
    };
    let sandbox = start_with(config).await;
    sandbox
        .control()
        .submit_application(&SubmitOptions {
            without_lease: true,
            ..SubmitOptions::default()
        })
        .await
        .expect("submitted");
    let got = receiver.wait_for(1).await;
    let payload: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert!(payload.get("leaseId").is_none(), "{payload}");
    assert!(payload["applicationId"].is_u64());
}

#[tokio::test]
async fn contradicting_submit_options_are_refused_with_400() {
    let sandbox = start().await;
    let refused = sandbox
        .control()
        .submit_application(&SubmitOptions {
            rent: Some("1650.00".into()),
            without_rent: true,
            ..SubmitOptions::default()
        })
        .await;
    assert!(
        matches!(
            refused,
            Err(sandbox::ControlClientError::Status { status: 400, .. })
        ),
        "{refused:?}"
    );
}
