//! Entrata and Payscore as their references say they answer, under each reading the sandbox
//! offers where the references are silent: households from a lead alone, phones, rent left
//! out, addresses by type, errors in both layers, lead ids, event names that never trigger,
//! and every page of a paginated read.

use fleet_tests::fleet::{Fleet, FleetOptions};
use fleet_tests::ingest::{PASSWORD, USER};
use sandbox::core::Simulator;
use sandbox::entrata::submit::SubmitOptions;
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use shared::amqp::WorkQueue;
use shared::metrics::Metrics;
use std::time::Duration;
use worker::clients::entrata::EntrataClient;
use worker::clients::http::Downstream;
use worker::metrics::WorkerMetrics;

/// Submit an application with `options` at property 100001 (every applicant with an email
/// unless said otherwise) and return the create request Payscore received for it.
async fn created(fleet: &Fleet, options: SubmitOptions) -> Value {
    let submitted = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: options.property_id.or(Some(100001)),
            every_email: true,
            ..options
        })
        .await
        .expect("submit");
    fleet
        .one_group(submitted.property_id, submitted.application_id)
        .await
        .request
}

/// Submit an application with `options` at property 100001 (every applicant with an email)
/// and check that it is dead-lettered for `reason` with no group and no create.
async fn refused(fleet: &Fleet, options: SubmitOptions, reason: &str) {
    let creates = fleet.calls(Simulator::Payscore, "create_group").await.len();
    let submitted = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100001),
            every_email: true,
            ..options
        })
        .await
        .expect("submit");
    fleet.dead_letter(WorkQueue::Screenings, reason).await;
    assert_eq!(
        fleet
            .group_count(submitted.property_id, submitted.application_id)
            .await,
        0
    );
    assert_eq!(
        fleet.calls(Simulator::Payscore, "create_group").await.len(),
        creates,
        "no create"
    );
}

fn phones(request: &Value) -> Vec<Option<String>> {
    request["applicants"]
        .as_array()
        .expect("applicants")
        .iter()
        .map(|a| a["applicant_phone_number"].as_str().map(str::to_owned))
        .collect()
}

/// Post an `oa.application.events` delivery for an application Entrata does not know.
async fn submit_unknown(fleet: &Fleet, application_id: u64) {
    let status = reqwest::Client::new()
        .post(format!("{}/webhooks/entrata", fleet.ingest.url))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .body(
            json!({"eventType": "ApplicationSubmitted", "propertyId": 100001,
                   "applicationId": application_id})
            .to_string(),
        )
        .send()
        .await
        .expect("ingest answers")
        .status();
    assert_eq!(status.as_u16(), 202);
}

#[tokio::test]
async fn entrata_read_as_documented_with_errors_in_200_and_leads_without_types() {
    let fleet = Fleet::start("fidelity-a", FleetOptions::default()).await;
    let household = Some(vec!["Primary".to_owned(), "Co-Applicant".to_owned()]);

    // Numbers that cannot be dialled are left out: the invitation goes by email only.
    for number in ["0000000000", "1234567890"] {
        let request = created(
            &fleet,
            SubmitOptions {
                customer_types: household.clone(),
                phone: Some(number.into()),
                phone_type: Some("mobile".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(phones(&request), [None, None], "{number} is not sent");
    }
    // A personal number is taken over a work number listed first; its country code is kept.
    let request = created(
        &fleet,
        SubmitOptions {
            customer_types: household.clone(),
            phone: Some("(512) 555-0142".into()),
            phone_type: Some("personal".into()),
            work_phone: Some("(512) 555-0199".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        phones(&request),
        [Some("+15125550142".into()), Some("+15125550142".into())]
    );
    let request = created(
        &fleet,
        SubmitOptions {
            customer_types: Some(vec!["Primary".into()]),
            phone: Some("20 7946 0958".into()),
            phone_type: Some("mobile".into()),
            phone_country_code: Some("44".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(phones(&request), [Some("+442079460958".into())]);

    // A household without rent, where Payscore requires it (the current v1 page, the
    // default): dead-lettered before any call, not sent to earn a 400.
    refused(
        &fleet,
        SubmitOptions {
            customer_types: Some(vec!["Primary".into()]),
            without_rent: true,
            ..Default::default()
        },
        "rent_unknown",
    )
    .await;

    // A lead without an applicant lease, whose customers carry no type: which of them is the
    // guarantor is unknown, so nobody is invited on a guess.
    refused(
        &fleet,
        SubmitOptions {
            customer_types: Some(vec!["Primary".into(), "Guarantor".into()]),
            without_lease: true,
            ..Default::default()
        },
        "customer_types_unknown",
    )
    .await;

    // An application Entrata does not know (its error envelopes in HTTP 200): dead-lettered at
    // once, never retried as an outage.
    submit_unknown(&fleet, 987_654).await;
    fleet
        .dead_letter(WorkQueue::Screenings, "application_not_found")
        .await;

    // getProperties is called with its version.
    let versions: Vec<Option<String>> = fleet
        .calls(Simulator::Entrata, "properties/getProperties")
        .await
        .into_iter()
        .map(|c| c.version)
        .collect();
    assert!(!versions.is_empty());
    assert!(
        versions.iter().all(|v| v.as_deref() == Some("r1")),
        "{versions:?}"
    );

    // Events that are not triggers are acknowledged, and counted by name and by reason.
    for _ in 0..3 {
        fleet
            .control()
            .submit_application(&SubmitOptions {
                property_id: Some(100002),
                every_email: true,
                event_type: Some("ApplicationProgress".into()),
                ..Default::default()
            })
            .await
            .expect("submit");
    }
    let worker = fleet.worker();
    worker
        .wait_for(
            r#"worker_ignored_total{queue="screenings",reason="not_a_trigger"}"#,
            3.0,
        )
        .await;
    assert_eq!(
        worker
            .sample(
                r#"worker_application_events_total{event_type="ApplicationProgress",trigger="false"}"#
            )
            .await,
        3.0
    );
    assert!(
        worker
            .sample(
                r#"worker_application_events_total{event_type="applicationsubmitted",trigger="true"}"#
            )
            .await
            >= 7.0
    );
    fleet.stop().await;
}

#[tokio::test]
async fn entrata_read_under_the_other_readings_errors_in_400_mailing_first_typed_leads_rent_optional()
 {
    let mut config = SandboxConfig::default();
    config.entrata.error_status = 400;
    config.entrata.mailing_address_first = true;
    config.entrata.lead_customer_types = true;
    config.payscore.monthly_rent_optional = true;
    let fleet = Fleet::start(
        "fidelity-b",
        FleetOptions {
            sandbox: config,
            env: vec![("PAYSCORE_MONTHLY_RENT", "optional".into())],
            ..Default::default()
        },
    )
    .await;

    // A household without rent, where Payscore takes a create without it (an older page of
    // its documentation): no monthly_rent, the multiplier is not calculated.
    let request = created(
        &fleet,
        SubmitOptions {
            customer_types: Some(vec!["Primary".into()]),
            without_rent: true,
            ..Default::default()
        },
    )
    .await;
    // The simulator stores what it parsed: an absent rent reads as null (the unit test of
    // build_request shows the field is left out, not sent as null).
    assert!(request["monthly_rent"].is_null(), "{request}");
    assert_eq!(request["income_multiplier_threshold"], json!(3.0));

    let request = created(
        &fleet,
        SubmitOptions {
            customer_types: Some(vec!["Primary".into(), "Co-Applicant".into()]),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(request["applicants"].as_array().map(Vec::len), Some(2));
    // The mailing address listed first is not the property's address.
    let street = request["property"]["street_address"]
        .as_str()
        .expect("street");
    assert!(!street.starts_with("PO Box"), "{street}");

    // A lead that does give customer types: the guarantor is not invited by default.
    let request = created(
        &fleet,
        SubmitOptions {
            customer_types: Some(vec!["Primary".into(), "Guarantor".into()]),
            without_lease: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(request["applicants"].as_array().map(Vec::len), Some(1));

    // The error envelope in an HTTP 400 is read like the same envelope in a 200.
    submit_unknown(&fleet, 987_655).await;
    fleet
        .dead_letter(WorkQueue::Screenings, "application_not_found")
        .await;
    fleet.stop().await;
}

#[tokio::test]
async fn when_lead_ids_are_not_application_ids_the_lease_alone_describes_the_household() {
    let mut config = SandboxConfig::default();
    config.entrata.lead_ids_are_application_ids = false;
    let fleet = Fleet::start(
        "fidelity-c",
        FleetOptions {
            sandbox: config,
            ..Default::default()
        },
    )
    .await;
    // getLeads by application id finds nothing: the applicant lease is enough.
    let request = created(
        &fleet,
        SubmitOptions {
            customer_types: Some(vec!["Primary".into(), "Co-Applicant".into()]),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(request["applicants"].as_array().map(Vec::len), Some(2));
    // Without a lease, nothing identifies the household: never a guess.
    refused(
        &fleet,
        SubmitOptions {
            customer_types: Some(vec!["Primary".into()]),
            without_lease: true,
            ..Default::default()
        },
        "application_not_found",
    )
    .await;
    fleet.stop().await;
}

/// The applicant emails of a create request, sorted.
fn emails(request: &Value) -> Vec<String> {
    let mut emails: Vec<String> = request["applicants"]
        .as_array()
        .expect("applicants")
        .iter()
        .filter_map(|a| a["applicant_email"].as_str().map(str::to_owned))
        .collect();
    emails.sort();
    emails
}

/// The emails Entrata holds for the application's customers, sorted.
async fn own(fleet: &Fleet, application_id: u64) -> Vec<String> {
    let application = fleet
        .control()
        .application(application_id)
        .await
        .expect("application");
    let mut emails: Vec<String> = application
        .customers
        .iter()
        .filter_map(|c| c.email.clone())
        .collect();
    emails.sort();
    emails
}

#[tokio::test]
async fn a_lease_of_another_application_is_never_used() {
    let mut config = SandboxConfig::default();
    // getLeases answers the property's applicant leases whatever applicationId says; the
    // worker reads them one per page, so each page holds one lease, a stranger's or its own.
    config.entrata.leases_ignore_application_id = true;
    let fleet = Fleet::start(
        "fidelity-d",
        FleetOptions {
            sandbox: config,
            env: vec![("ENTRATA_PAGE_SIZE", "1".into())],
            ..Default::default()
        },
    )
    .await;
    // No lease of its own: no stranger's lease is taken for it; its lead is.
    let lead_only = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100001),
            customer_types: Some(vec!["Primary".into()]),
            without_lease: true,
            every_email: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    let request = fleet
        .one_group(lead_only.property_id, lead_only.application_id)
        .await
        .request;
    assert_eq!(
        emails(&request),
        own(&fleet, lead_only.application_id).await
    );
    // Its own lease comes after the strangers' pages: it is found, and only it is used.
    let later = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100001),
            customer_types: Some(vec!["Primary".into(), "Co-Applicant".into()]),
            every_email: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    let request = fleet
        .one_group(later.property_id, later.application_id)
        .await
        .request;
    assert_eq!(emails(&request), own(&fleet, later.application_id).await);
    assert_eq!(request["applicants"].as_array().map(Vec::len), Some(2));
    fleet.stop().await;
}

#[tokio::test]
async fn a_document_on_the_third_page_is_found_and_the_list_ends_after_its_last_page() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let submitted = sandbox
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100001),
            send_webhook: Some(false),
            ..Default::default()
        })
        .await
        .expect("submit");
    let metrics = WorkerMetrics::register(&Metrics::new());
    let entrata = EntrataClient::new(
        Downstream::new("entrata", Duration::from_secs(5), metrics),
        sandbox.entrata_url(),
        SandboxConfig::default().entrata.api_key,
        Duration::from_secs(60),
    )
    .with_page_size(2);
    let (property, lease) = (
        submitted.property_id.to_string(),
        submitted.lease_id.to_string(),
    );
    for i in 1..=5 {
        let name = format!("document-{i}.pdf");
        entrata
            .send_documents(
                json!({"propertyId": property, "leaseId": lease,
                       "files": {"file": [{"fileName": name, "leaseFileType": "OTHER"}]}}),
                vec![(name.clone(), b"%PDF-1.4 test".to_vec())],
            )
            .await
            .expect("uploaded");
    }
    let list_calls = || async {
        sandbox
            .control()
            .calls(Simulator::Entrata, Some("leases/getLeaseDocumentsList"))
            .await
            .expect("calls")
            .len()
    };
    assert!(
        entrata
            .lease_has_document(&property, &lease, "document-5.pdf")
            .await
            .expect("listed")
    );
    assert_eq!(list_calls().await, 3, "five documents, two per page");
    assert!(
        !entrata
            .lease_has_document(&property, &lease, "document-9.pdf")
            .await
            .expect("listed")
    );
    assert_eq!(list_calls().await, 6, "the list ends after its last page");
    sandbox.shutdown().await;
}
