//! The reports job end to end: a completed household's report lands in the applicant file
//! once per report, whatever Payscore's webhooks do.

use base64::Engine;
use fleet_tests::eventually;
use fleet_tests::fleet::{Fleet, FleetOptions};
use sandbox::Scripted;
use sandbox::core::Simulator;
use sandbox::entrata::model::UploadRecord;
use sandbox::entrata::submit::SubmittedApplication;
use sandbox::payscore::webhooks::Suppression;
use sandbox::payscore::{ControlGroup, SendWebhook};
use shared::amqp::WorkQueue;
use std::time::Duration;

const COMPLETED: &str = "SCREENING_GROUP_COMPLETED";

async fn screened(fleet: &Fleet, property_id: u64) -> (SubmittedApplication, ControlGroup) {
    let submitted = fleet.submit(property_id).await;
    let group = fleet
        .one_group(submitted.property_id, submitted.application_id)
        .await;
    (submitted, group)
}

/// Wait until the application holds `n` successful uploads and return them.
pub(crate) async fn uploads(fleet: &Fleet, application_id: u64, n: usize) -> Vec<UploadRecord> {
    eventually(Duration::from_secs(30), "the uploads", || async {
        let all = fleet.control().uploads(application_id).await.ok()?;
        let done: Vec<_> = all.into_iter().filter(|u| u.status == "Success").collect();
        (done.len() >= n).then_some(done)
    })
    .await
}

pub(crate) async fn suppress_completion(fleet: &Fleet) {
    let suppression = Suppression {
        all: false,
        codes: [COMPLETED.to_owned()].into(),
    };
    fleet
        .control()
        .suppress_webhooks(&suppression)
        .await
        .expect("suppress");
}

/// Complete the group in Payscore without letting its completion webhook go out.
pub(crate) async fn complete_without_webhook(fleet: &Fleet, group: &ControlGroup) {
    suppress_completion(fleet).await;
    fleet
        .control()
        .complete_group(&group.id)
        .await
        .expect("complete");
}

pub(crate) async fn completion_webhooks(fleet: &Fleet, group: &ControlGroup, copies: u32) {
    fleet
        .control()
        .suppress_webhooks(&Suppression::default())
        .await
        .expect("lift suppression");
    let webhook = SendWebhook {
        code: COMPLETED.into(),
        screening_id: None,
        value: None,
        copies: Some(copies),
    };
    let sent = fleet
        .control()
        .send_webhook(&group.id, &webhook)
        .await
        .expect("send");
    assert!(
        sent.iter().all(|w| w.delivered),
        "ingest accepted every copy"
    );
}

async fn sample(fleet: &Fleet, outcome: &str) -> f64 {
    fleet
        .worker()
        .sample(&format!(
            r#"worker_jobs_total{{outcome="{outcome}",queue="reports"}}"#
        ))
        .await
}

#[tokio::test]
async fn a_completed_household_gets_exactly_one_report_in_its_applicant_file() {
    let fleet = Fleet::start("report-once", FleetOptions::default()).await;
    let (submitted, group) = screened(&fleet, 100001).await;
    fleet
        .control()
        .complete_group(&group.id)
        .await
        .expect("complete");
    let uploaded = uploads(&fleet, submitted.application_id, 1).await;
    assert_eq!(uploaded.len(), 1);
    let upload = &uploaded[0];
    assert_eq!(upload.application_id, submitted.application_id);
    assert_eq!(upload.lease_file_type.as_deref(), Some("SR"));
    assert!(!upload.show_in_portal, "not shown in the resident portal");
    assert!(upload.file_name.contains(&group.id), "{}", upload.file_name);
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(&upload.content_base64)
        .expect("base64");
    assert!(
        pdf.starts_with(b"%PDF-") && pdf.windows(5).any(|w| w == b"%%EOF"),
        "a valid PDF"
    );
    assert_eq!(
        fleet.worker().sample("worker_reports_uploaded_total").await,
        1.0
    );
    let codes = r#"worker_payscore_webhooks_total{code="screening_group_completed"}"#;
    assert!(fleet.worker().sample(codes).await >= 1.0);
    fleet.stop().await;
}

#[tokio::test]
async fn a_completion_webhook_delivered_three_times_twice_at_once_uploads_once() {
    let fleet = Fleet::start("report-thrice", FleetOptions::default()).await;
    let (submitted, group) = screened(&fleet, 100002).await;
    complete_without_webhook(&fleet, &group).await;
    completion_webhooks(&fleet, &group, 2).await;
    completion_webhooks(&fleet, &group, 1).await;
    eventually(
        Duration::from_secs(30),
        "three completions handled",
        || async {
            (sample(&fleet, "done").await + sample(&fleet, "duplicate").await == 3.0).then_some(())
        },
    )
    .await;
    assert_eq!(sample(&fleet, "done").await, 1.0);
    assert_eq!(uploads(&fleet, submitted.application_id, 1).await.len(), 1);
    let calls = fleet
        .calls(Simulator::Entrata, "leases/sendLeaseDocuments")
        .await;
    assert_eq!(calls.len(), 1, "Entrata was asked once");
    fleet.stop().await;
}

#[tokio::test]
async fn a_reopened_and_recompleted_household_gets_a_second_upload_with_a_new_name() {
    let fleet = Fleet::start("report-reopen", FleetOptions::default()).await;
    let (submitted, group) = screened(&fleet, 100001).await;
    fleet
        .control()
        .complete_group(&group.id)
        .await
        .expect("complete");
    uploads(&fleet, submitted.application_id, 1).await;
    fleet
        .control()
        .reopen(&group.id, None)
        .await
        .expect("reopen");
    fleet
        .control()
        .complete_group(&group.id)
        .await
        .expect("complete again");
    let both = uploads(&fleet, submitted.application_id, 2).await;
    assert_eq!(both.len(), 2);
    assert_ne!(both[0].file_name, both[1].file_name);
    assert_ne!(both[0].sha256, both[1].sha256);
    let codes = r#"worker_payscore_webhooks_total{code="re_open_screening"}"#;
    assert!(fleet.worker().sample(codes).await >= 1.0, "re-open counted");
    fleet.stop().await;
}

#[tokio::test]
async fn a_report_not_ready_at_first_is_uploaded_after_a_retry() {
    let fleet = Fleet::start("report-404", FleetOptions::default()).await;
    let (submitted, group) = screened(&fleet, 100003).await;
    fleet
        .control()
        .fail_next(Simulator::Payscore, "report", Scripted::status(2, 404))
        .await
        .expect("fault");
    fleet
        .control()
        .complete_group(&group.id)
        .await
        .expect("complete");
    assert_eq!(uploads(&fleet, submitted.application_id, 1).await.len(), 1);
    assert_eq!(sample(&fleet, "retried").await, 1.0, "through a wait queue");
    fleet.stop().await;
}

#[tokio::test]
async fn without_the_completion_webhook_the_report_check_uploads_it() {
    let options = FleetOptions {
        env: vec![
            ("REPORT_CHECK_FIRST_DELAY", "2s".into()),
            ("REPORT_CHECK_SCHEDULE", "1s".into()),
        ],
        ..Default::default()
    };
    let fleet = Fleet::start("report-fallback", options).await;
    suppress_completion(&fleet).await;
    let (submitted, group) = screened(&fleet, 100001).await;
    eventually(
        Duration::from_secs(20),
        "a check found the household unfinished",
        || async { (sample(&fleet, "rescheduled").await >= 1.0).then_some(()) },
    )
    .await;
    let step = fleet
        .control()
        .complete_group(&group.id)
        .await
        .expect("complete");
    assert!(
        step.webhooks
            .iter()
            .any(|w| w.code == COMPLETED && w.suppressed),
        "the webhook was never sent"
    );
    assert_eq!(uploads(&fleet, submitted.application_id, 1).await.len(), 1);
    fleet.stop().await;
}

#[tokio::test]
async fn upload_failures_are_retried_and_a_refused_file_is_dead_lettered() {
    let fleet = Fleet::start("report-upload", FleetOptions::default()).await;
    let (a, group_a) = screened(&fleet, 100001).await;
    let route = "leases/sendLeaseDocuments";
    fleet
        .control()
        .fail_next(Simulator::Entrata, route, Scripted::status(2, 500))
        .await
        .expect("fault");
    fleet
        .control()
        .complete_group(&group_a.id)
        .await
        .expect("complete");
    assert_eq!(uploads(&fleet, a.application_id, 1).await.len(), 1);
    let statuses: Vec<_> = fleet
        .calls(Simulator::Entrata, route)
        .await
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);

    let (b, group_b) = screened(&fleet, 100002).await;
    fleet
        .control()
        .fail_next_uploads(1, Some("Unable to upload the file."))
        .await
        .expect("fault");
    fleet
        .control()
        .complete_group(&group_b.id)
        .await
        .expect("complete");
    let message = fleet
        .dead_letter(WorkQueue::Reports, "upload_rejected")
        .await;
    let body: serde_json::Value =
        serde_json::from_slice(&message.delivery.data).expect("the webhook body");
    assert_eq!(body["screening_group_id"], group_b.id.as_str());
    let uploaded = fleet
        .control()
        .uploads(b.application_id)
        .await
        .expect("uploads");
    assert!(uploaded.iter().all(|u| u.status != "Success"));
    fleet.stop().await;
}

#[tokio::test]
async fn an_expired_report_is_dead_lettered_and_unknown_codes_are_counted() {
    let fleet = Fleet::start("report-expired", FleetOptions::default()).await;
    let (_, group) = screened(&fleet, 100001).await;
    complete_without_webhook(&fleet, &group).await;
    fleet
        .control()
        .expire_report(&group.id)
        .await
        .expect("expire");
    completion_webhooks(&fleet, &group, 1).await;
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Reports);
    fleet
        .dead_letter(WorkQueue::Reports, "report_expired")
        .await;

    let unknown = SendWebhook {
        code: "SOMETHING_NEW_FROM_PAYSCORE".into(),
        screening_id: None,
        value: None,
        copies: Some(1),
    };
    fleet
        .control()
        .send_webhook(&group.id, &unknown)
        .await
        .expect("send");
    fleet
        .worker()
        .wait_for(r#"worker_payscore_webhooks_total{code="other"}"#, 1.0)
        .await;
    let expired = r#"worker_payscore_webhooks_total{code="report_expired"}"#;
    assert_eq!(fleet.worker().sample(expired).await, 1.0);
    assert_eq!(
        fleet.broker.count(&dead).await,
        0,
        "nothing else was dead-lettered"
    );
    fleet.stop().await;
}
