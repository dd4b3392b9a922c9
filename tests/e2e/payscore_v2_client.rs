//! The worker's Payscore v2 client against the simulator's v2 routes over HTTP (no broker):
//! a household with income and identity verification, its three reports, their PDFs, expiry,
//! unknown ids and refusals, under both readings of the reports list.

use sandbox::{Sandbox, SandboxConfig};
use shared::metrics::Metrics;
use std::time::Duration;
use worker::clients::http::Downstream;
use worker::clients::payscore::v2::{
    ApplicantV2, CreateApplicantGroupRequest, PropertyV2, ReportKind, ReportV2, VerificationV2,
};
use worker::clients::payscore::{PayscoreClient, PayscoreError};
use worker::config::Lookup;
use worker::metrics::WorkerMetrics;
use worker::properties::PayscoreApi;

fn client(sandbox: &Sandbox) -> PayscoreClient {
    client_with(sandbox, Lookup::ApplicantGroups)
}

fn client_with(sandbox: &Sandbox, lookup: Lookup) -> PayscoreClient {
    let config = SandboxConfig::default();
    PayscoreClient::new(
        Downstream::new(
            "payscore",
            Duration::from_secs(5),
            WorkerMetrics::register(&Metrics::new()),
        ),
        sandbox.payscore_url(),
        config.payscore.client_id.clone(),
        config.payscore.secret_key.clone(),
        Duration::from_secs(600),
        lookup,
    )
}

fn applicant(first: &str, email: &str) -> ApplicantV2 {
    ApplicantV2 {
        first_name: first.into(),
        last_name: "Rivera".into(),
        email: email.into(),
        phone_number: Some("+19842342345".into()),
        verifications: ["income_verification", "identity_verification"]
            .into_iter()
            .map(|kind| VerificationV2 { kind: kind.into() })
            .collect(),
    }
}

fn household(correlation_id: &str, emails: [&str; 2]) -> CreateApplicantGroupRequest {
    CreateApplicantGroupRequest {
        applicants: vec![applicant("Ana", emails[0]), applicant("Luis", emails[1])],
        property: PropertyV2 {
            name: "Maple Court".into(),
            street_address: "12 Maple Court".into(),
            city: "Austin".into(),
            state: "TX".into(),
            zip_code: "78701".into(),
            unit: Some("4B".into()),
        },
        decision_maker_display_name: "Acme Residential".into(),
        monthly_rent: Some(165_050),
        webhook_url: "http://127.0.0.1:9/webhooks/payscore".into(),
        is_invitation_disabled: false,
        correlation_id: correlation_id.into(),
    }
}

async fn three_reports_under(mut config: SandboxConfig) {
    // Nobody listens at the groups' webhook URL: one attempt each is enough.
    config.payscore.webhook_retry_delays.clear();
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    let payscore = client(&sandbox);
    let id = payscore
        .create_applicant_group(&household(
            "entrata:100004:1",
            ["ana@example.com", "luis@example.com"],
        ))
        .await
        .expect("created");
    let stored = sandbox
        .control()
        .applicant_group(&id)
        .await
        .expect("the simulator has it");
    assert_eq!(stored.monthly_rent_cents, Some(165_050), "rent in cents");
    assert_eq!(
        payscore.applicant_group_reports(&id).await.expect("list"),
        Some(Vec::new()),
        "no report before anyone finishes"
    );
    sandbox
        .control()
        .complete_applicant_group(&id, None)
        .await
        .expect("complete");
    let reports = payscore
        .applicant_group_reports(&id)
        .await
        .expect("list")
        .expect("known group");
    let mut kinds: Vec<(ReportKind, bool)> = reports
        .iter()
        .map(|r| (r.kind.clone(), r.applicant_id.is_some()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            (ReportKind::Income, false),
            (ReportKind::Identity, true),
            (ReportKind::Identity, true)
        ],
        "one household income report, one identity report per applicant"
    );
    let applicants: Vec<String> = stored.applicants.iter().map(|a| a.id.clone()).collect();
    for report in &reports {
        match payscore.report_v2(&report.id).await.expect("report") {
            ReportV2::Ready {
                group_id,
                kind,
                applicant_id,
                pdf_url,
            } => {
                assert_eq!(group_id.as_deref(), Some(id.as_str()), "names its group");
                assert_eq!(kind, report.kind);
                if kind == ReportKind::Identity {
                    let who = applicant_id.expect("an identity report names its applicant");
                    assert!(applicants.contains(&who));
                }
                let pdf = payscore
                    .download(&pdf_url, 1 << 20)
                    .await
                    .expect("download");
                assert!(pdf.body.starts_with(b"%PDF"), "a PDF");
            }
            other => panic!("report {} not ready: {other:?}", report.id),
        }
    }
    sandbox
        .control()
        .expire_applicant_group_report(&id, Some(&reports[0].id))
        .await
        .expect("expire");
    assert_eq!(
        payscore.report_v2(&reports[0].id).await.expect("report"),
        ReportV2::Expired
    );
    assert_eq!(
        payscore
            .report_v2("00000000-0000-4000-8000-000000000000")
            .await
            .expect("report"),
        ReportV2::NotReady
    );
    assert_eq!(
        payscore
            .applicant_group_reports("00000000-0000-4000-8000-000000000000")
            .await
            .expect("list"),
        None
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_v2_client_creates_a_household_and_fetches_each_of_its_reports() {
    three_reports_under(SandboxConfig::default()).await;
}

#[tokio::test]
async fn the_v2_client_reads_a_wrapped_reports_list_the_same_way() {
    let mut config = SandboxConfig::default();
    config.payscore.v2_reports_wrapped = true;
    three_reports_under(config).await;
}

#[tokio::test]
async fn a_v2_create_payscore_refuses_is_rejected_not_retried() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let payscore = client(&sandbox);
    let refused = SandboxConfig::default().payscore.nonexistent_emails[0].clone();
    let error = payscore
        .create_applicant_group(&household(
            "entrata:100004:2",
            [&refused, "luis@example.com"],
        ))
        .await
        .expect_err("refused");
    assert!(
        matches!(error, PayscoreError::Rejected { status: 400 }),
        "{error:?}"
    );
    assert!(!error.outcome_unknown());
    assert!(
        sandbox
            .control()
            .applicant_groups()
            .await
            .expect("list")
            .is_empty(),
        "nothing created"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_applicant_group_is_looked_up_on_the_v2_list_even_where_the_lookup_is_the_v1_route() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let payscore = client_with(&sandbox, Lookup::ScreeningGroups);
    let correlation = "entrata:100004:3";
    let id = payscore
        .create_applicant_group(&household(
            correlation,
            ["ana@example.com", "luis@example.com"],
        ))
        .await
        .expect("created");
    assert_eq!(
        payscore.find_group(correlation).await.expect("v1 lookup"),
        None,
        "the assumed v1 route does not show applicant groups"
    );
    assert_eq!(
        payscore
            .find_group_of(correlation, PayscoreApi::V2)
            .await
            .expect("lookup"),
        Some(id),
        "a v2 group is looked for where it is listed"
    );
    sandbox.shutdown().await;
}
