//! The screening job end to end: Entrata simulator → ingest → RabbitMQ → worker → Payscore
//! simulator.

use fleet_tests::eventually;
use fleet_tests::fleet::{DISABLED_PROPERTY, Fleet, FleetOptions};
use fleet_tests::ingest::{PASSWORD, USER};
use sandbox::core::Simulator;
use sandbox::entrata::Resend;
use sandbox::entrata::submit::SubmitOptions;
use shared::amqp::WorkQueue;
use std::time::Duration;

const SERIES_DONE: &str = r#"worker_jobs_total{outcome="done",queue="screenings"}"#;

#[tokio::test]
async fn a_submitted_application_becomes_exactly_one_screening_group_with_the_right_fields() {
    let fleet = Fleet::start("happy", FleetOptions::default()).await;
    let submitted = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100001),
            customer_types: Some(vec![
                "Primary".into(),
                "Co-Applicant".into(),
                "Guarantor".into(),
            ]),
            rent: Some("1650.00".into()),
            every_email: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    assert_eq!(
        submitted.webhook.as_ref().and_then(|w| w.status),
        Some(202),
        "ingest accepted the webhook"
    );
    let group = fleet
        .one_group(submitted.property_id, submitted.application_id)
        .await;
    let application = fleet
        .control()
        .application(submitted.application_id)
        .await
        .expect("application");
    let property = fleet
        .control()
        .properties()
        .await
        .expect("properties")
        .into_iter()
        .find(|p| p.id == submitted.property_id)
        .expect("property");
    let request = &group.request;

    // Primary and co-applicant are invited; the guarantor is not (property default).
    let emails: Vec<_> = request["applicants"]
        .as_array()
        .expect("applicants")
        .iter()
        .map(|a| a["applicant_email"].as_str().map(str::to_owned))
        .collect();
    let expected: Vec<_> = application
        .customers
        .iter()
        .filter(|c| c.customer_type != "Guarantor")
        .map(|c| c.email.clone())
        .collect();
    assert_eq!(emails, expected);
    for (sent, customer) in request["applicants"]
        .as_array()
        .expect("applicants")
        .iter()
        .zip(&application.customers)
    {
        assert_eq!(sent["applicant_first_name"], customer.first_name.as_str());
        assert_eq!(sent["applicant_last_name"], customer.last_name.as_str());
        if let Some(phone) = sent["applicant_phone_number"].as_str() {
            assert!(
                phone.starts_with("+1") && phone.len() == 12,
                "E.164: {phone}"
            );
        }
    }
    let state = request["property"]["state"].as_str().expect("state");
    assert!(state.len() > 2, "state spelled out: {state}");
    assert_eq!(
        worker::address::state_name(&property.state_code),
        Some(state)
    );
    assert_eq!(request["property"]["city"], property.city.as_str());
    assert_eq!(
        request["property"]["zip_code"],
        property.postal_code.as_str()
    );
    assert_eq!(
        request["property"]["unit"],
        application.unit_number.as_str()
    );
    assert_eq!(request["monthly_rent"], 1650.0);
    assert_eq!(group.monthly_rent_cents, Some(165_000));
    assert_eq!(request["income_multiplier_threshold"], 3.0);
    assert_eq!(request["decision_maker_display_name"], "Acme Residential");
    assert_eq!(
        group.webhook_url.as_deref(),
        Some(format!("{}/webhooks/payscore", fleet.ingest.url).as_str())
    );

    // A report check waits in the reports queue's first-check wait queue.
    let topology = fleet.broker.topology();
    let wait_queue = topology
        .tier_for(WorkQueue::Reports, Duration::from_secs(3600))
        .queue;
    eventually(
        Duration::from_secs(10),
        "a report check waiting",
        || async { (fleet.broker.count(&wait_queue).await == 1).then_some(()) },
    )
    .await;
    let check = fleet.broker.get(&wait_queue).await.expect("report check");
    let body: serde_json::Value = serde_json::from_slice(&check.delivery.data).expect("json");
    assert_eq!(body["screening_group_id"], group.id.as_str());
    assert_eq!(
        check
            .delivery
            .properties
            .kind()
            .as_ref()
            .map(|k| k.as_str()),
        Some("report_check")
    );
    assert_eq!(fleet.worker().sample(SERIES_DONE).await, 1.0);
    fleet.stop().await;
}

#[tokio::test]
async fn ten_copies_of_a_webhook_at_once_and_more_later_make_one_group() {
    let fleet = Fleet::start("ten-copies", FleetOptions::default()).await;
    let submitted = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100002),
            send_webhook: Some(false),
            every_email: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    let sent = fleet
        .control()
        .resend_application_webhook(
            submitted.application_id,
            &Resend {
                copies: Some(10),
                event_type: None,
            },
        )
        .await
        .expect("resend");
    assert!(sent.iter().all(|d| d.status == Some(202)));
    fleet
        .one_group(submitted.property_id, submitted.application_id)
        .await;
    let series = r#"worker_jobs_total{outcome="duplicate",queue="screenings"}"#;
    fleet.worker().wait_for(series, 9.0).await;
    fleet
        .control()
        .resend_application_webhook(
            submitted.application_id,
            &Resend {
                copies: Some(2),
                event_type: None,
            },
        )
        .await
        .expect("resend");
    fleet.worker().wait_for(series, 11.0).await;
    assert_eq!(
        fleet
            .group_count(submitted.property_id, submitted.application_id)
            .await,
        1
    );
    let creates = fleet.calls(Simulator::Payscore, "create_group").await;
    assert_eq!(creates.len(), 1, "Payscore was asked to create once");
    let wait_queue = fleet
        .broker
        .topology()
        .tier_for(WorkQueue::Reports, Duration::from_secs(3600))
        .queue;
    assert_eq!(
        fleet.broker.count(&wait_queue).await,
        1,
        "one report check, not one per copy"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn garbage_is_dead_lettered_byte_for_byte_and_unknown_properties_are_ignored() {
    let fleet = Fleet::start("garbage", FleetOptions::default()).await;
    let garbage = b"\x00\x01 this is { not json".to_vec();
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/entrata", fleet.ingest.url))
        .basic_auth(USER, Some(PASSWORD))
        .body(garbage.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 202);
    let message = fleet
        .dead_letter(WorkQueue::Screenings, "unreadable_delivery")
        .await;
    assert_eq!(message.delivery.data, garbage);

    fleet.submit(DISABLED_PROPERTY).await;
    let ignored = r#"worker_jobs_total{outcome="ignored",queue="screenings"}"#;
    fleet.worker().wait_for(ignored, 1.0).await;
    assert!(fleet.control().groups().await.expect("groups").is_empty());
    // The journal says why, in the metric's words.
    let reasons = eventually(Duration::from_secs(10), "the journal entry", || async {
        let rows = fleet
            .database
            .query("SELECT reason FROM ledger_journal WHERE outcome = 'ignored'")
            .await;
        (!rows.is_empty()).then(|| {
            rows.iter()
                .map(|r| r.get::<_, Option<String>>(0))
                .collect::<Vec<_>>()
        })
    })
    .await;
    assert_eq!(reasons, [Some("property_not_enabled".to_owned())]);
    fleet.stop().await;
}

#[tokio::test]
async fn the_assumed_v1_lookup_resolves_a_create_whose_answer_was_lost() {
    let options = FleetOptions {
        env: vec![("PAYSCORE_LOOKUP", "screening_groups".into())],
        ..Default::default()
    };
    let fleet = Fleet::start("v1-lookup", options).await;
    fleet.lose_next_create_answer().await;
    let a = fleet.submit(100001).await;
    fleet.one_group(a.property_id, a.application_id).await;
    let done = r#"worker_jobs_total{outcome="done",queue="screenings"}"#;
    fleet.worker().wait_for(done, 1.0).await;
    let lookups = fleet.calls(Simulator::Payscore, "find_groups").await;
    assert!(
        !lookups.is_empty(),
        "the v1 route resolved the unknown create"
    );
    assert!(
        fleet
            .calls(Simulator::Payscore, "applicant_groups")
            .await
            .is_empty(),
        "the v2 list was not used"
    );
    assert_eq!(
        fleet.calls(Simulator::Payscore, "create_group").await.len(),
        1
    );
    fleet.stop().await;
}
